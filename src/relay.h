#ifndef RELAY_H_
#define RELAY_H_

#include <stddef.h>
#include <stdint.h>

struct cidr;
struct knockset;
struct net_addr;
struct relay;
struct replay;

/* A route as main sets it up: where it goes and how. */
struct relay_route {
	const char * name;		/* "normal", "hidden", a --route name=. */
	const struct net_addr * addr;	/* The backend. */
	uint64_t idle_ms;		/* RELAY: close after this long idle. */
	int proxy;			/* PROXYHDR_OFF, _V1 or _V2. */
};

/* What the relay needs; every descriptor is made by main before the sandbox. */
struct relay_conf {
	const int * listen_fds;		/* Non-blocking listening sockets. */
	const struct net_addr * listen_addrs;	/* Their bound addresses, for
					   the PROXY header (NULL: not known,
					   e.g. sockets from systemd:
					   getsockname each client). */
	size_t nlisten;
	int epoll_fd;
	int signal_fd;			/* Delivers SIGTERM and SIGINT. */
	struct relay_route normal;
	const struct relay_route * hidden;	/* Hidden route i is route i */
	size_t nhidden;				/* of knocks (1 .. KNOCKSET_MAX). */
	const struct knockset * knocks;	/* Every hidden route's knock or key. */
	struct replay * replay;		/* Accepted tokens, shared by workers. */
	uint64_t knock_ms;		/* Decide after this long at the latest. */
	uint64_t connect_ms;		/* Backend connect timeout. */
	uint64_t fin_ms;		/* Idle timeout once one way ended. */
	uint64_t drain_ms;		/* Draining (SIGUSR1): cut after this
					   long (0: never). */
	uint64_t drain_grace_ms;	/* Draining: close the normal route's
					   connections after this long. */
	size_t max_conns;		/* Connection slots. */
	size_t max_per_source;		/* Slots one source may hold; 0 (or
					   max_conns or more): any. */
	uint16_t bind_lo, bind_hi;	/* Backend source ports; 0: the kernel's. */
	const struct cidr * accept_proxy;	/* Balancers: their clients */
	size_t naccept_proxy;		/* begin with a PROXY header. */
	size_t max_pipes;		/* Most pipes at once (2 fds each). */
	size_t keep_pipes;		/* Empty pipes kept for reuse. */
	const struct net_addr * store;	/* --replay-store, or NULL. */
	const uint8_t * store_password;	/* Its AUTH password, or NULL. */
	size_t store_password_len;
	uint64_t store_ms;		/* A claim's longest wait (STORE). */
	size_t big_pipe;		/* Bytes a bulk pipe grows to; 0: none. */
	size_t pipe_budget;		/* Most bytes of grown pipes at once. */
};

/*
 * Descriptors a connection holds: its 2 sockets.  Pipes (2 descriptors
 * each) have a budget of their own, max_pipes; past it a direction copies
 * with recv(MSG_PEEK) + send + recv instead of splicing.
 */
#define RELAY_FDS_PER_CONN	2

/**
 * relay_init(conf):
 * Allocate the connection slots and the pipe pool and register the
 * listeners and the signalfd with the epoll descriptor, all from ${conf}
 * (which must outlive the relay).  Return the relay, or NULL after
 * reporting the error.  This is the relay's only allocation, and nothing
 * frees it: the process exits when relay_run returns (inside the sandbox,
 * where tearing down would only add code that runs after the fact).
 */
struct relay * relay_init(const struct relay_conf *);

/**
 * relay_run(R):
 * Relay connections until SIGTERM or SIGINT arrives (return 0) or the
 * event loop fails (return -1 after reporting).  SIGUSR1 (from the
 * supervisor, after a reload) drains: the listeners are closed, the
 * normal route's connections are closed after conf->drain_grace_ms, and
 * the loop returns 0 once no connection is left or conf->drain_ms passed.
 * Makes no heap allocation, opens no file and writes only log lines to
 * stderr, so it runs inside the sandbox.
 */
int relay_run(struct relay *);

#endif /* !RELAY_H_ */
