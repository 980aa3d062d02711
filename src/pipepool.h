#ifndef PIPEPOOL_H_
#define PIPEPOOL_H_

#include <stddef.h>

struct pipepool;

/**
 * pipepool_init(keep, max):
 * Return a pool that keeps up to ${keep} empty pipes for reuse and lets
 * at most ${max} pipes exist at once (in use or kept), or NULL after
 * reporting the error.  The pool allocates only here.
 */
struct pipepool * pipepool_init(size_t, size_t);

/**
 * pipepool_get(P, fds):
 * Store in ${fds} an empty non-blocking pipe: one from ${P}, or a new one.
 * Return 0, or -1 with errno set: EMFILE when ${max} pipes exist (not
 * reported), or when pipe2 ran out of descriptors (reported, and ${max}
 * lowered to the pipes that exist), or what else pipe2 said.
 */
int pipepool_get(struct pipepool *, int[2]);

/**
 * pipepool_full(P):
 * Return non-zero if pipepool_get(${P}) would fail for the budget: no pipe
 * kept and ${max} pipes in use.
 */
int pipepool_full(const struct pipepool *);

/**
 * pipepool_put(P, fds, empty):
 * Give the pipe ${fds} back: kept in ${P} if ${empty} and there is room,
 * closed otherwise.  Set both descriptors to -1.
 */
void pipepool_put(struct pipepool *, int[2], int);

/**
 * pipepool_free(P):
 * Close every pipe in ${P} and free it.
 */
void pipepool_free(struct pipepool *);

#endif /* !PIPEPOOL_H_ */
