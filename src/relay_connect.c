#include <errno.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

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

/* Start a non-blocking connect of ${C} to ${backend}; enter CONNECT. */
int
relay_connect_start(struct relay * R, struct conn * C,
    const struct relay_backend * backend)
{
	const struct net_addr * a = backend->addr;
	int fd, err;

	C->route = backend;
	if ((fd = socket(a->ss.ss_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP)) == -1) {
		relay_close(R, C, "cannot create a backend socket", errno);
		goto err0;
	}
	/* relay_close() owns the socket now. */
	C->backend.fd = fd;
	relay_connect_opts(fd);
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) &&
	    errno != EINPROGRESS) {
		err = errno;
		relay_connect_log(C, fd);	/* The route, even so. */
		relay_close(R, C, "backend connect failed", err);
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
	log_debug("conn %u.%llu connected to the %s backend",
	    RELAY_WORKER(), (unsigned long long)C->id, C->route->name);

	/* Bytes may wait on the client side since the knock was peeked. */
	relay_enter(R, C, CONN_RELAY);
	C->client.rd = 1;
	relay_pump(R, C);
}
