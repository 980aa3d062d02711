#ifndef KNOCKSET_H_
#define KNOCKSET_H_

#include <stddef.h>
#include <stdint.h>

#include "knock.h"
#include "token.h"

/*
 * The knocks of every hidden route, and the decision between them.  A pure
 * module, as knock.c: bytes and time in, verdict out; no descriptors, no
 * allocation.  A route has a static knock (knock.c) or a key (token.c).
 */

/* Most routes with a knock or a key. */
#define KNOCKSET_MAX	16

/* Why a verdict was given (struct knockset_verdict, why). */
#define KNOCKSET_KNOCK		1	/* A static knock matched. */
#define KNOCKSET_TOKEN		2	/* A valid token (check the cache). */
#define KNOCKSET_MISMATCH	3	/* Enough bytes, nothing matched. */
#define KNOCKSET_SHORT		4	/* Final before the longest knock. */
#define KNOCKSET_EXPIRED	5	/* A token outside the window. */
#define KNOCKSET_EARLY		6	/* A token minted before the start. */

/* knockset_add_*() errors besides -1 for a full set. */
#define KNOCKSET_EDUP		-2	/* The same knock or key twice. */
#define KNOCKSET_EPREFIX	-3	/* A knock is a prefix of another. */

struct knockset_route {
	int token;			/* A key (1) or a static knock (0). */
	struct knock knock;		/* The static knock. */
};

/* Every route's knock or key, and the token rules. */
struct knockset {
	struct knockset_route r[KNOCKSET_MAX];
	size_t n;
	uint8_t keys[KNOCKSET_MAX][32];	/* The token routes' keys, */
	struct token_key ready[KNOCKSET_MAX];	/* made ready (token.h), */
	size_t keyroute[KNOCKSET_MAX];	/* and the route of each. */
	size_t nkeys;
	uint64_t window_s;		/* Tokens: |now - t| at most this. */
	uint64_t start_s;		/* Tokens: t at least this - 1. */
};

/* What knockset_decide() found. */
struct knockset_verdict {
	int verdict;			/* KNOCK_WAIT, _NORMAL or _HIDDEN. */
	int why;			/* KNOCKSET_*; 0 while waiting. */
	size_t route;			/* If HIDDEN: the index of the route. */
	size_t consume;			/* If HIDDEN: bytes to consume. */
	uint8_t tag[16];		/* If TOKEN: for the replay cache, */
	uint64_t expiry_s;		/* kept until this Unix time. */
};

/**
 * knockset_init(S, window_s, start_s):
 * Make ${S} an empty set whose tokens are valid within ${window_s} seconds
 * of the time they carry and not minted before ${start_s} - 1 (Unix time).
 */
void knockset_init(struct knockset *, uint64_t, uint64_t);

/**
 * knockset_add_knock(S, k):
 * Add a route with the static knock ${k}.  Return its index, -1 if ${S} is
 * full, KNOCKSET_EDUP if another route has the same knock, KNOCKSET_EPREFIX
 * if one of the two knocks is a prefix of the other (nothing reported).
 */
int knockset_add_knock(struct knockset *, const struct knock *);

/**
 * knockset_add_key(S, key):
 * Add a route whose knock is a token under the 32-byte ${key}.  Return its
 * index, -1 if ${S} is full, KNOCKSET_EDUP if another route has this key.
 */
int knockset_add_key(struct knockset *, const uint8_t *);

/**
 * knockset_maxlen(S):
 * Return the longest knock of ${S}: more bytes never change a decision.
 */
size_t knockset_maxlen(const struct knockset *);

/**
 * knockset_decide(S, buf, len, final, now_s, v):
 * Decide the route of a connection whose first ${len} bytes are ${buf};
 * ${final} when no more bytes can be waited for; ${now_s} is the Unix time.
 * Every route whose knock is at most ${len} bytes long is checked, all of
 * them, in time that depends on ${len} and the set only (every token key's
 * HMACs run whatever the bytes are).  A matching route gives KNOCK_HIDDEN;
 * otherwise KNOCK_WAIT while ${len} is below the longest knock and
 * !${final}, KNOCK_NORMAL after.  So the moment of the decision depends on
 * how many bytes arrived and on whether a complete knock matched, never on
 * a partial match.  A token's replay is not checked here (replay.c).
 */
void knockset_decide(const struct knockset *, const uint8_t *, size_t, int,
    uint64_t, struct knockset_verdict *);

/**
 * knockset_wipe(S):
 * Overwrite every knock and key in ${S}.
 */
void knockset_wipe(struct knockset *);

#endif /* !KNOCKSET_H_ */
