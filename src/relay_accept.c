#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cidr.h"
#include "log.h"
#include "net.h"
#include "relay_internal.h"

/* After EMFILE/ENFILE, wait this long before accepting again. */
#define ACCEPT_PAUSE_MS	100

/*
 * Take a free slot for the socket ${fd} accepted from ${peer}, counted as
 * source ${src}; enter KNOCK.
 */
static struct conn *
relay_accept_slot(struct relay * R, int fd, const struct sockaddr_storage * peer,
    socklen_t plen, const struct srclimit_key * src)
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
	C->src = *src;
	C->id = R->next_id++;
	C->start = R->now;
	relay_enter(R, C, CONN_KNOCK);
	return (C);
}

/*
 * Refuse the new client ${fd}: a reset, as a full backlog would give, not
 * a FIN that says a service answered and hung up.
 */
static void
relay_accept_refuse(int fd)
{
	struct linger lg = { 1, 0 };

	if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)))
		log_errno(LOG_DEBUG, "SO_LINGER");
	close(fd);
}

/*
 * Count the new client ${fd} from ${peer} against its source's limit.  At
 * the limit, the source's own oldest connection still in the knock phase
 * (silent, or partway through a first message) makes room: it is reset.
 * Connections past the knock phase are never taken; a source that holds
 * only those is refused.  Return 0, or -1 after refusing ${fd} (logged at
 * most once per SRCLIMIT_LOG_MS for the source, in the words that
 * contrib/fail2ban's filter matches).
 */
static int
relay_accept_source(struct relay * R, int fd,
    const struct sockaddr_storage * peer, struct srclimit_key * src)
{
	char str[NET_ADDRSTR_MAX];
	uint64_t id;
	int rc;

	srclimit_key((const struct sockaddr *)peer, src);
	if ((rc = relay_source_take(R, src)) == SRCLIMIT_OK)
		return (0);
	id = R->next_id++;
	if (rc == SRCLIMIT_REFUSED_LOG && log_enabled(LOG_INFO))
		log_info("conn %u.%llu refused from %s: per-source limit",
		    RELAY_WORKER(), (unsigned long long)id, net_format(
		    (const struct sockaddr *)peer, str, sizeof(str)));
	relay_accept_refuse(fd);
	return (-1);
}

/*
 * Make room for a new connection when no slot is free: close the one that
 * has waited longest for its knock.
 */
static void
relay_accept_evict(struct relay * R)
{
	struct timer * t;

	if (R->free_head != SLOT_NONE)
		return;
	if ((t = timer_first(&R->timers[CONN_KNOCK])) == NULL)
		return;
	/* The timer is the first member of struct conn. */
	relay_close(R, (struct conn *)(void *)t,
	    "evicted in the knock phase: slots full", 0);
}

/* Set up a new client of listener ${li}; -1 if the socket had to be closed. */
static int
relay_accept_one(struct relay * R, size_t li, int fd,
    const struct sockaddr_storage * peer, socklen_t plen)
{
	struct srclimit_key src;
	struct conn * C;
	char str[NET_ADDRSTR_MAX];
	int balancer = cidr_match(R->conf->accept_proxy,
	    R->conf->naccept_proxy, (const struct sockaddr *)peer);

	/* A balancer's client is counted once its PROXY header names it. */
	memset(&src, 0, sizeof(src));
	if (!balancer && relay_accept_source(R, fd, peer, &src))
		return (-1);
	relay_accept_evict(R);

	/* TCP_NODELAY and SO_OOBINLINE come from the listener (net.c). */
	C = relay_accept_slot(R, fd, peer, plen, &src);
	C->listener = (uint32_t)li;
	C->proxy_wait = balancer;
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
		/* No slot, and none in KNOCK to evict for a new one. */
		if (R->free_head == SLOT_NONE && R->nknock == 0) {
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
