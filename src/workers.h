#ifndef WORKERS_H_
#define WORKERS_H_

#include <stddef.h>

/* Most workers (a plain number: conf.c prints it). */
#define WORKERS_MAX	64

/* Most worker processes at once: serving ones and draining ones. */
#define WORKERS_SLOTS	((size_t)4 * WORKERS_MAX)

/**
 * workers_run(n, work, forked, reload, cookie):
 * Block SIGTERM, SIGINT, SIGCHLD, SIGHUP and SIGUSR1 (the workers inherit
 * the mask), then fork ${n} (1 to WORKERS_MAX) worker processes; worker
 * ${i} calls ${work}(${cookie}, ${i}) and ends with the value it returns
 * as its exit status.  Once a generation is forked (at start and at each
 * reload), the calling process calls ${forked}(${cookie}) if not NULL (to
 * give up what only the workers need).  Then supervise: SIGTERM or SIGINT is passed on to
 * every worker; a serving worker that ends on its own (any status, any
 * signal) is reported and the others are stopped.  On SIGHUP, if
 * ${reload} is not NULL and ${reload}(${cookie}) returns 0 (it reports a
 * refusal itself and returns -1), fork ${n} new workers the same way and
 * send SIGUSR1 (drain: stop accepting, finish, exit 0) to the old ones,
 * whose end is then expected; a refused reload changes nothing.  A reload
 * is refused while fewer than ${n} of WORKERS_SLOTS are free.  Return the
 * exit status for the supervisor: 0 if stopped by a signal and every
 * serving worker exited 0, 1 otherwise (also if ${n} is out of range or
 * the signals cannot be blocked, reported).
 */
int workers_run(size_t, int (*)(void *, size_t), void (*)(void *),
    int (*)(void *), void *);

#endif /* !WORKERS_H_ */
