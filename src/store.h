#ifndef STORE_H_
#define STORE_H_

#include <stddef.h>
#include <stdint.h>

/*
 * The --replay-store client: one non-blocking TCP connection to a Redis or
 * Valkey server, on which each token accepted by the local replay cache is
 * claimed with SET <prefix><tag> 1 NX PX <ms>.  Requests are pipelined and
 * their replies matched in order to the waiting connections (a ring of
 * fixed size).  Everything is allocated by store_init(), before the
 * sandbox; afterwards the module only sends, receives, and reconnects
 * (socket, connect: the store's port is one Landlock allows) with back-off.
 */

struct net_addr;
struct store;

/* The key of a token's claim: this prefix, then its tag in hex. */
#define STORE_PREFIX	"l7knockknock:token:"

/* Longest password (--replay-store-password-file). */
#define STORE_PASSWORD_MAX	512

/* A claim's outcome (store_reply_fn). */
#define STORE_FRESH	0	/* +OK: the first claim anywhere: accept. */
#define STORE_USED	1	/* Null: claimed before, elsewhere: refuse. */
#define STORE_FAILED	2	/* An error reply, the connection lost or
				   given up: refuse (fail closed). */

/* What store_init() needs. */
struct store_conf {
	const struct net_addr * addr;	/* The server. */
	const uint8_t * password;	/* AUTH with it; NULL: no AUTH. */
	size_t password_len;
	size_t pending;			/* Most claims waiting at once. */
	int epoll_fd;			/* The relay's. */
	uint64_t ev_data;		/* epoll data of the store's socket. */
};

/*
 * Called with each claim's outcome: ${slot} and ${gen} as given to
 * store_claim(), ${cookie} as given to the call that delivers it.
 */
typedef void store_reply_fn(void *, uint32_t, uint32_t, int);

/**
 * store_init(conf, now):
 * Allocate the ring of conf->pending claims and the send buffer, and start
 * connecting to conf->addr (registered with conf->epoll_fd for every event,
 * edge-triggered, with conf->ev_data); a connection that fails now is
 * retried later (logged: tokens are refused meanwhile).  The password is
 * copied.  ${now} is monotonic ms.  Return the client, or NULL after
 * reporting (no memory).  Call before the sandbox: nothing is allocated
 * after.
 */
struct store * store_init(const struct store_conf *, uint64_t);

/**
 * store_claim(S, tag, ttl_ms, slot, gen, now):
 * Queue the claim of the token whose 16-byte tag is ${tag}, to be kept
 * ${ttl_ms} in the store, for the connection ${slot}/${gen}; its outcome
 * comes later through the store_reply_fn of store_event() or store_fail().
 * Return 0, or -1 if it cannot be asked now (the store is down and
 * waiting to reconnect, the ring or the send buffer is full): the token
 * must be refused at once (the reason is logged, rate-limited).
 */
int store_claim(struct store *, const uint8_t[16], uint64_t, uint32_t,
    uint32_t, uint64_t);

/**
 * store_event(S, events, now, fn, cookie):
 * Act on epoll ${events} for the store's socket: finish connecting, send
 * what waits, read replies and hand each claim's outcome to ${fn}; on an
 * error, a protocol error or the connection's end, store_fail().
 */
void store_event(struct store *, uint32_t, uint64_t, store_reply_fn *,
    void *);

/**
 * store_fail(S, why, now, fn, cookie):
 * Give the connection up (${why} is logged, rate-limited): close it, fail
 * every waiting claim (STORE_FAILED to ${fn}) and reconnect after a
 * back-off (doubling from 100 ms to 5 s, reset by a good reply).
 */
void store_fail(struct store *, const char *, uint64_t, store_reply_fn *,
    void *);

/**
 * store_tick(S, now):
 * Reconnect if the back-off has passed.
 */
void store_tick(struct store *, uint64_t);

/**
 * store_wait(S, now, wait):
 * ${wait} (epoll ms, -1: none) shortened to the next reconnect.
 */
int store_wait(const struct store *, uint64_t, int);

#endif /* !STORE_H_ */
