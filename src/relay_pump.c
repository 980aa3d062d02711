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

/*
 * The kernel's default pipe size: a direction that fills that much keeps
 * its pipe full, and the pipe grows (pipepool_grow), so that one splice
 * moves up to PIPEPOOL_BIG bytes.
 */
#define PUMP_PIPE_DEFAULT	((size_t)64 * 1024)

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
 * EAGAIN, until it drained; SO_OOBINLINE (net.c, relay_connect.c) keeps the
 * urgent byte in the stream, so the bytes arrive intact (not urgent).
 */
#define COPY_LEN	PIPE_BUF

/*
 * One direction: bytes go from src's socket through h (a stack buffer or
 * h's pipe) to dst's socket.
 */
struct dir {
	struct side * src;
	struct side * dst;
	struct half * h;
};

/*
 * What every helper below returns: go on with the direction's loop, stop it
 * for now (src or dst cannot move more this wake-up), or an error (errno
 * set: the connection closes).
 */
enum pump_rc {
	PUMP_ERROR = -1,
	PUMP_ON = 0,
	PUMP_STOP = 1
};

/* How the next bytes of a direction move (pump_choose). */
enum pump_how {
	PUMP_COPY,		/* recv + send through a stack buffer. */
	PUMP_PEEKCOPY,		/* The same without a pipe to park in. */
	PUMP_SPLICE,		/* splice src -> pipe. */
	PUMP_WAIT		/* Wait for dst; src stays unread. */
};

/* A call on ${S}'s socket failed: note its errno (a reset is passed on). */
static enum pump_rc
pump_fail(struct side * S)
{

	S->err = errno;
	return (PUMP_ERROR);
}

/* Move the pipe's bytes to dst: PUMP_ON (done or blocked) or PUMP_ERROR. */
static enum pump_rc
pump_drain(struct relay * R, struct dir * D, int * budget)
{
	struct half * h = D->h;
	ssize_t n;

	while (h->inpipe > 0 && D->dst->wr && *budget > 0) {
		(*budget)--;
		n = splice(h->pipe[0], NULL, D->dst->fd, NULL, h->inpipe,
		    SPLICE_FLAGS);
		if (n > 0) {
			h->inpipe -= (size_t)n;
			h->bytes += (uint64_t)n;
		} else if (n == -1 && errno == EAGAIN) {
			D->dst->wr = 0;
		} else if (n == -1 && errno != EINTR) {
			return (pump_fail(D->dst));
		}
	}
	if (h->inpipe == 0 && h->pipe[0] != -1)
		pipepool_put(R->pipes, h->pipe, 1);
	return (PUMP_ON);
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
			(void)shutdown(D->dst->fd, SHUT_WR);
		h->shut = 1;
	}
}

/* Park the ${len} bytes at ${p} that dst did not take in the empty pipe. */
static enum pump_rc
pump_park(struct relay * R, struct half * h, const uint8_t * p, size_t len)
{
	ssize_t n;

	if (h->pipe[0] == -1 && pipepool_get(R->pipes, h->pipe, 0))
		return (PUMP_ERROR);
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
		return (PUMP_ERROR);
	}
	return (PUMP_ON);
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
static enum pump_rc
pump_consume(struct dir * D, uint8_t * buf, size_t len)
{
	ssize_t n;

	if (len == 0)
		return (PUMP_ON);
	if ((n = recv(D->src->fd, buf, len, 0)) != (ssize_t)len) {
		if (n == -1)
			return (pump_fail(D->src));
		errno = EIO;
		return (PUMP_ERROR);
	}
	return (PUMP_ON);
}

/*
 * Copy one message src -> dst; the pipe is empty and dst writable.  With
 * ${peek}, src keeps what dst does not take.  PUMP_ON or PUMP_ERROR.
 */
static enum pump_rc
pump_copy(struct relay * R, struct dir * D, int peek)
{
	struct side * src = D->src;
	struct side * dst = D->dst;
	struct half * h = D->h;
	uint8_t buf[COPY_LEN];
	ssize_t n, m;

	if ((n = recv(src->fd, buf, sizeof(buf), peek ? MSG_PEEK : 0)) == -1) {
		if (errno == EAGAIN)
			src->rd = src->urg = 0;
		return ((errno == EAGAIN || errno == EINTR) ? PUMP_ON :
		    pump_fail(src));
	}
	if (n == 0) {
		h->eof = 1;
		return (PUMP_ON);
	}
	/*
	 * A full buffer: more is coming, splice it.  Short: src drained,
	 * unless a FIN, an error or an urgent mark waits behind.  A short
	 * read after the FIN was seen (EPOLLRDHUP, no error) took everything
	 * before it: that is the EOF, without the recv that would return 0
	 * (the kernel queues a FIN in sequence, behind every byte before it).
	 */
	if (src->urg)
		;
	else if (n == (ssize_t)sizeof(buf))
		h->bulk = 1;
	else if (!src->hup)
		src->rd = 0;
	else if (!peek && !src->errev)
		h->eof = 1;

	/* What dst does not take (it is full: a short send) waits in a pipe. */
	if ((m = send(dst->fd, buf, (size_t)n, 0)) == -1) {
		if (errno != EAGAIN && errno != EINTR)
			return (pump_fail(dst));
		if (errno == EAGAIN)
			dst->wr = 0;
		m = 0;
	} else if (m < n) {
		dst->wr = 0;
	}
	h->bytes += (uint64_t)m;
	if (peek) {
		/* What dst did not take stays in src: read it again later. */
		if (m < n)
			src->rd = 1;
		return (pump_consume(D, buf, (size_t)m));
	}
	if (m == n)
		return (PUMP_ON);
	return (pump_park(R, h, buf + m, (size_t)(n - m)));
}

