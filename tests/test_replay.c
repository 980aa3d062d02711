/*
 * Unit tests of src/replay.c: the shared replay cache (first insert,
 * replay, full, expiry and reuse, and inserts racing between processes).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "replay.h"

#define NOW	1700000000ULL

/* splitmix64: a well-mixed 64-bit value from ${x}. */
static uint64_t
rp_mix(uint64_t x)
{

	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return (x ^ (x >> 31));
}

/* A tag made from ${i}: as uniform as a real tag (an HMAC output). */
static void
rp_tag(uint32_t i, uint8_t tag[REPLAY_TAGLEN])
{
	uint64_t a = rp_mix(2 * (uint64_t)i), b = rp_mix(2 * (uint64_t)i + 1);

	memcpy(tag, &a, 8);
	memcpy(tag + 8, &b, 8);
}

Test(replay, once_then_replayed)
{
	struct replay * c;
	uint8_t tag[REPLAY_TAGLEN], other[REPLAY_TAGLEN];

	cr_assert_not_null(c = replay_init(REPLAY_DEFAULT));
	rp_tag(1, tag);
	rp_tag(2, other);
	cr_expect_eq(replay_insert(c, tag, NOW + 30, NOW), REPLAY_OK);
	cr_expect_eq(replay_insert(c, tag, NOW + 30, NOW), REPLAY_REPLAYED);
	cr_expect_eq(replay_insert(c, tag, NOW + 30, NOW + 30),
	    REPLAY_REPLAYED, "live until its expiry, inclusive");
	cr_expect_eq(replay_insert(c, other, NOW + 30, NOW), REPLAY_OK);
	cr_expect_eq(replay_insert(c, other, NOW + 30, NOW + 1),
	    REPLAY_REPLAYED);
	replay_free(c);
}

Test(replay, bad_sizes)
{

	cr_expect_null(replay_init(0));
	cr_expect_null(replay_init(REPLAY_MAX + 1));
}

/*
 * n live entries fill a cache of n <= 64 (a tag may take any of 64 slots
 * from its home); the next refuses; expired ones are free again.
 */
Test(replay, full_then_reused)
{
	static const size_t sizes[] = { 1, 2, 8, 63, 64 };
	uint8_t tag[REPLAY_TAGLEN];
	struct replay * c;
	size_t k, n;
	uint32_t i;

	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		n = sizes[k];
		cr_assert_not_null(c = replay_init(n));
		for (i = 0; i < n; i++) {
			rp_tag(i, tag);
			cr_assert_eq(replay_insert(c, tag, NOW + 30, NOW),
			    REPLAY_OK, "size %zu, entry %u", n, i);
		}
		rp_tag(1000, tag);
		cr_expect_eq(replay_insert(c, tag, NOW + 30, NOW),
		    REPLAY_FULL, "size %zu: full", n);
		cr_expect_eq(replay_insert(c, tag, NOW + 30, NOW + 30),
		    REPLAY_FULL, "size %zu: still full at the expiry", n);
		/* Old entries still count as seen while full. */
		rp_tag(0, tag);
		cr_expect_eq(replay_insert(c, tag, NOW + 30, NOW),
		    REPLAY_REPLAYED);
		/* A second later they are all free again. */
		for (i = 0; i < n; i++) {
			rp_tag(1000 + i, tag);
			cr_expect_eq(replay_insert(c, tag, NOW + 61, NOW + 31),
			    REPLAY_OK, "size %zu: reuse %u", n, i);
		}
		rp_tag(0, tag);
		cr_expect_eq(replay_insert(c, tag, NOW + 61, NOW + 31),
		    REPLAY_FULL, "size %zu: full again", n);
		replay_free(c);
	}
}

/* An expired entry is forgotten: the same tag may go in again. */
Test(replay, expired_slot_reused)
{
	uint8_t tag[REPLAY_TAGLEN];
	struct replay * c;

	cr_assert_not_null(c = replay_init(1));
	rp_tag(7, tag);
	cr_expect_eq(replay_insert(c, tag, NOW + 30, NOW), REPLAY_OK);
	cr_expect_eq(replay_insert(c, tag, NOW + 60, NOW + 31), REPLAY_OK);
	cr_expect_eq(replay_insert(c, tag, NOW + 60, NOW + 31),
	    REPLAY_REPLAYED);
	replay_free(c);
}

