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
 * conf_keep(C, s):
 * Copy the string ${s} into ${C}'s store; return the copy, or NULL after
 * reporting that the store is full.
 */
const char * conf_keep(struct conf *, const char *);

#endif /* !CONF_INTERNAL_H_ */
