#ifndef CONF_H_
#define CONF_H_

#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "knock.h"
#include "knockset.h"
#include "net.h"
#include "parse.h"
#include "workers.h"

/* Most --workers: the workers module's limit, named once there. */
#define CONF_WORKERS_MAX	WORKERS_MAX

/* Most --listen addresses. */
#define CONF_LISTEN_MAX	16

/* Most --accept-proxy networks. */
#define CONF_ACCEPT_PROXY_MAX	16

/* conf_parse() results besides -1. */
#define CONF_RUN	0	/* Run the relay. */
#define CONF_DONE	1	/* --help or --version was printed: exit 0. */

/* Most hidden routes in all: --hidden/-s and every --route. */
#define CONF_ROUTES_MAX	KNOCKSET_MAX

/* Longest route name (,name=): [A-Za-z0-9_-], 1 to this many. */
#define CONF_NAME_MAX	32

/* Longest key-file= or knock-file= path in --route, NUL included. */
#define CONF_PATH_MAX	1024

/* Default idle timeouts (ms) when -o is not given: normal, hidden routes. */
#define CONF_IDLE_NORMAL	30000
#define CONF_IDLE_HIDDEN	(2ULL * 3600 * 1000)

/* --token-window: default and limits, in seconds. */
#define CONF_WINDOW_DEFAULT	30
#define CONF_WINDOW_MIN		1

/* Default --drain-grace (ms): a web client reconnects within it. */
#define CONF_DRAIN_GRACE_MS	60000

/* A backend as given: host name or literal, port, and its sub-options. */
struct conf_backend {
	char host[PARSE_HOST_MAX + 1];
	uint16_t port;
	uint64_t idle_ms;		/* ,idle= or -o or the default. */
	int idle_set;			/* ,idle= was given. */
	int proxy;			/* ,proxy=: PROXYHDR_OFF, _V1, _V2. */
};

/* Most kinds of knock (routes.c's kind table). */
#define CONF_KINDS_MAX	8

/*
 * A hidden route.  Route 0 is --hidden/-s, whose knock is KNOCK,
 * --knock-file or --key-file; the others are --route, in order.
 */
struct conf_route {
	struct conf_backend b;
	char name[CONF_NAME_MAX + 1];	/* "hidden", "hidden2"... or name=. */
	int kind;			/* Its kind of knock (routes_kind_*). */
	char path[CONF_PATH_MAX];	/* Its secret file; "": the KNOCK. */
};

/* conf.print_seccomp: the supervisor's filter. */
#define CONF_PRINT_SUPERVISOR	2

/* Room for the option values kept as strings (paths, the user). */
#define CONF_STORE_MAX	(4 * CONF_PATH_MAX)

/*
 * Everything the options say.  Its strings point into its own store: a
 * struct conf is filled in place and never copied.
 */
struct conf {
	struct knock knock;		/* Valid if have_knock. */
	int have_knock;
	const char * file[CONF_KINDS_MAX];	/* --knock-file, --key-file...
					   by kind, or NULL. */
	struct net_addr listen[CONF_LISTEN_MAX];
	size_t nlisten;
	int listen_set;			/* -p or --listen given. */
	struct conf_backend normal;
	struct conf_route routes[CONF_ROUTES_MAX];	/* [0]: --hidden. */
	size_t nroutes;
	uint64_t idle_ms;		/* -o/--proxyTimeout, or 30 s. */
	int idle_set;			/* -o was given. */
	uint64_t window_s;		/* --token-window, seconds. */
	size_t replay_n;		/* --replay-cache entries. */
	uint64_t knock_ms;		/* -k/--knockTimeout. */
	uint64_t connect_ms;		/* --connect-timeout. */
	uint64_t fin_ms;		/* --fin-timeout. */
	unsigned long max_conns;	/* --max-conns; 0: from RLIMIT_NOFILE. */
	unsigned long max_per_source;	/* --max-conns-per-source; 0: off. */
	int have_max_per_source;	/* Given; else a share of the slots. */
	uint16_t bind_lo, bind_hi;	/* --backend-ports; 0: the kernel's. */
	struct conf_backend replay_store;	/* --replay-store HOST:PORT
					   (host and port only), if given. */
	int have_replay_store;
	const char * store_password_file;	/* --replay-store-password-file,
					   or NULL. */
	struct cidr accept_proxy[CONF_ACCEPT_PROXY_MAX];	/* --accept-proxy: */
	size_t naccept_proxy;		/* clients that send PROXY headers. */
	int loglevel;			/* LOG_ERR .. LOG_DEBUG. */
	int log_time;			/* --log-time. */
	const char * chroot_dir;	/* --chroot. */
	const char * user;		/* --user, or NULL. */
	int print_seccomp;		/* --print-seccomp (1), or
					   --print-supervisor-seccomp
					   (CONF_PRINT_SUPERVISOR). */
	uint64_t drain_ms;		/* --drain-timeout; 0: none. */
	uint64_t drain_grace_ms;	/* --drain-grace. */
	int workers_given;		/* --workers was given (any N). */
	unsigned workers;		/* --workers: relay processes, 1-64. */
	const char * config;		/* --config, or NULL. */
	const char * gen_key;		/* --gen-key, or NULL. */
	int check;			/* --check. */
	char store[CONF_STORE_MAX];	/* The strings above point here, */
	size_t nstore;			/* (never copy a struct conf). */
};

