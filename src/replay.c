/*
 * The replay cache: an open-addressed table of 64-bit words in a shared
 * anonymous mapping.  Each word is one entry, written with one
 * compare-and-swap: the top 32 bits are a fingerprint of the tag (tag
 * bytes 0-3), the low 32 bits the entry's expiry in Unix seconds (to 2106).
 * 0 is an empty slot; an entry whose expiry is before now is free again.
 * A tag's slots are the window of REPLAY_PROBE slots from its home (tag
 * bytes 8-15 modulo the size).  See DESIGN.md, "One-time knocks".
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "replay.h"

/* Slots a tag may take, from its home. */
#define REPLAY_PROBE	256

/* Rounds of scan-and-claim before giving up (lost races only). */
#define REPLAY_ROUNDS	8

/* Seconds past its expiry before an entry may be emptied (replay_trim). */
#define REPLAY_TRIM_AFTER	2

/* 8-byte atomics must be real instructions: they work across processes. */
_Static_assert(__atomic_always_lock_free(sizeof(uint64_t), 0),
    "64-bit atomics are not lock-free here");

/* The shared mapping: a header, then the slots. */
struct replay {
	size_t maplen;		/* Bytes mapped. */
	size_t n;		/* Slots. */
	size_t probe;		/* min(n, REPLAY_PROBE). */
	uint64_t slot[];	/* Entries: fp << 32 | expiry; 0 if empty. */
};

/* Allocate the shared cache. */
struct replay *
replay_init(size_t n)
{
	struct replay * cache;
	size_t maplen;
	void * p;

	if (n < 1 || n > REPLAY_MAX) {
		log_err("replay cache of %zu entries: expected 1 to %d", n,
		    REPLAY_MAX);
		return (NULL);
	}
	maplen = sizeof(struct replay) + n * sizeof(uint64_t);
	p = mmap(NULL, maplen, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		log_errp("cannot map a replay cache of %zu bytes", maplen);
		return (NULL);
	}
	cache = p;
	cache->maplen = maplen;
	cache->n = n;
	cache->probe = (n < REPLAY_PROBE) ? n : REPLAY_PROBE;
	return (cache);
}

/* Read 4 (or 8) little-endian bytes at ${p}. */
static uint64_t
replay_le(const uint8_t * p, size_t len)
{
	uint64_t x = 0;
	size_t i;

	for (i = len; i > 0; i--)
		x = (x << 8) | p[i - 1];
	return (x);
}

/* Return non-zero if entry ${v} is still live at ${now}. */
static int
replay_live(uint64_t v, uint64_t now)
{

	return (v != 0 && (v & 0xffffffffU) >= now);
}

/*
 * Look at the tag's window: return REPLAY_REPLAYED if a live entry other
 * than slot ${skip} holds ${fp}; else REPLAY_OK, with the first free slot
 * in ${freeslot} (or n if none), its word in ${old}, and the first empty
 * slot, where the walk ended, in ${empty} (or n if none).
 *
 * The walk ends at the first empty slot (0): no entry of the tag lies past
 * it.  An insert takes the first slot it saw free, so every slot between a
 * live entry's home and the entry was live, hence non-zero, when the entry
 * went in; and a slot goes back to 0 only when no entry lies past it
 * (replay_trim).  An expired slot does not end the walk: an entry may lie
 * past a slot that was live when the entry went in and has expired since.
 * So an insert costs the slots up to the first empty one (a few, in a
 * cache that is not nearly full), not the window's 256.
 */
static int
replay_scan(struct replay * cache, size_t home, uint64_t fp, uint64_t now,
    size_t skip, size_t * freeslot, uint64_t * old, size_t * empty)
{
	size_t i, s;
	uint64_t v;

	*freeslot = *empty = cache->n;
	*old = 0;
	/* Slots home, home + 1, ... wrapping at n (no division per slot). */
	for (i = 0, s = home; i < cache->probe;
	    i++, s = (s + 1 == cache->n) ? 0 : s + 1) {
		v = __atomic_load_n(&cache->slot[s], __ATOMIC_SEQ_CST);
		if (replay_live(v, now)) {
			if ((v >> 32) == fp && s != skip)
				return (REPLAY_REPLAYED);
			continue;
		}
		if (*freeslot == cache->n) {
			*freeslot = s;
			*old = v;
		}
		if (v == 0) {
			*empty = s;
			break;
		}
	}
	return (REPLAY_OK);
}

/*
 * Empty the expired entries just before the empty slot ${empty}, walking
 * back while each is expired for REPLAY_TRIM_AFTER seconds and the slot
 * after it is still empty: no entry lies past an empty slot, so none
 * needs them (see replay_scan).  At most REPLAY_PROBE slots.  Without
 * this, every slot of a long-running cache would hold an expired entry,
 * and every insert would walk its whole window.
 *
 * The margin covers workers whose clocks read a second apart: an insert
 * that saw one of these entries live, and so went past it, claimed its
 * slot at most a moment later, not seconds later.
 */
static void
replay_trim(struct replay * cache, size_t empty, uint64_t now)
{
	size_t i, next = empty, s;
	uint64_t v;

	for (i = 0; i < REPLAY_PROBE; i++, next = s) {
		s = (next == 0) ? cache->n - 1 : next - 1;
		v = __atomic_load_n(&cache->slot[s], __ATOMIC_SEQ_CST);
		if (v == 0 || (v & 0xffffffffU) + REPLAY_TRIM_AFTER >= now ||
		    __atomic_load_n(&cache->slot[next], __ATOMIC_SEQ_CST) != 0)
			return;
		if (!__atomic_compare_exchange_n(&cache->slot[s], &v, 0, 0,
		    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			return;		/* Taken meanwhile: leave it. */
	}
}

/* Insert a tag unless it is there. */
int
replay_insert(struct replay * cache, const uint8_t tag[REPLAY_TAGLEN],
    uint64_t expiry, uint64_t now)
{
	uint64_t fp, old, v;
	size_t home, s, other, empty, round;

	fp = replay_le(tag, 4);
	home = (size_t)(replay_le(tag + 8, 8) % cache->n);
	/* Expiry in 32 bits, never 0 (an empty slot). */
	if (expiry > 0xffffffffU)
		expiry = 0xffffffffU;
	if (expiry == 0)
		expiry = 1;
	v = (fp << 32) | expiry;

	for (round = 0; round < REPLAY_ROUNDS; round++) {
		if (replay_scan(cache, home, fp, now, cache->n, &s, &old,
		    &empty))
			return (REPLAY_REPLAYED);
		if (s == cache->n)
			return (REPLAY_FULL);
		if (!__atomic_compare_exchange_n(&cache->slot[s], &old, v, 0,
		    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			continue;	/* Another process took it: look again. */

		/*
		 * Claimed.  Another insert of the same tag may have claimed
		 * another slot that it judged free while this one did not
		 * (an entry expiring between the two scans): look again, and
		 * refuse if so.  The later of two such claims always sees the
		 * earlier, so at most one of them returns REPLAY_OK (a store
		 * then a load of another slot: sequentially consistent, which
		 * acquire/release alone would not promise).
		 */
		if (replay_scan(cache, home, fp, now, s, &other, &old, &empty))
			return (REPLAY_REPLAYED);
		if (empty != cache->n)
			replay_trim(cache, empty, now);
		return (REPLAY_OK);
	}
	/* Lost every race: fail closed. */
	return (REPLAY_FULL);
}

/* Unmap the cache. */
void
replay_free(struct replay * cache)
{

	if (cache == NULL)
		return;
	(void)munmap(cache, cache->maplen);
}
