#ifndef WORKERS_H_
#define WORKERS_H_

#include <stddef.h>

/* Most workers (a plain number: conf.c prints it). */
#define WORKERS_MAX	64

/* Seconds a reload's new workers have to report ready. */
#define WORKERS_READY_S	10

/* Most worker processes at once: serving ones and draining ones. */
#define WORKERS_SLOTS	((size_t)4 * WORKERS_MAX)

/**
 * workers_run(n, work, forked, reload, cookie):
 * Block SIGTERM, SIGINT, SIGCHLD, SIGHUP and SIGUSR1 (the workers inherit
 * the mask), then fork ${n} (1 to WORKERS_MAX) worker processes; worker
 * ${i} calls ${work}(${cookie}, ${i}, ${ready}) and ends with the value it
 * returns as its exit status; ${ready} is -1 at start, and at a reload a
 * pipe's write end into which the worker writes one byte once it is up.
 * Once a generation is forked (at start and at each reload), the calling
 * process calls ${forked}(${cookie}) if not NULL (to give up what only the
 * workers need).  Then supervise: SIGTERM or SIGINT is passed on to every
 * worker; a serving worker that ends on its own (any status, any signal)
 * is reported and every other serving worker is stopped (SIGTERM), while
 * draining ones finish.  On SIGHUP, if ${reload} is not NULL and
 * ${reload}(${cookie}) returns 0 (it reports a refusal itself and returns
 * -1), fork ${n} new workers the same way; once each has written its
 * byte, send SIGUSR1 (drain: stop accepting, finish, exit 0) to the old
 * ones, whose end is then expected.  A new worker that ends first, or not
 * all ready within WORKERS_READY_S seconds, fails the reload: the new
 * workers are killed (SIGKILL), it is reported, and the old ones serve
 * on; a refused reload changes nothing.  A reload is refused while one is
 * pending or fewer than ${n} of WORKERS_SLOTS are free.  Return the exit
 * status for the supervisor, once no worker is left: 0 if stopped by a
 * signal and every serving worker exited 0, 1 otherwise (also if ${n} is
 * out of range or the signals cannot be blocked, reported).
 */
int workers_run(size_t, int (*)(void *, size_t, int), void (*)(void *),
    int (*)(void *), void *);

#endif /* !WORKERS_H_ */
