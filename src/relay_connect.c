#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "relay_internal.h"

/* Set the options a backend socket needs before it connects. */
static void
relay_connect_opts(int fd)
{
	int one = 1;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		log_errno(LOG_DEBUG, "TCP_NODELAY on a backend");
	/*
	 * Urgent data stays in the byte stream (relay_pump.c).  Set now:
	 * a read that reaches the urgent mark before EPOLLPRI is handled
	 * would drop the byte for good.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one)))
		log_errno(LOG_DEBUG, "SO_OOBINLINE on a backend");
}

/* Backend sockets tried per connection when bound to --backend-ports. */
#define BIND_TRIES	8

/* The next port of --backend-ports, in turn. */
static uint16_t
relay_connect_port(struct relay * R)
{
	uint32_t n = (uint32_t)R->conf->bind_hi - R->conf->bind_lo + 1;
	uint16_t port = (uint16_t)(R->conf->bind_lo + R->next_port % n);

	R->next_port = (R->next_port + 1) % n;
	return (port);
}

/*
 * Bind the backend socket ${fd} of family ${family} to the next port of
 * --backend-ports, with SO_REUSEADDR: a port whose last connection to the
 * backend is in TIME_WAIT is then reused by connect() when TCP timestamps
 * show it safe (the kernel does so only for explicitly bound sockets, or
 * with the tcp_tw_reuse sysctl).  Return 0, or -1 with errno set.
 */
static int
relay_connect_bind(struct relay * R, int fd, int family)
{
	struct sockaddr_storage ss;
	struct sockaddr_in * sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 * sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int one = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		return (-1);
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(relay_connect_port(R));
		len = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(relay_connect_port(R));
		len = sizeof(*sin6);
	}
	return (bind(fd, (struct sockaddr *)&ss, len));
}

/*
 * Open a backend socket for ${a} and start its connect: return the socket,
 * or -1 with errno set.  With --backend-ports, a port in use (bind) or
 * whose 4-tuple is taken (connect: EADDRNOTAVAIL) makes the next one be
 * tried, BIND_TRIES times at most.
 */
static int
relay_connect_socket(struct relay * R, const struct net_addr * a)
{
	int fd, i, err;

	for (i = 0; i < BIND_TRIES; i++) {
		if ((fd = socket(a->ss.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP)) ==
		    -1)
			return (-1);
		relay_connect_opts(fd);
		if (R->conf->bind_lo != 0 &&
		    relay_connect_bind(R, fd, a->ss.ss_family)) {
			err = errno;
			close(fd);
			errno = err;
			if (err == EADDRINUSE)
				continue;
			return (-1);
		}
		if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0 ||
		    errno == EINPROGRESS)
			return (fd);
		err = errno;
		close(fd);
		errno = err;
		if (R->conf->bind_lo == 0 || err != EADDRNOTAVAIL)
			return (-1);
	}
	return (-1);
}

/* Start a non-blocking connect of ${C} to ${backend}; enter CONNECT. */
int
relay_connect_start(struct relay * R, struct conn * C,
    const struct relay_backend * backend)
{
	const struct net_addr * a = backend->addr;
	int fd;

	C->route = backend;
	if ((fd = relay_connect_socket(R, a)) == -1) {
		relay_close(R, C, "backend connect failed", errno);
		goto err0;
	}
	/* relay_close() owns the socket now. */
	C->backend.fd = fd;
	if (relay_watch(R->conf->epoll_fd, fd, EV_CONN_EVENTS,
	    EV_DATA(EV_BACKEND, relay_slot(R, C), C->gen))) {
		relay_close(R, C, "cannot watch the backend", errno);
		goto err0;
	}
	relay_enter(R, C, CONN_CONNECT);

	/* Success! */
	return (0);

err0:
	/* Failure! */
	return (-1);
}

/* The backend connect finished (or failed): enter RELAY. */
void
relay_connected(struct relay * R, struct conn * C, int failed)
{
	socklen_t len = sizeof(int);
	int err = 0;

	/* Writable without an error: connected, no need to ask. */
	if (failed && getsockopt(C->backend.fd, SOL_SOCKET, SO_ERROR, &err,
	    &len))
		err = errno;
	if (err != 0) {
		relay_close(R, C, C->route->failed, err);
		return;
	}
	log_debug("conn %llu connected to the %s backend",
	    (unsigned long long)C->id, C->route->name);

	/* Bytes may wait on the client side since the knock was peeked. */
	relay_enter(R, C, CONN_RELAY);
	C->client.rd = 1;
	relay_pump(R, C);
}
