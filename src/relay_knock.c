#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "knock.h"
#include "log.h"
#include "relay_internal.h"

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
	const struct relay_backend * backend;
	uint8_t buf[KNOCK_MAX];
	ssize_t n;
	size_t len;
	int verdict;

	if ((n = recv(C->client.fd, buf, k->len, MSG_PEEK)) == -1) {
		if (errno != EAGAIN && errno != EINTR) {
			relay_close(R, C, "client error", errno);
			return;
		}
		n = 0;
	}
	len = (size_t)n;

	/* A client that half-closed has sent all it will send. */
	verdict = knock_decide(k, buf, len, final || C->client.hup);
	explicit_bzero(buf, sizeof(buf));
	if (verdict == KNOCK_WAIT)
		return;

	backend = (verdict == KNOCK_HIDDEN) ? &R->hidden : &R->normal;
	log_info("conn %llu routed to %s (%s)", (unsigned long long)C->id,
	    backend->name, relay_knock_why(verdict, len, k->len, final));
	if (verdict == KNOCK_HIDDEN &&
	    relay_knock_consume(C->client.fd, k->len)) {
		relay_close(R, C, "cannot consume the knock", errno);
		return;
	}
	(void)relay_connect_start(R, C, backend);
}
