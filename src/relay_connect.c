#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "proxyhdr.h"
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

/*
 * Log the route of ${C}, its client and the local end of the backend
 * socket ${fd} (getsockname: what the backend sees as the peer), so a
 * backend's "from 127.0.0.1 port N" can be matched to the client.
 */
static void
relay_connect_log(const struct conn * C, int fd)
{
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	char peer[NET_ADDRSTR_MAX], via[NET_ADDRSTR_MAX];

	if (!log_enabled(LOG_INFO))
		return;
	if (getsockname(fd, (struct sockaddr *)&local, &len))
		memset(&local, 0, sizeof(local));
	log_info("conn %u.%llu routed to %s (%s) from %s via %s",
	    RELAY_WORKER(), (unsigned long long)C->id, C->route->name, C->why,
	    net_format((const struct sockaddr *)&C->peer, peer, sizeof(peer)),
	    net_format((const struct sockaddr *)&local, via, sizeof(via)));
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

/* Close ${fd} keeping errno. */
static void
relay_connect_drop(int fd)
{
	int err = errno;

	close(fd);
	errno = err;
}

/*
 * Open a backend socket for ${a} and start its connect: return the socket
 * with ${*err} 0, or the socket with ${*err} the connect's error (kept open
 * for the log), or -1 with errno set if no socket could be made or bound.
 * With --backend-ports, a port in use (bind: EADDRINUSE) or whose 4-tuple
 * is taken (connect: EADDRNOTAVAIL) makes the next one be tried, on a new
 * socket, BIND_TRIES times at most.
 */
static int
relay_connect_socket(struct relay * R, const struct net_addr * a, int * err)
{
	int fd, i;

	for (i = 0; i < BIND_TRIES; i++) {
		if ((fd = socket(a->ss.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP)) ==
		    -1)
			return (-1);
		relay_connect_opts(fd);
		if (R->conf->bind_lo != 0 &&
		    relay_connect_bind(R, fd, a->ss.ss_family)) {
			relay_connect_drop(fd);
			if (errno == EADDRINUSE && i + 1 < BIND_TRIES)
				continue;
			return (-1);
		}
		*err = 0;
		if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0 ||
		    errno == EINPROGRESS)
			return (fd);
		*err = errno;
		if (R->conf->bind_lo == 0 || *err != EADDRNOTAVAIL ||
		    i + 1 == BIND_TRIES)
			return (fd);
		close(fd);
	}
	errno = EADDRINUSE;
	return (-1);
}

/* Start a non-blocking connect of ${C} to ${backend}; enter CONNECT. */
int
relay_connect_start(struct relay * R, struct conn * C,
    const struct relay_backend * backend)
{
	const struct net_addr * a = backend->addr;
	int fd, err;

	C->route = backend;
	if ((fd = relay_connect_socket(R, a, &err)) == -1) {
		relay_close(R, C, "cannot create a backend socket", errno);
		goto err0;
	}
	/* relay_close() owns the socket now. */
	C->backend.fd = fd;
	if (err != 0) {
		relay_connect_log(C, fd);	/* The route, even so. */
		/* Refused directly: the client sees it as a reset (below). */
		C->client.reset = 1;
		relay_close(R, C, backend->failed, err);
		goto err0;
	}
	relay_connect_log(C, fd);
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

/* Is ${a} a wildcard address (0.0.0.0 or ::), or of no known family? */
static int
relay_connect_wildcard(const struct sockaddr_storage * a)
{

	if (a->ss_family == AF_INET)
		return (((const struct sockaddr_in *)(const void *)a)->
		    sin_addr.s_addr == htonl(INADDR_ANY));
	if (a->ss_family == AF_INET6)
		return (IN6_IS_ADDR_UNSPECIFIED(
		    &((const struct sockaddr_in6 *)(const void *)a)->sin6_addr));
	return (1);
}

/*
 * Store in ${dst} the address ${C}'s client connected to: its listener's
 * bound address, or for a wildcard (or unknown) listener address the client
 * socket's own (getsockname).  0, or -1 (errno set).
 */
static int
relay_connect_dst(const struct relay * R, const struct conn * C,
    struct sockaddr_storage * dst)
{
	const struct net_addr * l = (R->conf->listen_addrs != NULL) ?
	    &R->conf->listen_addrs[C->listener] : NULL;
	socklen_t len = sizeof(*dst);

	if (l != NULL && !relay_connect_wildcard(&l->ss)) {
		*dst = l->ss;
		return (0);
	}
	return (getsockname(C->client.fd, (struct sockaddr *)dst, &len));
}

/*
 * Send the PROXY header of ${C}'s route, if it has one, to the backend
 * before any relayed byte: whole, in one send.  0, or -1 after closing ${C}.
 */
static int
relay_connect_proxy(struct relay * R, struct conn * C)
{
	struct sockaddr_storage dst;
	uint8_t buf[PROXYHDR_MAX];
	ssize_t len, n;
	int err;

	if (C->route->proxy == PROXYHDR_OFF)
		return (0);
	/* A balancer's header said where the client connected. */
	if (C->dst_set) {
		memset(&dst, 0, sizeof(dst));
		memcpy(&dst, &C->dst, sizeof(C->dst));
	} else if (relay_connect_dst(R, C, &dst)) {
		relay_close(R, C, "cannot read the client's local address for "
		    "the PROXY header", errno);
		return (-1);
	}
	if ((len = proxyhdr_build(C->route->proxy, &C->peer, &dst, buf,
	    sizeof(buf))) == -1) {
		relay_close(R, C, "cannot build the PROXY header", 0);
		return (-1);
	}
	/*
	 * A fresh connection's window takes far more than the 104 bytes at
	 * most; a short send would cut the header, so close rather than let
	 * the backend read a corrupt stream.
	 */
	if ((n = send(C->backend.fd, buf, (size_t)len, 0)) == len) {
		C->hdrlen = (uint32_t)len;
		return (0);
	}
	err = (n == -1) ? errno : 0;
	if (err == ECONNRESET || err == EPIPE)
		C->client.reset = 1;
	relay_close(R, C, n == -1 ? "cannot send the PROXY header" :
	    "the backend took only part of the PROXY header", err);
	return (-1);
}

/* The backend connect finished (or failed): send a PROXY header; RELAY. */
void
relay_connected(struct relay * R, struct conn * C, int failed)
{
	socklen_t len = sizeof(int);
	int err = 0;

	/* Writable without an error: connected, no need to ask. */
	if (failed && getsockopt(C->backend.fd, SOL_SOCKET, SO_ERROR, &err,
	    &len))
		err = errno;
	/*
	 * A refused connect (a reset) reaches the client as a reset, as it
	 * would without the relay; so does any other connect failure, since
	 * close() resets a client whose bytes were not read anyway (DESIGN.md,
	 * "What a prober can still tell").
	 */
	if (err != 0) {
		C->client.reset = 1;
		relay_close(R, C, C->route->failed, err);
		return;
	}
	log_debug("conn %u.%llu connected to the %s backend",
	    RELAY_WORKER(), (unsigned long long)C->id, C->route->name);
	if (relay_connect_proxy(R, C))
		return;

	/* Bytes may wait on the client side since the knock was peeked. */
	relay_enter(R, C, CONN_RELAY);
	C->client.rd = 1;
	relay_pump(R, C);
}
