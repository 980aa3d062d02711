#ifndef CONF_INTERNAL_H_
#define CONF_INTERNAL_H_

/* What conf.c (the option table) and conf_values.c (the values) share. */

#include <stdint.h>

struct conf;
struct conf_backend;
struct conf_route;

/* A number macro as a string literal. */
#define CONF_STR_(x)	#x
#define CONF_STR(x)	CONF_STR_(x)

/* What a duration option expects. */
#define CONF_DURATION	"a duration such as 500ms, 2s, 5m, 2h or 30 (seconds), " \
			"up to 7 days"

/* Largest configuration file. */
#define CONF_FILE_MAX	65536

/**
 * conf_where(void):
 * Return where the option being applied comes from as a message prefix:
 * "FILE:LINE: " for a line of the configuration file, else "".  (The one
 * piece of state of the parser, as getopt's optind is getopt's.)
 */
const char * conf_where(void);

/* log_err() with conf_where() in front. */
#define conf_err(fmt, ...)	log_err("%s" fmt, conf_where(), ##__VA_ARGS__)

/**
 * conf_file_each(path, line, cookie):
 * Read the configuration file ${path} (through secretfile_read_public, so
 * beneath its held directory after a chroot) and call ${line}(${cookie},
 * name, value) for each line that is neither blank nor a comment: ${name}
 * is its first word, ${value} the rest without surrounding white space, or
 * NULL if there is none; meanwhile conf_where() names the file and line.
 * Stop at the first non-zero return and return it; return 0 at the end, or
 * -1 if the file cannot be read (reported).
 */
int conf_file_each(const char *, int (*)(void *, const char *, const char *),
    void *);

/**
 * conf_bad(opt, val, expected):
 * Report the bad value ${val} of the option ${opt} ("-p/--listenPort"),
 * or without the value if ${val} is NULL (it may be a knock given by
 * mistake), saying it ${expected}.  Return -1.
 */
int conf_bad(const char *, const char *, const char *);

/**
 * conf_listen(C, s, show):
 * Add the --listen address ${s} (shown as ${show}, or not if NULL) to
 * ${C}.  Return 0 or -1 (reported).
 */
int conf_listen(struct conf *, const char *, const char *);

/**
 * conf_backend(B, R, opt, s, show):
 * Parse the --normal/--hidden value ${s} (HOST:PORT[,idle=][,proxy=], and
 * name= if the route ${R} is not NULL) of the option ${opt} into ${B}.
 * Return 0 or -1 (reported).
 */
int conf_backend(struct conf_backend *, struct conf_route *, const char *,
    const char *, const char *);

/**
 * conf_route(C, s, show):
 * Add the --route ${s} to ${C}.  Return 0 or -1 (reported).
 */
int conf_route(struct conf *, const char *, const char *);

/**
 * conf_accept_proxy(C, s, show):
 * Add the network ${s} (ADDR/BITS or one ADDR) to ${C}'s --accept-proxy
 * list; return 0, or -1 after one line naming the value (${show}).
 */
int conf_accept_proxy(struct conf *, const char *, const char *);

/**
 * conf_port_range(C, s, show):
 * Parse the --backend-ports range ${s} into ${C}.  Return 0 or -1.
 */
int conf_port_range(struct conf *, const char *, const char *);

/**
 * conf_window(C, s, show):
 * Parse the --token-window ${s} into ${C}.  Return 0 or -1 (reported).
 */
int conf_window(struct conf *, const char *, const char *);

/**
 * conf_replay_store(C, s, show):
 * Parse the --replay-store HOST:PORT ${s} into ${C}.  Return 0 or -1
 * (reported).
 */
int conf_replay_store(struct conf *, const char *, const char *);

/**
 * conf_keep(C, s):
 * Copy the string ${s} into ${C}'s store; return the copy, or NULL after
 * reporting that the store is full.
 */
const char * conf_keep(struct conf *, const char *);

/**
 * conf_parse_argv(C, old, argc, argv):
 * conf_parse(${C}, ${argc}, ${argv}); at a reload, ${old} is the
 * configuration in force, whose KNOCK is taken (argv's was wiped) and the
 * positional arguments are skipped.  Return as conf_parse().
 */
int conf_parse_argv(struct conf *, const struct conf *, int, char **);

#endif /* !CONF_INTERNAL_H_ */
