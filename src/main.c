/*
 * l7knockknock: relay every connection to the normal backend, except one
 * whose first bytes are the knock, which goes to the hidden backend.
 *
 * main: parse and validate -> libsodium, the knock and key files, the
 * knock set, the replay cache -> resolve backends -> bind listeners ->
 * epoll, signalfd, connection slots -> sandbox_enter() -> relay_run().
 * Nothing after sandbox_enter() touches the file system.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "keyfile.h"
#include "knock.h"
#include "knockfile.h"
#include "knockset.h"
#include "log.h"
#include "net.h"
#include "notify.h"
#include "proxyhdr.h"
#include "relay.h"
#include "replay.h"
#include "sandbox.h"
#include "sdlisten.h"
#include "secretfile.h"
#include "store.h"
#include "token.h"
#include "workers.h"

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

/* Longest start-up probe of one address of a backend name (ms). */
#define PROBE_MS_MAX		1000

/* Longest wait (ms) for the replay store's answer to a token's claim. */
#define MAIN_STORE_MS		200

/* Most pipes at once, and most empty ones kept for reuse. */
#define PIPES_CAP		32768
#define PIPES_KEEP		64

/* The process's resources, made before the sandbox. */
struct setup {
	struct conf conf;
	struct net_addr normal;
	struct net_addr hidden[CONF_ROUTES_MAX];	/* As conf.routes. */
	struct relay_route routes[CONF_ROUTES_MAX];	/* The relay's view. */
	struct knockset knocks;		/* Every hidden route's knock or key. */
	struct replay * replay;		/* NULL without a token route. */
	int fds[WORKERS_MAX][CONF_LISTEN_MAX];	/* Per worker. */
	int * listen_fds;		/* This process's: one row of fds. */
	struct relay * relay;		/* Kept until exit, never freed: free()
					   could unmap, which seccomp kills. */
	size_t nlisten;
	int activated;			/* The listeners came from systemd. */
	int epoll_fd;
	int signal_fd;
	int notify_fd;			/* $NOTIFY_SOCKET, or -1. */
	uint16_t ports[2 + CONF_ROUTES_MAX];	/* Landlock's connect ports:
					   the backends', the store's. */
	struct net_addr store;		/* --replay-store, if given. */
	uint8_t store_pw[STORE_PASSWORD_MAX + 1];	/* Its password. */
	size_t store_pwlen;
	int have_store_pw;
	pid_t supervisor;		/* --workers: the supervisor, else 0. */
	int inherited;			/* --workers: how the supervisor was
					   confined (SANDBOX_INHERITED_*). */
	struct relay_conf rconf;
};

/*
 * Open /dev/null on any of descriptors 0-2 that is closed.  Only then is
 * /dev/null needed; if it cannot be opened, say so on stderr if that is
 * open (the one case with nowhere to report is a closed stderr).
 */
static int
main_stdio(void)
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
main_nofile(void)
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
main_per_source(const struct conf * C, size_t conns)
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
static void
main_limits(struct setup * S)
{
	rlim_t nofile = main_nofile();
	size_t avail, pipes, conns;

	avail = (nofile > FD_RESERVE + S->nlisten + 4) ?
	    (size_t)nofile - FD_RESERVE - S->nlisten : 4;
	if ((pipes = avail / 8) == 0)
		pipes = 1;
	if (pipes > PIPES_CAP)
		pipes = PIPES_CAP;
	conns = (avail - 2 * pipes) / RELAY_FDS_PER_CONN;
	if (conns > MAX_CONNS_DEFAULT_CAP)
		conns = MAX_CONNS_DEFAULT_CAP;
	if (conns == 0)
		conns = 1;
	if (S->conf.max_conns != 0) {
		if (S->conf.max_conns > conns)
			log_warn("--max-conns %lu may exceed the descriptor "
			    "limit of %llu (%d per connection)",
			    S->conf.max_conns, (unsigned long long)nofile,
			    RELAY_FDS_PER_CONN);
		conns = S->conf.max_conns;
	}
	S->rconf.max_conns = conns;
	S->rconf.max_per_source = main_per_source(&S->conf, conns);
	S->rconf.max_pipes = pipes;
	S->rconf.keep_pipes = (pipes < PIPES_KEEP) ? pipes : PIPES_KEEP;
}

