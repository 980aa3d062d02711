#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pipepool.h"
#include "relay.h"
#include "relay_internal.h"
#include "srclimit.h"

/* Events taken from epoll per wake-up. */
#define RELAY_EVENTS	64

/* Read both clocks: monotonic ms for timers, Unix seconds for tokens. */
static void
relay_clock(struct relay * R)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	R->now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	clock_gettime(CLOCK_REALTIME, &ts);
	R->now_s = (ts.tv_sec > 0) ? (uint64_t)ts.tv_sec : 0;
}

/* What a state's timer does when it expires. */
typedef void relay_expire_fn(struct relay *, struct conn *);

static relay_expire_fn relay_expire_knock;
static relay_expire_fn relay_expire_close;
static relay_expire_fn relay_expire_idle;

/* A state whose timer's length is the route's (struct relay_state). */
#define RELAY_PER_ROUTE	((size_t)-1)

/*
 * Each state's timer: its length in struct relay_conf (or RELAY_PER_ROUTE:
 * the route's, in a list of the route's), what expiry does.
 */
static const struct relay_state {
	size_t conf_ms;			/* offsetof(struct relay_conf, ...). */
	relay_expire_fn * expire;	/* NULL: the state has no timer. */
	const char * expired;		/* Close reason for relay_expire_close. */
	int reset;			/* That close resets the client. */
} relay_states[CONN_NSTATES] = {
	[CONN_FREE] =		{ 0, NULL, NULL, 0 },
	[CONN_KNOCK] =		{ offsetof(struct relay_conf, knock_ms),
				  relay_expire_knock, NULL, 0 },
	/* A store that does not answer in time: the token goes normal. */
	[CONN_STORE] =		{ offsetof(struct relay_conf, store_ms),
				  relay_store_expired, NULL, 0 },
	/* A backend that does not answer: as one that refuses (DESIGN.md). */
	[CONN_CONNECT] =	{ offsetof(struct relay_conf, connect_ms),
				  relay_expire_close, "backend connect timed out",
				  1 },
	[CONN_RELAY] =		{ RELAY_PER_ROUTE,
				  relay_expire_idle, "idle timeout", 0 },
	[CONN_HALFCLOSED] =	{ offsetof(struct relay_conf, fin_ms),
				  relay_expire_idle, "fin timeout", 0 },
};

/* The knock timeout: decide with what came. */
static void
relay_expire_knock(struct relay * R, struct conn * C)
{

	relay_knock(R, C, 1);
}

/* A timeout that ends the connection. */
static void
relay_expire_close(struct relay * R, struct conn * C)
{

	C->client.reset = relay_states[C->state].reset;
	relay_close(R, C, relay_states[C->state].expired, 0);
}

/*
 * No byte moved in user space for the timer's length: idle only if none
 * moved in the kernel either (a slow reader draining what the relay wrote
 * is busy, DESIGN.md); else start again.  Idle: cut, resetting each side
 * that loses bytes.
 */
static void
relay_expire_idle(struct relay * R, struct conn * C)
{

	if (relay_queues_moved(R, C)) {
		relay_touch(R, C);
		return;
	}
	relay_cut(R, C, relay_states[C->state].expired, 0);
}

/* The length of state ${s}'s timer, from the conf. */
static uint64_t
relay_state_ms(const struct relay_conf * conf, enum conn_state s)
{

	return (*(const uint64_t *)(const void *)((const char *)conf +
	    relay_states[s].conf_ms));
}

/* Enter a state; start its timer. */
void
relay_enter(struct relay * R, struct conn * C, enum conn_state state)
{

	if (C->state == CONN_KNOCK) {
		R->nknock--;
		relay_source_unlink(R, C);
	}
	if (state == CONN_KNOCK) {
		R->nknock++;
		relay_source_link(R, C);
	}
	C->state = state;
	relay_touch(R, C);
}

