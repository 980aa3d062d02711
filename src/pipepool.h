#ifndef PIPEPOOL_H_
#define PIPEPOOL_H_

#include <stddef.h>

struct pipepool;

/* The size a bulk pipe grows to (pipepool_grow), and the most it may be. */
#define PIPEPOOL_BIG		(1 << 20)

/**
 * pipepool_init(keep, max, big, budget):
 * Return a pool that keeps up to ${keep} empty pipes for reuse and lets
 * at most ${max} pipes exist at once (in use or kept), or NULL after
 * reporting the error.  Of those, at most ${budget} / ${big} may be grown
 * to ${big} bytes (pipepool_grow; ${big} a power of two of at least a
 * page and at most PIPEPOOL_BIG, or 0: none grows).  The pool allocates
 * only here.
 */
struct pipepool * pipepool_init(size_t, size_t, size_t, size_t);

/**
 * pipepool_get(P, fds, bulk):
 * Store in ${fds} an empty non-blocking pipe: one from ${P} (a grown one
 * first if ${bulk}, a default one first otherwise), or a new one.
 * Return 0, or -1 with errno set: EMFILE when ${max} pipes exist (not
 * reported), or when pipe2 ran out of descriptors (reported, and ${max}
 * lowered to the pipes that exist), or what else pipe2 said.
 */
int pipepool_get(struct pipepool *, int[2], int);

/**
 * pipepool_grow(P, fds):
 * Grow the pipe ${fds} (from pipepool_get on ${P}, in use) to the pool's
 * ${big} size if it is not yet and the budget has room.  Return 1 if the
 * pipe is grown (now or before), 0 if it keeps its size: the budget is
 * spent, or the kernel refused (EPERM past the user's
 * fs.pipe-user-pages-soft; reported once, and the budget lowered to the
 * grown pipes that exist).
 */
int pipepool_grow(struct pipepool *, const int[2]);

/**
 * pipepool_full(P):
 * Return non-zero if pipepool_get(${P}) would fail for the budget: no pipe
 * kept and ${max} pipes in use.
 */
int pipepool_full(const struct pipepool *);

/**
 * pipepool_grown(P):
 * Return how many of ${P}'s pipes are grown (in use or kept).
 */
size_t pipepool_grown(const struct pipepool *);

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