/*
 * Bind every listener, once per worker (with SO_REUSEPORT when there are
 * several, the first bind choosing any port 0); return 0 or -1 (reported).
 */
static int
main_listen(struct setup * S)
{
	char str[NET_ADDRSTR_MAX];
	int reuse = (S->conf.workers > 1);
	size_t i, w;

	for (w = 0; w < S->conf.workers; w++) {
		for (i = 0; i < S->conf.nlisten; i++) {
			if ((S->fds[w][i] =
			    net_listen(&S->conf.listen[i], reuse)) == -1)
				return (-1);
			if (w == 0)
				log_info("listening on %s", net_format(
				    (struct sockaddr *)&S->conf.listen[i].ss,
				    str, sizeof(str)));
		}
	}
	S->nlisten = S->conf.nlisten;
	return (0);
}

/*
 * Take the listeners of socket activation, if any: 1 if taken, 0 if
 * none, -1 (reported) if they are bad or --listen/-p/--workers are given.
 */
static int
main_activated(struct setup * S)
{
	size_t n;

	if (sdlisten_take(S->fds[0], CONF_LISTEN_MAX, &n))
		return (-1);
	if (n == 0)
		return (0);
	if (S->conf.listen_set || S->conf.workers > 1) {
		log_err("socket activation: %s cannot be given with the "
		    "sockets of $LISTEN_FDS", S->conf.listen_set ?
		    "--listen/-p" : "--workers");
		return (-1);
	}
	S->nlisten = n;
	S->activated = 1;
	return (1);
}

/* Close every worker's listeners but worker ${keep}'s (none: WORKERS_MAX). */
static void
main_close_listeners(struct setup * S, size_t keep)
{
	size_t i, w;

	for (w = 0; w < S->conf.workers; w++)
		for (i = 0; w != keep && i < S->nlisten; i++)
			close(S->fds[w][i]);
}

/*
 * SIGTERM, SIGINT, SIGHUP and SIGUSR1 (drain) blocked and delivered
 * through a signalfd.
 */
