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
 *   knockload [-c CONC] [-d SECS] [-x KNOCKHEX | -K KEYFILE] [-r REQUEST]
 *             [-m MATCH] [-I N] [-A EPOCH] HOST:PORT
 *
 * -A EPOCH: rate mode starts its clock at that wall-clock time (seconds
 * since the epoch, with a fraction), after minting its tokens: two
 * knockloads given the same EPOCH run side by side over the same seconds.
 *
 * -K KEYFILE: instead of a fixed knock, a fresh token (src/token.c,
 * token_mint_now) under the key in KEYFILE for every connection (a token
 * route accepts each token once).  Rate mode mints them before its clock
 * starts, enough for 25,000 connections a second over the first
 * MINT_SECS seconds, all for the second the clock starts: the run
 * measures the relay's work on a token, not the load tool's (which is
 * about the relay's: two HMACs, a key set-up and a getrandom(2) per
 * token, on the same shared CPUs).  Past them, or once they are
 * MINT_SECS old (the bench's relay takes tokens up to 5 s old), it mints
 * each one as it connects.
 *
 * -m MATCH: a reply counts only if its first 512 bytes contain MATCH (the
 * benchmark checks that each connection reached the backend it meant to).
 *
 * REQUEST takes \r and \n escapes.  One thread, epoll, non-blocking sockets;
 * each connection is driven by the test harness's client (struct h_client,
 * tests/harness_client.c), the one client driver of the project.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
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

#include <sodium.h>

#include "harness.h"
#include "token.h"

enum { ST_FREE, ST_BUSY, ST_IDLE };

struct conn {
	struct h_client hc;	/* knock + request out, the reply in */
	int	state;
	short	events;		/* what epoll watches for it */
	double	t0;
};

static struct sockaddr_in dst;
static struct h_client_conf hconf;	/* what every connection sends */
static const char *match;	/* -m: the reply must contain this */
static uint8_t key[TOKEN_KEYLEN];	/* -K: mint tokens under it */
static int tokens;
static char token[TOKEN_LEN];
static char (*minted)[TOKEN_LEN];	/* rate mode: minted before the clock */
static size_t nminted, usedminted;
static time_t minted_t;		/* the time in every minted token */
#define MINT_RATE	25000	/* tokens minted ahead per second of the run */
#define MINT_SECS	4	/* ... for at most this many seconds */
static double start_at;		/* -A: start the clock then (CLOCK_REALTIME) */
static int epfd;
static volatile sig_atomic_t stop;

static uint32_t *lat;		/* latencies in microseconds */
static size_t nlat, caplat;
static unsigned long errors, bad, peer_closed;

/* Clock ${id} in seconds: now() for intervals, wall() for -A's time. */
static double
clock_secs(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

static double
now(void)
{

	return (clock_secs(CLOCK_MONOTONIC));
}

static double
wall(void)
{

	return (clock_secs(CLOCK_REALTIME));
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
	fprintf(stderr, "usage: knockload [-c CONC] [-d SECS] [-x KNOCKHEX | "
	    "-K KEYFILE] [-r REQUEST] [-m MATCH] [-I N] [-A EPOCH] "
	    "HOST:PORT\n");
	exit(2);
}

/* -K: the key in ${path} (44 characters of base64); exit on an error. */
static void
read_key(const char *path)
{
	char text[64];
	size_t len;
	FILE *f;

	if (sodium_init() < 0 || (f = fopen(path, "r")) == NULL) {
		perror("knockload: key file");
		exit(1);
	}
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (sodium_base642bin(key, sizeof(key), text, len, NULL, &len, NULL,
	    sodium_base64_VARIANT_ORIGINAL) || len != sizeof(key)) {
		fprintf(stderr, "knockload: %s: not a key\n", path);
		exit(1);
	}
	sodium_memzero(text, sizeof(text));
	tokens = 1;
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
	h_client_close(&c->hc, 0);	/* leaves the epoll set too */
	c->state = ST_FREE;
}

/* Start a connection in slot ${c}; 0 on success. */
static int
conn_start(struct conn *c, int idx)
{
	struct epoll_event ev;

	if (tokens) {
		if (usedminted < nminted &&
		    time(NULL) - minted_t < MINT_SECS)
			memcpy(token, minted[usedminted++], TOKEN_LEN);
		else
			token_mint_now(key, token);
		hconf.knock = token;
		hconf.knocklen = TOKEN_LEN;
	}
	c->t0 = now();
	if (h_client_open(&c->hc, &hconf)) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOMEM) {
			perror("knockload: socket");
			exit(1);
		}
		errors++;
		c->state = ST_FREE;
		return (-1);
	}
	c->state = ST_BUSY;
	c->events = h_client_events(&c->hc);
	memset(&ev, 0, sizeof(ev));
	ev.events = (uint32_t)c->events;	/* poll's bits are epoll's */
	ev.data.u32 = (uint32_t)idx;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->hc.fd, &ev)) {
		perror("knockload: epoll_ctl");
		exit(1);
	}
	return (0);
}

