#ifndef CONF_H_
#define CONF_H_

#include <stddef.h>
#include <stdint.h>

#include "knock.h"
#include "net.h"
#include "parse.h"
#include "workers.h"

/* Most --workers: the workers module's limit, named once there. */
#define CONF_WORKERS_MAX	WORKERS_MAX

/* Most --listen addresses. */
#define CONF_LISTEN_MAX	16

/* conf_parse() results besides -1. */
#define CONF_RUN	0	/* Run the relay. */
#define CONF_DONE	1	/* --help or --version was printed: exit 0. */

/* A backend as given: host name or literal, and port. */
struct conf_backend {
	char host[PARSE_HOST_MAX + 1];
	uint16_t port;
};

/* Everything the command line says. */
struct conf {
	struct knock knock;		/* Valid if have_knock. */
	int have_knock;
	const char * knock_file;	/* --knock-file, or NULL. */
	struct net_addr listen[CONF_LISTEN_MAX];
	size_t nlisten;
	struct conf_backend normal;
	struct conf_backend hidden;
	uint64_t idle_ms;		/* -o/--proxyTimeout. */
	uint64_t knock_ms;		/* -k/--knockTimeout. */
	uint64_t connect_ms;		/* --connect-timeout. */
	uint64_t fin_ms;		/* --fin-timeout. */
	unsigned long max_conns;	/* --max-conns; 0: from RLIMIT_NOFILE. */
	int loglevel;			/* LOG_ERR .. LOG_DEBUG. */
	int log_time;			/* --log-time. */
	const char * chroot_dir;	/* --chroot. */
	const char * user;		/* --user, or NULL. */
	int print_seccomp;		/* --print-seccomp. */
	unsigned workers;		/* --workers: relay processes, 1-64. */
};

/**
 * conf_parse(conf, argc, argv):
 * Fill ${conf} from the command line ${argc}/${argv}, defaults first.  A
 * knock given on the command line is copied and then wiped from ${argv} so
 * that /proc/PID/cmdline no longer shows it.  Return CONF_RUN, CONF_DONE
 * after printing --help or --version on stdout, or -1 after reporting the
 * bad argument in one line (a usage error: exit 64).  The knock file is not
 * read here (see knockfile_read).
 */
int conf_parse(struct conf *, int, char **);

/**
 * conf_usage(fd):
 * Write the usage text to ${fd}.
 */
void conf_usage(int);

#endif /* !CONF_H_ */
