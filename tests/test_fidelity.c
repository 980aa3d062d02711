/*
 * Probe fidelity: through the relay a client sees what it would
 * see from the backend directly -- the same bytes, then the same end (FIN,
 * reset, or nothing) -- except for the differences DESIGN.md lists under
 * "What a prober can still tell".  Resets are passed on both ways; an
 * orderly close stays a FIN.
 *
 * The backends here are the test's own (fid_backend: a thread per
 * connection), because the comparison needs behaviours the harness's modes
 * do not have (read until quiet, then echo and close, or reset).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "proxy_consumer.h"
#include "token.h"

#define KNOCK		"open-sesame"
#define KLEN		(sizeof(KNOCK) - 1)

#define KNOCK_MS	300	/* The relay's -k. */
#define QUIET_MS	200	/* Backends read until this long without a byte. */
#define THINK_MS	100	/* Clients wait this long before sending. */
#define WATCH_MS	2500	/* Clients watch this long for the end. */
#define REPLY_LEN	(256 * 1024)	/* FID_REPLY_RESET's reply. */
#define REPLY_WAIT_MS	300	/* Then this long until its reset. */
#define REPLY_SEED	77

/* How a test backend treats each connection. */
enum fid_mode {
	FID_ECHO_CLOSE,	/* Read until quiet, send it back, close. */
	FID_RESET_READ,	/* Read until quiet, then reset. */
	FID_CLOSE_NOW,	/* Close as soon as accepted. */
	FID_SILENT,	/* Never read, never answer (until the client goes). */
	FID_RECORD,	/* Read to EOF or an error; record which. */
	FID_REPLY_RESET,	/* Read until quiet, send REPLY_LEN bytes,
				   wait REPLY_WAIT_MS, then reset. */
	FID_DOWN	/* No backend: the port refuses. */
};

/* A test backend. */
struct fid_backend {
	enum fid_mode mode;
	int lfd;
	uint16_t port;
	pthread_t thr;
	volatile int stop;
	pthread_mutex_t mtx;
	unsigned active;	/* Connection threads running. */
	unsigned ended;		/* FID_RECORD: connections whose end came. */
	size_t got;		/* FID_RECORD: bytes of the latest one. */
	int end;		/* FID_RECORD: 0 (FIN) or its errno. */
};

/* One connection of a test backend. */
struct fid_conn {
	struct fid_backend * B;
	int fd;
};

/* How a connection ended, as the client saw it. */
enum fid_end {
	END_NONE,	/* Nothing within WATCH_MS. */
	END_FIN,	/* recv returned 0. */
	END_RST,	/* ECONNRESET. */
	END_REFUSED,	/* The connect was refused. */
	END_OTHER	/* Another error. */
};

static const char * const fid_end_names[] = { "nothing (timeout)", "FIN",
    "reset", "refused", "another error" };

/* What a client saw: the bytes, then the end. */
struct fid_obs {
	uint8_t buf[2048];
	size_t len;
	enum fid_end end;
	int err;
	uint64_t t0;		/* h_now_ms() when the probe was sent. */
	uint64_t first;		/* Then until the first byte or the end, */
	int seen;		/* if either came. */
};

/* A probe: what a client sends after connecting. */
struct fid_probe {
	const char * name;
	uint8_t buf[1024];
	size_t len;
};

#define FID_NPROBES	6
#define FID_CLIENTS_MAX	64	/* Clients fid_watch() runs at once. */

static struct fid_backend fb;
static struct h_backend hidden;
static struct h_relay relay;

/* ---- the test backend ---- */

/* Read into ${buf} until QUIET_MS without a byte, EOF or an error. */
static size_t
fid_read_quiet(struct fid_backend * B, int fd, uint8_t * buf, size_t max,
    int * end)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t len = 0;
	ssize_t n;

	*end = -1;
	while (!B->stop && poll(&p, 1, QUIET_MS) == 1) {
		n = recv(fd, buf + len, max - len, MSG_DONTWAIT);
		if (n > 0 && (len += (size_t)n) < max)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		*end = (n == -1) ? errno : 0;
		break;
	}
	return (len);
}

/* FID_RECORD: read until EOF or an error (10 s at most); record it. */
static void
fid_record(struct fid_backend * B, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint8_t buf[4096];
	uint64_t end = h_now_ms() + 10000;
	size_t got = 0;
	ssize_t n;
	int how = -1;

	while (!B->stop && h_now_ms() < end) {
		if (poll(&p, 1, 100) != 1)
			continue;
		if ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
			got += (size_t)n;
			pthread_mutex_lock(&B->mtx);
			B->got = got;
			pthread_mutex_unlock(&B->mtx);
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		how = (n == -1) ? errno : 0;
		break;
	}
	pthread_mutex_lock(&B->mtx);
	B->end = how;
	B->ended++;
	pthread_mutex_unlock(&B->mtx);
}

