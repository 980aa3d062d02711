/*
 * Draining, after a reload (SIGUSR1 from the supervisor): stop accepting
 * and let the connections already here run to their end; the normal
 * route's are closed after --drain-grace (a web client reconnects, to the
 * new workers; so the public cannot keep an old generation alive), the
 * hidden routes' run on until --drain-timeout; then the worker exits 0.
 */
#include <sys/epoll.h>

#include "log.h"
#include "relay.h"
#include "relay_internal.h"

/* With no --drain-timeout, a line saying what is left this often (ms). */
#define DRAIN_NOTE_MS	(3600ULL * 1000)

/* Past the grace, look again this often while a knock is undecided (ms). */
#define DRAIN_GRACE_AGAIN_MS	250

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
	R->drain_grace = R->now + R->conf->drain_grace_ms;
	if (R->conf->drain_ms != 0)
		log_info("draining: no longer accepting; %zu connections left, "
		    "normal-route ones closed after %llu ms, all cut after "
		    "%llu ms", R->nconns,
		    (unsigned long long)R->conf->drain_grace_ms,
		    (unsigned long long)R->conf->drain_ms);
	else
		log_info("draining: no longer accepting; %zu connections left, "
		    "normal-route ones closed after %llu ms", R->nconns,
		    (unsigned long long)R->conf->drain_grace_ms);
}

/*
 * The grace has passed: close every connection on the normal route, as
 * the drain timeout does (relay_cut: a side that loses bytes gets a
 * reset, so that a cut download cannot pass for a complete one).  One
 * whose knock is still undecided may yet go there: while there is one,
 * look again a little later.
 */
static void
relay_drain_grace(struct relay * R)
{
	size_t i, closed = 0, undecided = 0;
	struct conn * C;

	for (i = 0; i < R->conf->max_conns; i++) {
		C = &R->conns[i];
		if (C->state == CONN_FREE)
			continue;
		if (C->route == NULL)
			undecided++;
		else if (C->route == &R->normal) {
			relay_cut(R, C, "drain grace", 0);
			closed++;
		}
	}
	if (closed > 0)
		log_info("drain grace: closed %zu normal-route connections, "
		    "%zu left", closed, R->nconns);
	R->drain_grace = (undecided > 0) ? R->now + DRAIN_GRACE_AGAIN_MS : 0;
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
	if (R->drain_grace != 0 && R->now >= R->drain_grace)
		relay_drain_grace(R);
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
	if (R->drain_grace != 0 && R->drain_grace < at)
		at = R->drain_grace;
	left = (at > R->now) ? at - R->now : 0;
	if (left > (uint64_t)INT32_MAX)
		left = INT32_MAX;
	return ((wait < 0 || (uint64_t)wait > left) ? (int)left : wait);
}