static int
main_signals(void)
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
static int
main_descriptors(struct setup * S, size_t w)
{

	main_close_listeners(S, w);
	S->listen_fds = S->fds[w];
	if ((S->epoll_fd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		log_errp("epoll_create1");
		return (EX_OSERR);
	}
	if ((S->signal_fd = main_signals()) == -1)
		return (EX_OSERR);
	return (0);
}

/* The words the log uses for a proxy= version. */
static const char *
main_proxy_name(int proxy)
{

	return (proxy == PROXYHDR_V1 ? "PROXY v1" : proxy == PROXYHDR_V2 ?
	    "PROXY v2" : "no PROXY header");
}

/* Log the start-up summary: each route; never a knock or key itself. */
static void
main_summary(const struct setup * S)
{
	const struct conf * C = &S->conf;
	char a[NET_ADDRSTR_MAX], kind[32];
	size_t i;

	log_info("route normal: backend %s, idle %llu ms, %s",
	    net_format((const struct sockaddr *)&S->normal.ss, a, sizeof(a)),
	    (unsigned long long)C->normal.idle_ms,
	    main_proxy_name(C->normal.proxy));
	for (i = 0; i < C->nroutes; i++) {
		if (S->knocks.r[i].token)
			snprintf(kind, sizeof(kind), "token");
		else
			snprintf(kind, sizeof(kind), "knock of %zu bytes",
			    S->knocks.r[i].knock.len);
		log_info("route %s: backend %s, %s, idle %llu ms, %s",
		    C->routes[i].name, net_format(
		    (const struct sockaddr *)&S->hidden[i].ss, a, sizeof(a)),
		    kind, (unsigned long long)C->routes[i].b.idle_ms,
		    main_proxy_name(C->routes[i].b.proxy));
	}
	if (S->knocks.nkeys > 0)
		log_info("tokens: window %llu s, replay cache of %zu entries "
		    "(%zu KiB)", (unsigned long long)C->window_s, C->replay_n,
		    C->replay_n * 8 / 1024);
	if (C->have_store)
		log_info("replay store: %s%s, answers awaited %d ms", net_format(
		    (const struct sockaddr *)&S->store.ss, a, sizeof(a)),
		    S->have_store_pw ? " with AUTH" : "", MAIN_STORE_MS);
	log_info("timeouts: knock %llu ms, connect %llu ms, fin %llu ms; "
	    "%zu connection slots, %zu pipes; %zu per source",
	    (unsigned long long)C->knock_ms,
	    (unsigned long long)C->connect_ms,
	    (unsigned long long)C->fin_ms, S->rconf.max_conns,
	    S->rconf.max_pipes, S->rconf.max_per_source);
}

/* Fill in the relay's and the sandbox's view of the set-up. */
static void
main_confs(struct setup * S, struct sandbox_conf * SB)
{

	size_t i;

	S->ports[0] = net_port((struct sockaddr *)&S->normal.ss);
	S->rconf.normal = (struct relay_route){ "normal", &S->normal,
	    S->conf.normal.idle_ms, S->conf.normal.proxy };
	for (i = 0; i < S->conf.nroutes; i++) {
		S->ports[1 + i] = net_port((struct sockaddr *)&S->hidden[i].ss);
		S->routes[i] = (struct relay_route){ S->conf.routes[i].name,
		    &S->hidden[i], S->conf.routes[i].b.idle_ms,
		    S->conf.routes[i].b.proxy };
	}
	S->rconf.hidden = S->routes;
	S->rconf.nhidden = S->conf.nroutes;
	S->rconf.knocks = &S->knocks;
	S->rconf.replay = S->replay;
	S->rconf.listen_fds = S->listen_fds;
	/* systemd's sockets: conf.listen does not say where they listen. */
	S->rconf.listen_addrs = S->activated ? NULL : S->conf.listen;
	S->rconf.nlisten = S->nlisten;
	S->rconf.epoll_fd = S->epoll_fd;
	S->rconf.signal_fd = S->signal_fd;
	S->rconf.knock_ms = S->conf.knock_ms;
	S->rconf.connect_ms = S->conf.connect_ms;
	S->rconf.fin_ms = S->conf.fin_ms;
	S->rconf.bind_lo = S->conf.bind_lo;
	S->rconf.bind_hi = S->conf.bind_hi;
	S->rconf.drain_ms = S->conf.drain_ms;
	if (S->conf.have_store) {
		S->ports[1 + S->conf.nroutes] =
		    net_port((struct sockaddr *)&S->store.ss);
		S->rconf.store = &S->store;
		S->rconf.store_password = S->have_store_pw ? S->store_pw :
		    NULL;
		S->rconf.store_password_len = S->store_pwlen;
		S->rconf.store_ms = MAIN_STORE_MS;
	}

	memset(SB, 0, sizeof(*SB));
	SB->chroot_dir = S->conf.chroot_dir;
	SB->user = S->conf.user;
	SB->listen_fds = S->listen_fds;
	SB->nlisten = S->nlisten;
	SB->epoll_fd = S->epoll_fd;
	SB->signal_fd = S->signal_fd;
	SB->notify_fd = S->notify_fd;
	SB->connect_ports = S->ports;
	SB->nports = 1 + S->conf.nroutes + (S->conf.have_store ? 1 : 0);
	SB->bind_lo = S->conf.bind_lo;
	SB->bind_hi = S->conf.bind_hi;
	SB->parent = S->supervisor;
	SB->inherited = S->inherited;
}

/* Overwrite every knock and key. */
static void
main_wipe(struct setup * S)
{

	knock_wipe(&S->conf.knock);
	knockset_wipe(&S->knocks);
	explicit_bzero(S->store_pw, sizeof(S->store_pw));
}

/*
 * One relay process: epoll, signalfd, slots, the sandbox, the loop; once
 * confined, one byte into ${ready} if not -1 (a worker tells its
 * supervisor it is up).  Return its exit status.
 */
static int
main_relay(struct setup * S, size_t w, int ready)
{
	struct sandbox_conf SB;
	struct relay * R;
	int rc;

	log_setworker((unsigned)w);
	if (S->supervisor != 0) {
		/* Only the supervisor reads secrets and notifies. */
		secretfile_release();
		if (S->notify_fd != -1)
			close(S->notify_fd);
		S->notify_fd = -1;
	}
	if ((rc = main_descriptors(S, w)) != 0)
		return (rc);
	main_limits(S);
	main_confs(S, &SB);
	if ((R = S->relay = relay_init(&S->rconf)) == NULL)
		return (EX_OSERR);
	if (w == 0)
		main_summary(S);

	/* One call: from here on the process can only relay. */
	if (sandbox_enter(&SB))		/* Reported there, in one line. */
		return (EX_OSERR);
	if (S->supervisor != 0)
		log_info("worker %zu ready", w);
	else
		log_info("ready");
	notify_send(S->notify_fd, "READY=1");
	if (ready != -1) {
		if (write(ready, "", 1) != 1)
			log_errp("cannot tell the supervisor 'ready'");
		(void)close(ready);
	}

	rc = relay_run(R);
	if (rc == 0)
		notify_send(S->notify_fd, "STOPPING=1");
	main_wipe(S);		/* A worker ends here (workers_run exits). */
	return (rc ? 1 : 0);
}

/*
 * --print-seccomp: the filter of one relay process with these listeners.
 * No knock, no backend: the filter depends on the descriptors only.
 */
static int
main_print_seccomp(struct setup * S)
{
	struct sandbox_conf SB;
	int rc;

	if (S->conf.print_seccomp == CONF_PRINT_SUPERVISOR)
		return (sandbox_print_supervisor_seccomp(STDOUT_FILENO) ?
		    EX_OSERR : 0);
	S->conf.workers = 1;
	if (main_listen(S))
		return (EX_UNAVAILABLE);
	if ((rc = main_descriptors(S, 0)) != 0)
		return (rc);
	main_confs(S, &SB);
	return (sandbox_print_seccomp(&SB, STDOUT_FILENO) ? EX_OSERR : 0);
}

/* Validate --user now: an unknown one is a usage error, found before bind. */
static int
main_check_user(const struct setup * S)
{
	struct sandbox_conf SB;

	memset(&SB, 0, sizeof(SB));
	SB.user = S->conf.user;
	return (sandbox_check_user(&SB));
}

/* Resolve every backend, once; a name's addresses are probed. */
static int
main_resolve(struct setup * S)
{
	const struct conf * C = &S->conf;
	uint64_t probe_ms;
	size_t i;

	probe_ms = (C->connect_ms < PROBE_MS_MAX) ? C->connect_ms :
	    PROBE_MS_MAX;
	if (net_resolve(C->normal.host, C->normal.port, probe_ms, &S->normal))
		return (-1);
	for (i = 0; i < C->nroutes; i++) {
		if (net_resolve(C->routes[i].b.host, C->routes[i].b.port,
		    probe_ms, &S->hidden[i]))
			return (-1);
	}
	if (C->have_store && net_resolve(C->store.host, C->store.port,
	    probe_ms, &S->store))
		return (-1);
	return (0);
}

/*
 * --replay-store-password-file: the password (one trailing newline
 * stripped), read once at start-up and kept for reconnects.  Return 0 or
 * an exit status, reported.
 */
static int
main_store_password(struct setup * S)
{
	const char * path = S->conf.store_password_file;
	ssize_t n;

	if (path == NULL)
		return (0);
	if ((n = secretfile_read(path, "replay store password file",
	    S->store_pw, sizeof(S->store_pw))) == -1)
		return (EX_NOINPUT);
	if (n > 0 && S->store_pw[n - 1] == '\n')
		n--;
	if (n == 0 || n > STORE_PASSWORD_MAX ||
	    memchr(S->store_pw, '\n', (size_t)n) != NULL) {
		log_err("replay store password file '%s': expected one line "
		    "of 1 to %d bytes", path, STORE_PASSWORD_MAX);
		return (EX_DATAERR);
	}
	S->store_pwlen = (size_t)n;
	S->have_store_pw = 1;
	return (0);
}

/*
 * Report why route ${i}'s knock or key (${rc} from knockset_add_*, with
 * a knock left at knocks.r[i]) was refused, naming the route it clashes
 * with.
 */
static void
main_knock_clash(const struct setup * S, size_t i, int rc)
{
	const struct conf * C = &S->conf;
	const struct knockset * K = &S->knocks;
	const struct knock * k = &K->r[i].knock;
	size_t j, len;

	if (C->routes[i].key_file != NULL) {
		log_err("route '%s': the key in '%s' is another route's key "
		    "too: give each route its own key", C->routes[i].name,
		    C->routes[i].key_file);
		return;
	}
	for (j = 0; j < K->n; j++) {
		len = (K->r[j].knock.len < k->len) ? K->r[j].knock.len : k->len;
		if (!K->r[j].token && memcmp(K->r[j].knock.buf, k->buf,
		    len) == 0)
			break;
	}
	if (rc == KNOCKSET_EPREFIX)
		log_err("route '%s': its knock and route '%s''s begin the "
		    "same way (one is a prefix of the other, so the shorter "
		    "would always win): give knocks that are not prefixes of "
		    "one another", C->routes[i].name, C->routes[j].name);
	else
		log_err("route '%s': its knock is route '%s''s knock too: "
		    "give each route its own knock", C->routes[i].name,
		    C->routes[j].name);
}

/*
 * Route ${i}'s knock or key into the knock set.  Return 0, EX_NOINPUT
 * (a file refused) or EX_USAGE (a clash), reported.
 */
static int
main_knock(struct setup * S, size_t i)
{
	const struct conf_route * R = &S->conf.routes[i];
	uint8_t key[KEYFILE_KEYLEN];
	struct knock k;
	int rc;

	if (R->key_file != NULL) {
		if (keyfile_read(R->key_file, key))
			return (EX_NOINPUT);
		rc = knockset_add_key(&S->knocks, key);
		sodium_memzero(key, sizeof(key));
	} else {
		if (i == 0 && R->knock_file == NULL)
			k = S->conf.knock;
		else if (knockfile_read(R->knock_file, &k))
			return (EX_NOINPUT);
		/* The set is checked before the knock is in it. */
		S->knocks.r[S->knocks.n].knock = k;
		rc = knockset_add_knock(&S->knocks, &k);
		knock_wipe(&k);
	}
	if (rc < 0) {
		main_knock_clash(S, i, rc);
		return (EX_USAGE);
	}
	return (0);
}

/*
 * libsodium, every route's knock or key into the knock set (route i is
 * knock set route i), the replay cache if a route takes tokens.  Return 0
 * or an exit status, reported.
 */
static int
main_knocks(struct setup * S)
{
	size_t i;
	int rc;

	if (token_init())
		return (EX_SOFTWARE);
	knockset_init(&S->knocks, S->conf.window_s, (uint64_t)time(NULL));
	for (i = 0; i < S->conf.nroutes; i++) {
		if ((rc = main_knock(S, i)) != 0)
			return (rc);
	}
	if (S->knocks.nkeys > 0 && S->replay == NULL &&
	    (S->replay = replay_init(S->conf.replay_n)) == NULL)
		return (EX_OSERR);
	return (0);
}

/* workers_run() callback. */
static int
main_worker(void * cookie, size_t w, int ready)
{

	return (main_relay(cookie, w, ready));
}

/*
 * workers_run() callback, on SIGHUP: every knock and key file again into
 * the knock set (empty here: main_forked wiped it), with the start-up's
 * loader (main_knocks); on a refusal it is wiped again and no worker is
 * forked, so the old ones serve on.  The replay cache and the start time
 * are kept.  Return 0 or -1 (reported).
 */
static int
main_reload(void * cookie)
{
	struct setup * S = cookie;
	uint64_t start_s = S->knocks.start_s;

	if (main_knocks(S) != 0) {
		knockset_wipe(&S->knocks);
		return (-1);
	}
	S->knocks.start_s = start_s;
	return (0);
}

/*
 * workers_run() callback, once a generation is forked: only the workers
 * need the secrets.  A knock given on the command line is kept: a reload
 * cannot read it again, and the workers it starts need it.
 */
static void
main_forked(void * cookie)
{
	struct setup * S = cookie;

	knockset_wipe(&S->knocks);
}

/* Each route's secret file, in turn: ${*i} from 0; NULL at the end. */
static const char *
main_secret_next(const struct setup * S, size_t * i)
{
	const struct conf_route * R;
	const char * path = NULL;

	while (path == NULL && *i < 2 * S->conf.nroutes) {
		R = &S->conf.routes[*i / 2];
		path = (*i % 2 == 0) ? R->knock_file : R->key_file;
		(*i)++;
	}
	return (path);
}

/*
 * Keep each secret file's directory open (O_PATH) for reloads after the
 * chroot; the descriptors into ${SB}.  Return 0 or -1 (reported).
 */
static int
main_hold_secrets(const struct setup * S, struct sandbox_conf * SB,
    int * dirs, size_t max)
{
	const char * path;
	size_t i = 0;

	while ((path = main_secret_next(S, &i)) != NULL)
		if (secretfile_hold(path))
			return (-1);
	SB->read_dirs = dirs;
	SB->nread_dirs = secretfile_dirs(dirs, max);
	return (0);
}

/* Confined: warn about each secret file a reload could not read. */
static void
main_check_secrets(const struct setup * S)
{
	const char * path;
	size_t i = 0;

	while ((path = main_secret_next(S, &i)) != NULL)
		if (secretfile_readable(path))
			log_errno(LOG_WARN, "'%s' cannot be read by the "
			    "supervisor's user: a reload (SIGHUP) would fail",
			    path);
}

/*
 * Supervise --workers N relay processes: confine this process first (its
 * workers inherit the chroot, the user and its filters), then fork.
 */
static int
main_workers(struct setup * S)
{
	int dirs[SECRETFILE_DIRS_MAX];
	struct sandbox_conf SB;
	int rc;

	memset(&SB, 0, sizeof(SB));
	SB.chroot_dir = S->conf.chroot_dir;
	SB.user = S->conf.user;
	S->supervisor = getpid();
	S->inherited = (geteuid() == 0) ? SANDBOX_INHERITED_ROOT :
	    SANDBOX_INHERITED_USER;
	if (main_hold_secrets(S, &SB, dirs, SECRETFILE_DIRS_MAX))
		return (EX_NOINPUT);
	if (sandbox_enter_supervisor(&SB))
		return (EX_OSERR);
	main_check_secrets(S);
	log_info("starting %u workers", S->conf.workers);
	/* The listeners are open, so no client is refused meanwhile. */
	notify_send(S->notify_fd, "READY=1");
	rc = workers_run(S->conf.workers, main_worker, main_forked, main_reload,
	    S);
	if (rc == 0)
		notify_send(S->notify_fd, "STOPPING=1");
	return (rc);
}

int
main(int argc, char * argv[])
{
	static struct setup S;
	int rc;

	/* Descriptors 0-2 must exist, or a socket could become "stderr". */
	if (main_stdio())
		exit(EX_OSERR);

	/* Parse and validate; the knock is wiped from argv here. */
	if ((rc = conf_parse(&S.conf, argc, argv)) == CONF_DONE)
		exit(0);
	if (rc != CONF_RUN)
		exit(EX_USAGE);
	log_setlevel(S.conf.loglevel);
	log_open(S.conf.log_time);	/* Before the chroot: needs /proc. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		log_errp("cannot ignore SIGPIPE");
		exit(EX_OSERR);
	}
	if (S.conf.print_seccomp)
		exit(main_print_seccomp(&S));

	/* The user to become, looked up before anything is bound. */
	if (main_check_user(&S))
		exit(EX_USAGE);

	/* Read the secrets; the replay cache before any worker is forked. */
	if ((rc = main_knocks(&S)) != 0) {
		main_wipe(&S);
		exit(rc);
	}

	if ((rc = main_store_password(&S)) != 0) {
		main_wipe(&S);
		exit(rc);
	}

	/* Resolve the backends, once; a name's addresses are probed. */
	if (main_resolve(&S)) {
		main_wipe(&S);
		exit(EX_NOHOST);
	}

	/* Bind as root, before any worker exists; or take systemd's. */
	if ((rc = main_activated(&S)) == -1)
		rc = EX_USAGE;
	else if (rc == 0 && main_listen(&S))
		rc = EX_UNAVAILABLE;
	else if (notify_open(&S.notify_fd))
		rc = EX_OSERR;
	else if (!S.conf.workers_given)
		rc = main_relay(&S, 0, -1);
	else
		rc = main_workers(&S);

	main_wipe(&S);
	exit(rc);
}