/* FID_SILENT: wait, reading nothing, until the client goes or a stop. */
static void
fid_silent(struct fid_backend * B, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };

	while (!B->stop && poll(&p, 1, 100) == 0)
		;
}

/* Send REPLY_LEN bytes of the stream of REPLY_SEED on ${fd}. */
static void
fid_reply(int fd)
{
	static __thread uint8_t blk[H_BLK];
	size_t off, n;
	ssize_t m;

	for (off = 0; off < REPLY_LEN; off += n) {
		h_stream_block(blk, REPLY_SEED, off / H_BLK);
		for (n = 0; n < H_BLK && off + n < REPLY_LEN; n += (size_t)m)
			if ((m = send(fd, blk + n, H_BLK - n, MSG_NOSIGNAL)) <= 0)
				return;
	}
}

/* Serve one connection as the mode says. */
static void *
fid_serve(void * cookie)
{
	struct fid_conn * c = cookie;
	struct fid_backend * B = c->B;
	uint8_t buf[4096];
	size_t len;
	int end;

	switch (B->mode) {
	case FID_ECHO_CLOSE:
		len = fid_read_quiet(B, c->fd, buf, sizeof(buf), &end);
		(void)!send(c->fd, buf, len, MSG_NOSIGNAL);
		close(c->fd);
		break;
	case FID_RESET_READ:
		(void)fid_read_quiet(B, c->fd, buf, sizeof(buf), &end);
		h_close_reset(c->fd);
		break;
	case FID_SILENT:
		fid_silent(B, c->fd);
		close(c->fd);
		break;
	case FID_RECORD:
		fid_record(B, c->fd);
		close(c->fd);
		break;
	case FID_REPLY_RESET:
		(void)fid_read_quiet(B, c->fd, buf, sizeof(buf), &end);
		fid_reply(c->fd);
		usleep(REPLY_WAIT_MS * 1000);
		h_close_reset(c->fd);
		break;
	default:
		close(c->fd);
		break;
	}
	free(c);
	pthread_mutex_lock(&B->mtx);
	B->active--;
	pthread_mutex_unlock(&B->mtx);
	return (NULL);
}

/* Accept until stopped; a thread per connection (FID_CLOSE_NOW: none). */
static void *
fid_accept(void * cookie)
{
	struct fid_backend * B = cookie;
	struct pollfd p = { .fd = B->lfd, .events = POLLIN };
	struct fid_conn * c;
	pthread_t t;
	int fd;

	while (!B->stop) {
		if (poll(&p, 1, 100) != 1 ||
		    (fd = accept(B->lfd, NULL, NULL)) == -1)
			continue;
		if (B->mode == FID_CLOSE_NOW) {
			close(fd);
			continue;
		}
		if ((c = malloc(sizeof(*c))) == NULL) {
			close(fd);
			continue;
		}
		c->B = B;
		c->fd = fd;
		pthread_mutex_lock(&B->mtx);
		B->active++;
		pthread_mutex_unlock(&B->mtx);
		if (pthread_create(&t, NULL, fid_serve, c) != 0) {
			pthread_mutex_lock(&B->mtx);
			B->active--;
			pthread_mutex_unlock(&B->mtx);
			close(fd);
			free(c);
			continue;
		}
		pthread_detach(t);
	}
	return (NULL);
}

/* A listener on 127.0.0.1, any port; its port in ${port}. */
static int
fid_listen(uint16_t * port)
{

	return (h_listen(AF_INET, 128, port));
}

/* Start ${B} in ${mode}; FID_DOWN: only a port nothing listens on. */
static void
fid_backend_start(struct fid_backend * B, enum fid_mode mode)
{

	memset(B, 0, sizeof(*B));
	B->mode = mode;
	B->end = -1;
	pthread_mutex_init(&B->mtx, NULL);
	B->lfd = fid_listen(&B->port);
	if (mode == FID_DOWN) {
		/* Closed at once: connects to the port are refused. */
		close(B->lfd);
		B->lfd = -1;
		return;
	}
	cr_assert(pthread_create(&B->thr, NULL, fid_accept, B) == 0);
}

/* Stop ${B} and wait (3 s at most) for its connection threads. */
static void
fid_backend_stop(struct fid_backend * B)
{
	uint64_t end = h_now_ms() + 3000;
	unsigned active;

	if (B->lfd == -1)
		return;
	B->stop = 1;
	pthread_join(B->thr, NULL);
	close(B->lfd);
	B->lfd = -1;
	do {
		pthread_mutex_lock(&B->mtx);
		active = B->active;
		pthread_mutex_unlock(&B->mtx);
		if (active == 0)
			break;
		usleep(10000);
	} while (h_now_ms() < end);
}

