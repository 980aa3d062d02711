/*
 * The test harness's client driver: non-blocking clients that send a knock,
 * a request and a byte stream, read everything that comes back, and count
 * and hash both ways.  Free of Criterion: bench/knockload.c drives its
 * connections with it too (h_client_start, which asserts, is in harness.c).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

/* Is something left to send? */
static int
h_cl_more(const struct h_client * C)
{

	return (C->outoff < C->outlen || C->streamed < C->conf.len);
}

/* Refill ${C}->out with the next stream block once it is all sent. */
static void
h_cl_refill(struct h_client * C)
{
	uint64_t left = C->conf.len - C->streamed;

	if (C->outoff < C->outlen || left == 0)
		return;
	h_stream_block(C->out, C->conf.seed, C->blk++);
	C->outlen = (left < H_BLK) ? (size_t)left : H_BLK;
	C->outoff = 0;
	C->streamed += C->outlen;
}

/* How much to offer send() now: a random segment if asked, at most ${max}. */
static size_t
h_cl_segment(struct h_client * C, size_t max)
{
	size_t n = C->outlen - C->outoff;

	if (C->conf.seg != 0) {
		C->rnd = C->rnd * 6364136223846793005ULL +
		    1442695040888963407ULL;
		if (n > 1 + (size_t)(C->rnd >> 33) % C->conf.seg)
			n = 1 + (size_t)(C->rnd >> 33) % C->conf.seg;
	}
	return (n < max ? n : max);
}

/* Count ${n} bytes just sent from ${C}->out + ${C}->outoff. */
static void
h_cl_sent(struct h_client * C, size_t n)
{
	const uint8_t * p = C->out + C->outoff;
	size_t k = (C->knockleft < n) ? C->knockleft : n;

	C->knockleft -= k;
	C->hsent = h_hash(C->hsent, p + k, n - k);
	C->sent += n - k;
	C->outoff += n;
}

/* Send up to ${max} bytes after the knock; -1 on an error (noted). */
static int
h_cl_send(struct h_client * C, uint64_t max)
{
	uint64_t lim = (max > H_ENDLESS - C->knockleft) ? H_ENDLESS :
	    C->knockleft + max;
	ssize_t n;

	h_cl_refill(C);
	if (C->outoff == C->outlen || lim == 0)
		return (0);
	n = send(C->fd, C->out + C->outoff,
	    h_cl_segment(C, lim > SIZE_MAX ? SIZE_MAX : (size_t)lim),
	    MSG_NOSIGNAL);
	if (n > 0)
		h_cl_sent(C, (size_t)n);
	else if (n == -1 && errno != EAGAIN && errno != EINTR) {
		C->closed = 1;
		C->err = errno;
		return (-1);
	}
	return (0);
}

/* Read what is there. */
static void
h_cl_recv(struct h_client * C)
{
	static __thread uint8_t in[H_BLK];
	size_t k;
	ssize_t n;

	n = recv(C->fd, in, sizeof(in), 0);
	if (n > 0) {
		if (C->headlen < sizeof(C->head)) {
			k = sizeof(C->head) - C->headlen;
			if (k > (size_t)n)
				k = (size_t)n;
			memcpy(C->head + C->headlen, in, k);
			C->headlen += k;
		}
		C->hgot = h_hash(C->hgot, in, (size_t)n);
		C->got += (uint64_t)n;
		C->last = h_now_ms();
	} else if (n == 0) {
		C->closed = 1;
	} else if (errno != EAGAIN && errno != EINTR) {
		C->closed = 1;
		C->err = errno;
	}
}

