#ifndef RELAY_INTERNAL_H_
#define RELAY_INTERNAL_H_

/* Shared by relay*.c only: the relay's state and its connection slots. */

#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "knockset.h"
#include "log.h"
#include "relay.h"
#include "timer.h"

#include "srclimit.h"

struct net_addr;
struct pipepool;

/*
 * A connection's life.  Every state is entered through relay_enter(), which
 * sets C->state and starts that state's timer from relay_states[] (relay.c:
 * the timer's length and what its expiry does); the timer list a connection
 * sits in says nothing the state does not.
 *
 *   FREE --accept--> KNOCK --knock decided--> CONNECT --connected--> RELAY
 *    ^                 |  \                  ^   |                     |
 *    |                 |   +-token--> STORE -+   |                     |
 *    |                 |   (--replay-store)      |                     |
 *    |                 |                         |    the backend's    |
 *    |                 |                         |  FIN passed on      v
 *    |                 |                         |                HALFCLOSED
 *    |                 v                         v                     v
 *    +-------- relay_close(): error, timeout, both ways done ---------+
 *                             (from any state)
 *
 *   state       entered by (file)                 timer       on expiry
 *   KNOCK       relay_accept_slot (relay_accept)  knock_ms    decide now
 *   STORE       relay_store_claim (relay_store)   store_ms    normal route
 *   CONNECT     relay_connect_start (connect)     connect_ms  close
 *   RELAY       relay_connected (relay_connect)   route idle  close, unless
 *                                                             the kernel moved
 *                                                             bytes (again)
 *   HALFCLOSED  relay_pump (relay_pump)           fin_ms      as RELAY
 *   FREE        relay_close (relay.c)             none        -
 *
 * In RELAY and HALFCLOSED, activity restarts the timer (relay_touch), and
 * at expiry so do bytes the kernel moved meanwhile (relay_queues_moved); a
 * close there, or after an error, goes through relay_cut, which resets a
 * side that loses bytes.  A new
 * state with a timer of its own is one value here and one line in
 * relay_states[].  A timer list holds timers of one length (timer.h), so a
 * state whose length is the route's (RELAY: each route's idle timeout) has
 * one list per route: R->timers[RELAY_LIST_ROUTE + i] for the route whose
 * relay_backend says list i.
 *
 * HALFCLOSED begins only once the backend has ended (its FIN passed to the
 * client): a client that half-closed first is waiting for its answer,
 * which may take as long as the idle timeout allows.
 *
 * STORE: a token the local replay cache accepted waits for the shared
 * replay store's answer to its claim (relay_store.c); nothing else ever
 * waits on the store.  The answer, a failed store or the timer route it:
 * hidden only on the store's "+OK", else normal with every byte.
 *
 * A client from an --accept-proxy network (a balancer) spends the first
 * part of KNOCK waiting for its PROXY header (C->proxy_wait, relay_header.c,
 * under the same timer and eviction): the header is peeked, parsed whole,
 * consumed to its last byte and nothing more; C->peer then is the client
 * it names, and the knock timer starts again for the bytes after it.
 *
 * Accepting evicts the oldest connection in KNOCK (the head of the KNOCK
 * timer list; closed, not routed) when no slot is free, so that a flood
 * of silent connections never keeps a new one out; no other state is
 * ever evicted.  Each slot's source is counted (srclimit) from accept to
 * relay_close; a source at its limit gives up its own oldest connection
 * in KNOCK (reset) for a new one (relay_source.c), and only a source
 * whose connections all left KNOCK is refused (a reset, logged at most
 * once per SRCLIMIT_LOG_MS).  STORE is past the knock phase for both: its
 * token is valid and fresh here, and it waits store_ms at most, so it is
 * on neither list and never evicted.  Should it close while its claim is
 * in the store client's ring (a drain's cut), the answer names its slot
 * and generation, which no longer match: it is dropped, never applied to
 * the slot's next connection (relay_store.c).
 */
enum conn_state {
	CONN_FREE = 0,		/* Slot unused. */
	CONN_KNOCK,		/* Waiting for the first bytes. */
	CONN_STORE,		/* A token waits for the replay store. */
	CONN_CONNECT,		/* Connecting to the backend. */
	CONN_RELAY,		/* Relaying both ways. */
	CONN_HALFCLOSED,	/* The backend's FIN passed to the client. */
	CONN_NSTATES
};

/*
 * What an epoll event's data says: the slot's generation in bits 36-63 (so
 * an event queued for a connection that was closed and whose slot was
 * reused in the same batch is recognised as stale), the type in bits 32-35,
 * the index in bits 0-31.
 */
