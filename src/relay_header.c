#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "net.h"
#include "proxyparse.h"
#include "relay_internal.h"
#include "srclimit.h"

/*
 * Refuse ${C}, whose balancer sent no valid PROXY header (${why}): log it
 * with the balancer's address, reset, close.  Return 1.
 */
static int
relay_header_refuse(struct relay * R, struct conn * C, const char * why)
{
	char str[NET_ADDRSTR_MAX];

	log_info("conn %u.%llu refused from %s: %s", RELAY_WORKER(),
	    (unsigned long long)C->id, net_format(
	    (const struct sockaddr *)&C->peer, str, sizeof(str)), why);
	C->client.reset = 1;
	relay_close(R, C, why, 0);
	return (1);
}

/*
 * Count ${C} against its (real) source's limit as at accept (the source's
 * oldest connection in KNOCK makes room) and put it on the source's list
 * of connections in KNOCK, which it was not on while its source was not
 * known: 0, or -1 after closing it (the refusal logged as at accept, now
 * and then, naming the client).
 */
static int
relay_header_source(struct relay * R, struct conn * C)
{
	char str[NET_ADDRSTR_MAX];
	int rc;

	srclimit_key((const struct sockaddr *)&C->peer, &C->src);
	if ((rc = relay_source_take(R, &C->src)) == SRCLIMIT_OK) {
		relay_source_link(R, C);
		return (0);
	}
	/* Not counted: relay_close must not give back what was not taken. */
	C->src.kind = SRCLIMIT_NONE;
	if (rc == SRCLIMIT_REFUSED_LOG && log_enabled(LOG_INFO))
		log_info("conn %u.%llu refused from %s: per-source limit",
		    RELAY_WORKER(), (unsigned long long)C->id, net_format(
		    (const struct sockaddr *)&C->peer, str, sizeof(str)));
	relay_close(R, C, "per-source limit", 0);
	return (-1);
}

/* Log (debug) what the header of ${C} said, from the balancer ${bal}. */
static void
relay_header_log(const struct conn * C, const struct sockaddr_storage * bal,
    const struct proxyparse_hdr * h)
{
	char b[NET_ADDRSTR_MAX], s[NET_ADDRSTR_MAX], d[NET_ADDRSTR_MAX];

	if (!log_enabled(LOG_DEBUG))
		return;
	net_format((const struct sockaddr *)bal, b, sizeof(b));
	if (h->kind == PROXYPARSE_LOCAL)
		log_debug("conn %u.%llu PROXY v%d LOCAL header from %s: the "
		    "balancer's own connection", RELAY_WORKER(),
		    (unsigned long long)C->id, h->version, b);
	else
		log_debug("conn %u.%llu PROXY v%d header from %s: client %s "
		    "to %s", RELAY_WORKER(), (unsigned long long)C->id,
		    h->version, b, net_format((const struct sockaddr *)&h->src,
		    s, sizeof(s)), net_format((const struct sockaddr *)&h->dst,
		    d, sizeof(d)));
}

/* Take the whole header ${h} off the socket and make its client ${C}'s. */
static int
relay_header_take(struct relay * R, struct conn * C,
    const struct proxyparse_hdr * h)
{
	uint8_t buf[PROXYPARSE_MAX];
	struct sockaddr_storage bal = C->peer;
	ssize_t n;

	if ((n = recv(C->client.fd, buf, h->len, 0)) != (ssize_t)h->len) {
		relay_close(R, C, "cannot consume the PROXY header",
		    n == -1 ? errno : 0);
		return (1);
	}
	if (h->kind == PROXYPARSE_TCP) {
		C->peer = h->src;
		/* AF_INET or AF_INET6: it fits (relay_internal.h). */
		memcpy(&C->dst, &h->dst, sizeof(C->dst));
		C->dst_set = 1;
	}
	relay_header_log(C, &bal, h);
	if (relay_header_source(R, C))
		return (1);
	C->proxy_wait = 0;
	relay_touch(R, C);
	return (0);
}

/* Peek at the PROXY header; take it once whole, refuse it if bad or late. */
int
relay_header(struct relay * R, struct conn * C, int final)
{
	struct proxyparse_hdr h;
	uint8_t buf[PROXYPARSE_MAX];
	ssize_t n;

	if ((n = recv(C->client.fd, buf, sizeof(buf), MSG_PEEK)) == -1) {
		if (errno != EAGAIN && errno != EINTR) {
			relay_close(R, C, "client error", errno);
			return (1);
		}
		n = 0;
	}
	switch (proxyparse_parse(buf, (size_t)n, &h)) {
	case PROXYPARSE_NEED_MORE:
		if (final)
			return (relay_header_refuse(R, C, "no whole PROXY "
			    "header within the knock timeout"));
		if (C->client.hup)
			return (relay_header_refuse(R, C, "EOF before a whole "
			    "PROXY header"));
		return (1);
	case PROXYPARSE_OK:
		break;
	default:
		return (relay_header_refuse(R, C, "invalid PROXY header"));
	}
	/* v1 UNKNOWN, v2 UDP, AF_UNIX, UNSPEC: no client to name (DESIGN.md). */
	if (h.kind == PROXYPARSE_OTHER)
		return (relay_header_refuse(R, C, "PROXY header of a family "
		    "other than TCP over IPv4 or IPv6"));
	return (relay_header_take(R, C, &h));
}
