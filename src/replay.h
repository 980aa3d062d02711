#ifndef REPLAY_H_
#define REPLAY_H_

#include <stddef.h>
#include <stdint.h>

/* The replay cache's key: a token's 16-byte tag. */
#define REPLAY_TAGLEN	16

/* Default and largest number of entries (8 bytes each: 512 KiB, 128 MiB). */
#define REPLAY_DEFAULT	65536
#define REPLAY_MAX	16777216

/* Results of replay_insert(). */
#define REPLAY_OK	0	/* First time seen: accept. */
#define REPLAY_REPLAYED	1	/* Seen before, still live: refuse. */
#define REPLAY_FULL	2	/* No room: refuse (fail closed). */

struct replay;

/**
 * replay_init(n):
 * Allocate a replay cache of ${n} entries (1 .. REPLAY_MAX) in an
 * anonymous MAP_SHARED mapping, so processes forked afterwards (the
 * --workers) share it.  Call before the fork and the sandbox: nothing is
 * allocated after.  Return the cache, or NULL after reporting why.
 */
struct replay * replay_init(size_t);

/**
 * replay_insert(cache, tag, expiry, now):
 * Record the token whose tag is ${tag}, to be kept until Unix time
 * ${expiry} (its t + window), at Unix time ${now} (the same now its time
 * was checked against).  Return REPLAY_OK if it was not in the cache and
 * now is; REPLAY_REPLAYED if it is there and live (expiry >= now);
 * REPLAY_FULL if every slot it may take holds a live entry.  Entries whose
 * expiry has passed are reused.  Lock-free and safe between processes:
 * of several concurrent inserts of one tag, at most one returns REPLAY_OK,
 * and a process that dies in the middle leaves nothing locked.  No system
 * call, no allocation.
 */
int replay_insert(struct replay *, const uint8_t[REPLAY_TAGLEN], uint64_t,
    uint64_t);

/**
 * replay_free(cache):
 * Unmap ${cache} (in this process; NULL is ignored).
 */
void replay_free(struct replay *);

#endif /* !REPLAY_H_ */
