#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "knock.h"
#include "knockset.h"
#include "log.h"
#include "relay_internal.h"
#include "replay.h"

/* Why a NORMAL verdict was given, for the log. */
static const char *
relay_knock_why(int why, int final)
{

	switch (why) {
	case KNOCKSET_EXPIRED:
		return ("expired token");
	case KNOCKSET_EARLY:
		return ("stale token (minted before the relay started)");
	case KNOCKSET_MISMATCH:
		return ("mismatch");
	case KNOCKSET_NOTB64:
		return ("not base64url");
	default:
		return (final ? "timeout" : "EOF");
	}
}

/* Consume exactly the ${len} bytes of the knock from the client socket. */
static int
relay_knock_consume(int fd, size_t len)
{
	uint8_t buf[KNOCK_MAX];
	ssize_t n;

	n = recv(fd, buf, len, 0);
	explicit_bzero(buf, sizeof(buf));
	return ((n == (ssize_t)len) ? 0 : -1);
}

/*
 * A valid token: accept it if the replay cache takes it (a replay or a
 * full cache send the connection, token and all, to the normal route).
 * Return the backend, or NULL if ${C} waits for the replay store.
 */
static const struct relay_backend *
relay_knock_token(struct relay * R, struct conn * C,
    const struct knockset_verdict * v)
{

	switch (replay_insert(R->conf->replay, v->tag, v->expiry_s,
	    R->now_s)) {
	case REPLAY_OK:
		/* With --replay-store, claimed there too: NULL (waiting). */
		C->why = "token";
		return (relay_store_claim(R, C, v->tag, v->expiry_s,
		    &R->hidden[v->route], v->consume));
	case REPLAY_REPLAYED:
		C->why = "replayed token";
		return (&R->normal);
	default:
		/* Rate-limited: a flood of tokens must not flood the log. */
		log_rate(&R->log_cache, R->now, LOG_ERR, "the replay cache is "
		    "full: tokens are refused until entries expire (raise "
		    "--replay-cache)");
		C->why = "cache full";
		return (&R->normal);
	}
}

/* Peek at the first bytes; route the connection once a decision is due. */
void
relay_knock(struct relay * R, struct conn * C, int final)
{
	const struct knockset * S = R->conf->knocks;
	const struct relay_backend * backend;
	struct knockset_verdict v;
	uint8_t buf[KNOCK_MAX];
	ssize_t n;

	/* A balancer's PROXY header comes first; then the knock, at once. */
	if (C->proxy_wait) {
		if (relay_header(R, C, final))
			return;
		final = 0;
	}
	if ((n = recv(C->client.fd, buf, knockset_maxlen(S), MSG_PEEK)) ==
	    -1) {
		if (errno != EAGAIN && errno != EINTR) {
			relay_close(R, C, "client error", errno);
			return;
		}
		n = 0;
	}

	/* A client that half-closed has sent all it will send. */
	knockset_decide(S, buf, (size_t)n, final || C->client.hup, R->now_s,
	    &v);
	explicit_bzero(buf, sizeof(buf));
	if (v.verdict == KNOCK_WAIT)
		return;

	if (v.verdict != KNOCK_HIDDEN) {
		C->why = relay_knock_why(v.why, final);
		backend = &R->normal;
	} else if (v.why == KNOCKSET_TOKEN) {
		backend = relay_knock_token(R, C, &v);
	} else {
		C->why = "knock";
		backend = &R->hidden[v.route];
	}
	explicit_bzero(&v.tag, sizeof(v.tag));
	if (backend != NULL)
		relay_knock_route(R, C, backend, v.consume);
}

/* Consume the knock unless the route is normal; connect. */
void
relay_knock_route(struct relay * R, struct conn * C,
    const struct relay_backend * backend, size_t consume)
{

	/* A refused token is an unknocked connection: every byte goes on. */
	if (backend != &R->normal &&
	    relay_knock_consume(C->client.fd, consume)) {
		relay_close(R, C, "cannot consume the knock", errno);
		return;
	}
	(void)relay_connect_start(R, C, backend);
}
