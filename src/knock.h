#ifndef KNOCK_H_
#define KNOCK_H_

#include <stddef.h>
#include <stdint.h>

/* The longest knock accepted, in bytes. */
#define KNOCK_MAX	256

/* Verdicts of knock_decide(). */
#define KNOCK_WAIT	0	/* Not enough bytes yet: decide later. */
#define KNOCK_NORMAL	1	/* Route to the normal backend. */
#define KNOCK_HIDDEN	2	/* Route to the hidden backend. */

/* The secret knock.  A pure value: no descriptors, no allocation. */
struct knock {
	uint8_t buf[KNOCK_MAX];
	size_t len;			/* 1 .. KNOCK_MAX. */
};

/**
 * knock_decide(k, buf, len, final):
 * Decide the route of a connection whose first ${len} bytes are ${buf}.
 * ${final} is non-zero when no more bytes can be waited for (the client
 * half-closed or the knock timeout passed).  Return KNOCK_WAIT while
 * ${len} < ${k}->len and !${final}, whatever the bytes are (so the time of
 * the decision tells nothing about the knock); KNOCK_HIDDEN if the first
 * ${k}->len bytes equal the knock, compared in constant time; KNOCK_NORMAL
 * otherwise.
 */
int knock_decide(const struct knock *, const uint8_t *, size_t, int);

/**
 * knock_set(k, buf, len):
 * Store the ${len} bytes at ${buf} as the knock ${k}.  Return 0, or -1 if
 * ${len} is 0 or more than KNOCK_MAX (nothing reported).
 */
int knock_set(struct knock *, const void *, size_t);

/**
 * knock_wipe(k):
 * Overwrite the knock in ${k} so that it cannot be optimised away.
 */
void knock_wipe(struct knock *);

#endif /* !KNOCK_H_ */
