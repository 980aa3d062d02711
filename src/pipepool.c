#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "pipepool.h"

/*
 * Default pipes (the kernel's 64 KiB) are kept in fds; grown ones (big
 * bytes, pipepool_grow) in bigfds, and while in use their read ends are
 * listed in used, so that pipepool_put knows a grown pipe from the others
 * without asking the kernel.  At most bigmax pipes are grown at once, so
 * the memory they can hold is bounded by the budget given to
 * pipepool_init.
 */
struct pipepool {
	size_t n;		/* Empty default pipes kept. */
	size_t keep;		/* Most kept. */
	size_t live;		/* Pipes that exist: in use or kept. */
	size_t max;		/* Most that may exist. */
	int (* fds)[2];
	size_t big;		/* Bytes of a grown pipe; 0: none grows. */
	size_t bigmax;		/* Most grown pipes at once. */
	size_t biglive;		/* Grown pipes that exist. */
	size_t nbig;		/* Empty grown pipes kept. */
	int (* bigfds)[2];	/* bigmax entries. */
	size_t nused;		/* Grown pipes in use. */
	int * used;		/* Their read ends; bigmax entries. */
};

/* An empty pool: keeps ${keep} pipes, lets ${max} exist, ${budget} grown. */
struct pipepool *
pipepool_init(size_t keep, size_t max, size_t big, size_t budget)
{
	struct pipepool * P;

	if ((P = malloc(sizeof(*P))) == NULL)
		goto err0;
	P->n = P->live = P->biglive = P->nbig = P->nused = 0;
	P->keep = keep;
	P->max = max;
	if (big > PIPEPOOL_BIG)
		big = PIPEPOOL_BIG;
	P->big = big;
	P->bigmax = (big > 0) ? budget / big : 0;
	if (P->bigmax > max)
		P->bigmax = max;
	if ((P->fds = calloc(keep ? keep : 1, sizeof(P->fds[0]))) == NULL)
		goto err1;
	if ((P->bigfds = calloc(P->bigmax ? P->bigmax : 1,
	    sizeof(P->bigfds[0]))) == NULL)
		goto err2;
	if ((P->used = calloc(P->bigmax ? P->bigmax : 1,
	    sizeof(P->used[0]))) == NULL)
		goto err3;

	/* Success! */
	return (P);

err3:
	free(P->bigfds);
err2:
	free(P->fds);
err1:
	free(P);
err0:
	/* Failure! */
	log_errp("cannot allocate a pool of %zu pipes", keep);
	return (NULL);
}

/* Pop a kept pipe from ${stack} of ${*n} into ${fds}. */
static void
pipepool_pop(int (* stack)[2], size_t * n, int fds[2])
{

	(*n)--;
	fds[0] = stack[*n][0];
	fds[1] = stack[*n][1];
}

/* Take a kept grown pipe: it is in use now. */
static void
pipepool_get_big(struct pipepool * P, int fds[2])
{

	pipepool_pop(P->bigfds, &P->nbig, fds);
	P->used[P->nused++] = fds[0];
}

/* Take a pipe from the pool, or make one. */
int
pipepool_get(struct pipepool * P, int fds[2], int bulk)
{

	if (P->nbig > 0 && (bulk || P->n == 0)) {
		pipepool_get_big(P, fds);
		return (0);
	}
	if (P->n > 0) {
		pipepool_pop(P->fds, &P->n, fds);
		return (0);
	}
	if (P->live >= P->max) {
		errno = EMFILE;
		return (-1);
	}
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC)) {
		/* The descriptor limit is tighter than the budget. */
		if (errno == EMFILE || errno == ENFILE) {
			log_errp("pipe2: pipe budget lowered from %zu to %zu",
			    P->max, P->live);
			P->max = P->live;
			errno = EMFILE;
		}
		return (-1);
	}
	P->live++;
	return (0);
}

/* The index of the grown pipe in use whose read end is ${fd}, or nused. */
static size_t
pipepool_find(const struct pipepool * P, int fd)
{
	size_t i;

	for (i = 0; i < P->nused; i++)
		if (P->used[i] == fd)
			break;
	return (i);
}

/* Grow a bulk pipe, within the budget. */
int
pipepool_grow(struct pipepool * P, const int fds[2])
{

	if (P->nused > 0 && pipepool_find(P, fds[0]) < P->nused)
		return (1);
	if (P->biglive >= P->bigmax)
		return (0);
	if (fcntl(fds[1], F_SETPIPE_SZ, (int)P->big) == -1) {
		/* Past the user's soft limit (EPERM): stay at the default. */
		log_errno(LOG_WARN, "fcntl(F_SETPIPE_SZ, %zu): %zu grown "
		    "pipes at most from now on, not %zu", P->big, P->biglive,
		    P->bigmax);
		P->bigmax = P->biglive;
		return (0);
	}
	P->biglive++;
	P->used[P->nused++] = fds[0];
	return (1);
}

/* Would a get fail for the budget? */
int
pipepool_full(const struct pipepool * P)
{

	return (P->n == 0 && P->nbig == 0 && P->live >= P->max);
}

/* Grown pipes, in use or kept. */
size_t
pipepool_grown(const struct pipepool * P)
{

	return (P->biglive);
}

/* Close the pipe ${fds}, no longer kept or in use. */
static void
pipepool_close(struct pipepool * P, const int fds[2])
{

	close(fds[0]);
	close(fds[1]);
	P->live--;
}

/* Give a grown pipe back; it was used[i]. */
static void
pipepool_put_big(struct pipepool * P, int fds[2], int empty, size_t i)
{

	P->used[i] = P->used[--P->nused];
	if (empty && P->nbig < P->bigmax) {
		P->bigfds[P->nbig][0] = fds[0];
		P->bigfds[P->nbig][1] = fds[1];
		P->nbig++;
	} else {
		pipepool_close(P, fds);
		P->biglive--;
	}
}

/* Keep an empty pipe, close any other. */
void
pipepool_put(struct pipepool * P, int fds[2], int empty)
{
	size_t i;

	if (P->nused > 0 && (i = pipepool_find(P, fds[0])) < P->nused) {
		pipepool_put_big(P, fds, empty, i);
	} else if (empty && P->n < P->keep) {
		P->fds[P->n][0] = fds[0];
		P->fds[P->n][1] = fds[1];
		P->n++;
	} else {
		pipepool_close(P, fds);
	}
	fds[0] = fds[1] = -1;
}

/* Close every pipe and free the pool. */
void
pipepool_free(struct pipepool * P)
{
	int fds[2];

	if (P == NULL)
		return;
	while (P->n > 0) {
		pipepool_pop(P->fds, &P->n, fds);
		pipepool_close(P, fds);
	}
	while (P->nbig > 0) {
		pipepool_pop(P->bigfds, &P->nbig, fds);
		pipepool_close(P, fds);
		P->biglive--;
	}
	free(P->used);
	free(P->bigfds);
	free(P->fds);
	free(P);
}
