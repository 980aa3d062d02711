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
 * in ${freeslot} (or n if none) and its word in ${old}.
 */
static int
replay_scan(struct replay * cache, size_t home, uint64_t fp, uint64_t now,
    size_t skip, size_t * freeslot, uint64_t * old)
{
	size_t i, s;
	uint64_t v;

	*freeslot = cache->n;
	*old = 0;
	/* Slots home, home + 1, ... wrapping at n (no division per slot). */
	for (i = 0, s = home; i < cache->probe;
	    i++, s = (s + 1 == cache->n) ? 0 : s + 1) {
		v = __atomic_load_n(&cache->slot[s], __ATOMIC_SEQ_CST);
		if (replay_live(v, now)) {
			if ((v >> 32) == fp && s != skip)
				return (REPLAY_REPLAYED);
		} else if (*freeslot == cache->n) {
			*freeslot = s;
			*old = v;
		}
	}
	return (REPLAY_OK);
}

/* Insert a tag unless it is there. */
int
replay_insert(struct replay * cache, const uint8_t tag[REPLAY_TAGLEN],
    uint64_t expiry, uint64_t now)
{
	uint64_t fp, old, v;
	size_t home, s, other, round;

	fp = replay_le(tag, 4);
	home = (size_t)(replay_le(tag + 8, 8) % cache->n);
	/* Expiry in 32 bits, never 0 (an empty slot). */
	if (expiry > 0xffffffffU)
		expiry = 0xffffffffU;
	if (expiry == 0)
		expiry = 1;
	v = (fp << 32) | expiry;

	for (round = 0; round < REPLAY_ROUNDS; round++) {
		if (replay_scan(cache, home, fp, now, cache->n, &s, &old))
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
		if (replay_scan(cache, home, fp, now, s, &other, &old))
			return (REPLAY_REPLAYED);
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
