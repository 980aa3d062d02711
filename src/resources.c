/*
 * resources.c: what a relay process holds besides its routes: descriptors
 * 0-2, the descriptor limit and the slots and pipes sized from it, the
 * listeners (bound, or systemd's), the epoll and signalfd descriptors.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sysexits.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "net.h"
#include "pipepool.h"
#include "relay.h"
#include "resources.h"
#include "sandbox.h"
#include "sdlisten.h"

/* Descriptors kept aside for stdio, listeners and the like. */
#define FD_RESERVE	16

/*
 * Default per-source limit: an eighth of the slots (8 hosts to take them
 * all), but at least this many (or every slot, if fewer).
 */
#define PER_SOURCE_SHARE	8
#define PER_SOURCE_MIN		16

/* Default cap on connection slots. */
#define MAX_CONNS_DEFAULT_CAP	65536

/* Most pipes at once, and most empty ones kept for reuse. */
#define PIPES_CAP		32768
#define PIPES_KEEP		64

/*
 * Bulk pipes grow to PIPEPOOL_BIG (1 MiB) within this budget, shared by the
 * workers: a quarter of the kernel's default fs.pipe-user-pages-soft
 * (64 MiB for all of a user's pipes, past which the kernel refuses to grow
 * one and the pool keeps the default size).  DESIGN.md, "Pipe sizes".
 */
#define PIPES_BIG_BUDGET	(16 << 20)

/*
 * Open /dev/null on any of descriptors 0-2 that is closed.  Only then is
 * /dev/null needed; if it cannot be opened, say so on stderr if that is
 * open (the one case with nowhere to report is a closed stderr).
 */
int
resources_stdio(void)
{
	int fd, closed = -1;

	for (fd = STDERR_FILENO; fd >= STDIN_FILENO; fd--)
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF)
			closed = fd;
	while (closed != -1) {
		if ((fd = open("/dev/null", O_RDWR | O_NOCTTY)) == -1) {
			log_errp("descriptor %d is closed and /dev/null "
			    "cannot be opened to fill it", closed);
			return (-1);
		}
		if (fd > STDERR_FILENO) {
			close(fd);
			break;
		}
	}
	return (0);
}

/* Raise RLIMIT_NOFILE to its hard limit; return the limit. */
static rlim_t
resources_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return (1024);
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			log_errno(LOG_WARN, "cannot raise RLIMIT_NOFILE");
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	return (rl.rlim_cur);
}

/* The per-source limit for ${conns} slots: as given, or a share of them. */
static size_t
resources_per_source(const struct conf * C, size_t conns)
{
	size_t n = conns / PER_SOURCE_SHARE;

	if (C->have_max_per_source)
		return (C->max_per_source);
	if (n < PER_SOURCE_MIN)
		n = (conns < PER_SOURCE_MIN) ? conns : PER_SOURCE_MIN;
	return (n);
}

/*
 * Size the slots and the pipe budget from the descriptor limit: a quarter
 * of the descriptors for pipes, the rest for connections (2 each).
 */
void
resources_limits(const struct resources * P, const struct conf * C,
    struct relay_conf * R)
{
	rlim_t nofile = resources_nofile();
	size_t avail, pipes, conns;

	avail = (nofile > FD_RESERVE + P->nlisten + 4) ?
	    (size_t)nofile - FD_RESERVE - P->nlisten : 4;
	if ((pipes = avail / 8) == 0)
		pipes = 1;
	if (pipes > PIPES_CAP)
		pipes = PIPES_CAP;
	conns = (avail - 2 * pipes) / RELAY_FDS_PER_CONN;
	if (conns > MAX_CONNS_DEFAULT_CAP)
		conns = MAX_CONNS_DEFAULT_CAP;
	if (conns == 0)
		conns = 1;
	if (C->max_conns != 0) {
		if (C->max_conns > conns)
			log_warn("--max-conns %lu may exceed the descriptor "
			    "limit of %llu (%d per connection)",
			    C->max_conns, (unsigned long long)nofile,
			    RELAY_FDS_PER_CONN);
		conns = C->max_conns;
	}
	R->max_conns = conns;
	R->max_per_source = resources_per_source(C, conns);
	R->max_pipes = pipes;
	R->keep_pipes = (pipes < PIPES_KEEP) ? pipes : PIPES_KEEP;
	R->big_pipe = PIPEPOOL_BIG;
	R->pipe_budget = PIPES_BIG_BUDGET / (C->workers > 0 ? C->workers : 1);
}