/* Wait (${ms}) until a FID_RECORD backend saw ${n} ends; its last end. */
static int
fid_wait_end(struct fid_backend * B, unsigned n, int ms)
{
	uint64_t end = h_now_ms() + (uint64_t)ms;
	unsigned ended;
	int how;

	do {
		pthread_mutex_lock(&B->mtx);
		ended = B->ended;
		how = B->end;
		pthread_mutex_unlock(&B->mtx);
		if (ended >= n)
			return (how);
		usleep(10000);
	} while (h_now_ms() < end);
	return (-2);
}

/* Wait (${ms}) until a FID_RECORD backend read ${n} bytes; 0 or -1. */
static int
fid_wait_got(struct fid_backend * B, size_t n, int ms)
{
	uint64_t end = h_now_ms() + (uint64_t)ms;
	size_t got;

	do {
		pthread_mutex_lock(&B->mtx);
		got = B->got;
		pthread_mutex_unlock(&B->mtx);
		if (got >= n)
			return (0);
		usleep(10000);
	} while (h_now_ms() < end);
	return (-1);
}

/* ---- the relay ---- */

/* A relay in front of ${B} (normal) and an echo backend (hidden). */
static void
fid_relay_start(const struct fid_backend * B, const char * const * extra)
{

	h_backend_start(&hidden, &(struct h_backend_conf){ .mode = H_ECHO,
	    .name = "hidden" });
	h_relay_start(&relay, &(struct h_relay_conf){ .normal = B->port,
	    .hidden = hidden.port, .extra = extra, .knock = KNOCK });
}

/* Stop the relay and the backends. */
static void
fid_teardown(void)
{

	h_relay_down(&relay);
	h_backend_stop(&hidden);
	fid_backend_stop(&fb);
}

/* ---- clients ---- */

/* What an errno says about how a connection ended. */
static enum fid_end
fid_end_of(int err)
{

	if (err == ECONNRESET)
		return (END_RST);
	if (err == ECONNREFUSED)
		return (END_REFUSED);
	return (END_OTHER);
}

