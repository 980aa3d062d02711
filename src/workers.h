#ifndef WORKERS_H_
#define WORKERS_H_

#include <stddef.h>

/* Most workers (a plain number: conf.c prints it). */
#define WORKERS_MAX	64

/* Seconds a reload's new workers have to report ready. */
#define WORKERS_READY_S	10

/* Most worker processes at once: serving ones and draining ones. */
#define WORKERS_SLOTS	((size_t)4 * WORKERS_MAX)

/* What workers_run() runs; every callback gets ${cookie}. */
struct workers_conf {
	size_t n;			/* Workers per generation (1 to
					   WORKERS_MAX). */
	int (*work)(void *, size_t, unsigned, int);	/* A worker. */
	void (*forked)(void *);		/* Once a generation is forked (NULL:
					   none). */
	void (*up)(void *);		/* Once the first generation is ready
					   (NULL: none). */
	int (*reload)(void *);		/* On SIGHUP (NULL: none). */
	void * cookie;
};

/**
 * workers_run(conf):
 * Block SIGTERM, SIGINT, SIGCHLD, SIGHUP and SIGUSR1 (the workers inherit
 * the mask), then fork ${conf}->n worker processes; worker ${i} calls
 * ${work}(${cookie}, ${i}, ${id}, ${ready}) and ends with the value it
 * returns as its exit status; ${id} numbers worker processes from 0 in the
 * order they were started, never reused (reloads included), and ${ready}
 * is a pipe's write end into which the worker writes one byte once it is
 * up.  Once a generation is forked (at start and at each reload), the
 * calling process calls ${forked}(${cookie}) if not NULL (to give up what
 * only the workers need); once every worker of the first generation wrote
 * its byte, ${up}(${cookie}) if not NULL (to say "ready").  Then
 * supervise: SIGTERM or SIGINT is passed on to every worker, SIGUSR1 too
 * (a graceful stop: every worker drains, then the supervisor exits); a
 * serving worker that ends on its own (any status, any signal) is reported and
 * every other serving worker is stopped (SIGTERM), while draining ones
 * finish.  On SIGHUP, if ${reload} is not NULL and ${reload}(${cookie})
 * returns 0 (it returns 1 if there is nothing to reload, -1 if it refuses
 * one, having said so), fork ${n} new workers the same way; once each has
 * written its byte, send SIGUSR1 (drain: stop accepting, finish, exit 0)
 * to the old ones, whose end is then expected.  A new worker that ends
 * first, or not all ready within WORKERS_READY_S seconds, fails the
 * reload: the new workers are killed (SIGKILL), it is reported, and the
 * old ones serve on; a refused reload changes nothing.  A reload is
 * refused while one is pending (one during the first generation's start
 * waits for it) or fewer than ${n} of WORKERS_SLOTS are free.  Return the
 * exit status for the supervisor, once no worker is left: 0 if stopped by
 * a signal and every serving worker exited 0; else the non-zero exit
 * status of the first serving worker that failed, or 1 (a signal, or ${n}
 * out of range, or the signals cannot be blocked, reported).
 */
int workers_run(const struct workers_conf *);

#endif /* !WORKERS_H_ */
