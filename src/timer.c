#include <stddef.h>
#include <stdint.h>

#include "timer.h"

/* An empty list. */
void
timer_list_init(struct timer_list * L, uint64_t length)
{

	L->head.prev = L->head.next = &L->head;
	L->head.deadline = 0;
	L->length = length;
}

/* Unlink a running timer. */
void
timer_stop(struct timer * t)
{

	if (t->prev == NULL)
		return;
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->prev = t->next = NULL;
}

/* Append at the tail with a new deadline. */
void
timer_start(struct timer_list * L, struct timer * t, uint64_t now)
{

	timer_stop(t);
	t->deadline = now + L->length;
	t->prev = L->head.prev;
	t->next = &L->head;
	L->head.prev->next = t;
	L->head.prev = t;
}

/* The head, if it has expired. */
struct timer *
timer_expired(struct timer_list * L, uint64_t now)
{
	struct timer * t = L->head.next;

	if (t == &L->head || t->deadline > now)
		return (NULL);
	return (t);
}

/* The earliest timer of a list. */
struct timer *
timer_first(struct timer_list * L)
{

	return (L->head.next == &L->head ? NULL : L->head.next);
}

/* The first expired head of a set of lists. */
struct timer *
timer_expired_any(struct timer_list * L, size_t n, uint64_t now)
{
	struct timer * t;
	size_t i;

	for (i = 0; i < n; i++) {
		if ((t = timer_expired(&L[i], now)) != NULL)
			return (t);
	}
	return (NULL);
}

/* Time until the earliest deadline of a set of lists. */
int
timer_wait_any(const struct timer_list * L, size_t n, uint64_t now, int wait)
{
	size_t i;

	for (i = 0; i < n; i++)
		wait = timer_wait(&L[i], now, wait);
	return (wait);
}

/* Time until the earliest deadline. */
int
timer_wait(const struct timer_list * L, uint64_t now, int wait)
{
	const struct timer * t = L->head.next;
	uint64_t left;

	if (t == &L->head)
		return (wait);
	left = (t->deadline > now) ? t->deadline - now : 0;
	if (left > INT32_MAX)
		left = INT32_MAX;
	if (wait < 0 || (uint64_t)wait > left)
		wait = (int)left;
	return (wait);
}
