/*
 * knockload -- connection-rate load for `make bench` (see bench/README.md).
 *
 * Rate mode (default): C concurrent loops for D seconds; each loop
 * connects, sends [knock] + request in one write, reads the reply to EOF,
 * checks that it starts with "HTTP/1.x 200", closes, and starts again.
 * Prints one line:
 *   conns=N rate=R p50_ms=X p99_ms=Y errors=E bad=B
 * rate is completed connections per second; the latency of one connection
 * is from connect() to EOF.
 *
 * Idle mode (-I N): opens N connections (at most C connecting at a time),
 * sends the request on each (a request the backend waits on), prints
 * "ready N" once all N are open and written, then holds them until
 * SIGTERM/SIGINT or D seconds, and prints "closed_by_peer=K" on exit.
 *
 *   knockload [-c CONC] [-d SECS] [-x KNOCKHEX] [-r REQUEST] [-m MATCH]
 *             [-I N] HOST:PORT
 *
 * -m MATCH: a reply counts only if its first 512 bytes contain MATCH (the
 * benchmark checks that each connection reached the backend it meant to).
 *
 * REQUEST takes \r and \n escapes.  One thread, epoll, non-blocking sockets.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { ST_FREE, ST_CONNECTING, ST_READING, ST_IDLE };

struct conn {
	int	fd;
	int	state;
	size_t	got;		/* reply bytes seen */
	char	head[512];	/* first bytes of the reply */
	double	t0;
};

static struct sockaddr_in dst;
static char *payload;
static const char *match;	/* -m: the reply must contain this */
static size_t payload_len;
static int epfd;
static volatile sig_atomic_t stop;

static uint32_t *lat;		/* latencies in microseconds */
static size_t nlat, caplat;
static unsigned long errors, bad, peer_closed;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: knockload [-c CONC] [-d SECS] [-x KNOCKHEX] "
	    "[-r REQUEST] [-m MATCH] [-I N] HOST:PORT\n");
	exit(2);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

/* Append the bytes of hex string ${h} to ${out}; return the count. */
static size_t
unhex(const char *h, char *out)
{
	size_t n = 0;

	while (h[0] && h[1]) {
		if (hexval(h[0]) < 0 || hexval(h[1]) < 0) {
			fprintf(stderr, "knockload: bad hex in knock\n");
			exit(2);
		}
		out[n++] = (char)(hexval(h[0]) << 4 | hexval(h[1]));
		h += 2;
	}
	if (*h) {
		fprintf(stderr, "knockload: odd hex length\n");
		exit(2);
	}
	return (n);
}

/* Append ${s} with \r, \n, \\ unescaped; return the count. */
static size_t
unescape(const char *s, char *out)
{
	size_t n = 0;

	for (; *s; s++) {
		if (*s == '\\' && s[1] == 'r')
			out[n++] = '\r', s++;
		else if (*s == '\\' && s[1] == 'n')
			out[n++] = '\n', s++;
		else if (*s == '\\' && s[1] == '\\')
			out[n++] = '\\', s++;
		else
			out[n++] = *s;
	}
	return (n);
}

static void
record(double t)
{
	if (nlat == caplat) {
		caplat = caplat ? caplat * 2 : 65536;
		if ((lat = realloc(lat, caplat * sizeof(*lat))) == NULL) {
			perror("knockload: realloc");
			exit(1);
		}
	}
	lat[nlat++] = (uint32_t)(t * 1e6);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x < y ? -1 : x > y);
}

static void
conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = ST_FREE;
}

/* Start a connection in slot ${c}; 0 on success. */
static int
conn_start(struct conn *c, int idx)
{
	struct epoll_event ev;
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		perror("knockload: socket");
		exit(1);
	}
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->got = 0;
	c->t0 = now();
	c->state = ST_CONNECTING;
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) &&
	    errno != EINPROGRESS) {
		errors++;
		conn_close(c);
		return (-1);
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.u32 = (uint32_t)idx;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev)) {
		perror("knockload: epoll_ctl");
		exit(1);
	}
	return (0);
}

/* Connected: send the payload.  0 on success. */
static int
conn_send(struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);
	ssize_t n;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err)
		return (-1);
	/* A payload this small fits an empty socket buffer in one write. */
	n = send(c->fd, payload, payload_len, MSG_NOSIGNAL);
	if (n != (ssize_t)payload_len)
		return (-1);
	c->state = ST_READING;
	return (0);
}

/*
 * Read what is there; 1 at EOF (a complete reply), 0 for more to come,
 * -1 on error.
 */
static int
conn_read(struct conn *c)
{
	char buf[16384];
	ssize_t n;

	for (;;) {
		n = recv(c->fd, buf, sizeof(buf), 0);
		if (n > 0) {
			if (c->got < sizeof(c->head)) {
				size_t k = sizeof(c->head) - c->got;

				if ((size_t)n < k)
					k = (size_t)n;
				memcpy(c->head + c->got, buf, k);
			}
			c->got += (size_t)n;
			continue;
		}
		if (n == 0)
			return (1);
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return (0);
		if (errno == EINTR)
			continue;
		return (-1);
	}
}

static int
reply_ok(const struct conn *c)
{
	size_t n = c->got < sizeof(c->head) ? c->got : sizeof(c->head);

	/* "HTTP/1.1 200", and the -m string in the first bytes */
	if (n < 12 || memcmp(c->head, "HTTP/1.", 7) != 0 ||
	    memcmp(c->head + 8, " 200", 4) != 0)
		return (0);
	return (match == NULL ||
	    memmem(c->head, n, match, strlen(match)) != NULL);
}