/*
 * splice returned 0: EOF, or an urgent mark with a FIN already behind it
 * (splice never reads past the mark).  Peek to tell: bytes mean urgent
 * data, for the copy path once dst can take it (PUMP_STOP).
 */
static enum pump_rc
pump_fill_eof(struct dir * D)
{
	uint8_t c;
	ssize_t n;

	if ((n = recv(D->src->fd, &c, 1, MSG_PEEK)) == 0) {
		D->h->eof = 1;
		return (PUMP_ON);
	}
	if (n > 0) {
		D->src->urg = 1;
		D->h->bulk = 0;
		return (PUMP_STOP);
	}
	return ((errno == EAGAIN || errno == EINTR) ? PUMP_STOP :
	    pump_fail(D->src));
}

/*
 * Splice what src has into the pipe; PUMP_STOP when src is empty (or
 * cannot be spliced now).
 */
static enum pump_rc
pump_fill(struct relay * R, struct dir * D, size_t * moved)
{
	struct half * h = D->h;
	ssize_t n;

	/* Out of descriptors: the pool lowered its budget; copy instead. */
	if (h->pipe[0] == -1 && pipepool_get(R->pipes, h->pipe, 1))
		return ((errno == EMFILE || errno == ENFILE) ? PUMP_ON :
		    PUMP_ERROR);
	n = splice(D->src->fd, NULL, h->pipe[1], NULL, SPLICE_LEN,
	    SPLICE_FLAGS);
	if (n > 0) {
		h->inpipe += (size_t)n;
		*moved += (size_t)n;
		/* A default pipe filled up: grow it, if the budget allows. */
		if (h->inpipe >= PUMP_PIPE_DEFAULT)
			(void)pipepool_grow(R->pipes, h->pipe);
	} else if (n == 0) {
		return (pump_fill_eof(D));
	} else if (errno == EAGAIN) {
		/* With an empty pipe, EAGAIN means src is empty (or at an
		 * urgent mark: then the copy path reads on when dst can take
		 * it). */
		if (h->inpipe == 0) {
			if (!D->src->urg)
				D->src->rd = 0;
			pipepool_put(R->pipes, h->pipe, 1);
			/* A quiet wake-up: copy small messages again. */
			if (*moved < COPY_LEN)
				h->bulk = 0;
			return (PUMP_STOP);
		}
		/* Else the pipe may be full: drain and retry. */
	} else if (errno != EINTR) {
		return (pump_fail(D->src));
	}
	return (PUMP_ON);
}

/*
 * How the next bytes move: small messages are copied, bulk flows spliced;
 * without a pipe (past the budget) peek-copied, or left in src until dst
 * can take them.
 */
static enum pump_how
pump_choose(struct relay * R, const struct dir * D)
{
	const struct half * h = D->h;

	if (h->inpipe == 0 && D->dst->wr && !h->bulk)
		return (pump_nopipe(R, h) ? PUMP_PEEKCOPY : PUMP_COPY);
	if (!pump_nopipe(R, h))
		return (PUMP_SPLICE);
	if (D->dst->wr)		/* Bulk without a pipe: copy it. */
		return (PUMP_PEEKCOPY);
	return (PUMP_WAIT);
}

/* Move bytes once, as pump_choose says. */
static enum pump_rc
pump_step(struct relay * R, struct dir * D, size_t * moved)
{

	switch (pump_choose(R, D)) {
	case PUMP_COPY:
		return (pump_copy(R, D, 0));
	case PUMP_PEEKCOPY:
		return (pump_copy(R, D, 1));
	case PUMP_SPLICE:
		return (pump_fill(R, D, moved));
	case PUMP_WAIT:
		break;
	}
	return (PUMP_STOP);
}

