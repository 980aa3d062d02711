#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "pipepool.h"
#include "relay_internal.h"

/* Most bytes one splice() is asked to move (the pipe bounds it anyway). */
#define SPLICE_LEN	(1 << 20)

/* Reads and splices per connection per wake-up before yielding to others. */
#define PUMP_BUDGET	32

#define SPLICE_FLAGS	(SPLICE_F_MOVE | SPLICE_F_NONBLOCK)

/*
 * Small messages are copied (recv + send through a stack buffer) rather
 * than spliced: two splices and the EAGAIN probe after them cost more than
 * recv + send, and a short recv proves the socket drained (epoll(7)), so
 * no probe is needed.  A full buffer means a bulk flow: that direction
 * splices until a wake-up brings less than COPY_LEN again.  COPY_LEN is
 * PIPE_BUF so that what dst does not take fits whole into an empty pipe.
 *
 * Past the pipe budget (pipepool_full), a direction that would need a new
 * pipe copies without one: recv(MSG_PEEK), send, then recv exactly what
 * dst took, so nothing is ever held outside the kernel's buffers.
 *
 * TCP urgent data: splice never reads past the urgent mark, and recv stops
 * short before it, so after EPOLLPRI a direction copies, trusting only
 * EAGAIN, until it drained; SO_OOBINLINE (net.c, relay_knock.c) keeps the
 * urgent byte in the stream, so the bytes arrive intact (not urgent).
 */
#define COPY_LEN	PIPE_BUF