/* Connect to 127.0.0.1:${port}; the socket, or -1 with ${O}'s end set. */
static int
fid_dial(uint16_t port, struct fid_obs * O)
{
	struct sockaddr_storage ss;
	socklen_t len = h_loopback(&ss, AF_INET, port);
	int fd;

	cr_assert((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1);
	if (connect(fd, (struct sockaddr *)&ss, len) == 0)
		return (fd);
	O->err = errno;
	O->end = fid_end_of(errno);
	close(fd);
	return (-1);
}

/* Read what ${fd} has into ${O}; 1 once its end came. */
static int
fid_read(int fd, struct fid_obs * O)
{
	ssize_t n;

	for (;;) {
		n = recv(fd, O->buf + O->len, sizeof(O->buf) - O->len,
		    MSG_DONTWAIT);
		if (!O->seen && (n >= 0 || errno != EAGAIN)) {
			O->seen = 1;
			O->first = h_now_ms() - O->t0;
		}
		if (n > 0 && (O->len += (size_t)n) < sizeof(O->buf))
			continue;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return (0);
		if (n == 0) {
			O->end = END_FIN;
		} else if (n == -1) {
			O->err = errno;
			O->end = fid_end_of(errno);
		} else {
			O->end = END_OTHER;	/* More than a probe brings. */
		}
		return (1);
	}
}

/*
 * Run ${n} clients at once: client ${i} connects to ${ports}[i], waits
 * THINK_MS, sends ${probes}[i] and watches WATCH_MS for bytes and an end,
 * noted in ${obs}[i].
 */
static void
fid_watch(const uint16_t * ports, const struct fid_probe * const * probes,
    struct fid_obs * obs, size_t n)
{
	struct pollfd p[FID_CLIENTS_MAX];
	uint64_t end;
	size_t i, left = 0;

	cr_assert(n <= FID_CLIENTS_MAX);
	memset(obs, 0, n * sizeof(obs[0]));
	for (i = 0; i < n; i++) {
		p[i].fd = fid_dial(ports[i], &obs[i]);
		p[i].events = POLLIN;
	}
	usleep(THINK_MS * 1000);
	for (i = 0; i < n; i++) {
		obs[i].t0 = h_now_ms();
		if (p[i].fd == -1 || probes[i]->len == 0)
			continue;
		if (send(p[i].fd, probes[i]->buf, probes[i]->len,
		    MSG_NOSIGNAL) != (ssize_t)probes[i]->len) {
			obs[i].err = errno;
			obs[i].end = fid_end_of(errno);
			close(p[i].fd);
			p[i].fd = -1;
		}
	}
	for (i = 0; i < n; i++)
		left += (p[i].fd != -1);
	end = h_now_ms() + WATCH_MS;
	while (left > 0 && h_now_ms() < end) {
		if (poll(p, n, 50) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			if (p[i].fd == -1 || p[i].revents == 0)
				continue;
			if (fid_read(p[i].fd, &obs[i])) {
				close(p[i].fd);
				p[i].fd = -1;
				left--;
			}
		}
	}
	for (i = 0; i < n; i++)
		if (p[i].fd != -1)
			close(p[i].fd);
}

/*
 * Send each of the ${n} probes ${P} both to ${direct} and to ${via}, all at
 * once (fid_watch): what the first saw in ${obs}[i], the second in
 * ${obs}[n + i].
 */
static void
fid_watch_both(const struct fid_probe * P, size_t n, uint16_t direct,
    uint16_t via, struct fid_obs * obs)
{
	const struct fid_probe * probes[FID_CLIENTS_MAX];
	uint16_t ports[FID_CLIENTS_MAX];
	size_t i;

	cr_assert(2 * n <= FID_CLIENTS_MAX);
	for (i = 0; i < n; i++) {
		probes[i] = probes[n + i] = &P[i];
		ports[i] = direct;
		ports[n + i] = via;
	}
	fid_watch(ports, probes, obs, 2 * n);
}

/* The probes: nothing, 1 byte, knock_len - 1, a wrong knock, HTTP, 1 KiB. */
static void
fid_probes(struct fid_probe * P)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";

	memset(P, 0, FID_NPROBES * sizeof(P[0]));
	P[0].name = "nothing";
	P[1].name = "1 byte";
	memcpy(P[1].buf, KNOCK, 1);
	P[1].len = 1;
	P[2].name = "knock_len - 1 bytes";
	memcpy(P[2].buf, KNOCK, KLEN - 1);
	P[2].len = KLEN - 1;
	P[3].name = "a wrong knock";
	memcpy(P[3].buf, KNOCK, KLEN);
	P[3].buf[KLEN - 1] ^= 1;
	P[3].len = KLEN;
	P[4].name = "an HTTP request";
	memcpy(P[4].buf, http, sizeof(http) - 1);
	P[4].len = sizeof(http) - 1;
	P[5].name = "random 1 KiB";
	h_fill(P[5].buf, 1024, 12);
	P[5].len = 1024;
}

/* What a direct client must see from a backend of ${mode} after ${p}. */
static void
fid_expect_direct(enum fid_mode mode, const struct fid_probe * p,
    const struct fid_obs * d)
{
	static const enum fid_end want[] = {
		[FID_ECHO_CLOSE] = END_FIN, [FID_RESET_READ] = END_RST,
		[FID_CLOSE_NOW] = END_FIN, [FID_SILENT] = END_NONE,
		[FID_DOWN] = END_REFUSED };
	size_t echo = (mode == FID_ECHO_CLOSE) ? p->len : 0;

	/* The test backends do what they should (else nothing is shown). */
	cr_assert(d->end == want[mode] && d->len == echo &&
	    memcmp(d->buf, p->buf, echo) == 0, "direct, %s: got %zu bytes "
	    "then %s, want %zu then %s", p->name, d->len,
	    fid_end_names[d->end], echo, fid_end_names[want[mode]]);
}

/*
 * The differences DESIGN.md documents ("What a prober can still tell")
 * beyond timing, which is not compared (the knock wait): 1 if ${r} (through
 * the relay) may differ from ${d} (direct) in this way.
 */
static int
fid_documented(enum fid_mode mode, const struct fid_probe * p,
    const struct fid_obs * d, const struct fid_obs * r)
{

	/* A backend that is down: accepted, then a reset, not refused. */
	if (mode == FID_DOWN)
		return (d->end == END_REFUSED && r->end == END_RST &&
		    r->len == 0);
	/*
	 * A backend that closes at once, before the client spoke: the
	 * client's first bytes reach it with the connect, unread, so its
	 * close may be a reset.
	 */
	if (mode == FID_CLOSE_NOW && p->len > 0)
		return (d->end == END_FIN && r->end == END_RST && r->len == 0);
	return (0);
}