/*
 * Three tags with one home: the second and third go past the first.  When
 * the first two expire, their slots are free but not empty: the walk must
 * go on past them to find the third (a walk that stopped at the first free
 * slot would claim it, stop again at the next in its second scan, and take
 * the replay as new).  A fresh tag then takes an expired slot, and a
 * replay of the third is still caught past it.
 */
Test(replay, entries_past_expired_slots_are_found)
{
	uint8_t tag[3][REPLAY_TAGLEN], fresh[REPLAY_TAGLEN];
	struct replay * c;
	int i;

	cr_assert_not_null(c = replay_init(1024));
	for (i = 0; i < 3; i++) {
		rp_tag((uint32_t)i, tag[i]);
		memcpy(tag[i] + 8, tag[0] + 8, 8);	/* One home. */
	}
	memcpy(fresh, tag[0], REPLAY_TAGLEN);
	fresh[0] ^= 0x5a;				/* Same home too. */
	cr_assert_eq(replay_insert(c, tag[0], NOW + 10, NOW), REPLAY_OK);
	cr_assert_eq(replay_insert(c, tag[1], NOW + 10, NOW), REPLAY_OK);
	cr_assert_eq(replay_insert(c, tag[2], NOW + 60, NOW), REPLAY_OK);
	/* At NOW + 11 the first two have expired; the third has not. */
	cr_expect_eq(replay_insert(c, tag[2], NOW + 60, NOW + 11),
	    REPLAY_REPLAYED, "an entry past expired slots was missed");
	cr_expect_eq(replay_insert(c, fresh, NOW + 70, NOW + 11), REPLAY_OK);
	cr_expect_eq(replay_insert(c, tag[2], NOW + 60, NOW + 12),
	    REPLAY_REPLAYED);
	cr_expect_eq(replay_insert(c, fresh, NOW + 70, NOW + 12),
	    REPLAY_REPLAYED);
	/* The first is forgotten: it goes in again. */
	cr_expect_eq(replay_insert(c, tag[0], NOW + 70, NOW + 12), REPLAY_OK);
	cr_expect_eq(replay_insert(c, tag[0], NOW + 70, NOW + 13),
	    REPLAY_REPLAYED);
	replay_free(c);
}

/*
 * A long-running cache, a third full: 300 fresh tags a second for 100
 * seconds into 4,096 slots (each slot is used many times over, and
 * expired entries are emptied as inserts pass them).  Every tag is new
 * once, and caught as a replay at any second until its expiry.
 */
Test(replay, long_run_catches_every_live_replay)
{
	uint8_t tag[REPLAY_TAGLEN];
	struct replay * c;
	uint32_t sec, i, back;

	cr_assert_not_null(c = replay_init(4096));
	for (sec = 0; sec < 100; sec++) {
		for (i = 0; i < 300; i++) {
			rp_tag(sec * 300 + i, tag);
			cr_assert_eq(replay_insert(c, tag, NOW + sec + 5,
			    NOW + sec), REPLAY_OK, "second %u, tag %u", sec, i);
		}
		/* The tags of the last 6 seconds are live (expiry >= now). */
		for (back = 0; back <= 5 && back <= sec; back++)
			for (i = 0; i < 300; i += 7) {
				rp_tag((sec - back) * 300 + i, tag);
				cr_assert_eq(replay_insert(c, tag, NOW + sec + 5,
				    NOW + sec), REPLAY_REPLAYED,
				    "second %u: a tag of second %u missed", sec,
				    sec - back);
			}
	}
	replay_free(c);
}

/* Many entries in a default cache: all first inserts OK, all replays caught. */
Test(replay, thousands)
{
	uint8_t tag[REPLAY_TAGLEN];
	struct replay * c;
	uint32_t i;

	cr_assert_not_null(c = replay_init(REPLAY_DEFAULT));
	for (i = 0; i < REPLAY_DEFAULT / 2; i++) {
		rp_tag(i, tag);
		cr_assert_eq(replay_insert(c, tag, NOW + 30, NOW), REPLAY_OK,
		    "entry %u", i);
	}
	for (i = 0; i < REPLAY_DEFAULT / 2; i++) {
		rp_tag(i, tag);
		cr_assert_eq(replay_insert(c, tag, NOW + 30, NOW),
		    REPLAY_REPLAYED, "entry %u", i);
	}
	replay_free(c);
}

