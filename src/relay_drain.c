/*
 * Draining, after a reload (SIGUSR1 from the supervisor): stop accepting
 * and let the connections already here run to their end, or until
 * --drain-timeout; then the worker exits 0.
 */
#include <sys/epoll.h>

#include "log.h"
#include "relay.h"
#include "relay_internal.h"

/* With no --drain-timeout, a line saying what is left this often (ms). */
#define DRAIN_NOTE_MS	(3600ULL * 1000)

/*
 * Stop accepting: every listener out of the epoll set.  The descriptors
 * stay open until the exit: the seccomp filter names their numbers
 * (connect, shutdown and getsockname are refused on a listener), so a
 * backend socket given a freed listener's number would be killed.  The
 * socket itself serves on in the new worker, which shares it.
 */
void
relay_drain_start(struct relay * R)
{
	size_t i;

	if (R->draining)
		return;
	for (i = 0; i < R->conf->nlisten; i++)
		if (epoll_ctl(R->conf->epoll_fd, EPOLL_CTL_DEL,
		    R->conf->listen_fds[i], NULL))
			log_errno(LOG_WARN, "epoll_ctl (drain)");
	R->draining = 1;
	R->accept_resume = 0;
	R->drain_end = (R->conf->drain_ms != 0) ? R->now + R->conf->drain_ms :
	    0;
	R->drain_note = R->now + DRAIN_NOTE_MS;
	if (R->conf->drain_ms != 0)
		log_info("draining: no longer accepting; %zu connections left, "
		    "cut after %llu ms", R->nconns,
		    (unsigned long long)R->conf->drain_ms);
	else
		log_info("draining: no longer accepting; %zu connections left",
		    R->nconns);
}

/*
 * The drain timeout: cut every connection left, so that each side that
 * loses bytes gets a reset rather than the FIN an exit would send.
 */
static void
relay_drain_cut(struct relay * R)
{
	size_t i;

	for (i = 0; i < R->conf->max_conns; i++)
		if (R->conns[i].state != CONN_FREE)
			relay_cut(R, &R->conns[i], "drain timeout", 0);
}

/* Is a draining relay done (no connection left, or its time is up)? */
int
relay_drain_done(struct relay * R)
{

	if (!R->draining)
		return (0);
	if (R->nconns == 0) {
		log_info("drained: exiting");
		return (1);
	}
	if (R->drain_end != 0 && R->now >= R->drain_end) {
		log_info("drain timeout: cutting %zu connections, exiting",
		    R->nconns);
		relay_drain_cut(R);
		return (1);
	}
	if (R->drain_end == 0 && R->now >= R->drain_note) {
		log_info("draining: %zu connections left", R->nconns);
		R->drain_note = R->now + DRAIN_NOTE_MS;
	}
	return (0);
}

/* Cap the epoll wait ${wait} (ms, -1: none) by the drain's deadlines. */
int
relay_drain_wait(const struct relay * R, int wait)
{
	uint64_t at, left;

	if (!R->draining)
		return (wait);
	at = (R->drain_end != 0) ? R->drain_end : R->drain_note;
	left = (at > R->now) ? at - R->now : 0;
	if (left > (uint64_t)INT32_MAX)
		left = INT32_MAX;
	return ((wait < 0 || (uint64_t)wait > left) ? (int)left : wait);
}