/* Compare every probe directly and through the relay, for ${mode}. */
static void
fid_compare(enum fid_mode mode)
{
	static struct fid_probe P[FID_NPROBES];
	static struct fid_obs obs[2 * FID_NPROBES];
	const struct fid_obs * d, * r;
	size_t i;

	fid_backend_start(&fb, mode);
	fid_relay_start(&fb, (const char *[]){ "-k", "300ms", NULL });
	fid_probes(P);
	fid_watch_both(P, FID_NPROBES, fb.port, relay.port, obs);
	for (i = 0; i < FID_NPROBES; i++) {
		d = &obs[i];
		r = &obs[FID_NPROBES + i];
		fid_expect_direct(mode, &P[i], d);
		if (fid_documented(mode, &P[i], d, r))
			continue;
		cr_expect(r->end == d->end && r->len == d->len &&
		    memcmp(r->buf, d->buf, d->len) == 0, "%s: directly %zu "
		    "bytes then %s; through the relay %zu bytes then %s "
		    "(errno %d)", P[i].name, d->len, fid_end_names[d->end],
		    r->len, fid_end_names[r->end], r->err);
	}
	fid_teardown();
}

TestSuite(fidelity, .timeout = 40);

Test(fidelity, echo_then_close_looks_the_same)
{

	fid_compare(FID_ECHO_CLOSE);
}

Test(fidelity, reset_after_reading_looks_the_same)
{

	fid_compare(FID_RESET_READ);
}

Test(fidelity, close_at_once_looks_the_same)
{

	fid_compare(FID_CLOSE_NOW);
}

Test(fidelity, never_answering_looks_the_same)
{

	fid_compare(FID_SILENT);
}

Test(fidelity, backend_down_is_a_reset_not_a_refusal)
{

	fid_compare(FID_DOWN);
}

/* ---- timing: a prober's short messages, against nginx ---- */

/*
 * How far apart the relay's answer and nginx's own may be.  What must not
 * show is the knock timeout (5 s here, 2 s by default): a relay that waits
 * for it answers seconds late.  What may show is the relay's own work (an
 * accept, a peek, a connect on loopback: under a millisecond, up to a few
 * hundred under valgrind on a loaded 2-core machine), which is also below
 * what a prober across the internet can measure against its own jitter.
 * So a tenth of the knock timeout: 500 ms.
 */
#define FID_KNOCK_S	5
#define FID_TIME_MS	500

/* Probe lengths like the GFW's (Alice et al., IMC 2020): trios around. */
static const size_t fid_gfw_len[] = { 8, 12, 16, 22, 33, 41, 49 };

#define FID_NGFW	(3 * 7 + 1 + 1 + 5)

/* A key route's key in a file of its own (a fixed key: any will do). */
static void
fid_key_file(char path[64], uint8_t key[TOKEN_KEYLEN])
{
	static const char text[] =
	    "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\n";
	size_t i;
	int fd;

	for (i = 0; i < TOKEN_KEYLEN; i++)
		key[i] = (uint8_t)(i + 1);
	snprintf(path, 64, "/tmp/l7kk-key-XXXXXX");
	cr_assert((fd = mkstemp(path)) != -1);
	cr_assert_eq(write(fd, text, sizeof(text) - 1),
	    (ssize_t)sizeof(text) - 1);
	close(fd);
}

/* Another base64url character than ${c}. */
static uint8_t
fid_other_b64(uint8_t c)
{

	return ((c == 'A') ? 'B' : 'A');
}

/*
 * The probes: random bytes in trios of lengths around each of
 * fid_gfw_len, 221 random bytes, an 18-byte HTTP request, and replays of
 * ${real} (${rlen} bytes, a token and what follows) with 1, 3 and 6
 * characters of the token changed, with one byte made non-base64url, and
 * unchanged (a replay the relay has seen).
 */
static size_t
fid_gfw_probes(struct fid_probe * P, const uint8_t * real, size_t rlen)
{
	static const char http[] = "GET / HTTP/1.0\r\n\r\n";
	static const char * const rname[] = { "replay, 1 changed",
	    "replay, 3 changed", "replay, 6 changed", "replay, 1 not base64url",
	    "replay, unchanged" };
	static const size_t nchange[] = { 1, 3, 6, 0, 0 };
	size_t i, j, n = 0;

	memset(P, 0, FID_NGFW * sizeof(P[0]));
	for (i = 0; i < 7; i++) {
		for (j = 0; j < 3; j++, n++) {
			P[n].name = "random";
			P[n].len = fid_gfw_len[i] - 1 + j;
			h_fill(P[n].buf, P[n].len, 1800 + n);
		}
	}
	P[n].name = "random 221 bytes";
	P[n].len = 221;
	h_fill(P[n++].buf, 221, 221);
	P[n].name = "HTTP/1.0 request";
	P[n].len = sizeof(http) - 1;
	memcpy(P[n++].buf, http, sizeof(http) - 1);
	for (i = 0; i < 5; i++, n++) {
		P[n].name = rname[i];
		P[n].len = rlen;
		memcpy(P[n].buf, real, rlen);
		for (j = 0; j < nchange[i]; j++)
			P[n].buf[7 * j + 3] = fid_other_b64(P[n].buf[7 * j + 3]);
		if (i == 3)
			P[n].buf[20] = '.';
	}
	return (n);
}