/* A non-blocking connect ended: 0 if it succeeded, else -1 (noted). */
static int
h_cl_connected(struct h_client * C)
{
	int err = 0;
	socklen_t len = sizeof(err);

	C->connecting = 0;
	if (getsockopt(C->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
	    err == 0)
		return (0);
	C->closed = 1;
	C->err = err != 0 ? err : errno;
	return (-1);
}

void
h_client_step(struct h_client * C, short revents)
{

	if (C->closed)
		return;
	if (C->connecting) {
		if (!(revents & (POLLOUT | POLLERR | POLLHUP)) ||
		    h_cl_connected(C))
			return;
		revents |= POLLOUT;
	}
	if ((revents & POLLOUT) && h_cl_send(C, H_ENDLESS))
		return;
	if (C->conf.fin && !C->shut && !h_cl_more(C)) {
		shutdown(C->fd, SHUT_WR);
		C->shut = 1;
	}
	if (revents & (POLLIN | POLLHUP | POLLERR))
		h_cl_recv(C);
}

short
h_client_events(const struct h_client * C)
{

	if (C->closed)
		return (0);
	if (C->connecting || h_cl_more(C) || (C->conf.fin && !C->shut))
		return (POLLIN | POLLOUT);
	return (POLLIN);
}

/* Copy what ${C} sends first (knock, request) into a new ${C}->out. */
static int
h_cl_prepare(struct h_client * C)
{
	const struct h_client_conf * conf = &C->conf;
	size_t klen = conf->knock == NULL ? 0 : conf->knocklen != 0 ?
	    conf->knocklen : strlen(conf->knock);
	size_t rlen = conf->request != NULL ? strlen(conf->request) : 0;

	if (klen + rlen > H_BLK) {
		errno = EMSGSIZE;
		return (-1);
	}
	/* A stream needs a block; a knock and a request only themselves. */
	if ((C->out = malloc(conf->len > 0 ? H_BLK : klen + rlen + 1)) ==
	    NULL)
		return (-1);
	if (klen > 0)
		memcpy(C->out, conf->knock, klen);
	if (rlen > 0)
		memcpy(C->out + klen, conf->request, rlen);
	C->outlen = klen + rlen;
	C->knockleft = klen;
	return (0);
}

int
h_client_open(struct h_client * C, const struct h_client_conf * conf)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int one = 1;

	memset(C, 0, sizeof(*C));
	C->fd = -1;
	C->conf = *conf;
	C->rnd = conf->seed;
	C->hsent = C->hgot = H_HASH_INIT;
	if (h_cl_prepare(C))
		goto err0;
	if (conf->addr != NULL && conf->addrlen <= sizeof(ss)) {
		memcpy(&ss, conf->addr, conf->addrlen);
		sslen = conf->addrlen;
	} else
		sslen = h_loopback(&ss, conf->family, conf->port);
	if ((C->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		goto err1;
	(void)setsockopt(C->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(C->fd, (struct sockaddr *)&ss, sslen) &&
	    errno != EINPROGRESS)
		goto err2;
	C->connecting = 1;
	C->last = h_now_ms();

	/* Success! */
	return (0);

err2:
	one = errno;
	close(C->fd);
	C->fd = -1;
	errno = one;
err1:
	free(C->out);
	C->out = NULL;
err0:
	/* Failure! */
	return (-1);
}

/* Fill ${pfd} for the clients still busy; return how many are. */
static int
h_cl_poll_set(struct h_client * C, int n, uint64_t until, struct pollfd * pfd)
{
	int i, busy, left = 0;

	for (i = 0; i < n; i++) {
		busy = !C[i].closed && (until == 0 || C[i].got < until);
		pfd[i].fd = busy ? C[i].fd : -1;
		pfd[i].events = h_client_events(&C[i]);
		pfd[i].revents = 0;
		left += busy;
	}
	return (left);
}

int
h_clients_run(struct h_client * C, int n, uint64_t until, int ms)
{
	uint64_t end = h_now_ms() + (uint64_t)ms;
	struct pollfd pfd[H_CLIENTS_MAX];
	int i, left;

	if (n > H_CLIENTS_MAX)
		return (-1);
	for (;;) {
		left = h_cl_poll_set(C, n, until, pfd);
		if (left == 0 || h_now_ms() >= end)
			break;
		if (poll(pfd, (nfds_t)n, 50) < 0 && errno != EINTR)
			break;
		for (i = 0; i < n; i++)
			if (pfd[i].revents)
				h_client_step(&C[i], pfd[i].revents);
	}
	return (n - left);
}

uint64_t
h_client_push(struct h_client * C, uint64_t limit, int idle, int ms)
{
	struct pollfd p = { .fd = C->fd, .events = POLLOUT };
	uint64_t end = h_now_ms() + (uint64_t)ms;

	while (!C->closed && (C->knockleft > 0 || C->sent < limit) &&
	    h_cl_more(C) && h_now_ms() < end) {
		p.revents = 0;
		if (poll(&p, 1, idle) <= 0)
			break;		/* No room for ${idle} ms: blocked. */
		if (p.revents & (POLLERR | POLLHUP))
			break;
		if (C->connecting && h_cl_connected(C))
			break;
		if (h_cl_send(C, limit - C->sent))
			break;
	}
	return (C->sent);
}

int
h_client_intact(const struct h_client * C)
{

	return (!h_cl_more(C) && C->closed && C->err == 0 &&
	    C->got == C->sent && C->hgot == C->hsent);
}

void
h_client_close(struct h_client * C, int reset)
{

	if (C->fd != -1) {
		if (reset)
			h_close_reset(C->fd);
		else
			close(C->fd);
	}
	C->fd = -1;
	free(C->out);
	C->out = NULL;
}
