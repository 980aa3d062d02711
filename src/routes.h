#ifndef ROUTES_H_
#define ROUTES_H_

#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "knockset.h"
#include "net.h"
#include "relay.h"
#include "store.h"

struct replay;

/*
 * The routes: every hidden route's knock or key loaded into the decision
 * table (the knock set), their backends resolved, their summary logged,
 * and the relay's view of them.  How a route's secret is given and read
 * is one row of the table of knock kinds in routes.c (a static knock from
 * a knock file, a key for tokens...): a new kind is one row there, plus
 * its own module for the file and the check.
 */




/* Everything loaded for the routes, kept for the relay. */
struct routes {
	struct knockset knocks;		/* Route i's knock or key is r[i]. */
	size_t route[CONF_ROUTES_MAX];	/* The route of knocks.r[j] (they
					   differ after a refusal: --check). */
	struct replay * replay;		/* NULL without a token route. */
	struct net_addr normal;		/* The backends, resolved. */
	struct net_addr hidden[CONF_ROUTES_MAX];
	struct relay_route relay[CONF_ROUTES_MAX];	/* The relay's view. */
	struct net_addr store;		/* --replay-store, resolved. */
	uint8_t store_pw[STORE_PASSWORD_MAX + 1];	/* Its password, */
	size_t store_pwlen;		/* 0: none (no AUTH). */
	uint16_t ports[2 + CONF_ROUTES_MAX];	/* Landlock's connect ports:
					   every backend's, the store's. */
	size_t nports;
};

/**
 * routes_kind_find(file, len):
 * Return the kind whose file option is the ${len} bytes at ${file}
 * ("knock-file", "key-file"), or -1 if none.
 */
int routes_kind_find(const char *, size_t);

/**
 * routes_kind_file(kind):
 * Return the name of the option that gives a file of kind ${kind}
 * ("knock-file"), or NULL past the last kind: kinds are numbered from 0.
 */
const char * routes_kind_file(int);

/**
 * routes_kind_argv(void):
 * Return the kind of the KNOCK given on the command line (a static knock).
 */
int routes_kind_argv(void);

/**
 * routes_load(T, C):
 * Initialise libsodium, then load every route's knock or key as ${C} says
 * into ${T}'s knock set (route i is its route i), in the kind's way, and
 * make the replay cache if a route takes tokens and ${T} has none yet;
 * read the --replay-store password file, if any (one line).  Return 0 or
 * an exit status (EX_NOINPUT: a file refused; EX_DATAERR: a password file
 * that is not one line of 1 to STORE_PASSWORD_MAX bytes; EX_USAGE: two
 * routes clash, naming both; EX_SOFTWARE, EX_OSERR), reported.
 */
int routes_load(struct routes *, const struct conf *);

/**
 * routes_reload(T, C):
 * As routes_load(), into a knock set emptied first, keeping ${T}'s replay
 * cache and start time; on a refusal the knock set is wiped.  Return 0 or
 * -1 (reported).
 */
int routes_reload(struct routes *, const struct conf *);

/**
 * routes_resolve(T, C):
 * Resolve every backend of ${C}, and the --replay-store, into ${T} (a
 * name's addresses probed, for at most ${C}'s connect timeout or a second)
 * and note its port among ${T}'s connect ports.  Return 0 or -1
 * (reported).
 */
int routes_resolve(struct routes *, const struct conf *);

/**
 * routes_reresolve(T, C, old):
 * At a reload, inside the sandbox: every backend of ${C} into ${T}, where
 * ${old} is the configuration in force (resolved into ${T}): an address
 * literal as it is, a host name only if ${old} has a backend of that name
 * and port (its address is kept: there is no name service there).  The
 * --replay-store is kept (conf_reload keeps it).  On a refusal ${T} is
 * unchanged.  Return 0 or -1 (reported).
 */
int routes_reresolve(struct routes *, const struct conf *,
    const struct conf *);

/**
 * routes_relay_conf(T, C, R):
 * Hand the routes of ${T} and ${C} (backends, idle timeouts, PROXY
 * versions, the knock set, the replay cache, the --replay-store, its
 * password and how long a claim waits) to the relay's ${R}.
 */
void routes_relay_conf(struct routes *, const struct conf *,
    struct relay_conf *);

/**
 * routes_summary(T, C, R):
 * Log one line per route (never a knock or key), the token settings if a
 * route takes tokens, the replay store if any, and ${R}'s timeouts and
 * limits.
 */
void routes_summary(const struct routes *, const struct conf *,
    const struct relay_conf *);

/**
 * routes_check(T, C):
 * --check: read every route's knock or key as routes_load() would (using
 * ${T}'s knock set, wiped after), and the store's password file, going on
 * after a refusal, and resolve every backend and the store as
 * routes_resolve() would.  Return the number of problems,
 * each reported in one line.
 */
size_t routes_check(struct routes *, const struct conf *);

/**
 * routes_hold(C):
 * Keep the directory of every route's secret file, and of the store's
 * password file, open (secretfile_hold), so that a reload finds them
 * after the chroot.  Return 0 or -1.
 */
int routes_hold(const struct conf *);

/**
 * routes_have_files(C):
 * Return 1 if any route of ${C} has a knock or key file, or the store a
 * password file (a reload reads them again), else 0.
 */
int routes_have_files(const struct conf *);

/**
 * routes_check_readable(C):
 * Warn about each route's secret file, and the store's password file,
 * that cannot be read now (a reload would fail).
 */
void routes_check_readable(const struct conf *);

/**
 * routes_wipe(T):
 * Overwrite every knock, key and password held in ${T}.
 */
void routes_wipe(struct routes *);

#endif /* !ROUTES_H_ */