/* Mask the value of nginx's Date header in ${O} (it may cross a second). */
static void
fid_mask_date(struct fid_obs * O)
{
	uint8_t * p = memmem(O->buf, O->len, "\r\nDate: ", 8);
	uint8_t * e;

	if (p == NULL)
		return;
	p += 8;
	if ((e = memmem(p, O->len - (size_t)(p - O->buf), "\r\n", 2)) != NULL)
		memset(p, 'x', (size_t)(e - p));
}

/*
 * With a key route and nginx as the normal backend, a prober's probes are
 * not told apart from nginx's own answers: same bytes, same end, and the
 * first answer within FID_TIME_MS of nginx's.
 */
Test(fidelity, probers_short_messages_look_like_nginx_in_time_too,
    .timeout = 60)
{
	static struct fid_probe P[FID_NGFW];
	static struct fid_obs obs[2 * FID_NGFW];
	struct proxy_consumer ngx;
	const char * extra[6];
	char kf[64], ks[16], tok[TOKEN_LEN];
	uint8_t key[TOKEN_KEYLEN], real[TOKEN_LEN + 32], buf[32];
	const struct fid_obs * d, * r;
	size_t i, n, rlen;
	long long diff, worst = 0;
	int fd;

	if (!proxy_have(PROXY_NGINX))
		cr_skip_test("nginx is not installed");
	cr_assert_eq(token_init(), 0);
	cr_assert_eq(proxy_nginx_plain_start(&ngx), 0, "nginx did not start");
	fid_key_file(kf, key);
	h_backend_start(&hidden, &(struct h_backend_conf){ .mode = H_ECHO,
	    .name = "hidden" });
	snprintf(ks, sizeof(ks), "%ds", FID_KNOCK_S);
	extra[0] = "--key-file";
	extra[1] = kf;
	extra[2] = "-k";
	extra[3] = ks;
	extra[4] = NULL;
	h_relay_start(&relay, &(struct h_relay_conf){ .normal = ngx.port4,
	    .hidden = hidden.port, .extra = extra });

	/* A real first payload: a token and an SSH banner, to hidden. */
	token_mint_now(key, tok);
	memcpy(real, tok, TOKEN_LEN);
	memcpy(real + TOKEN_LEN, "SSH-2.0-OpenSSH_9.2\r\n", 21);
	rlen = TOKEN_LEN + 21;
	fd = h_connect(AF_INET, relay.port);
	h_send_all(fd, real, rlen);
	cr_assert_eq(h_recv(fd, buf, 21, 5000), 21, "the token was refused; "
	    "log:\n%s", relay.log);
	close(fd);

	n = fid_gfw_probes(P, real, rlen);
	fid_watch_both(P, n, ngx.port4, relay.port, obs);
	for (i = 0; i < n; i++) {
		d = &obs[i];
		r = &obs[n + i];
		fid_mask_date(&obs[i]);
		fid_mask_date(&obs[n + i]);
		cr_expect(d->seen && d->len > 0, "%s, %zu bytes: nginx did not "
		    "answer", P[i].name, P[i].len);
		cr_expect(r->end == d->end && r->len == d->len &&
		    memcmp(r->buf, d->buf, d->len) == 0, "%s, %zu bytes: "
		    "directly %zu bytes then %s; through the relay %zu bytes "
		    "then %s", P[i].name, P[i].len, d->len,
		    fid_end_names[d->end], r->len, fid_end_names[r->end]);
		cr_expect(r->seen == d->seen && r->first < d->first +
		    FID_TIME_MS && d->first < r->first + FID_TIME_MS,
		    "%s, %zu bytes: nginx answered after %lld ms, the relay "
		    "after %lld ms (-1: not within %d ms)", P[i].name,
		    P[i].len, d->seen ? (long long)d->first : -1LL,
		    r->seen ? (long long)r->first : -1LL, WATCH_MS);
		diff = (long long)r->first - (long long)d->first;
		if (diff > worst || -diff > worst)
			worst = (diff < 0) ? -diff : diff;
	}
	cr_log_info("%zu probes; the largest difference in time to the first "
	    "answer: %lld ms", n, worst);
	cr_expect_eq(hidden.conns, 1, "a probe reached the hidden backend");
	h_relay_down(&relay);
	h_backend_stop(&hidden);
	proxy_consumer_stop(&ngx);
	unlink(kf);
}

