#ifndef SRCLIMIT_H_
#define SRCLIMIT_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * How many connections each source holds, so that one host cannot take
 * every slot.  A source is an IPv4 address (a v4-mapped IPv6 address counts
 * as its IPv4 address) or an IPv6 /64 (what one host or one site gets).
 * The table is an open-addressing hash table, allocated once, with a
 * per-start random key (SipHash, libsodium's crypto_shorthash), so that no
 * client can choose addresses that make long probe chains.
 */
struct srclimit;

/* A source, as srclimit_key() makes it; kind 0 is "not counted". */
struct srclimit_key {
	uint64_t prefix;	/* IPv4 address, or the IPv6 /64. */
	uint8_t kind;		/* SRCLIMIT_NONE, _V4 or _V6. */
};

#define SRCLIMIT_NONE	0
#define SRCLIMIT_V4	1
#define SRCLIMIT_V6	2

/* What srclimit_take() says. */
#define SRCLIMIT_OK		0	/* Counted: accept it. */
#define SRCLIMIT_REFUSED	1	/* At the limit: close it quietly. */
#define SRCLIMIT_REFUSED_LOG	2	/* At the limit: close and log it. */

/* A refused source is logged again after this many ms at the limit. */
#define SRCLIMIT_LOG_MS		10000

/**
 * srclimit_init(max_conns, limit):
 * Allocate a table for ${max_conns} connections (2 x ${max_conns} entries
 * or more, a power of two) in which one source may hold at most ${limit}
 * (1 or more).  Return it, or NULL after reporting the error.  Call before
 * the sandbox: it allocates and draws the hash key from the kernel; nothing
 * after it allocates.
 */
struct srclimit * srclimit_init(size_t, size_t);

/**
 * srclimit_key(sa, key):
 * Fill ${key} with the source of the peer address ${sa} (AF_INET or
 * AF_INET6; anything else gives kind SRCLIMIT_NONE, never counted).
 */
void srclimit_key(const struct sockaddr *, struct srclimit_key *);

/**
 * srclimit_take(S, key, now):
 * Count one more connection from ${key} in ${S} and return SRCLIMIT_OK, or,
 * if the source already holds the limit, count nothing and return
 * SRCLIMIT_REFUSED_LOG for the first refusal of an episode at the limit
 * (and once per SRCLIMIT_LOG_MS after it; ${now} is monotonic ms), else
 * SRCLIMIT_REFUSED.  A key of kind SRCLIMIT_NONE is always SRCLIMIT_OK.
 */
int srclimit_take(struct srclimit *, const struct srclimit_key *, uint64_t);

/**
 * srclimit_put(S, key):
 * Count one connection from ${key} fewer in ${S} (one that srclimit_take
 * accepted); a source that holds none leaves the table.
 */
void srclimit_put(struct srclimit *, const struct srclimit_key *);

/**
 * srclimit_count(S, key):
 * Return how many connections ${key} holds in ${S}.
 */
size_t srclimit_count(const struct srclimit *, const struct srclimit_key *);

/* What srclimit_head() points to for a source just counted. */
#define SRCLIMIT_HEAD_NONE	UINT32_MAX

/**
 * srclimit_head(S, key):
 * Return a pointer to a word that ${S} keeps for the caller beside the
 * count of ${key} (SRCLIMIT_HEAD_NONE when the source was first counted;
 * the relay keeps there the first of the source's connections in the
 * knock phase), or NULL if ${key} holds no connection or is not counted.
 * The pointer is valid until the next srclimit_take() or srclimit_put():
 * entries move.
 */
uint32_t * srclimit_head(struct srclimit *, const struct srclimit_key *);

/**
 * srclimit_sources(S):
 * Return how many sources hold a connection in ${S}.
 */
size_t srclimit_sources(const struct srclimit *);

/**
 * srclimit_free(S):
 * Free ${S} (tests; the relay keeps it until it exits).
 */
void srclimit_free(struct srclimit *);

#endif /* !SRCLIMIT_H_ */
