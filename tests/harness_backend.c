/*
 * The test harness's backends: a listener on loopback and a thread per
 * connection, behaving as the backend's mode says.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "harness.h"

/* One connection being served. */
struct h_be_conn {
	struct h_backend * B;
	int fd;
};

/* Reads and sends time out this often, so that a stop is noticed. */
static const struct timeval h_be_tick = { .tv_sec = 0, .tv_usec = 100000 };

/* Count a connection served (${done}: all of its mode) and gone. */
static void
h_be_finish(struct h_backend * B, int done)
{

	pthread_mutex_lock(&B->mtx);
	B->done += (unsigned)(done != 0);
	B->active--;
	pthread_mutex_unlock(&B->mtx);
}

/* Store ${r} as the most recent connection's record. */
static void
h_be_record(struct h_backend * B, const struct h_record * r)
{

	pthread_mutex_lock(&B->mtx);
	B->last = *r;
	pthread_mutex_unlock(&B->mtx);
}

/* Send all of ${buf} unless stopped; 0, or -1. */
static int
h_be_send(struct h_backend * B, int fd, const void * buf, size_t len,
    int flags)
{
	const uint8_t * p = buf;
	ssize_t n;

	while (len > 0 && !B->stop) {
		n = send(fd, p, len, MSG_NOSIGNAL | flags);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return (-1);
		p += n;
		len -= (size_t)n;
	}
	return (len == 0 ? 0 : -1);
}

/* Receive into ${buf}: bytes, 0 at EOF, -1 on an error or a stop. */
static ssize_t
h_be_recv(struct h_backend * B, int fd, void * buf, size_t len)
{
	ssize_t n;

	while (!B->stop) {
		n = recv(fd, buf, len, 0);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		return (n);
	}
	return (-1);
}

/* Add ${n} bytes of ${buf} to ${r}. */
static void
h_be_note(struct h_record * r, const uint8_t * buf, size_t n)
{
	size_t c = sizeof(r->head) - r->headlen;

	if (c > n)
		c = n;
	memcpy(r->head + r->headlen, buf, c);
	r->headlen += c;
	r->hash = h_hash(r->hash, buf, n);
	r->len += n;
}

/* What the reading modes send before they read. */
static void
h_be_greet(struct h_backend * B, int fd)
{
	char line[128];

	if (B->conf.mode == H_GREET) {
		snprintf(line, sizeof(line), "GREET %s\n",
		    B->conf.name != NULL ? B->conf.name : "");
		(void)h_be_send(B, fd, line, strlen(line), 0);
	}
	if (B->conf.mode == H_URGENT) {
		(void)h_be_send(B, fd, "GREET", 5, 0);
		usleep(50000);
		(void)h_be_send(B, fd, "U", 1, MSG_OOB);
		usleep(50000);
		(void)h_be_send(B, fd, "ING\n", 4, 0);
	}
	while (B->conf.mode == H_NOREAD && !B->gate && !B->stop)
		usleep(10000);
}

/* ECHO, GREET, URGENT, AT_EOF, NOREAD: read to EOF; 1 if it came. */
static int
h_be_read_to_eof(struct h_backend * B, int fd)
{
	static __thread uint8_t buf[H_BLK];
	struct h_record r;
	char line[128];
	int echo = (B->conf.mode != H_AT_EOF && B->conf.mode != H_NOREAD);
	ssize_t n;

	memset(&r, 0, sizeof(r));
	r.hash = H_HASH_INIT;
	h_be_greet(B, fd);
	while ((n = h_be_recv(B, fd, buf, sizeof(buf))) > 0) {
		h_be_note(&r, buf, (size_t)n);
		if (echo && h_be_send(B, fd, buf, (size_t)n, 0))
			break;
	}
	if (n == 0) {
		r.done = 1;
		if (B->conf.mode == H_AT_EOF) {
			snprintf(line, sizeof(line), "%llu %016llx\n",
			    (unsigned long long)r.len,
			    (unsigned long long)r.hash);
			(void)h_be_send(B, fd, line, strlen(line), 0);
		}
		shutdown(fd, SHUT_WR);
	}
	h_be_record(B, &r);
	return (r.done);
}

/* RESET_AFTER, CLOSE_AFTER: read ${n} bytes, then go; 1 if all came. */
static int
h_be_read_then_go(struct h_backend * B, int fd)
{
	static __thread uint8_t buf[H_BLK];
	uint64_t got = 0;
	size_t ask;
	ssize_t n;

	while (got < B->conf.n) {
		ask = sizeof(buf);
		if (B->conf.n - got < ask)
			ask = (size_t)(B->conf.n - got);
		if ((n = h_be_recv(B, fd, buf, ask)) <= 0)
			break;
		got += (uint64_t)n;
	}
	if (B->conf.mode == H_RESET_AFTER)
		h_close_reset(fd);
	else
		close(fd);
	return (got == B->conf.n);
}

/*
 * SEND: send ${n} bytes of the stream, FIN (not in SEND_OPEN), drain; 1 if
 * all were sent.
 */
