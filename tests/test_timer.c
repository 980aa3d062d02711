/*
 * Unit tests of src/timer.c: the FIFO list of equal-length timeouts.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "timer.h"

#define NT	8

/* Expire everything due at ${now}, in order, into ${order}; return count. */
static size_t
expire_all(struct timer_list * L, struct timer * t, uint64_t now,
    size_t * order, size_t max)
{
	struct timer * e;
	size_t n = 0;

	while ((e = timer_expired(L, now)) != NULL) {
		cr_assert_lt(n, max, "more timers expired than exist");
		order[n++] = (size_t)(e - t);
		timer_stop(e);
	}
	return (n);
}

Test(timer, fifo_order)
{
	struct timer_list L;
	struct timer t[NT];
	size_t order[NT], i;

	memset(t, 0, sizeof(t));
	timer_list_init(&L, 1000);
	cr_expect_null(timer_expired(&L, UINT64_MAX));
	for (i = 0; i < NT; i++)
		timer_start(&L, &t[i], 100 + i);
	cr_expect_eq(t[0].deadline, 1100);
	cr_expect_eq(t[NT - 1].deadline, 1100 + NT - 1);

	/* Nothing before the first deadline. */
	cr_expect_null(timer_expired(&L, 1099));
	cr_expect_eq(expire_all(&L, t, 1099, order, NT), 0);

	/* Then one at a time, in start order. */
	for (i = 0; i < NT; i++) {
		cr_expect_eq(expire_all(&L, t, 1100 + i, order, NT), 1,
		    "at %zu", 1100 + i);
		cr_expect_eq(order[0], i);
	}
	cr_expect_null(timer_expired(&L, UINT64_MAX));
}

Test(timer, expired_stays_until_stopped)
{
	struct timer_list L;
	struct timer a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	timer_list_init(&L, 10);
	timer_start(&L, &a, 0);
	timer_start(&L, &b, 5);
	cr_expect_eq(timer_expired(&L, 10), &a);
	cr_expect_eq(timer_expired(&L, 10), &a, "must stay in the list");
	timer_stop(&a);
	cr_expect_null(timer_expired(&L, 10));
	cr_expect_eq(timer_expired(&L, 15), &b);
}

Test(timer, deadline_equal_to_now_expires)
{
	struct timer_list L;
	struct timer a;

	memset(&a, 0, sizeof(a));
	timer_list_init(&L, 500);
	timer_start(&L, &a, 1000);
	cr_expect_null(timer_expired(&L, 0));
	cr_expect_null(timer_expired(&L, 1499));
	cr_expect_eq(timer_expired(&L, 1500), &a);
	cr_expect_eq(timer_expired(&L, 1501), &a);
	cr_expect_eq(timer_wait(&L, 1500, -1), 0);
	cr_expect_eq(timer_wait(&L, 1499, -1), 1);
	cr_expect_eq(timer_wait(&L, 9999, 100), 0, "past due: 0");
}

Test(timer, restart_moves_to_tail)
{
	struct timer_list L;
	struct timer t[3];
	size_t order[3];

	memset(t, 0, sizeof(t));
	timer_list_init(&L, 100);
	timer_start(&L, &t[0], 0);
	timer_start(&L, &t[1], 1);
	timer_start(&L, &t[2], 2);

	/* Activity on t[0] at 50: it now expires last, at 150. */
	timer_start(&L, &t[0], 50);
	cr_expect_eq(t[0].deadline, 150);
	cr_expect_eq(timer_expired(&L, 101), &t[1]);
	cr_expect_eq(expire_all(&L, t, 149, order, 3), 2);
	cr_expect_eq(order[0], 1);
	cr_expect_eq(order[1], 2);
	cr_expect_null(timer_expired(&L, 149));
	cr_expect_eq(expire_all(&L, t, 150, order, 3), 1);
	cr_expect_eq(order[0], 0);

	/* Restarting the only timer, or the tail, keeps one entry. */
	timer_start(&L, &t[2], 200);
	timer_start(&L, &t[2], 210);
	timer_start(&L, &t[2], 220);
	cr_expect_eq(expire_all(&L, t, UINT64_MAX, order, 3), 1);
	cr_expect_eq(order[0], 2);
}

