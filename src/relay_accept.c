#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "relay_internal.h"

/* After EMFILE/ENFILE, wait this long before accepting again. */
#define ACCEPT_PAUSE_MS	100

/* Take a free slot for the socket ${fd} accepted from ${peer}; enter KNOCK. */
static struct conn *
relay_accept_slot(struct relay * R, int fd, const struct sockaddr_storage * peer,
    socklen_t plen)
{
	struct conn * C = &R->conns[R->free_head];
	uint32_t gen = (C->gen + 1) & EV_GEN_MASK;

	/* A slot closed while on the again list stays on it (skipped there). */
	int again = C->again;
	uint32_t again_next = C->again_next;

	R->free_head = C->next;
	R->nconns++;
	memset(C, 0, sizeof(*C));
	C->gen = gen;
	C->again = again;
	C->again_next = again_next;
	C->client.fd = fd;
	if (plen <= sizeof(C->peer))
		memcpy(&C->peer, peer, plen);
	C->backend.fd = -1;
	C->up.pipe[0] = C->up.pipe[1] = -1;
	C->down.pipe[0] = C->down.pipe[1] = -1;
	C->next = SLOT_NONE;
	C->id = R->next_id++;
	C->start = R->now;
	relay_enter(R, C, CONN_KNOCK);
	return (C);
}

/* Set up a new client of listener ${li}; -1 if the socket had to be closed. */
static int
relay_accept_one(struct relay * R, size_t li, int fd,
    const struct sockaddr_storage * peer, socklen_t plen)
{
	struct conn * C;
	char str[NET_ADDRSTR_MAX];

	/* TCP_NODELAY and SO_OOBINLINE come from the listener (net.c). */
	C = relay_accept_slot(R, fd, peer, plen);
	C->listener = (uint32_t)li;
	if (relay_watch(R->conf->epoll_fd, fd, EV_CONN_EVENTS,
	    EV_DATA(EV_CLIENT, relay_slot(R, C), C->gen))) {
		relay_close(R, C, "cannot watch the client", errno);
		return (-1);
	}
	if (log_enabled(LOG_DEBUG))
		log_debug("conn %u.%llu accepted from %s", RELAY_WORKER(),
		    (unsigned long long)C->id, net_format(
		    (const struct sockaddr *)&C->peer, str, sizeof(str)));
	return (0);
}

/* Accept until the backlog is empty or a limit is hit. */
void
relay_accept(struct relay * R, size_t li)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int lfd = R->conf->listen_fds[li];
	int fd;

	/* Paused: the listener is tried again on resume; draining: closed. */
	if (R->accept_resume != 0 || R->draining)
		return;
	for (;;) {
		if (R->free_head == SLOT_NONE) {
			if (!R->accept_full)
				log_rate(&R->log_full, R->now, LOG_WARN,
				    "all %zu connection slots in use: "
				    "not accepting until one frees",
				    R->conf->max_conns);
			R->accept_full = 1;
			return;
		}
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			switch (errno) {
			case EAGAIN:
				return;
			case EMFILE:
			case ENFILE:
			case ENOBUFS:
			case ENOMEM:
				log_rate_errno(&R->log_pause, R->now, LOG_ERR,
				    "accept: pausing for %d ms",
				    ACCEPT_PAUSE_MS);
				R->accept_resume = R->now + ACCEPT_PAUSE_MS;
				return;
			default:
				/* ECONNABORTED, EINTR, EPERM...: next one. */
				log_errno(LOG_DEBUG, "accept");
				continue;
			}
		}
		(void)relay_accept_one(R, li, fd, &ss, len);
	}
}

/* Try every listener again after a pause. */
void
relay_accept_resume(struct relay * R)
{
	size_t i;

	if ((R->accept_resume != 0 && R->accept_resume > R->now) ||
	    R->draining)
		return;
	R->accept_resume = 0;
	for (i = 0; i < R->conf->nlisten; i++)
		relay_accept(R, i);
}