/* Restart the timer of the current state, in its (or its route's) list. */
void
relay_touch(struct relay * R, struct conn * C)
{
	const struct relay_state * st = &relay_states[C->state];

	if (st->expire == NULL)
		timer_stop(&C->timer);
	else if (st->conf_ms == RELAY_PER_ROUTE)
		timer_start(&R->timers[C->route->list], &C->timer, R->now);
	else
		timer_start(&R->timers[C->state], &C->timer, R->now);
}

/* The slot index of a connection. */
uint32_t
relay_slot(const struct relay * R, const struct conn * C)
{

	return ((uint32_t)(C - R->conns));
}

/* Register a descriptor with the epoll set. */
int
relay_watch(int epfd, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.u64 = data;
	return (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev));
}

/* Set up ${B} for the route ${rt}, with a timer list of its idle length. */
static void
relay_init_backend(struct relay * R, struct relay_backend * B,
    const struct relay_route * rt, const char * failed)
{

	B->name = rt->name;
	B->addr = rt->addr;
	B->failed = failed;
	B->proxy = rt->proxy;
	B->list = R->nlists++;
	timer_list_init(&R->timers[B->list], rt->idle_ms);
}

/* Allocate the slots and the pool; register listeners and the signalfd. */
struct relay *
relay_init(const struct relay_conf * conf)
{
	struct relay * R;
	size_t i;
	int s;

	if ((R = calloc(1, sizeof(*R))) == NULL) {
		log_errp("cannot allocate the relay");
		goto err0;
	}
	R->conf = conf;
	if ((R->conns = calloc(conf->max_conns, sizeof(R->conns[0]))) == NULL) {
		log_errp("cannot allocate %zu connection slots",
		    conf->max_conns);
		goto err1;
	}
	for (i = 0; i < conf->max_conns; i++)
		R->conns[i].next = (i + 1 < conf->max_conns) ?
		    (uint32_t)(i + 1) : SLOT_NONE;
	R->free_head = 0;
	R->again_head = SLOT_NONE;
	if ((R->pipes = pipepool_init(conf->keep_pipes, conf->max_pipes,
	    conf->big_pipe, conf->pipe_budget)) == NULL)
		goto err2;
	for (s = 0; s < CONN_NSTATES; s++)
		timer_list_init(&R->timers[s], (relay_states[s].expire != NULL &&
		    relay_states[s].conf_ms != RELAY_PER_ROUTE) ?
		    relay_state_ms(conf, s) : 0);
	R->nlists = RELAY_LIST_ROUTE;
	relay_init_backend(R, &R->normal, &conf->normal,
	    "normal backend connect failed");
	for (i = 0; i < conf->nhidden && i < KNOCKSET_MAX; i++)
		relay_init_backend(R, &R->hidden[i], &conf->hidden[i],
		    "hidden backend connect failed");
	R->next_id = 1;
	/* A limit of every slot limits nothing: the slots do. */
	if (conf->max_per_source != 0 &&
	    conf->max_per_source < conf->max_conns && (R->src =
	    srclimit_init(conf->max_conns, conf->max_per_source)) == NULL)
		goto err3;

	for (i = 0; i < conf->nlisten; i++) {
		if (relay_watch(conf->epoll_fd, conf->listen_fds[i],
		    EPOLLIN | EPOLLET, EV_DATA(EV_LISTEN, i, 0))) {
			log_errp("epoll_ctl on listener");
			goto err4;
		}
	}
	if (relay_watch(conf->epoll_fd, conf->signal_fd, EPOLLIN,
	    EV_DATA(EV_SIGNAL, 0, 0))) {
		log_errp("epoll_ctl on signalfd");
		goto err4;
	}
	/* The replay store's connection, before the sandbox. */
	relay_clock(R);
	if (relay_store_init(R))
		goto err4;

	/* Success! */
	return (R);

err4:
	srclimit_free(R->src);
err3:
	pipepool_free(R->pipes);
err2:
	free(R->conns);
err1:
	free(R);
err0:
	/* Failure! */
	return (NULL);
}

/*
 * Close one socket of a connection; with ${reset}, abortively (SO_LINGER 0:
 * the peer gets a reset, as the other side's peer sent one).
 */