/* ---- resets passed on, FINs kept ---- */

/* Connect to the relay; the socket. */
static int
fid_client(void)
{

	return (h_connect(AF_INET, relay.port));
}

/* Wait (${ms}) for the end of ${fd}: 0 for a FIN, else the errno. */
static int
fid_client_end(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t end = h_now_ms() + (uint64_t)ms;
	uint8_t buf[4096];
	ssize_t n;

	while (h_now_ms() < end) {
		if (poll(&p, 1, 50) != 1)
			continue;
		if ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		return (n == 0 ? 0 : errno);
	}
	return (-1);
}

Test(resets, backend_reset_mid_stream_resets_the_client, .timeout = 30)
{
	struct h_backend rst;
	const char msg[] = "GET / HTTP/1.0\r\n\r\n";
	int fd;

	/* Reads the request, then resets: nothing unread in the relay. */
	h_backend_start(&rst, &(struct h_backend_conf){
	    .mode = H_RESET_AFTER, .n = sizeof(msg) - 1 });
	fb.lfd = -1;
	h_backend_start(&hidden, &(struct h_backend_conf){ .mode = H_ECHO });
	h_relay_start(&relay, &(struct h_relay_conf){ .normal = rst.port,
	    .hidden = hidden.port, .knock = KNOCK });
	fd = fid_client();
	h_send_all(fd, msg, sizeof(msg) - 1);
	cr_assert_eq(fid_client_end(fd, 5000), ECONNRESET, "the client did "
	    "not see a reset; log:\n%s", relay.log);
	close(fd);
	cr_assert(h_relay_log_wait(&relay, "closed: backend reset", 2000) == 0,
	    "log:\n%s", relay.log);
	h_relay_down(&relay);
	h_backend_stop(&hidden);
	h_backend_stop(&rst);
}

Test(resets, backend_reset_after_a_reply_delivers_it_then_resets,
    .timeout = 30)
{
	struct pollfd p;
	uint8_t buf[65536];
	uint64_t got = 0, hash = H_HASH_INIT, end;
	ssize_t n = 0;
	int fd, err = 0;

	/* 256 KiB, then a reset: every byte arrives, then ECONNRESET. */
	fid_backend_start(&fb, FID_REPLY_RESET);
	fid_relay_start(&fb, NULL);
	fd = fid_client();
	h_send_all(fd, "GET / HTTP/1.0\r\n\r\n", 18);
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	end = h_now_ms() + 5000;
	while (h_now_ms() < end) {
		if (poll(&p, 1, 50) != 1)
			continue;
		if ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
			hash = h_hash(hash, buf, (size_t)n);
			got += (uint64_t)n;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		err = (n == -1) ? errno : 0;
		break;
	}
	close(fd);
	cr_assert(got == REPLY_LEN && hash == h_stream_hash(REPLY_SEED,
	    REPLY_LEN), "got %llu bytes of %d (hash %s)",
	    (unsigned long long)got, REPLY_LEN, hash == h_stream_hash(
	    REPLY_SEED, got) ? "right so far" : "wrong");
	cr_assert_eq(err, ECONNRESET, "after the reply: %s, not a reset; "
	    "log:\n%s", n == 0 ? "a FIN" : strerror(err), relay.log);
	fid_teardown();
}

/* The relay before a recording backend, and a client whose request it got. */
static int
fid_recorded_client(void)
{
	int fd;

	fid_backend_start(&fb, FID_RECORD);
	fid_relay_start(&fb, NULL);
	fd = fid_client();
	h_send_all(fd, "GET / HTTP/1.0\r\n\r\n", 18);
	cr_assert(fid_wait_got(&fb, 18, 5000) == 0, "the backend got nothing");
	return (fd);
}

Test(resets, client_reset_resets_the_backend, .timeout = 30)
{
	int fd;

	fd = fid_recorded_client();
	h_close_reset(fd);
	cr_assert_eq(fid_wait_end(&fb, 1, 5000), ECONNRESET, "the backend did "
	    "not see a reset; log:\n%s", relay.log);
	cr_assert(h_relay_log_wait(&relay, "closed: client reset", 2000) == 0,
	    "log:\n%s", relay.log);
	fid_teardown();
}

Test(resets, client_fin_stays_a_fin, .timeout = 30)
{
	int fd;

	fd = fid_recorded_client();
	cr_assert(shutdown(fd, SHUT_WR) == 0);
	cr_assert_eq(fid_wait_end(&fb, 1, 5000), 0, "the backend did not see "
	    "a FIN; log:\n%s", relay.log);
	close(fd);
	fid_teardown();
}