/* One direction's endpoints and readiness. */
struct dir {
	struct half * h;
	const struct half * other;
	int src, dst;
	int * src_rd;
	int * src_hup;
	int * src_urg;
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

/*
 * Pass a FIN on once everything before it was delivered.  If the other
 * direction is done too, the connection closes now and close() sends the
 * FIN (dst has nothing unread: the other direction drained it to its EOF).
 */
static void
pump_shut(struct dir * D, const struct half * other)
{
	struct half * h = D->h;

	if (h->eof && h->inpipe == 0 && !h->shut) {
		/* ENOTCONN: the peer is gone; the other half will notice. */
		if (!other->shut)
			(void)shutdown(D->dst, SHUT_WR);
		h->shut = 1;
	}
}

/* Park the ${len} bytes at ${p} that dst did not take in the empty pipe. */
static int
pump_park(struct relay * R, struct half * h, const uint8_t * p, size_t len)
{
	ssize_t n;

	if (h->pipe[0] == -1 && pipepool_get(R->pipes, h->pipe))
		return (-1);
	/*
	 * An empty pipe takes up to PIPE_BUF bytes whole (pipe(7)).  Should a
	 * write ever come up short, count what went in anyway, so that the
	 * close that follows does not pool a pipe holding this connection's
	 * bytes.
	 */
	if ((n = write(h->pipe[1], p, len)) > 0)
		h->inpipe = (size_t)n;
	if (n != (ssize_t)len) {
		if (n >= 0)
			errno = EIO;
		return (-1);
	}
	return (0);
}

/* Would this direction need a pipe the budget does not allow? */
static int
pump_nopipe(struct relay * R, const struct half * h)
{

	if (h->pipe[0] != -1 || !pipepool_full(R->pipes))
		return (0);
	if (!R->pipes_short) {
		log_warn("all %zu pipes in use: copying instead of splicing "
		    "while it lasts (a higher descriptor limit gives more)",
		    R->conf->max_pipes);
		R->pipes_short = 1;
	}
	return (1);
}

/* Consume the ${len} bytes of src that were peeked and sent. */
static int
pump_consume(struct dir * D, uint8_t * buf, size_t len)
{
	ssize_t n;

	if (len == 0)
		return (0);
	if ((n = recv(D->src, buf, len, 0)) != (ssize_t)len) {
		if (n >= 0)
			errno = EIO;
		return (-1);
	}
	return (0);
}

/*
 * Copy one message src -> dst; the pipe is empty and dst writable.  With
 * ${peek}, src keeps what dst does not take.  0, or -1 (errno).
 */
static int
pump_copy(struct relay * R, struct dir * D, int peek)
{
	struct half * h = D->h;
	uint8_t buf[COPY_LEN];
	ssize_t n, m;

	if ((n = recv(D->src, buf, sizeof(buf), peek ? MSG_PEEK : 0)) == -1) {
		if (errno == EAGAIN)
			*D->src_rd = *D->src_urg = 0;
		return ((errno == EAGAIN || errno == EINTR) ? 0 : -1);
	}
	if (n == 0) {
		h->eof = 1;
		return (0);
	}
	/*
	 * A full buffer: more is coming, splice it.  Short: src drained,
	 * unless a FIN, an error or an urgent mark waits behind.
	 */
	if (*D->src_urg)
		;
	else if (n == (ssize_t)sizeof(buf))
		h->bulk = 1;
	else if (!*D->src_hup)
		*D->src_rd = 0;

	/* What dst does not take (it is full: a short send) waits in a pipe. */
	if ((m = send(D->dst, buf, (size_t)n, 0)) == -1) {
		if (errno != EAGAIN && errno != EINTR)
			return (-1);
		if (errno == EAGAIN)
			*D->dst_wr = 0;
		m = 0;
	} else if (m < n) {
		*D->dst_wr = 0;
	}
	h->bytes += (uint64_t)m;
	if (peek) {
		/* What dst did not take stays in src: read it again later. */
		if (m < n)
			*D->src_rd = 1;
		return (pump_consume(D, buf, (size_t)m));
	}
	if (m == n)
		return (0);
	return (pump_park(R, h, buf + m, (size_t)(n - m)));
}

/*
 * splice returned 0: EOF, or an urgent mark with a FIN already behind it
 * (splice never reads past the mark).  Peek to tell: bytes mean urgent
 * data, for the copy path once dst can take it.  0, 1 (stop), -1 (errno).
 */
static int
pump_fill_eof(struct dir * D)
{
	uint8_t c;
	ssize_t n;

	if ((n = recv(D->src, &c, 1, MSG_PEEK)) == 0) {
		D->h->eof = 1;
		return (0);
	}
	if (n > 0) {
		*D->src_urg = 1;
		D->h->bulk = 0;
		return (1);
	}
	return ((errno == EAGAIN || errno == EINTR) ? 1 : -1);
}

/*
 * Splice what src has into the pipe; 0, 1 when src is empty (or cannot be
 * spliced now), -1 (errno).
 */
static int
pump_fill(struct relay * R, struct dir * D, size_t * moved)
{
	struct half * h = D->h;
	ssize_t n;

	/* Out of descriptors: the pool lowered its budget; copy instead. */
	if (h->pipe[0] == -1 && pipepool_get(R->pipes, h->pipe))
		return ((errno == EMFILE || errno == ENFILE) ? 0 : -1);
	n = splice(D->src, NULL, h->pipe[1], NULL, SPLICE_LEN, SPLICE_FLAGS);
	if (n > 0) {
		h->inpipe += (size_t)n;
		*moved += (size_t)n;
	} else if (n == 0) {
		return (pump_fill_eof(D));
	} else if (errno == EAGAIN) {
		/* With an empty pipe, EAGAIN means src is empty (or at an
		 * urgent mark: then the copy path reads on when dst can take
		 * it). */
		if (h->inpipe == 0) {
			if (!*D->src_urg)
				*D->src_rd = 0;
			pipepool_put(R->pipes, h->pipe, 1);
			/* A quiet wake-up: copy small messages again. */
			if (*moved < COPY_LEN)
				h->bulk = 0;
			return (1);
		}
		/* Else the pipe may be full: drain and retry. */
	} else if (errno != EINTR) {
		return (-1);
	}
	return (0);
}

/* Move bytes src -> (buffer or pipe) -> dst; 0, or -1 with errno (close). */
static int
pump_dir(struct relay * R, struct dir * D, int * budget)
{
	struct half * h = D->h;
	size_t moved = 0;
	int rc;

	if (*D->src_urg)
		h->bulk = 0;
	for (;;) {
		if (pump_drain(R, D, budget))
			return (-1);
		if (h->eof || !*D->src_rd || *budget <= 0)
			break;
		/* The pipe holds bytes dst cannot take yet: wait for dst. */
		if (h->inpipe > 0 && !*D->dst_wr)
			break;
		(*budget)--;
		if (h->inpipe == 0 && *D->dst_wr && !h->bulk)
			rc = pump_copy(R, D, pump_nopipe(R, h));
		else if (!pump_nopipe(R, h))
			rc = pump_fill(R, D, &moved);
		else if (*D->dst_wr)	/* Bulk without a pipe: copy it. */
			rc = pump_copy(R, D, 1);
		else			/* Wait for dst, src stays unread. */
			rc = 1;
		if (rc == -1)
			return (-1);
		if (rc == 1 && !(*D->src_urg && h->inpipe == 0 && *D->dst_wr))
			break;
	}
	pump_shut(D, D->other);
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
	struct dir up = { &C->up, &C->down, C->cfd, C->bfd, &C->c_rd,
	    &C->c_hup, &C->c_urg, &C->b_wr };
	struct dir down = { &C->down, &C->up, C->bfd, C->cfd, &C->b_rd,
	    &C->b_hup, &C->b_urg, &C->c_wr };
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
