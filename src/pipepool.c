#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "pipepool.h"

struct pipepool {
	size_t n;		/* Empty pipes kept. */
	size_t keep;		/* Most kept. */
	size_t live;		/* Pipes that exist: in use or kept. */
	size_t max;		/* Most that may exist. */
	int (* fds)[2];
};

/* An empty pool: keeps ${keep} pipes, lets ${max} exist. */
struct pipepool *
pipepool_init(size_t keep, size_t max)
{
	struct pipepool * P;

	if ((P = malloc(sizeof(*P))) == NULL)
		goto err0;
	P->n = P->live = 0;
	P->keep = keep;
	P->max = max;
	if ((P->fds = calloc(keep ? keep : 1, sizeof(P->fds[0]))) == NULL)
		goto err1;

	/* Success! */
	return (P);

err1:
	free(P);
err0:
	/* Failure! */
	log_errp("cannot allocate a pool of %zu pipes", keep);
	return (NULL);
}

/* Take a pipe from the pool, or make one. */
int
pipepool_get(struct pipepool * P, int fds[2])
{

	if (P->n > 0) {
		P->n--;
		fds[0] = P->fds[P->n][0];
		fds[1] = P->fds[P->n][1];
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

/* Would a get fail for the budget? */
int
pipepool_full(const struct pipepool * P)
{

	return (P->n == 0 && P->live >= P->max);
}

/* Keep an empty pipe, close any other. */
void
pipepool_put(struct pipepool * P, int fds[2], int empty)
{

	if (empty && P->n < P->keep) {
		P->fds[P->n][0] = fds[0];
		P->fds[P->n][1] = fds[1];
		P->n++;
	} else {
		close(fds[0]);
		close(fds[1]);
		P->live--;
	}
	fds[0] = fds[1] = -1;
}

/* Close every pipe and free the pool. */
void
pipepool_free(struct pipepool * P)
{

	if (P == NULL)
		return;
	while (P->n > 0) {
		P->n--;
		close(P->fds[P->n][0]);
		close(P->fds[P->n][1]);
		P->live--;
	}
	free(P->fds);
	free(P);
}