Test(resets, backend_fin_stays_a_fin, .timeout = 30)
{
	uint8_t buf[64];
	int fd;

	fid_backend_start(&fb, FID_ECHO_CLOSE);
	fid_relay_start(&fb, NULL);
	fd = fid_client();
	h_send_all(fd, "GET / HTTP/1.0\r\n\r\n", 18);
	cr_assert_eq(h_recv(fd, buf, 18, 5000), 18, "no echo");
	cr_assert_eq(fid_client_end(fd, 5000), 0, "the client did not see a "
	    "FIN; log:\n%s", relay.log);
	close(fd);
	fid_teardown();
}

Test(resets, refused_backend_resets_a_silent_client, .timeout = 30)
{
	int fd;

	/* Silent: no unread byte, so only the mirror makes it a reset. */
	fid_backend_start(&fb, FID_DOWN);
	fid_relay_start(&fb, (const char *[]){ "-k", "200ms", NULL });
	fd = fid_client();
	cr_assert_eq(fid_client_end(fd, 5000), ECONNRESET, "the client did "
	    "not see a reset; log:\n%s", relay.log);
	close(fd);
	cr_assert(h_relay_log_wait(&relay, "normal backend connect failed: "
	    "Connection refused", 2000) == 0, "log:\n%s", relay.log);
	fid_teardown();
}

Test(resets, connect_timeout_resets_a_silent_client, .timeout = 30)
{
	struct h_backend silent;
	struct sockaddr_storage ss;
	socklen_t len;
	int fill[4], i, fd;

	/* A full accept queue (backlog 0): further SYNs are dropped. */
	h_backend_start(&silent, &(struct h_backend_conf){ .mode = H_SILENT });
	len = h_loopback(&ss, AF_INET, silent.port);
	for (i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		cr_assert(fill[i] >= 0);
		cr_assert(connect(fill[i], (struct sockaddr *)&ss, len) == 0 ||
		    errno == EINPROGRESS);
	}
	usleep(200000);
	fb.lfd = -1;
	h_backend_start(&hidden, &(struct h_backend_conf){ .mode = H_ECHO });
	h_relay_start(&relay, &(struct h_relay_conf){ .normal = silent.port,
	    .hidden = hidden.port, .knock = KNOCK, .extra = (const char *[]){
	    "-k", "200ms", "--connect-timeout", "500ms", NULL } });
	fd = fid_client();
	cr_assert_eq(fid_client_end(fd, 5000), ECONNRESET, "the client did "
	    "not see a reset; log:\n%s", relay.log);
	close(fd);
	cr_assert(h_relay_log_wait(&relay, "closed: backend connect timed out",
	    2000) == 0, "log:\n%s", relay.log);
	h_relay_down(&relay);
	h_backend_stop(&hidden);
	for (i = 0; i < 4; i++)
		close(fill[i]);
	h_backend_stop(&silent);
}

/*
 * After the backend's FIN, send again, then send until a send fails (3 s
 * at most): 0, or the errno of the failed send.
 */
static int
fid_send_after_fin(uint16_t port)
{
	uint8_t buf[64];
	uint64_t end;
	int fd = h_connect(AF_INET, port), err = 0;

	h_send_all(fd, "GET / HTTP/1.0\r\n\r\n", 18);
	cr_assert_eq(h_recv(fd, buf, 18, 5000), 18, "no echo");
	cr_assert_eq(fid_client_end(fd, 5000), 0, "no FIN");
	/*
	 * The backend is gone: its host answers this with a reset, which a
	 * later send meets (tried for 3 s, not once after a fixed pause).
	 */
	cr_assert_eq(send(fd, "more", 4, MSG_NOSIGNAL), 4);
	for (end = h_now_ms() + 3000; err == 0 && h_now_ms() < end;
	    usleep(20000))
		if (send(fd, "more", 4, MSG_NOSIGNAL) == -1)
			err = errno;
	close(fd);
	return (err);
}

Test(resets, sending_after_the_backends_fin_meets_its_reset, .timeout = 30)
{
	int direct, relayed;

	fid_backend_start(&fb, FID_ECHO_CLOSE);
	fid_relay_start(&fb, NULL);
	direct = fid_send_after_fin(fb.port);
	relayed = fid_send_after_fin(relay.port);
	cr_assert_eq(direct, EPIPE, "directly: errno %d", direct);
	cr_assert_eq(relayed, direct, "through the relay: errno %d, directly "
	    "%d; log:\n%s", relayed, direct, relay.log);
	cr_assert(h_relay_log_wait(&relay, "closed: backend reset", 2000) == 0,
	    "log:\n%s", relay.log);
	fid_teardown();
}