Test(timer, stop_anywhere_and_twice)
{
	struct timer_list L;
	struct timer t[5], never;
	size_t order[5];

	memset(t, 0, sizeof(t));
	memset(&never, 0, sizeof(never));
	timer_list_init(&L, 10);
	for (size_t i = 0; i < 5; i++)
		timer_start(&L, &t[i], i);
	timer_stop(&t[0]);		/* Head. */
	timer_stop(&t[2]);		/* Middle. */
	timer_stop(&t[4]);		/* Tail. */
	timer_stop(&t[2]);		/* Again: harmless. */
	timer_stop(&never);		/* Never started: harmless. */
	cr_expect_null(t[2].prev);
	cr_expect_null(t[2].next);
	cr_expect_eq(expire_all(&L, t, UINT64_MAX, order, 5), 2);
	cr_expect_eq(order[0], 1);
	cr_expect_eq(order[1], 3);

	/* A stopped timer can be started again. */
	timer_start(&L, &t[2], 100);
	cr_expect_eq(timer_expired(&L, 110), &t[2]);
}

Test(timer, wait_empty_list)
{
	struct timer_list L;

	timer_list_init(&L, 1000);
	cr_expect_eq(timer_wait(&L, 0, -1), -1, "forever stays forever");
	cr_expect_eq(timer_wait(&L, 12345, 0), 0);
	cr_expect_eq(timer_wait(&L, 12345, 250), 250);
	cr_expect_eq(timer_wait(&L, UINT64_MAX, INT32_MAX), INT32_MAX);
}

Test(timer, wait_lowers_only)
{
	struct timer_list L;
	struct timer a;

	memset(&a, 0, sizeof(a));
	timer_list_init(&L, 1000);
	timer_start(&L, &a, 5000);		/* Deadline 6000. */
	cr_expect_eq(timer_wait(&L, 5000, -1), 1000);
	cr_expect_eq(timer_wait(&L, 5000, 5000), 1000);
	cr_expect_eq(timer_wait(&L, 5000, 1000), 1000);
	cr_expect_eq(timer_wait(&L, 5000, 999), 999);
	cr_expect_eq(timer_wait(&L, 5000, 0), 0);
	cr_expect_eq(timer_wait(&L, 5999, -1), 1);
	cr_expect_eq(timer_wait(&L, 6000, -1), 0);
	cr_expect_eq(timer_wait(&L, 7000, -1), 0);
	timer_stop(&a);
	cr_expect_eq(timer_wait(&L, 5000, -1), -1);
}

/* A deadline beyond what an int can hold is clamped, never negative. */
Test(timer, wait_clamps_to_int)
{
	struct timer_list L;
	struct timer a;
	int w;

	memset(&a, 0, sizeof(a));
	/* 1000 weeks. */
	timer_list_init(&L, 7ULL * 24 * 3600 * 1000 * 1000);
	timer_start(&L, &a, 0);
	w = timer_wait(&L, 0, -1);
	cr_expect_eq(w, INT32_MAX, "got %d", w);
	w = timer_wait(&L, 0, 42);
	cr_expect_eq(w, 42);

	/* A week, the longest duration the command line accepts. */
	timer_list_init(&L, 604800000ULL);
	memset(&a, 0, sizeof(a));
	timer_start(&L, &a, 1000);
	cr_expect_eq(timer_wait(&L, 1000, -1), 604800000);
	cr_expect_null(timer_expired(&L, 604800999));
	cr_expect_eq(timer_expired(&L, 604801000), &a);
}