/* The default cache takes most of its size before the first refusal. */
Test(replay, load_before_full)
{
	uint8_t tag[REPLAY_TAGLEN];
	struct replay * c;
	uint32_t i;

	cr_assert_not_null(c = replay_init(REPLAY_DEFAULT));
	for (i = 0; i < REPLAY_DEFAULT; i++) {
		rp_tag(i, tag);
		if (replay_insert(c, tag, NOW + 30, NOW) != REPLAY_OK)
			break;
	}
	cr_log_info("first REPLAY_FULL after %u of %d entries", i,
	    REPLAY_DEFAULT);
	cr_expect_geq(i, REPLAY_DEFAULT * 3 / 4, "full after only %u", i);
	replay_free(c);
}

/*
 * Processes forked after replay_init() share the cache: PROCS processes
 * insert the same TAGS tags at once; every tag is accepted exactly once.
 */
#define PROCS	4
#define TAGS	2000

Test(replay, processes_race, .timeout = 60)
{
	struct replay * c;
	uint8_t tag[REPLAY_TAGLEN];
	uint32_t * oks;
	pid_t pid[PROCS];
	int p, st, rc;
	uint32_t i;

	cr_assert_not_null(c = replay_init(4 * TAGS));
	oks = mmap(NULL, TAGS * sizeof(uint32_t), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(oks, MAP_FAILED);
	for (p = 0; p < PROCS; p++) {
		cr_assert_neq(pid[p] = fork(), -1);
		if (pid[p] != 0)
			continue;
		for (i = 0; i < TAGS; i++) {
			rp_tag(i, tag);
			rc = replay_insert(c, tag, NOW + 30, NOW);
			if (rc == REPLAY_OK)
				__atomic_add_fetch(&oks[i], 1,
				    __ATOMIC_SEQ_CST);
			else if (rc != REPLAY_REPLAYED)
				_exit(2);
		}
		_exit(0);
	}
	for (p = 0; p < PROCS; p++) {
		cr_assert_eq(waitpid(pid[p], &st, 0), pid[p]);
		cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "child %d: status %d", p, st);
	}
	for (i = 0; i < TAGS; i++)
		cr_expect_eq(oks[i], 1, "tag %u accepted %u times", i, oks[i]);
	/* And the parent sees every one of them. */
	for (i = 0; i < TAGS; i++) {
		rp_tag(i, tag);
		cr_expect_eq(replay_insert(c, tag, NOW + 30, NOW),
		    REPLAY_REPLAYED);
	}
	munmap(oks, TAGS * sizeof(uint32_t));
	replay_free(c);
}

/* A process killed mid-run leaves nothing locked. */
Test(replay, killed_process_leaves_no_lock, .timeout = 60)
{
	uint8_t tag[REPLAY_TAGLEN];
	struct replay * c;
	uint32_t i, n = 0;
	pid_t pid;
	int st;

	cr_assert_not_null(c = replay_init(1 << 20));
	cr_assert_neq(pid = fork(), -1);
	if (pid == 0) {
		for (i = 0; i < (1 << 19); i++) {
			rp_tag(i, tag);
			(void)replay_insert(c, tag, NOW + 30, NOW);
		}
		_exit(0);
	}
	usleep(20000);
	(void)kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	/* Every tag either was inserted (replayed now) or goes in now. */
	for (i = 0; i < (1 << 19); i++) {
		rp_tag(i, tag);
		st = replay_insert(c, tag, NOW + 30, NOW);
		cr_assert(st == REPLAY_OK || st == REPLAY_REPLAYED,
		    "tag %u: %d", i, st);
		n += (st == REPLAY_REPLAYED);
	}
	cr_log_info("the killed child had inserted %u tags", n);
	replay_free(c);
}
