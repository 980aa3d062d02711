#ifndef RESOURCES_H_
#define RESOURCES_H_

#include <stddef.h>

#include "conf.h"
#include "workers.h"

struct relay_conf;
struct sandbox_conf;

/* A relay process's descriptors, made before the sandbox. */
struct resources {
	int fds[WORKERS_MAX][CONF_LISTEN_MAX];	/* Listeners, per worker. */
	size_t nworkers;		/* Rows of fds in use. */
	size_t nlisten;			/* Listeners per worker. */
	int * listen_fds;		/* This process's: one row of fds. */
	int activated;			/* The listeners came from systemd. */
	int epoll_fd;
	int signal_fd;
	int notify_fd;			/* $NOTIFY_SOCKET, or -1. */
};

/**
 * resources_stdio(void):
 * Open /dev/null on any of descriptors 0-2 that is closed (so that no
 * socket becomes "stderr").  Return 0, or -1 after saying why on stderr
 * if it is open.
 */
int resources_stdio(void);

/**
 * resources_limits(P, C, R):
 * Raise RLIMIT_NOFILE to its hard limit and size ${R}'s connection slots
 * (${C}'s --max-conns, else from the limit), per-source limit and pipe
 * budget from it and ${P}'s listeners.
 */
void resources_limits(const struct resources *, const struct conf *,
    struct relay_conf *);

/**
 * resources_listen(P, C):
 * Bind ${C}'s listeners once per worker (SO_REUSEPORT when there are
 * several) into ${P}.  Return 0 or -1 (reported).
 */
int resources_listen(struct resources *, struct conf *);

/**
 * resources_activated(P, C):
 * Take the listeners of socket activation into ${P}, if any: return 1 if
 * taken, 0 if none, -1 (reported) if they are bad or ${C} gives
 * --listen/-p or --workers.
 */
int resources_activated(struct resources *, const struct conf *);

/**
 * resources_descriptors(P, w):
 * Worker ${w}'s descriptors, in this order: its listeners (the other
 * workers' closed), epoll, the signalfd (SIGTERM, SIGINT, SIGHUP, SIGUSR1
 * blocked).  Return 0 or an exit status, reported.
 */
int resources_descriptors(struct resources *, size_t);

/**
 * resources_confs(P, C, R, SB):
 * Hand ${P}'s descriptors (and ${C}'s listen addresses unless the
 * listeners came from systemd) to the relay's ${R} and the sandbox's ${SB}.
 */
void resources_confs(const struct resources *, const struct conf *,
    struct relay_conf *, struct sandbox_conf *);

#endif /* !RESOURCES_H_ */