/* Move bytes src -> (buffer or pipe) -> dst: PUMP_ON, or PUMP_ERROR. */
static enum pump_rc
pump_dir(struct relay * R, struct dir * D, const struct half * other,
    int * budget)
{
	struct half * h = D->h;
	size_t moved = 0;
	enum pump_rc rc;

	if (D->src->urg)
		h->bulk = 0;
	for (;;) {
		if (pump_drain(R, D, budget) == PUMP_ERROR)
			return (PUMP_ERROR);
		if (h->eof || !D->src->rd || *budget <= 0)
			break;
		/* The pipe holds bytes dst cannot take yet: wait for dst. */
		if (h->inpipe > 0 && !D->dst->wr)
			break;
		(*budget)--;
		if ((rc = pump_step(R, D, &moved)) == PUMP_ERROR)
			return (PUMP_ERROR);
		/* Stopped, unless urgent data can be copied on now. */
		if (rc == PUMP_STOP &&
		    !(D->src->urg && h->inpipe == 0 && D->dst->wr))
			break;
	}
	pump_shut(D, other);
	return (PUMP_ON);
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

/*
 * Progress for the idle timer: the bytes read from both sources plus the
 * bytes delivered to both destinations.  What was read is delivered or in
 * a pipe (bytes + inpipe); counting the delivered bytes once more makes a
 * pipe draining into a slow reader count too (it moves bytes from inpipe
 * to bytes, which leaves their sum alone).
 */
static uint64_t
pump_progress(const struct conn * C)
{

	return (2 * (C->up.bytes + C->down.bytes) + C->up.inpipe +
	    C->down.inpipe);
}

/* Did a socket call fail because the peer reset the connection? */
static int
pump_is_reset(int err)
{

	/* EPIPE: a reset that came after the peer's FIN (CLOSE_WAIT). */
	return (err == ECONNRESET || err == EPIPE);
}

/*
 * Close ${C} after an error: a reset from one side is passed on to the
 * other as a reset (SO_LINGER 0), so that a prober sees what it would see
 * without the relay (DESIGN.md, "What a prober can still tell"); so is
 * any close that loses bytes held for a side (relay_cut).
 */
static void
pump_close(struct relay * R, struct conn * C, const char * reason, int err)
{

	if (pump_is_reset(C->client.err)) {
		C->backend.reset = 1;
		reason = "client reset";
	}
	if (pump_is_reset(C->backend.err)) {
		C->client.reset = 1;
		reason = "backend reset";
	}
	relay_cut(R, C, reason, err);
}

/*
 * An error (EPOLLERR) on ${S}, whose way is done (${h}: its bytes all
 * delivered, its FIN passed on), so no read will see it: take it now and
 * close ${C}, passing a reset on.  1 if ${C} was closed.
 */
static int
pump_late_error(struct relay * R, struct conn * C, struct side * S,
    const struct half * h, const char * reason)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (!S->errev || !h->shut)
		return (0);
	S->errev = 0;
	if (getsockopt(S->fd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	if (err == 0)
		return (0);
	S->err = err;
	pump_close(R, C, reason, err);
	return (1);
}

/* Relay both ways; close when both are done or on an error. */
void
relay_pump(struct relay * R, struct conn * C)
{
	struct dir up = { &C->client, &C->backend, &C->up };
	struct dir down = { &C->backend, &C->client, &C->down };
	uint64_t before = pump_progress(C);
	int budget = PUMP_BUDGET;
	int err;

	/*
	 * An error one way still lets the other way deliver what it already
	 * has (a backend's error reply that came with its reset, say), with a
	 * budget of its own: the failing way may have used this one up.
	 */
	if (pump_dir(R, &up, &C->down, &budget) == PUMP_ERROR) {
		err = errno;
		budget = PUMP_BUDGET;
		(void)pump_dir(R, &down, &C->up, &budget);
		pump_close(R, C, "client to backend", err);
		return;
	}
	if (pump_dir(R, &down, &C->up, &budget) == PUMP_ERROR) {
		pump_close(R, C, "backend to client", errno);
		return;
	}
	if (C->up.shut && C->down.shut) {
		relay_close(R, C, "done", 0);
		return;
	}
	/* A reset after a FIN passed on: a client that sends meets it. */
	if (pump_late_error(R, C, &C->backend, &C->down, "backend to client") ||
	    pump_late_error(R, C, &C->client, &C->up, "client to backend"))
		return;
	/*
	 * The backend ended (its FIN passed on): the client gets the shorter
	 * fin timeout.  A client that half-closed first waits for an answer,
	 * under the idle timeout.
	 */
	if (C->state == CONN_RELAY && C->down.shut)
		relay_enter(R, C, CONN_HALFCLOSED);
	else if (pump_progress(C) != before)
		relay_touch(R, C);
	if (budget <= 0)
		pump_later(R, C);
}
