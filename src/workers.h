#ifndef WORKERS_H_
#define WORKERS_H_

#include <stddef.h>

/* Most workers (a plain number: conf.c prints it). */
#define WORKERS_MAX	64

/**
 * workers_run(n, work, forked, cookie):
 * Block SIGTERM, SIGINT and SIGCHLD (the workers inherit the mask), then
 * fork ${n} (1 to WORKERS_MAX) worker processes; worker ${i} calls
 * ${work}(${cookie}, ${i}) and ends with the value it returns as its exit
 * status.  Once they are forked, the calling process calls
 * ${forked}(${cookie}) (if not NULL: to give up what only the workers need)
 * and supervises: SIGTERM or SIGINT is passed on to every worker; a worker
 * that ends on its own (any status, any signal) is reported and the others
 * are stopped.  Return the exit status for the supervisor: 0 if stopped by
 * a signal and every worker exited 0, 1 otherwise (also if ${n} is out of
 * range or the signals cannot be blocked, reported).
 */
int workers_run(size_t, int (*)(void *, size_t), void (*)(void *), void *);

#endif /* !WORKERS_H_ */
