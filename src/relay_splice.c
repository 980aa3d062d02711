#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "pipepool.h"
#include "relay_internal.h"

/* Most bytes one splice() is asked to move (the pipe bounds it anyway). */
#define SPLICE_LEN	(1 << 20)

/* Splice calls per connection per wake-up before yielding to the others. */
#define PUMP_BUDGET	32

#define SPLICE_FLAGS	(SPLICE_F_MOVE | SPLICE_F_NONBLOCK)

/* One direction's endpoints and readiness. */
struct dir {
	struct half * h;
	int src, dst;
	int * src_rd;
	int * dst_wr;
};

/* Move the pipe's bytes to dst; 0 done or blocked, -1 error (errno). */
static int
pump_drain(struct relay * R, struct dir * D, int * budget)
{
	struct half * h = D->h;
	ssize_t n;

	while (h->inpipe > 0 && *D->dst_wr && *budget > 0) {
		(*budget)--;
		n = splice(h->pipe[0], NULL, D->dst, NULL, h->inpipe,
		    SPLICE_FLAGS);
		if (n > 0) {
			h->inpipe -= (size_t)n;
			h->bytes += (uint64_t)n;
		} else if (n == -1 && errno == EAGAIN) {
			*D->dst_wr = 0;
		} else if (n == -1 && errno != EINTR) {
			return (-1);
		}
	}
	if (h->inpipe == 0 && h->pipe[0] != -1)
		pipepool_put(R->pipes, h->pipe, 1);
	return (0);
}

/* Pass a FIN on once everything before it was delivered. */
static void
pump_shut(struct dir * D)
{
	struct half * h = D->h;

	if (h->eof && h->inpipe == 0 && !h->shut) {
		/* ENOTCONN: the peer is gone; the other half will notice. */
		(void)shutdown(D->dst, SHUT_WR);
		h->shut = 1;
	}
}

/* Move bytes src -> pipe -> dst; return 0, or -1 with errno (close). */
static int
pump_dir(struct relay * R, struct dir * D, int * budget)
{
	struct half * h = D->h;
	ssize_t n;

	for (;;) {
		if (pump_drain(R, D, budget))
			return (-1);
		if (h->eof || !*D->src_rd || *budget <= 0)
			break;
		/* The pipe holds bytes dst cannot take yet: wait for dst. */
		if (h->inpipe > 0 && !*D->dst_wr)
			break;
		if (h->pipe[0] == -1 && pipepool_get(R->pipes, h->pipe))
			return (-1);
		(*budget)--;
		n = splice(D->src, NULL, h->pipe[1], NULL, SPLICE_LEN,
		    SPLICE_FLAGS);
		if (n > 0) {
			h->inpipe += (size_t)n;
		} else if (n == 0) {
			h->eof = 1;
		} else if (errno == EAGAIN) {
			/* With an empty pipe, EAGAIN means src is empty. */
			if (h->inpipe == 0) {
				*D->src_rd = 0;
				pipepool_put(R->pipes, h->pipe, 1);
				break;
			}
			/* Else the pipe may be full: drain and retry. */
		} else if (errno != EINTR) {
			return (-1);
		}
	}
	pump_shut(D);
	return (0);
}

/* Put ${C} on the list of connections to pump again after this batch. */
static void
pump_later(struct relay * R, struct conn * C)
{

	if (C->again)
		return;
	C->again = 1;
	C->again_next = R->again_head;
	R->again_head = relay_slot(R, C);
}

/* Relay both ways; close when both are done or on an error. */
void
relay_pump(struct relay * R, struct conn * C)
{
	struct dir up = { &C->up, C->cfd, C->bfd, &C->c_rd, &C->b_wr };
	struct dir down = { &C->down, C->bfd, C->cfd, &C->b_rd, &C->c_wr };
	uint64_t before = C->up.bytes + C->down.bytes + C->up.inpipe +
	    C->down.inpipe;
	int budget = PUMP_BUDGET;
	int err;

	/*
	 * An error one way still lets the other way deliver what it already
	 * has (a backend's error reply that came with its reset, say).
	 */
	if (pump_dir(R, &up, &budget)) {
		err = errno;
		(void)pump_dir(R, &down, &budget);
		relay_close(R, C, "client to backend", err);
		return;
	}
	if (pump_dir(R, &down, &budget)) {
		relay_close(R, C, "backend to client", errno);
		return;
	}
	if (C->up.shut && C->down.shut) {
		relay_close(R, C, "done", 0);
		return;
	}
	if (C->up.bytes + C->down.bytes + C->up.inpipe + C->down.inpipe !=
	    before)
		timer_start(&R->idle_timers, &C->timer, R->now);
	if (budget <= 0)
		pump_later(R, C);
}