/* Many timers, random restarts and stops, against a simple model. */
Test(timer, random_against_model)
{
	enum { N = 64, STEPS = 20000 };
	struct timer_list L;
	struct timer t[N];
	uint64_t model[N];	/* Deadline, or 0 when stopped. */
	uint64_t now = 1, s = 42, best;
	size_t i, step, idx;
	struct timer * e;

	memset(t, 0, sizeof(t));
	memset(model, 0, sizeof(model));
	timer_list_init(&L, 100);
	for (step = 0; step < STEPS; step++) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		idx = (size_t)(s >> 33) % N;
		switch ((s >> 20) % 4) {
		case 0:
		case 1:
			timer_start(&L, &t[idx], now);
			model[idx] = now + 100;
			break;
		case 2:
			timer_stop(&t[idx]);
			model[idx] = 0;
			break;
		case 3:
			now += (s >> 40) % 7;
			while ((e = timer_expired(&L, now)) != NULL) {
				i = (size_t)(e - t);
				cr_assert_neq(model[i], 0, "stopped timer "
				    "expired");
				cr_assert_leq(model[i], now);
				timer_stop(e);
				model[i] = 0;
			}
			break;
		}

		/* The earliest model deadline is what timer_wait reports. */
		best = 0;
		for (i = 0; i < N; i++)
			if (model[i] != 0 && (best == 0 || model[i] < best))
				best = model[i];
		if (best == 0)
			cr_assert_eq(timer_wait(&L, now, -1), -1);
		else
			cr_assert_eq(timer_wait(&L, now, -1),
			    best > now ? (int)(best - now) : 0, "step %zu",
			    step);
	}
}

/* A set of lists, as the relay keeps one per state (the first one empty). */
Test(timer, any_of_a_set_of_lists)
{
	struct timer_list L[3];
	struct timer a, b;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	timer_list_init(&L[0], 0);
	timer_list_init(&L[1], 1000);
	timer_list_init(&L[2], 300);
	cr_expect_eq(timer_wait_any(L, 3, 0, -1), -1);
	cr_expect_null(timer_expired_any(L, 3, UINT64_MAX));
	timer_start(&L[1], &a, 0);		/* Deadline 1000. */
	timer_start(&L[2], &b, 0);		/* Deadline 300. */
	cr_expect_eq(timer_wait_any(L, 3, 0, -1), 300);
	cr_expect_eq(timer_wait_any(L, 3, 0, 100), 100);
	cr_expect_eq(timer_wait_any(L, 2, 0, -1), 1000, "only the first 2");
	cr_expect_null(timer_expired_any(L, 3, 299));
	cr_expect_eq(timer_expired_any(L, 3, 300), &b);
	/* Both due: the first list's comes first. */
	cr_expect_eq(timer_expired_any(L, 3, 1000), &a);
	timer_stop(&a);
	cr_expect_eq(timer_expired_any(L, 3, 1000), &b);
	timer_stop(&b);
	cr_expect_null(timer_expired_any(L, 3, 1000));
	cr_expect_eq(timer_wait_any(L, 3, 1000, -1), -1);
}

Test(timer, first_is_the_oldest)
{
	struct timer_list L;
	struct timer t[3];

	memset(t, 0, sizeof(t));
	timer_list_init(&L, 1000);
	cr_expect_null(timer_first(&L));
	timer_start(&L, &t[0], 10);
	timer_start(&L, &t[1], 20);
	timer_start(&L, &t[2], 30);
	cr_expect_eq(timer_first(&L), &t[0]);
	/* Restarted, it goes last: the list's head is the oldest start. */
	timer_start(&L, &t[0], 40);
	cr_expect_eq(timer_first(&L), &t[1]);
	timer_stop(&t[1]);
	timer_stop(&t[2]);
	cr_expect_eq(timer_first(&L), &t[0]);
	timer_stop(&t[0]);
	cr_expect_null(timer_first(&L));
}