#define EV_LISTEN	1ULL
#define EV_SIGNAL	2ULL
#define EV_CLIENT	3ULL
#define EV_BACKEND	4ULL
#define EV_STORE	5ULL
#define EV_DATA(type, idx, gen)	(((uint64_t)(gen) << 36) | ((type) << 32) | \
				 (uint64_t)(idx))
#define EV_GEN(data)		((uint32_t)((data) >> 36))
#define EV_TYPE(data)		(((data) >> 32) & 0xf)
#define EV_IDX(data)		((uint32_t)(data))
#define EV_GEN_MASK		0x0fffffffU

/* The events a client or backend socket is watched for, once, for good. */
#define EV_CONN_EVENTS	(EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET)

/* Where a connection may be sent: a backend and the words the log uses. */
struct relay_backend {
	const char * name;		/* "normal", "hidden", a route's name. */
	const struct net_addr * addr;
	const char * failed;		/* Close reason when connect fails. */
	int proxy;			/* PROXYHDR_OFF, _V1 or _V2 header. */
	size_t list;			/* R->timers[list]: its RELAY timers. */
};

/* Most routes: the normal one and every hidden one. */
#define RELAY_ROUTES_MAX	(1 + KNOCKSET_MAX)

/* The timer lists: one per state, then one per route (RELAY's). */
#define RELAY_LIST_ROUTE	CONN_NSTATES
#define RELAY_LISTS		(RELAY_LIST_ROUTE + RELAY_ROUTES_MAX)

/*
 * The worker number W of the log's "conn W.N": 1 .. --workers for the
 * first workers, counting on at each reload (never reused), so an id is
 * unique for the life of the supervisor.
 */
#define RELAY_WORKER()		(log_worker() + 1)

/* One socket of a connection and its edge-triggered readiness. */
struct side {
	int fd;			/* The socket, or -1. */
	int rd, wr;		/* Readable, writable (until EAGAIN). */
	int hup;		/* Half-closed (or worse) seen. */
	int urg;		/* Urgent data (TCP OOB) came: copy past it. */
	int err;		/* errno of the call on it that failed, or 0. */
	int errev;		/* EPOLLERR seen, its error not yet taken. */
	int reset;		/* Close it with a reset (SO_LINGER 0): the
				   other side reset (relay_pump.c). */
};

/* One direction of a relayed connection: src -> pipe -> dst. */
struct half {
	int pipe[2];		/* Held only while bytes are in flight. */
	size_t inpipe;		/* Bytes in the pipe. */
	uint64_t bytes;		/* Bytes delivered to dst. */
	int eof;		/* src sent its FIN. */
	int shut;		/* FIN passed on: shutdown(dst, SHUT_WR). */
	int bulk;		/* A bulk flow: splice, do not copy. */
};

/* One client connection. */
struct conn {
	struct timer timer;	/* First member: see relay_conn_of(). */
	enum conn_state state;
	struct side client;
	struct side backend;
	const struct relay_backend * route;	/* Chosen backend, or NULL. */
	const char * why;	/* Why it was chosen: "knock", "mismatch"... */
	const struct relay_backend * claim;	/* STORE: the route if the
					   store accepts the token. */
	size_t consume;		/* STORE: the knock's bytes, to consume then. */
	struct sockaddr_storage peer;	/* The client's address (accept, or
					   the PROXY header that came). */
	struct sockaddr_in6 dst;	/* Where it connected, if the PROXY
					   header said (dst_set): AF_INET6, or
					   AF_INET (a sockaddr_in fits). */
	int dst_set;
	int proxy_wait;		/* KNOCK: waiting for the PROXY header. */
	uint32_t listener;	/* The listener it came through (index). */
	int again;		/* On the list of connections to pump again. */
	struct half up;		/* Client to backend. */
	struct half down;	/* Backend to client. */
	struct srclimit_key src;	/* Counted in R->src until closed. */
	uint32_t src_next;	/* The source's connections in KNOCK, */
	uint32_t src_prev;	/* oldest first (relay_source.c), */
	int src_linked;		/* when this one is on that list. */
	uint64_t kmark;		/* The kernel's byte counters at the last
				   idle check (relay_queues_moved). */
	uint64_t lost_client;	/* Bytes a cut lost for the client, */
	uint64_t lost_backend;	/* and for the backend (the log). */
	uint32_t hdrlen;	/* PROXY header bytes sent to the backend. */
	uint64_t id;		/* For the log. */
	uint64_t start;		/* Accept time, ms. */
	uint32_t next;		/* Free list link. */
	uint32_t again_next;	/* Again list link; kept while on it. */
	uint32_t gen;		/* Bumped each time the slot is reused. */
};

