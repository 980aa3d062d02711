#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "knock.h"
#include "log.h"
#include "net.h"
#include "relay_internal.h"

/* Start a non-blocking connect of ${C} to ${a}; return 0 or -1 (closed). */
static int
relay_connect(struct relay * R, struct conn * C, const struct net_addr * a)
{
	struct epoll_event ev;
	int one = 1;
	int fd;

	if ((fd = socket(a->ss.ss_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP)) == -1) {
		relay_close(R, C, "cannot create a backend socket", errno);
		return (-1);
	}
	C->bfd = fd;
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		log_errno(LOG_DEBUG, "TCP_NODELAY on a backend");
	/*
	 * Urgent data stays in the byte stream (relay_splice.c).  Set now:
	 * a read that reaches the urgent mark before EPOLLPRI is handled
	 * would drop the byte for good.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one)))
		log_errno(LOG_DEBUG, "SO_OOBINLINE on a backend");
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) &&
	    errno != EINPROGRESS) {
		relay_close(R, C, "backend connect failed", errno);
		return (-1);
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI | EPOLLET;
	ev.data.u64 = EV_DATA(EV_BACKEND, relay_slot(R, C), C->gen);
	if (epoll_ctl(R->conf->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
		relay_close(R, C, "cannot watch the backend", errno);
		return (-1);
	}
	C->state = CONN_CONNECT;
	timer_start(&R->connect_timers, &C->timer, R->now);
	return (0);
}

/* Why the decision was made, for the log. */
static const char *
relay_knock_why(int verdict, size_t len, size_t klen, int final)
{

	if (verdict == KNOCK_HIDDEN)
		return ("knock");
	if (len >= klen)
		return ("mismatch");
	return (final ? "timeout" : "EOF");
}

/* Consume exactly the knock from the client socket. */
static int
relay_knock_consume(int fd, size_t klen)
{
	uint8_t buf[KNOCK_MAX];
	ssize_t n;

	n = recv(fd, buf, klen, 0);
	explicit_bzero(buf, sizeof(buf));
	return ((n == (ssize_t)klen) ? 0 : -1);
}

/* Peek at the first bytes; route the connection once a decision is due. */
void
relay_knock(struct relay * R, struct conn * C, int final)
{
	const struct knock * k = R->conf->knock;
	uint8_t buf[KNOCK_MAX];
	ssize_t n;
	size_t len;
	int verdict;

	if ((n = recv(C->cfd, buf, k->len, MSG_PEEK)) == -1) {
		if (errno != EAGAIN && errno != EINTR) {
			relay_close(R, C, "client error", errno);
			return;
		}
		n = 0;
	}
	len = (size_t)n;

	/* A client that half-closed has sent all it will send. */
	verdict = knock_decide(k, buf, len, final || C->c_hup);
	explicit_bzero(buf, sizeof(buf));
	if (verdict == KNOCK_WAIT)
		return;

	C->hidden = (verdict == KNOCK_HIDDEN);
	log_info("conn %llu routed to %s (%s)", (unsigned long long)C->id,
	    C->hidden ? "hidden" : "normal",
	    relay_knock_why(verdict, len, k->len, final));
	if (C->hidden && relay_knock_consume(C->cfd, k->len)) {
		relay_close(R, C, "cannot consume the knock", errno);
		return;
	}
	timer_stop(&C->timer);
	(void)relay_connect(R, C, C->hidden ? R->conf->hidden : R->conf->normal);
}

/* The backend connect finished (or failed). */
void
relay_connected(struct relay * R, struct conn * C, int failed)
{
	socklen_t len = sizeof(int);
	int err = 0;

	/* Writable without an error: connected, no need to ask. */
	if (failed && getsockopt(C->bfd, SOL_SOCKET, SO_ERROR, &err, &len))
		err = errno;
	if (err != 0) {
		relay_close(R, C, C->hidden ? "hidden backend connect failed" :
		    "normal backend connect failed", err);
		return;
	}
	log_debug("conn %llu connected to the %s backend",
	    (unsigned long long)C->id, C->hidden ? "hidden" : "normal");

	/* Bytes may wait on the client side since the knock was peeked. */
	C->state = CONN_RELAY;
	C->c_rd = 1;
	timer_start(&R->idle_timers, &C->timer, R->now);
	relay_pump(R, C);
}
