#ifndef WORKERS_H_
#define WORKERS_H_

#include <stddef.h>

/**
 * workers_run(n, work, forked, cookie):
 * Fork ${n} worker processes; worker ${i} calls ${work}(${cookie}, ${i})
 * and ends with the value it returns as its exit status.  Once they are
 * forked, the calling process calls ${forked}(${cookie}) (if not NULL:
 * to give up what only the workers need) and supervises: SIGTERM or SIGINT is passed on to every worker; a
 * worker that ends on its own (any status, any signal) is reported and the
 * others are stopped.  SIGTERM, SIGINT and SIGCHLD must be blocked by the
 * caller.  Return the exit status for the supervisor: 0 if stopped by a
 * signal and every worker exited 0, 1 otherwise.
 */
int workers_run(size_t, int (*)(void *, size_t), void (*)(void *), void *);

#endif /* !WORKERS_H_ */
