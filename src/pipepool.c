#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "pipepool.h"

struct pipepool {
	size_t n;		/* Pipes held. */
	size_t max;
	int (* fds)[2];
};

/* An empty pool with room for ${max} pipes. */
struct pipepool *
pipepool_init(size_t max)
{
	struct pipepool * P;

	if ((P = malloc(sizeof(*P))) == NULL)
		goto err0;
	P->n = 0;
	P->max = max;
	if ((P->fds = calloc(max ? max : 1, sizeof(P->fds[0]))) == NULL)
		goto err1;

	/* Success! */
	return (P);

err1:
	free(P);
err0:
	/* Failure! */
	log_errp("cannot allocate a pool of %zu pipes", max);
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
	return (pipe2(fds, O_NONBLOCK | O_CLOEXEC));
}

/* Keep an empty pipe, close any other. */
void
pipepool_put(struct pipepool * P, int fds[2], int empty)
{

	if (empty && P->n < P->max) {
		P->fds[P->n][0] = fds[0];
		P->fds[P->n][1] = fds[1];
		P->n++;
	} else {
		close(fds[0]);
		close(fds[1]);
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
	}
	free(P->fds);
	free(P);
}