/**
 * conf_parse(conf, argc, argv):
 * Fill ${conf} from the command line ${argc}/${argv}, defaults first; the
 * lines of a --config file are applied where --config stands (conf_file.c),
 * through the same option table, their errors prefixed "FILE:LINE: ".  A
 * knock given on the command line is copied and then wiped from ${argv} so
 * that /proc/PID/cmdline no longer shows it.  Return CONF_RUN, CONF_DONE
 * after printing --help or --version on stdout, or -1 after reporting the
 * bad argument in one line (a usage error: exit 64).  Every route's idle
 * timeout is filled in (its ,idle=, else -o, else CONF_IDLE_NORMAL for the
 * normal route and CONF_IDLE_HIDDEN for hidden ones) and every route named;
 * route 0's kind and path are those of KNOCK, --knock-file or --key-file.
 * Knock and key files are not read here (knockfile_read,
 * keyfile_read), so two routes with the same knock or key are found later
 * (knockset_add_*).
 */
int conf_parse(struct conf *, int, char **);

/**
 * conf_reload(C, old, argc, argv):
 * Fill ${C} as conf_parse() did at start-up from the same ${argc}/${argv},
 * the configuration file (--config) read afresh; ${old} is the
 * configuration in force: the command line's KNOCK (wiped from ${argv}) is
 * taken from it, and what a reload cannot change (the listeners, --user,
 * --chroot, --workers, --replay-cache, --replay-store with its password
 * file, --log-time) is kept from it with a warning naming each that
 * changed ("a restart is needed").  ${C} and ${old} must differ.  Return CONF_RUN, or -1 after reporting (then ${old}
 * stays in force).
 */
int conf_reload(struct conf *, const struct conf *, int, char **);

/**
 * conf_usage(fd):
 * Write the usage text (--help), made from the option table, to ${fd}.
 */
void conf_usage(int);

/**
 * conf_option_count(void):
 * Return how many options the option table has; they are numbered from 0.
 */
size_t conf_option_count(void);

/**
 * conf_option_name(i):
 * Return the long name (without "--") of option ${i}, or NULL past the end.
 */
const char * conf_option_name(size_t);

/**
 * conf_option_letter(i):
 * Return the short alias of option ${i} ('p' for -p), or 0 if none.
 */
int conf_option_letter(size_t);

/**
 * conf_option_has_arg(i):
 * Return 1 if option ${i} takes a value, 0 if it is a flag.
 */
int conf_option_has_arg(size_t);

struct relay_conf;
struct sandbox_conf;

/**
 * conf_relay_conf(C, R):
 * Copy the options of ${C} that the relay reads (timeouts, backend source
 * ports) into ${R}.
 */
void conf_relay_conf(const struct conf *, struct relay_conf *);

/**
 * conf_sandbox_conf(C, SB):
 * Copy the options of ${C} that the sandbox reads (--chroot, --user,
 * backend source ports) into ${SB}.
 */
void conf_sandbox_conf(const struct conf *, struct sandbox_conf *);

#endif /* !CONF_H_ */
