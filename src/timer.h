#ifndef TIMER_H_
#define TIMER_H_

#include <stddef.h>
#include <stdint.h>

/*
 * Timeouts of one fixed length kept in a FIFO list: a timer (re)started now
 * expires after every timer already in the list, so insert, refresh, stop
 * and expire are all O(1) and the list head is the earliest deadline.
 */
struct timer {
	struct timer * prev;		/* NULL when not in a list. */
	struct timer * next;
	uint64_t deadline;		/* Milliseconds, monotonic. */
};

struct timer_list {
	struct timer head;		/* Sentinel of a circular list. */
	uint64_t length;		/* Milliseconds. */
};

/**
 * timer_list_init(L, length):
 * Make ${L} an empty list of timers that last ${length} ms.
 */
void timer_list_init(struct timer_list *, uint64_t);

/**
 * timer_start(L, t, now):
 * Stop ${t} if it runs, then start it in ${L} to expire at ${now} plus the
 * list's length.
 */
void timer_start(struct timer_list *, struct timer *, uint64_t);

/**
 * timer_stop(t):
 * Stop ${t} if it runs.
 */
void timer_stop(struct timer *);

/**
 * timer_expired(L, now):
 * Return the earliest timer of ${L} if it has expired by ${now} (it stays
 * in the list until stopped or restarted), else NULL.
 */
struct timer * timer_expired(struct timer_list *, uint64_t);

/**
 * timer_first(L):
 * Return the timer of ${L} with the earliest deadline (the one started
 * longest ago), or NULL if ${L} is empty.
 */
struct timer * timer_first(struct timer_list *);

/**
 * timer_wait(L, now, wait):
 * Lower ${wait} (milliseconds; -1 means forever) to the time from ${now}
 * to the earliest deadline in ${L}, and return it.
 */
int timer_wait(const struct timer_list *, uint64_t, int);

/**
 * timer_expired_any(L, n, now):
 * Return the earliest timer of the first of the ${n} lists at ${L} that has
 * one expired by ${now} (as timer_expired), else NULL.  One call for a set
 * of lists, as the event loop checks them on every wake-up.
 */
struct timer * timer_expired_any(struct timer_list *, size_t, uint64_t);

/**
 * timer_wait_any(L, n, now, wait):
 * Lower ${wait} as timer_wait() does for each of the ${n} lists at ${L},
 * and return it.
 */
int timer_wait_any(const struct timer_list *, size_t, uint64_t, int);

#endif /* !TIMER_H_ */