/* The relay. */
struct relay {
	const struct relay_conf * conf;
	struct conn * conns;		/* max_conns slots. */
	uint32_t free_head;		/* Free slots, linked by next. */
	size_t nconns;			/* Slots in use. */
	size_t nknock;			/* Connections in KNOCK. */
	struct srclimit * src;		/* Per-source counts, or NULL. */
	uint32_t next_port;		/* Next of bind_lo..bind_hi, offset. */
	uint32_t again_head;		/* Connections to pump again. */
	struct pipepool * pipes;
	struct store * store;		/* --replay-store client, or NULL. */
	struct timer_list timers[RELAY_LISTS];	/* Per state, per route. */
	size_t nlists;			/* Lists in use. */
	struct relay_backend normal;
	struct relay_backend hidden[KNOCKSET_MAX];	/* As conf->hidden. */
	uint64_t now;			/* Monotonic ms, once per wake-up. */
	uint64_t now_s;			/* Unix time (s), once per wake-up. */
	uint64_t next_id;
	int accept_full;		/* Stopped accepting: no free slot. */
	int pipes_short;		/* The pipe budget ran out (logged). */
	uint64_t accept_resume;		/* Paused after EMFILE until then. */
	int draining;			/* Not accepting: finish, exit. */
	uint64_t drain_end;		/* Cut what is left then (0: never). */
	uint64_t drain_note;		/* Log what is left then. */
	uint64_t drain_grace;		/* Close the normal route's
					   connections then (0: done). */
	struct log_rate log_pause, log_full;	/* Those two messages, */
	struct log_rate log_cache;	/* and "the replay cache is full". */
};

/* No slot: the end of a list of slots. */
#define SLOT_NONE	UINT32_MAX

/**
 * relay_drain_start(R):
 * Stop accepting for good: take every listener out of the epoll set (the
 * descriptors stay open: the filter names their numbers); the connections
 * already here go on.  (relay_drain.c)
 */
void relay_drain_start(struct relay *);

/**
 * relay_drain_done(R):
 * If ${R} drains: once the grace has passed, close the normal route's
 * connections (again later while some are undecided); 1 (logged) once no
 * connection is left or the drain timeout has passed; with no timeout,
 * log what is left once an hour.  0 otherwise.
 */
int relay_drain_done(struct relay *);

/**
 * relay_drain_wait(R, wait):
 * ${wait} (epoll ms, -1: none), shortened to the drain's next deadline.
 */
int relay_drain_wait(const struct relay *, int);

/**
 * relay_accept(R, i):
 * Accept every pending connection on listener ${i}, while slots and
 * descriptors last; at the limit, pause accepting (it resumes when a slot
 * frees or after a moment).
 */
void relay_accept(struct relay *, size_t);

/**
 * relay_accept_resume(R):
 * Try the listeners again if accepting was paused and may resume now.
 */
void relay_accept_resume(struct relay *);

/**
 * relay_knock(R, C, final):
 * Peek at the first bytes of ${C}'s client and, when the knock decision can
 * be made, consume the knock if it came and hand ${C} to
 * relay_connect_start(); ${final} when the knock timeout has passed.
 */
void relay_knock(struct relay *, struct conn *, int);

/**
 * relay_knock_route(R, C, backend, consume):
 * Send ${C} to ${backend}: consume the ${consume} bytes of the knock first
 * unless it is the normal route (every byte of a refused token goes on),
 * then relay_connect_start(); on a failure ${C} is closed.
 */
void relay_knock_route(struct relay *, struct conn *,
    const struct relay_backend *, size_t);

/**
 * relay_store_init(R):
 * Start the --replay-store client if R->conf asks for one (before the
 * sandbox).  Return 0, or -1 after reporting.
 */
int relay_store_init(struct relay *);

/**
 * relay_store_claim(R, C, tag, expiry, hidden, consume):
 * The local cache accepted the token of ${C} whose tag is ${tag}, valid
 * until Unix time ${expiry}: without a store, return ${hidden}.  Else
 * claim it in the store and enter STORE (return NULL: the answer routes
 * ${C} to ${hidden}, consuming ${consume} bytes, or to the normal route),
 * or, if the store cannot be asked now, return the normal route.
 */
const struct relay_backend * relay_store_claim(struct relay *,
    struct conn *, const uint8_t *, uint64_t, const struct relay_backend *,
    size_t);

/**
 * relay_store_event(R, events):
 * The store's socket had ${events}.
 */
void relay_store_event(struct relay *, uint32_t);

/**
 * relay_store_expired(R, C):
 * ${C} waited for the store longer than store_ms: give the store up (it
 * reconnects later) and send every waiting token, ${C}'s too, to the
 * normal route.
 */
void relay_store_expired(struct relay *, struct conn *);

/**
 * relay_store_tick(R), relay_store_wait(R, wait):
 * Reconnect to the store when due; shorten ${wait} (ms, -1: none) to then.
 */
void relay_store_tick(struct relay *);
int relay_store_wait(const struct relay *, int);