/*
 * Act on ${events} for slot ${c} (index ${idx}) and watch for what it waits
 * for next; 1 once it is closed (EOF or error), else 0.
 */
static int
conn_step(struct conn *c, int idx, uint32_t events)
{
	struct epoll_event ev;
	short want;

	h_client_step(&c->hc, (short)(events & (EPOLLIN | EPOLLOUT |
	    EPOLLERR | EPOLLHUP)));
	if (c->hc.closed)
		return (1);
	if ((want = h_client_events(&c->hc)) != c->events) {
		memset(&ev, 0, sizeof(ev));
		ev.events = (uint32_t)want;
		ev.data.u32 = (uint32_t)idx;
		if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->hc.fd, &ev)) {
			perror("knockload: epoll_ctl");
			exit(1);
		}
		c->events = want;
	}
	return (0);
}

static int
reply_ok(const struct conn *c)
{
	const uint8_t *h = c->hc.head;
	size_t n = c->hc.headlen;

	/* "HTTP/1.1 200", and the -m string in the first bytes */
	if (n < 12 || memcmp(h, "HTTP/1.", 7) != 0 ||
	    memcmp(h + 8, " 200", 4) != 0)
		return (0);
	return (match == NULL || memmem(h, n, match, strlen(match)) != NULL);
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

/*
 * Mint the tokens of a run of ${dur} seconds with ${conc} loops ahead
 * (see -K above), each for the second the clock starts (-A's or now).
 */
static void
mint_ahead(int conc, double dur)
{
	uint8_t nonce[TOKEN_NONCELEN];
	double secs = dur < MINT_SECS ? dur : MINT_SECS;

	nminted = (size_t)conc + (size_t)(secs * MINT_RATE);
	if ((minted = calloc(nminted, TOKEN_LEN)) == NULL) {
		perror("knockload: calloc");
		exit(1);
	}
	minted_t = start_at > 0 ? (time_t)start_at : time(NULL);
	for (usedminted = 0; usedminted < nminted && !stop; usedminted++) {
		randombytes_buf(nonce, sizeof(nonce));
		token_mint(key, (uint64_t)minted_t, nonce, minted[usedminted]);
	}
	nminted = usedminted;
	usedminted = 0;
}

/* Sleep until the wall clock reads ${t}; at once if it is past. */
static void
sleep_until(double t)
{
	struct timespec ts;

	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL) ==
	    EINTR && !stop)
		;
}

static void
run_rate(struct conn *cs, int conc, double dur)
{
	struct epoll_event evs[256];
	double start, end, t;
	unsigned long done = 0;
	int i, n;

	if (tokens)
		mint_ahead(conc, dur);
	if (start_at > 0) {
		if ((t = wall() - start_at) > 0.05)
			fprintf(stderr, "knockload: started %.3f s after -A's "
			    "time (minting took longer)\n", t);
		sleep_until(start_at);
	}
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

			if (c->state != ST_BUSY ||
			    !conn_step(c, idx, evs[i].events))
				continue;
			if (c->hc.err != 0)
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
			int idx = (int)evs[i].data.u32;
			struct conn *c = &cs[idx];

			if (c->state == ST_BUSY) {
				if (conn_step(c, idx, evs[i].events)) {
					fprintf(stderr, "knockload: idle "
					    "connection %d failed\n", idx);
					exit(1);
				}
				/* Connected and the request sent: it idles. */
				if (c->hc.connecting || c->events != POLLIN)
					continue;
				c->state = ST_IDLE;
				inflight--;
				ready++;
			} else if (c->state == ST_IDLE &&
			    conn_step(c, idx, evs[i].events)) {
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
			int idx = (int)evs[i].data.u32;
			struct conn *c = &cs[idx];

			if (c->state == ST_IDLE &&
			    conn_step(c, idx, evs[i].events)) {
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
	char *colon, *host, *knock, *request;

	while ((opt = getopt(argc, argv, "c:d:x:K:r:I:m:A:")) != -1) {
		switch (opt) {
		case 'c': conc = atoi(optarg); break;
		case 'd': dur = atof(optarg); break;
		case 'x': knockhex = optarg; break;
		case 'K': read_key(optarg); break;
		case 'r': req = optarg; break;
		case 'I': idle = atoi(optarg); break;
		case 'm': match = optarg; break;
		case 'A': start_at = atof(optarg); break;
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

	knock = malloc(knockhex ? strlen(knockhex) / 2 + 1 : 1);
	request = malloc(strlen(req) + 1);
	if (knock == NULL || request == NULL)
		return (1);
	request[unescape(req, request)] = '\0';
	hconf.addr = (const struct sockaddr *)&dst;
	hconf.addrlen = sizeof(dst);
	if (knockhex != NULL && (hconf.knocklen = unhex(knockhex, knock)) > 0)
		hconf.knock = knock;
	hconf.request = request;

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
		cs[i].hc.fd = -1;
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
