#ifndef RELAY_INTERNAL_H_
#define RELAY_INTERNAL_H_

/* Shared by relay*.c only: the relay's state and its connection slots. */

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "relay.h"
#include "timer.h"

struct pipepool;

/* Connection states. */
#define CONN_FREE	0	/* Slot unused. */
#define CONN_KNOCK	1	/* Waiting for the first bytes. */
#define CONN_CONNECT	2	/* Connecting to the backend. */
#define CONN_RELAY	3	/* Relaying both ways. */

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
#define EV_DATA(type, idx, gen)	(((uint64_t)(gen) << 36) | ((type) << 32) | \
				 (uint64_t)(idx))
#define EV_GEN(data)		((uint32_t)((data) >> 36))
#define EV_TYPE(data)		(((data) >> 32) & 0xf)
#define EV_IDX(data)		((uint32_t)(data))
#define EV_GEN_MASK		0x0fffffffU

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
	int state;
	int cfd;		/* Client socket. */
	int bfd;		/* Backend socket, or -1. */
	int c_rd, c_wr;		/* Edge-triggered readiness, client. */
	int b_rd, b_wr;		/* Edge-triggered readiness, backend. */
	int c_hup;		/* The client half-closed (or worse). */
	int b_hup;		/* The backend half-closed (or worse). */
	int c_urg, b_urg;	/* Urgent data (TCP OOB) came: copy past it. */
	int hidden;		/* Routed to the hidden backend. */
	int again;		/* On the list of connections to pump again. */
	struct half up;		/* Client to backend. */
	struct half down;	/* Backend to client. */
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
	uint32_t again_head;		/* Connections to pump again. */
	struct pipepool * pipes;
	struct timer_list knock_timers;
	struct timer_list connect_timers;
	struct timer_list idle_timers;
	uint64_t now;			/* Monotonic ms, once per wake-up. */
	uint64_t next_id;
	int accept_full;		/* Stopped accepting: no free slot. */
	int pipes_short;		/* The pipe budget ran out (logged). */
	uint64_t accept_resume;		/* Paused after EMFILE until then. */
	struct log_rate log_pause, log_full;	/* Those two messages. */
};

/* No slot: the end of a list of slots. */
#define SLOT_NONE	UINT32_MAX

/**
 * relay_accept(R, lfd):
 * Accept every pending connection on the listener ${lfd}, while slots and
 * descriptors last; at the limit, pause accepting (it resumes when a slot
 * frees or after a moment).
 */
void relay_accept(struct relay *, int);

/**
 * relay_accept_resume(R):
 * Try the listeners again if accepting was paused and may resume now.
 */
void relay_accept_resume(struct relay *);

/**
 * relay_knock(R, C, final):
 * Peek at the first bytes of ${C}'s client and route it when the knock
 * decision can be made; ${final} when the knock timeout has passed.
 */
void relay_knock(struct relay *, struct conn *, int);

/**
 * relay_connected(R, C, failed):
 * The backend connect of ${C} finished, with an error if ${failed} (the
 * event said EPOLLERR or EPOLLHUP): check it and start relaying.
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
 * descriptors and free its slot.
 */
void relay_close(struct relay *, struct conn *, const char *, int);

/**
 * relay_slot(R, C):
 * Return the slot index of ${C}.
 */
uint32_t relay_slot(const struct relay *, const struct conn *);

#endif /* !RELAY_INTERNAL_H_ */
