/*
 * What the kernel's queues say about a connection: whether bytes moved in
 * the kernel while the relay itself moved none (a slow reader draining a
 * full send buffer is not idle), and how many bytes a close would lose.
 * One call per socket, getsockopt(TCP_INFO), and only when a timer that
 * would cut the connection has expired: never on the data path.
 *
 * <linux/tcp.h> has the byte counters of struct tcp_info (glibc's
 * <netinet/tcp.h> does not), and the two cannot be included together: this
 * file is the one place that reads them.
 */
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/tcp.h>

#include "relay_internal.h"

/* The byte counters of one socket (all 0 when it has none or on error). */
struct queues_counts {
	uint64_t acked;		/* Bytes the peer acknowledged (+ SYN, FIN). */
	uint64_t received;	/* Bytes that arrived from the peer. */
};

/* Read ${fd}'s counters into ${q}; zeros if ${fd} is -1 or on an error. */
static void
queues_read(int fd, struct queues_counts * q)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	q->acked = q->received = 0;
	if (fd == -1)
		return;
	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
		return;
	q->acked = ti.tcpi_bytes_acked;
	q->received = ti.tcpi_bytes_received;
}

/*
 * The bytes written to a socket that its peer has not acknowledged: what a
 * reset would lose.  ${written} counts every byte the relay wrote, plus 1
 * for the SYN of a socket it connected (the kernel counts the SYN's and the
 * FIN's sequence numbers as acknowledged bytes too); an acknowledged FIN
 * makes ${acked} one more than ${written}, which is 0 left.
 */
static uint64_t
queues_unacked(uint64_t written, const struct queues_counts * q)
{

	return ((written > q->acked) ? written - q->acked : 0);
}

/*
 * The bytes of the backend's that ${C} holds for its client: its send
 * queue to the client, its pipe, and what arrived from the backend but was
 * not read (acknowledged to the backend, so lost as well; a FIN counts one
 * in ${be}'s received count, and one that came but was not read yet makes
 * this one too many).
 */
static uint64_t
queues_for_client(const struct conn * C, const struct queues_counts * cl,
    const struct queues_counts * be)
{
	uint64_t n = C->down.inpipe, taken;

	if (C->client.fd != -1)
		n += queues_unacked(C->down.bytes, cl);
	if (C->backend.fd != -1 && C->state != CONN_KNOCK &&
	    C->state != CONN_STORE && C->state != CONN_CONNECT) {
		taken = C->down.bytes + C->down.inpipe + (C->down.eof ? 1 : 0);
		if (be->received > taken)
			n += be->received - taken;
	}
	return (n);
}

/*
 * The bytes of the client's that ${C} holds for its backend: its pipe and
 * its send queue to the backend.  (What it did not read from the client is
 * not counted: a hidden route consumed the knock, which was never meant
 * for the backend.)
 */
static uint64_t
queues_for_backend(const struct conn * C, const struct queues_counts * q)
{

	/* Before RELAY the backend has had no byte (and its SYN no ACK). */
	if (C->backend.fd == -1 || C->state == CONN_KNOCK ||
	    C->state == CONN_STORE || C->state == CONN_CONNECT)
		return (C->up.inpipe);
	return (C->up.inpipe + queues_unacked(1 + C->hdrlen + C->up.bytes, q));
}

/* Did the kernel move bytes since the last check?  1 or 0. */
int
relay_queues_moved(struct relay * R, struct conn * C)
{
	struct queues_counts cl, be;
	uint64_t mark;

	(void)R;
	queues_read(C->client.fd, &cl);
	queues_read(C->backend.fd, &be);
	/*
	 * Nothing held anywhere: nothing can be moving, and a close loses
	 * nothing.  Idle, however recent the last check.
	 */
	if (queues_for_client(C, &cl, &be) + queues_for_backend(C, &be) == 0)
		return (0);
	/*
	 * The counters only grow, and while the timer ran the relay moved
	 * nothing itself: any change is the kernel's.  The mark is taken at
	 * these checks only (never on the data path), so the first check
	 * after a busy spell may see the relay's own bytes and re-arm once:
	 * bytes held but not moving are cut after one to two timeouts.
	 */
	mark = cl.acked + cl.received + be.acked + be.received;
	if (mark == C->kmark)
		return (0);
	C->kmark = mark;
	return (1);
}

/* Reset each side ${C} would lose bytes for, and count them for the log. */
void
relay_queues_lost(struct relay * R, struct conn * C)
{
	struct queues_counts cl, be;

	(void)R;
	queues_read(C->client.fd, &cl);
	queues_read(C->backend.fd, &be);
	C->lost_client = queues_for_client(C, &cl, &be);
	C->lost_backend = queues_for_backend(C, &be);
	if (C->lost_client > 0)
		C->client.reset = 1;
	if (C->lost_backend > 0)
		C->backend.reset = 1;
}