static int
h_be_send_stream(struct h_backend * B, int fd)
{
	static __thread uint8_t buf[H_BLK];
	uint64_t off, i;
	size_t n, boff;
	ssize_t r;

	for (off = 0, i = 0; off < B->conf.n && !B->stop; i++, off += n) {
		h_stream_block(buf, B->conf.seed, i);
		n = (B->conf.n - off < H_BLK) ? (size_t)(B->conf.n - off) :
		    H_BLK;
		for (boff = 0; boff < n && !B->stop; boff += (size_t)r) {
			r = send(fd, buf + boff, n - boff, MSG_NOSIGNAL);
			if (r == -1 && (errno == EINTR || errno == EAGAIN)) {
				r = 0;
				continue;
			}
			if (r <= 0)
				return (0);
			pthread_mutex_lock(&B->mtx);
			B->sent += (uint64_t)r;
			pthread_mutex_unlock(&B->mtx);
		}
	}
	if (off < B->conf.n)
		return (0);
	if (B->conf.mode == H_SEND)
		shutdown(fd, SHUT_WR);
	while (h_be_recv(B, fd, buf, sizeof(buf)) > 0)
		;
	return (1);
}

/* Serve one connection as the mode says. */
static void *
h_be_serve(void * cookie)
{
	struct h_be_conn * BC = cookie;
	struct h_backend * B = BC->B;
	int fd = BC->fd, done;

	free(BC);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &h_be_tick, sizeof(h_be_tick));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &h_be_tick, sizeof(h_be_tick));
	switch (B->conf.mode) {
	case H_RESET_AFTER:
	case H_CLOSE_AFTER:
		done = h_be_read_then_go(B, fd);
		fd = -1;	/* Closed there. */
		break;
	case H_SEND:
	case H_SEND_OPEN:
		done = h_be_send_stream(B, fd);
		break;
	default:
		done = h_be_read_to_eof(B, fd);
		break;
	}
	if (fd != -1)
		close(fd);
	h_be_finish(B, done);
	return (NULL);
}

/* Accept until stopped; a thread per connection. */
static void *
h_be_accept(void * cookie)
{
	struct h_backend * B = cookie;
	struct pollfd p = { .fd = B->lfd, .events = POLLIN };
	struct h_be_conn * BC;
	pthread_t t;
	int fd;

	while (!B->stop) {
		if (poll(&p, 1, 50) <= 0)
			continue;
		if ((fd = accept4(B->lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
			continue;
		pthread_mutex_lock(&B->mtx);
		B->conns++;
		B->active++;
		pthread_mutex_unlock(&B->mtx);
		if ((BC = malloc(sizeof(*BC))) == NULL) {
			close(fd);
			h_be_finish(B, 0);
			continue;
		}
		BC->B = B;
		BC->fd = fd;
		if (pthread_create(&t, NULL, h_be_serve, BC)) {
			close(fd);
			free(BC);
			h_be_finish(B, 0);
			continue;
		}
		pthread_detach(t);
	}
	return (NULL);
}

/* Bind ${B}->lfd to loopback of ${family}, any port; listen. */
static void
h_be_listen(struct h_backend * B, int family)
{

	/* Backlog 0: the accept queue holds one connection. */
	B->lfd = h_listen(family, B->conf.mode == H_SILENT ? 0 : 1024,
	    &B->port);
}

void
h_backend_start(struct h_backend * B, const struct h_backend_conf * conf)
{

	memset(B, 0, sizeof(*B));
	B->conf = *conf;
	if (B->conf.family == 0)
		B->conf.family = AF_INET;
	pthread_mutex_init(&B->mtx, NULL);
	h_be_listen(B, B->conf.family);
	if (B->conf.mode != H_SILENT)
		cr_assert(pthread_create(&B->thr, NULL, h_be_accept, B) == 0);
}

void
h_backend_stop(struct h_backend * B)
{
	uint64_t end = h_now_ms() + 2000;
	unsigned active;

	if (B->lfd == -1)
		return;
	B->stop = 1;
	if (B->conf.mode != H_SILENT)
		pthread_join(B->thr, NULL);
	close(B->lfd);
	B->lfd = -1;
	do {
		pthread_mutex_lock(&B->mtx);
		active = B->active;
		pthread_mutex_unlock(&B->mtx);
		if (active == 0)
			break;
		usleep(5000);
	} while (h_now_ms() < end);
}

int
h_backend_wait_done(struct h_backend * B, unsigned n, int ms)
{
	uint64_t end = h_now_ms() + (uint64_t)ms;
	unsigned done;

	do {
		pthread_mutex_lock(&B->mtx);
		done = B->done;
		pthread_mutex_unlock(&B->mtx);
		if (done >= n)
			return (0);
		usleep(5000);
	} while (h_now_ms() < end);
	return (-1);
}

void
h_backend_gate(struct h_backend * B, int open)
{

	B->gate = open;
}

uint64_t
h_backend_sent(struct h_backend * B)
{
	uint64_t v;

	pthread_mutex_lock(&B->mtx);
	v = B->sent;
	pthread_mutex_unlock(&B->mtx);
	return (v);
}