/**
 * relay_header(R, C, final):
 * ${C} waits for a balancer's PROXY header: peek and parse it; once it is
 * whole, consume exactly it, make its source ${C}'s client (counted against
 * the per-source limit) and restart the knock timer; return 0 so that the
 * knock phase goes on at once.  Return 1 while it is incomplete, or after
 * closing ${C}: with a reset, logged, for a header that is invalid, of
 * another family, incomplete at the EOF or when ${final} (the knock
 * timeout passed); as at accept for a client past its per-source limit.
 * (relay_header.c)
 */
int relay_header(struct relay *, struct conn *, int);

/**
 * relay_connect_start(R, C, backend):
 * Start a non-blocking connect of ${C} to ${backend} and enter CONNECT;
 * return 0, or -1 after closing ${C}.
 */
int relay_connect_start(struct relay *, struct conn *,
    const struct relay_backend *);

/**
 * relay_connected(R, C, failed):
 * The backend connect of ${C} finished, with an error if ${failed} (the
 * event said EPOLLERR or EPOLLHUP): check it, send the route's PROXY
 * header if it has one (once, whole, before any relayed byte; on a hidden
 * route the knock is consumed already), enter RELAY and pump.
 */
void relay_connected(struct relay *, struct conn *, int);

/**
 * relay_pump(R, C):
 * Move bytes both ways as far as readiness allows, pass FINs on, and
 * close ${C} when both directions are done or on an error.
 */
void relay_pump(struct relay *, struct conn *);

/**
 * relay_close(R, C, reason, err):
 * Log why ${C} ends (${reason}, and errno ${err} if non-zero), close its
 * descriptors (a side marked ${reset} with a reset) and free its slot.
 */
void relay_close(struct relay *, struct conn *, const char *, int);

/**
 * relay_cut(R, C, reason, err):
 * Close ${C} before both ways ended (a timeout, an error): each side for
 * which bytes are still held -- in a pipe, or unacknowledged in the
 * relay's socket to it -- gets a reset rather than a FIN, so that a cut
 * transfer cannot pass for a complete one, and the log line counts the
 * bytes lost; then relay_close(${R}, ${C}, ${reason}, ${err}).
 */
void relay_cut(struct relay *, struct conn *, const char *, int);

/**
 * relay_queues_moved(R, C):
 * Did bytes of ${C} move in the kernel (acknowledged by a peer, or
 * arrived from one) since the last call?  1 or 0.  0 at once when
 * nothing is held (every pipe and send queue empty).  Call when an idle
 * timer expired, so that the relay's own moves (which restart the timer)
 * cannot count.  (relay_queues.c)
 */
int relay_queues_moved(struct relay *, struct conn *);

/**
 * relay_queues_lost(R, C):
 * Count in ${C}->lost_client and ->lost_backend the bytes ${C} holds for
 * each side (its pipe, its socket's unacknowledged bytes), and mark each
 * side that has some to be reset.
 */
void relay_queues_lost(struct relay *, struct conn *);

/**
 * relay_source_link(R, C):
 * Add ${C}, entering KNOCK, to the list of its source's connections in
 * KNOCK, as the newest (when sources are counted).  (relay_source.c)
 */
void relay_source_link(struct relay *, struct conn *);

/**
 * relay_source_unlink(R, C):
 * Take ${C}, leaving KNOCK, off that list; before its source's count is
 * given back.
 */
void relay_source_unlink(struct relay *, struct conn *);

/**
 * relay_source_take(R, src):
 * Count a new connection of the source ${src} (accepted, or named by a
 * balancer's PROXY header): at --max-conns-per-source, the source's
 * connection that has been in KNOCK longest is reset and closed first, so
 * that only a source whose connections all left KNOCK is refused.  Return
 * srclimit_take()'s verdict (SRCLIMIT_OK when sources are not counted).
 */
int relay_source_take(struct relay *, const struct srclimit_key *);

/**
 * relay_enter(R, C, state):
 * Put ${C} in ${state} and start that state's timer (stop it for a state
 * without one).  The one place where a state begins.
 */
void relay_enter(struct relay *, struct conn *, enum conn_state);

/**
 * relay_touch(R, C):
 * Restart the timer of ${C}'s state from now (activity was seen).
 */
void relay_touch(struct relay *, struct conn *);

/**
 * relay_watch(epfd, fd, events, data):
 * Add ${fd} to the epoll set ${epfd} for ${events} with ${data}; return 0,
 * or -1 (errno set, not reported).
 */
int relay_watch(int, int, uint32_t, uint64_t);

/**
 * relay_slot(R, C):
 * Return the slot index of ${C}.
 */
uint32_t relay_slot(const struct relay *, const struct conn *);

#endif /* !RELAY_INTERNAL_H_ */