/*
 * Bind every listener, once per worker (with SO_REUSEPORT when there are
 * several, the first bind choosing any port 0); return 0 or -1 (reported).
 */
int
resources_listen(struct resources * P, struct conf * C)
{
	char str[NET_ADDRSTR_MAX];
	int reuse = (C->workers > 1);
	size_t i, w;

	for (w = 0; w < C->workers; w++) {
		for (i = 0; i < C->nlisten; i++) {
			if ((P->fds[w][i] =
			    net_listen(&C->listen[i], reuse)) == -1)
				return (-1);
			if (w == 0)
				log_info("listening on %s", net_format(
				    (struct sockaddr *)&C->listen[i].ss,
				    str, sizeof(str)));
		}
	}
	P->nlisten = C->nlisten;
	P->nworkers = C->workers;
	return (0);
}

/*
 * Take the listeners of socket activation, if any: 1 if taken, 0 if
 * none, -1 (reported) if they are bad or --listen/-p/--workers are given.
 */
int
resources_activated(struct resources * P, const struct conf * C)
{
	size_t n;

	if (sdlisten_take(P->fds[0], CONF_LISTEN_MAX, &n))
		return (-1);
	if (n == 0)
		return (0);
	if (C->listen_set || C->workers > 1) {
		log_err("socket activation: %s cannot be given with the "
		    "sockets of $LISTEN_FDS", C->listen_set ?
		    "--listen/-p" : "--workers");
		return (-1);
	}
	P->nlisten = n;
	P->nworkers = 1;
	P->activated = 1;
	return (1);
}

/* Close every worker's listeners but worker ${keep}'s (none: WORKERS_MAX). */
static void
resources_close_listeners(struct resources * P, size_t keep)
{
	size_t i, w;

	for (w = 0; w < P->nworkers; w++)
		for (i = 0; w != keep && i < P->nlisten; i++)
			close(P->fds[w][i]);
}

/*
 * SIGTERM, SIGINT, SIGHUP and SIGUSR1 (drain) blocked and delivered
 * through a signalfd.
 */
static int
resources_signals(void)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		goto err0;
	if ((fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		goto err0;

	/* Success! */
	return (fd);

err0:
	/* Failure! */
	log_errp("cannot set up signal handling");
	return (-1);
}

/*
 * Worker ${w}'s descriptors, in this order: its listeners (the other
 * workers' closed), epoll, the signalfd.  Return 0 or an exit status.
 */
int
resources_descriptors(struct resources * P, size_t w)
{

	resources_close_listeners(P, w);
	P->listen_fds = P->fds[w];
	if ((P->epoll_fd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		log_errp("epoll_create1");
		return (EX_OSERR);
	}
	if ((P->signal_fd = resources_signals()) == -1)
		return (EX_OSERR);
	return (0);
}

/* The relay's and the sandbox's view of the descriptors. */
void
resources_confs(const struct resources * P, const struct conf * C,
    struct relay_conf * R, struct sandbox_conf * SB)
{

	R->listen_fds = P->listen_fds;
	/* systemd's sockets: conf.listen does not say where they listen. */
	R->listen_addrs = P->activated ? NULL : C->listen;
	R->nlisten = P->nlisten;
	R->epoll_fd = P->epoll_fd;
	R->signal_fd = P->signal_fd;
	SB->listen_fds = P->listen_fds;
	SB->nlisten = P->nlisten;
	SB->epoll_fd = P->epoll_fd;
	SB->signal_fd = P->signal_fd;
	SB->notify_fd = P->notify_fd;
}