static void
relay_close_side(const struct side * S)
{
	struct linger lg = { 1, 0 };

	if (S->fd == -1)
		return;
	if (S->reset && setsockopt(S->fd, SOL_SOCKET, SO_LINGER, &lg,
	    sizeof(lg)))
		log_errno(LOG_DEBUG, "SO_LINGER");
	close(S->fd);
}

/* Close a connection: log, release, free the slot. */
void
relay_close(struct relay * R, struct conn * C, const char * reason, int err)
{
	uint64_t ms = R->now - C->start;

	const char * desc = (err == 0) ? NULL : strerrordesc_np(err);

	if (err != 0 && desc == NULL)
		desc = "error";
	if (C->lost_client + C->lost_backend > 0)
		log_info("conn %u.%llu closed: %s%s%s; %llu bytes in, %llu bytes "
		    "out, %llu ms; %llu bytes lost (%llu for the client, %llu "
		    "for the backend): reset", RELAY_WORKER(),
		    (unsigned long long)C->id, reason, desc ? ": " : "",
		    desc ? desc : "", (unsigned long long)C->up.bytes,
		    (unsigned long long)C->down.bytes, (unsigned long long)ms,
		    (unsigned long long)(C->lost_client + C->lost_backend),
		    (unsigned long long)C->lost_client,
		    (unsigned long long)C->lost_backend);
	else
		log_info("conn %u.%llu closed: %s%s%s; %llu bytes in, %llu bytes "
		    "out, %llu ms", RELAY_WORKER(), (unsigned long long)C->id,
		    reason, desc ? ": " : "", desc ? desc : "",
		    (unsigned long long)C->up.bytes,
		    (unsigned long long)C->down.bytes, (unsigned long long)ms);

	if (C->up.pipe[0] != -1)
		pipepool_put(R->pipes, C->up.pipe, C->up.inpipe == 0);
	if (C->down.pipe[0] != -1)
		pipepool_put(R->pipes, C->down.pipe, C->down.inpipe == 0);
	relay_close_side(&C->backend);
	relay_close_side(&C->client);

	/* Free the slot (off its source's list), then give the count back. */
	relay_enter(R, C, CONN_FREE);
	if (R->src != NULL)
		srclimit_put(R->src, &C->src);
	C->src.kind = SRCLIMIT_NONE;

	/* A paused accept may resume. */
	C->next = R->free_head;
	R->free_head = relay_slot(R, C);
	R->nconns--;
}

/* Close a connection cut short; reset the sides that lose bytes. */
void
relay_cut(struct relay * R, struct conn * C, const char * reason, int err)
{

	relay_queues_lost(R, C);
	relay_close(R, C, reason, err);
}

/* The connection whose timer this is. */
static struct conn *
relay_conn_of(struct timer * t)
{

	return ((struct conn *)(void *)t);
}

/* Act on every expired timer, state by state. */
static void
relay_timers(struct relay * R)
{
	struct timer * t;
	struct conn * C;

	while ((t = timer_expired_any(R->timers, R->nlists, R->now)) != NULL) {
		C = relay_conn_of(t);
		timer_stop(t);
		relay_states[C->state].expire(R, C);
	}
	if (R->accept_resume != 0 && R->accept_resume <= R->now)
		relay_accept_resume(R);
	relay_store_tick(R);
}

/*
 * Slots freed (by a batch of events or by timers): accept what waited in
 * the backlog.  Never inside a batch, whose events may name freed slots.
 */
static void
relay_accept_freed(struct relay * R)
{

	if (R->accept_full && R->free_head != SLOT_NONE) {
		R->accept_full = 0;
		relay_accept_resume(R);
	}
}

/* How long epoll_wait may sleep. */
static int
relay_wait_ms(const struct relay * R)
{
	int wait = -1;
	uint64_t left;

	if (R->again_head != SLOT_NONE)
		return (0);
	wait = timer_wait_any(R->timers, R->nlists, R->now, wait);
	if (R->accept_resume != 0) {
		left = (R->accept_resume > R->now) ?
		    R->accept_resume - R->now : 0;
		if (wait < 0 || (uint64_t)wait > left)
			wait = (int)left;
	}
	wait = relay_drain_wait(R, wait);
	wait = relay_store_wait(R, wait);
	/* Round up so that a deadline has passed when we wake. */
	return (wait > 0 ? wait + 1 : wait);
}