static void
raise_nofile(size_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want;
	if (rl.rlim_max < want)
		rl.rlim_max = want;	/* works as root */
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		(void)getrlimit(RLIMIT_NOFILE, &rl);
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
run_rate(struct conn *cs, int conc, double dur)
{
	struct epoll_event evs[256];
	double start, end, t;
	unsigned long done = 0;
	int i, n, r;

	start = now();
	end = start + dur;
	for (i = 0; i < conc; i++)
		(void)conn_start(&cs[i], i);
	while (!stop) {
		t = now();
		if (t >= end)
			break;
		n = epoll_wait(epfd, evs, 256, 10);
		if (n < 0 && errno != EINTR) {
			perror("knockload: epoll_wait");
			exit(1);
		}
		for (i = 0; i < n; i++) {
			int idx = (int)evs[i].data.u32;
			struct conn *c = &cs[idx];

			if (c->state == ST_CONNECTING) {
				if (!(evs[i].events & (EPOLLOUT | EPOLLERR |
				    EPOLLHUP)))
					continue;
				if (conn_send(c)) {
					errors++;
					conn_close(c);
					continue;
				}
			}
			if (c->state != ST_READING)
				continue;
			r = conn_read(c);
			if (r == 0)
				continue;
			if (r < 0)
				errors++;
			else if (!reply_ok(c))
				bad++;
			else {
				record(now() - c->t0);
				done++;
			}
			conn_close(c);
		}
		/* Restart every free slot (finished or failed). */
		for (i = 0; i < conc; i++)
			if (cs[i].state == ST_FREE && now() < end)
				(void)conn_start(&cs[i], i);
	}
	t = now() - start;
	qsort(lat, nlat, sizeof(*lat), cmp_u32);
	printf("conns=%lu rate=%.1f p50_ms=%.3f p99_ms=%.3f errors=%lu bad=%lu\n",
	    done, done / t,
	    nlat ? lat[nlat / 2] / 1e3 : 0.0,
	    nlat ? lat[(size_t)(nlat * 0.99)] / 1e3 : 0.0, errors, bad);
}

static void
run_idle(struct conn *cs, int total, int conc, double hold)
{
	struct epoll_event evs[256];
	int opened = 0, inflight = 0, ready = 0, i, n;
	double deadline = now() + hold, give_up = now() + 60;

	while (!stop && ready < total) {
		while (inflight < conc && opened < total) {
			if (conn_start(&cs[opened], opened) == 0)
				inflight++;
			else {
				fprintf(stderr, "knockload: connect: %s\n",
				    strerror(errno));
				exit(1);
			}
			opened++;
		}
		n = epoll_wait(epfd, evs, 256, 100);
		for (i = 0; i < n; i++) {
			struct conn *c = &cs[evs[i].data.u32];

			if (c->state == ST_CONNECTING &&
			    (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
				if (conn_send(c)) {
					fprintf(stderr, "knockload: idle "
					    "connection %d failed\n",
					    (int)evs[i].data.u32);
					exit(1);
				}
				c->state = ST_IDLE;
				inflight--;
				ready++;
			} else if (c->state == ST_IDLE &&
			    (evs[i].events & (EPOLLRDHUP | EPOLLHUP))) {
				peer_closed++;
				conn_close(c);
			}
		}
		if (now() > give_up) {
			fprintf(stderr, "knockload: only %d of %d idle "
			    "connections opened in 60 s\n", ready, total);
			exit(1);
		}
	}
	printf("ready %d\n", ready);
	fflush(stdout);
	while (!stop && now() < deadline) {
		n = epoll_wait(epfd, evs, 256, 200);
		for (i = 0; i < n; i++) {
			struct conn *c = &cs[evs[i].data.u32];

			if (c->state == ST_IDLE &&
			    (evs[i].events & (EPOLLRDHUP | EPOLLHUP))) {
				peer_closed++;
				conn_close(c);
			}
		}
	}
	printf("closed_by_peer=%lu\n", peer_closed);
}

int
main(int argc, char **argv)
{
	const char *knockhex = NULL, *req = "GET / HTTP/1.0\\r\\nHost: bench\\r\\n\\r\\n";
	double dur = 5;
	int conc = 50, idle = 0, opt, i, nslots;
	struct conn *cs;
	struct sigaction sa;
	char *colon, *host;

	while ((opt = getopt(argc, argv, "c:d:x:r:I:m:")) != -1) {
		switch (opt) {
		case 'c': conc = atoi(optarg); break;
		case 'd': dur = atof(optarg); break;
		case 'x': knockhex = optarg; break;
		case 'r': req = optarg; break;
		case 'I': idle = atoi(optarg); break;
		case 'm': match = optarg; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || conc < 1 || dur <= 0 || idle < 0)
		usage();
	host = argv[optind];
	if ((colon = strrchr(host, ':')) == NULL)
		usage();
	*colon = '\0';
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &dst.sin_addr) != 1)
		usage();

	payload = malloc((knockhex ? strlen(knockhex) / 2 : 0) + strlen(req) + 1);
	if (payload == NULL)
		return (1);
	payload_len = knockhex ? unhex(knockhex, payload) : 0;
	payload_len += unescape(req, payload + payload_len);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	nslots = idle ? idle : conc;
	raise_nofile((size_t)nslots + 64);
	if ((cs = calloc((size_t)nslots, sizeof(*cs))) == NULL)
		return (1);
	for (i = 0; i < nslots; i++)
		cs[i].fd = -1;
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		perror("knockload: epoll_create1");
		return (1);
	}
	if (idle)
		run_idle(cs, idle, conc, dur);
	else
		run_rate(cs, conc, dur);
	return (0);
}