/* Record what an event says about a connection's sockets. */
static void
relay_event_conn(struct relay * R, struct conn * C, int backend,
    uint32_t ev)
{
	int rd = (ev & (EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLHUP |
	    EPOLLERR)) != 0;
	int wr = (ev & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0;
	int hup = (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
	int urg = (ev & EPOLLPRI) != 0;
	struct side * S = backend ? &C->backend : &C->client;

	S->rd |= rd;
	S->wr |= wr;
	S->hup |= hup;
	S->urg |= urg;
	S->errev |= (ev & EPOLLERR) != 0;

	switch (C->state) {
	case CONN_KNOCK:
		if (!backend && rd)
			relay_knock(R, C, 0);
		break;
	case CONN_CONNECT:
		if (backend && wr)
			relay_connected(R, C, (ev & (EPOLLERR | EPOLLHUP)) != 0);
		break;
	case CONN_RELAY:
	case CONN_HALFCLOSED:
		relay_pump(R, C);
		break;
	case CONN_STORE:	/* Read when routed. */
	case CONN_FREE:
	case CONN_NSTATES:
		break;
	}
}

/*
 * Read the signalfd: return 1 on SIGTERM/SIGINT; SIGUSR1 starts draining;
 * SIGHUP is logged (the supervisor reloads, not a worker).
 */
static int
relay_signal(struct relay * R)
{
	struct signalfd_siginfo si;

	while (read(R->conf->signal_fd, &si, sizeof(si)) ==
	    (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			log_info("received %s: exiting",
			    si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			return (1);
		}
		if (si.ssi_signo == SIGUSR1)
			relay_drain_start(R);
		if (si.ssi_signo == SIGHUP)
			log_info("received SIGHUP: ignored (a worker; the "
			    "supervisor reloads)");
	}
	return (0);
}

/* Dispatch one event; return 1 to stop. */
static int
relay_event(struct relay * R, const struct epoll_event * ev)
{
	uint64_t type = EV_TYPE(ev->data.u64);
	uint32_t idx = EV_IDX(ev->data.u64);
	struct conn * C;

	switch (type) {
	case EV_LISTEN:
		relay_accept(R, idx);
		return (0);
	case EV_SIGNAL:
		return (relay_signal(R));
	case EV_STORE:
		relay_store_event(R, ev->events);
		return (0);
	case EV_CLIENT:
	case EV_BACKEND:
		C = &R->conns[idx];
		/* A stale event for a slot closed earlier in this batch. */
		if (C->state == CONN_FREE || C->gen != EV_GEN(ev->data.u64))
			return (0);
		relay_event_conn(R, C, type == EV_BACKEND, ev->events);
		return (0);
	}
	return (0);
}

/* Pump again the connections that yielded to keep the loop fair. */
static void
relay_again(struct relay * R)
{
	uint32_t head = R->again_head;
	struct conn * C;

	R->again_head = SLOT_NONE;
	while (head != SLOT_NONE) {
		C = &R->conns[head];
		head = C->again_next;
		C->again = 0;
		if (C->state == CONN_RELAY || C->state == CONN_HALFCLOSED)
			relay_pump(R, C);
	}
}

/* The event loop. */
int
relay_run(struct relay * R)
{
	struct epoll_event evs[RELAY_EVENTS];
	int i, n;

	for (;;) {
		relay_clock(R);
		relay_timers(R);
		relay_accept_freed(R);
		if (relay_drain_done(R))
			return (0);
		n = epoll_wait(R->conf->epoll_fd, evs, RELAY_EVENTS,
		    relay_wait_ms(R));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			log_errp("epoll_wait");
			return (-1);
		}
		relay_clock(R);
		for (i = 0; i < n; i++) {
			if (relay_event(R, &evs[i]))
				return (0);
		}
		relay_again(R);
		relay_accept_freed(R);
	}
}
