/*
 * Fault tests: the real, sandboxed binary between broken or hostile peers
 * on loopback.  Backends that reset, close early, never answer or never
 * read; clients that reset, read slowly, never send or flood; many
 * sequential connections; signals.  Every check is on bytes, exit codes,
 * log lines or /proc state, never on speed.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define KNOCK	"open-sesame"
#define KLEN	(sizeof(KNOCK) - 1)
/* Longer than the knock and not its prefix: routed normal at once. */
#define NREQ	"GET / HTTP/1.1\r\n\r\n"
#define NREQLEN	(sizeof(NREQ) - 1)

#define MIB	(1024ULL * 1024)

static struct backend normal, hidden;
static struct relay_proc relay;

/* ---- a backend with faults (threads of this process) ---- */

#define FB_RESET_AFTER	0	/* Read ${n} bytes, then SO_LINGER 0 close. */
#define FB_CLOSE_AFTER	1	/* Read ${n} bytes, then close(). */
#define FB_GATED	2	/* Read nothing until ${gate}; then to EOF. */
#define FB_SEND		3	/* Send ${n} bytes of blocks, FIN, drain. */
#define FB_SILENT	4	/* Listen with backlog 0, never accept. */

struct fbe {
	int lfd;
	uint16_t port;
	int mode;
	uint64_t n;
	uint64_t seed;
	pthread_t thr;
	volatile int stop;
	volatile int gate;
	pthread_mutex_t mtx;
	unsigned conns;		/* Accepted. */
	unsigned done;		/* Finished their behaviour. */
	unsigned active;	/* Serving threads still running. */
	uint64_t len;		/* FB_GATED: bytes received; FB_SEND: sent. */
	uint64_t hash;		/* FB_GATED: hash of what was received. */
};

struct fbe_conn {
	struct fbe * F;
	int fd;
};

/* Block ${i} of the byte stream of ${seed} (64 KiB blocks). */
#define BLK	65536
static void
block(uint8_t * buf, uint64_t seed, uint64_t i)
{

	fill_random(buf, BLK, seed * 1000003 + i);
}

/* The hash of the first ${len} bytes of the stream of ${seed}. */
static uint64_t
stream_hash(uint64_t seed, uint64_t len)
{
	static uint8_t buf[BLK];
	uint64_t h = HASH_INIT, off, i;
	size_t n;

	for (off = 0, i = 0; off < len; off += n, i++) {
		block(buf, seed, i);
		n = (len - off < BLK) ? (size_t)(len - off) : BLK;
		h = hash64(h, buf, n);
	}
	return (h);
}

static void
fbe_finish(struct fbe * F, int done)
{

	pthread_mutex_lock(&F->mtx);
	F->done += (unsigned)done;
	F->active--;
	pthread_mutex_unlock(&F->mtx);
}

/* Read up to ${want} bytes (or to EOF if ${want} is 0); return bytes read. */
static uint64_t
fbe_read(struct fbe * F, int fd, uint64_t want, uint64_t * h, int * eof)
{
	static __thread uint8_t buf[BLK];
	uint64_t got = 0;
	size_t ask;
	ssize_t r;

	*eof = 0;
	while (!F->stop && (want == 0 || got < want)) {
		ask = sizeof(buf);
		if (want != 0 && want - got < ask)
			ask = (size_t)(want - got);
		r = recv(fd, buf, ask, 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			*eof = (r == 0);
			break;
		}
		if (h != NULL)
			*h = hash64(*h, buf, (size_t)r);
		got += (uint64_t)r;
	}
	return (got);
}

static void *
fbe_serve(void * cookie)
{
	struct fbe_conn * FC = cookie;
	struct fbe * F = FC->F;
	static __thread uint8_t buf[BLK];
	struct timeval tv = { .tv_sec = 0, .tv_usec = 100000 };
	uint64_t h = HASH_INIT, got, off, i;
	size_t n, boff;
	ssize_t r;
	int eof, done = 0;

	switch (F->mode) {
	case FB_RESET_AFTER:
	case FB_CLOSE_AFTER:
		got = fbe_read(F, FC->fd, F->n, NULL, &eof);
		done = (got == F->n);
		if (F->mode == FB_RESET_AFTER)
			close_reset(FC->fd);
		else
			close(FC->fd);
		FC->fd = -1;
		break;
	case FB_GATED:
		while (!F->gate && !F->stop)
			usleep(10000);
		got = fbe_read(F, FC->fd, 0, &h, &eof);
		pthread_mutex_lock(&F->mtx);
		F->len = got;
		F->hash = h;
		pthread_mutex_unlock(&F->mtx);
		done = eof;
		if (eof)
			shutdown(FC->fd, SHUT_WR);
		break;
	case FB_SEND:
		/* Sends time out now and then so that a stop is noticed. */
		setsockopt(FC->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		for (off = 0, i = 0; off < F->n && !F->stop; i++) {
			block(buf, F->seed, i);
			n = (F->n - off < BLK) ? (size_t)(F->n - off) : BLK;
			for (boff = 0; boff < n && !F->stop; ) {
				r = send(FC->fd, buf + boff, n - boff,
				    MSG_NOSIGNAL);
				if (r == -1 && (errno == EINTR ||
				    errno == EAGAIN))
					continue;
				if (r <= 0)
					goto sent;
				boff += (size_t)r;
				pthread_mutex_lock(&F->mtx);
				F->len += (uint64_t)r;
				pthread_mutex_unlock(&F->mtx);
			}
			off += n;
		}
sent:
		done = (off >= F->n);
		if (done) {
			shutdown(FC->fd, SHUT_WR);
			setsockopt(FC->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
			    sizeof(tv));
			while (!F->stop && ((r = recv(FC->fd, buf, sizeof(buf),
			    0)) > 0 || (r == -1 && (errno == EAGAIN ||
			    errno == EINTR))))
				;
		}
		break;
	}
	if (FC->fd != -1)
		close(FC->fd);
	fbe_finish(F, done);
	free(FC);
	return (NULL);
}

static void *
fbe_accept(void * cookie)
{
	struct fbe * F = cookie;
	struct pollfd p = { .fd = F->lfd, .events = POLLIN };
	struct fbe_conn * FC;
	pthread_t t;
	int fd;

	while (!F->stop) {
		if (poll(&p, 1, 50) <= 0)
			continue;
		if ((fd = accept(F->lfd, NULL, NULL)) == -1)
			continue;
		FC = malloc(sizeof(*FC));
		FC->F = F;
		FC->fd = fd;
		pthread_mutex_lock(&F->mtx);
		F->conns++;
		F->active++;
		pthread_mutex_unlock(&F->mtx);
		if (pthread_create(&t, NULL, fbe_serve, FC)) {
			close(fd);
			free(FC);
			fbe_finish(F, 0);
			continue;
		}
		pthread_detach(t);
	}
	return (NULL);
}

static void
fbe_start(struct fbe * F, int mode, uint64_t n, uint64_t seed)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	memset(F, 0, sizeof(*F));
	pthread_mutex_init(&F->mtx, NULL);
	F->mode = mode;
	F->n = n;
	F->seed = seed;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	F->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(F->lfd >= 0);
	cr_assert(bind(F->lfd, (struct sockaddr *)&sin, len) == 0);
	/* Backlog 0: the accept queue holds one connection. */
	cr_assert(listen(F->lfd, mode == FB_SILENT ? 0 : 1024) == 0);
	cr_assert(getsockname(F->lfd, (struct sockaddr *)&sin, &len) == 0);
	F->port = ntohs(sin.sin_port);
	if (mode != FB_SILENT)
		cr_assert(pthread_create(&F->thr, NULL, fbe_accept, F) == 0);
}

/* Stop accepting, let every serving thread end (2 s), close. */
static void
fbe_stop(struct fbe * F)
{
	uint64_t end = now_ms() + 2000;
	unsigned active;

	F->stop = 1;
	if (F->mode != FB_SILENT)
		pthread_join(F->thr, NULL);
	close(F->lfd);
	do {
		pthread_mutex_lock(&F->mtx);
		active = F->active;
		pthread_mutex_unlock(&F->mtx);
		if (active == 0)
			break;
		usleep(5000);
	} while (now_ms() < end);
}

static uint64_t
fbe_get(struct fbe * F, uint64_t * p)
{
	uint64_t v;

	pthread_mutex_lock(&F->mtx);
	v = *p;
	pthread_mutex_unlock(&F->mtx);
	return (v);
}

static int
fbe_wait_done(struct fbe * F, unsigned n, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	unsigned done;

	do {
		pthread_mutex_lock(&F->mtx);
		done = F->done;
		pthread_mutex_unlock(&F->mtx);
		if (done >= n)
			return (0);
		usleep(5000);
	} while (now_ms() < end);
	return (-1);
}

/* ---- the relay ---- */

/* Start a relay in front of ${nport} (normal) and ${hport} (hidden). */
static void
relay_up(uint16_t nport, uint16_t hport, const char * const * extra)
{
	static char n[32], h[32];
	const char * args[40];
	size_t i = 0, j;

	snprintf(n, sizeof(n), "127.0.0.1:%u", nport);
	snprintf(h, sizeof(h), "127.0.0.1:%u", hport);
	args[i++] = "--listen";
	args[i++] = "127.0.0.1:0";
	args[i++] = "--normal";
	args[i++] = n;
	args[i++] = "--hidden";
	args[i++] = h;
	for (j = 0; extra != NULL && extra[j] != NULL && i < 36; j++)
		args[i++] = extra[j];
	args[i++] = KNOCK;
	args[i] = NULL;
	relay_start(&relay, args);
}

/* Both harness echo backends and a relay in front of them. */
static void
setup_echo(const char * const * extra)
{

	backend_start(&normal, AF_INET, BE_ECHO, "normal");
	backend_start(&hidden, AF_INET, BE_ECHO, "hidden");
	relay_up(normal.port, hidden.port, extra);
}

/* Stop the relay (it must exit 0 on SIGTERM: no crash, no signal death). */
static void
relay_down(void)
{
	int st;

	st = relay_stop(&relay, SIGTERM, 3000);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "relay did not exit 0 on SIGTERM (status %#x%s%s); log tail:\n%s",
	    st, WIFSIGNALED(st) ? ", signal " : "",
	    WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "",
	    relay.log != NULL && relay.loglen > 3000 ?
	    relay.log + relay.loglen - 3000 : relay.log);
}

static void
teardown_echo(void)
{

	relay_down();
	backend_stop(&normal);
	backend_stop(&hidden);
}

/* The relay is still running (not exited, not killed). */
static int
relay_alive(void)
{
	int st;

	return (relay.pid > 0 && waitpid(relay.pid, &st, WNOHANG) == 0);
}

/* VmRSS of the relay in KiB, or -1. */
static long
relay_rss_kib(void)
{
	char path[64], line[256];
	long kib = -1;
	FILE * f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)relay.pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return (kib);
}

/* Wait until the relay holds ${n} sockets (${ms}); return what it holds. */
static int
wait_sockets(int n, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	int got;

	do {
		if ((got = relay_fd_count_kind(&relay, "socket:")) == n)
			break;
		usleep(10000);
	} while (now_ms() < end);
	return (got);
}

/* Wait until the log holds ${n} occurrences of ${s}; return the count. */
static int
wait_log_count(const char * s, int n, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	int got;

	do {
		if ((got = relay_log_count(&relay, s)) >= n)
			break;
		usleep(20000);
	} while (now_ms() < end);
	return (got);
}

/* A short exchange on one route: send, half-close, the echo comes back. */
static void
echo_once(int knocked, const char * what)
{
	char buf[64];
	size_t got;
	int fd;

	fd = tcp_connect(AF_INET, relay.port);
	if (knocked)
		send_all(fd, KNOCK "ping", KLEN + 4);
	else
		send_all(fd, NREQ, NREQLEN);
	shutdown(fd, SHUT_WR);
	got = recv_until(fd, buf, sizeof(buf), 5000);
	close(fd);
	if (knocked)
		cr_assert(got == 4 && memcmp(buf, "ping", 4) == 0,
		    "%s: hidden route echoed %zu bytes", what, got);
	else
		cr_assert(got == NREQLEN && memcmp(buf, NREQ, NREQLEN) == 0,
		    "%s: normal route echoed %zu bytes", what, got);
}

/* Raise this process's descriptor limit to at least ${n} (or the hard). */
static void
raise_nofile(rlim_t n)
{
	struct rlimit rl;

	cr_assert(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_cur >= n)
		return;
	rl.rlim_cur = (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > n) ?
	    n : rl.rlim_max;
	cr_assert(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	cr_assert(rl.rlim_cur >= n, "descriptor limit %llu < %llu",
	    (unsigned long long)rl.rlim_cur, (unsigned long long)n);
}

/*
 * Log every TCP socket of the relay with its queues (from /proc/net/tcp),
 * to show where bytes wait when a transfer stalls.
 */
static void
dump_relay_sockets(void)
{
	char path[300], target[128], line[512];
	unsigned long inodes[256], ino;
	unsigned lport, rport, st;
	unsigned long txq, rxq;
	struct dirent * d;
	size_t ni = 0, i;
	ssize_t len;
	DIR * dir;
	FILE * f;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)relay.pid);
	if ((dir = opendir(path)) == NULL)
		return;
	while ((d = readdir(dir)) != NULL && ni < 256) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)relay.pid,
		    d->d_name);
		if ((len = readlink(path, target, sizeof(target) - 1)) < 0)
			continue;
		target[len] = '\0';
		if (sscanf(target, "socket:[%lu]", &ino) == 1)
			inodes[ni++] = ino;
	}
	closedir(dir);
	if ((f = fopen("/proc/net/tcp", "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, " %*u: %*x:%x %*x:%x %x %lx:%lx %*x:%*x %*x "
		    "%*u %*u %lu", &lport, &rport, &st, &txq, &rxq, &ino) != 6)
			continue;
		for (i = 0; i < ni; i++)
			if (inodes[i] == ino)
				cr_log_error("relay socket :%u -> :%u state %02x "
				    "send-q %lu recv-q %lu", lport, rport, st,
				    txq, rxq);
	}
	fclose(f);
}

/* ---- a streaming client (non-blocking) ---- */

struct sc {
	int fd;
	uint64_t seed, sent, got, blk;
	uint8_t out[BLK];
	size_t outlen, outoff;
	int closed;		/* EOF or an error seen. */
	int err;		/* The error, or 0 for an EOF. */
};

static void
sc_init(struct sc * S, int knocked, uint64_t seed)
{

	memset(S, 0, sizeof(*S));
	S->fd = tcp_connect(AF_INET, relay.port);
	S->seed = seed;
	if (knocked)
		send_all(S->fd, KNOCK, KLEN);
	else
		send_all(S->fd, NREQ, NREQLEN);
	fcntl(S->fd, F_SETFL, O_NONBLOCK);
}

/* Send and receive what the socket allows now. */
static void
sc_step(struct sc * S, short revents, int sending)
{
	static __thread uint8_t in[BLK];
	ssize_t n;

	if (S->closed)
		return;
	if (sending && (revents & POLLOUT)) {
		if (S->outoff == S->outlen) {
			block(S->out, S->seed, S->blk++);
			S->outlen = BLK;
			S->outoff = 0;
		}
		n = send(S->fd, S->out + S->outoff, S->outlen - S->outoff,
		    MSG_NOSIGNAL);
		if (n > 0) {
			S->outoff += (size_t)n;
			S->sent += (uint64_t)n;
		} else if (n == -1 && errno != EAGAIN && errno != EINTR) {
			S->closed = 1;
			S->err = errno;
			return;
		}
	}
	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		n = recv(S->fd, in, sizeof(in), 0);
		if (n > 0) {
			S->got += (uint64_t)n;
		} else if (n == 0) {
			S->closed = 1;
		} else if (errno != EAGAIN && errno != EINTR) {
			S->closed = 1;
			S->err = errno;
		}
	}
}

/*
 * Pump ${n} clients for up to ${ms}, sending if ${sending}, until each has
 * received ${until} bytes (0: until each is closed).  Return the clients
 * that got there.
 */
static int
sc_pump(struct sc * S, int n, int sending, uint64_t until, int ms)
{
	struct pollfd pfd[64];
	uint64_t end = now_ms() + (uint64_t)ms;
	int i, left;

	cr_assert(n <= 64);
	for (;;) {
		left = 0;
		for (i = 0; i < n; i++) {
			int busy = !S[i].closed &&
			    (until == 0 || S[i].got < until);

			pfd[i].fd = busy ? S[i].fd : -1;
			pfd[i].events = POLLIN | (sending ? POLLOUT : 0);
			pfd[i].revents = 0;
			left += busy;
		}
		if (left == 0 || now_ms() >= end)
			break;
		if (poll(pfd, (nfds_t)n, 50) < 0)
			break;
		for (i = 0; i < n; i++)
			if (pfd[i].revents)
				sc_step(&S[i], pfd[i].revents, sending);
	}
	return (n - left);
}

/* ================= backends ================= */

Test(faults, backend_not_answering_connect_timeout, .timeout = 30)
{
	struct fbe silent;
	int fill[4], i, fd, err;
	uint64_t t0, t1;
	struct sockaddr_in sin;

	/*
	 * A listener with backlog 0 whose accept queue is full: the kernel
	 * drops further SYNs, so a connect to it neither succeeds nor fails.
	 */
	fbe_start(&silent, FB_SILENT, 0, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(silent.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		cr_assert(fill[i] >= 0);
		err = connect(fill[i], (struct sockaddr *)&sin, sizeof(sin));
		cr_assert(err == 0 || errno == EINPROGRESS);
	}
	usleep(200000);

	backend_start(&hidden, AF_INET, BE_ECHO, "hidden");
	relay_up(silent.port, hidden.port, (const char *[]){
	    "--connect-timeout", "500ms", NULL });
	fd = tcp_connect(AF_INET, relay.port);
	t0 = now_ms();
	send_all(fd, NREQ, NREQLEN);
	cr_assert(wait_closed(fd, 5000), "client not closed by the connect "
	    "timeout; log:\n%s", relay.log);
	t1 = now_ms();
	close(fd);
	cr_assert(relay_log_wait(&relay, "closed: backend connect timed out",
	    2000) == 0, "log:\n%s", relay.log);
	/* Not refused, not failed: it timed out (bounds are generous). */
	cr_assert(t1 - t0 >= 400, "closed after %llu ms, before the 500 ms "
	    "connect timeout; log:\n%s", (unsigned long long)(t1 - t0),
	    relay.log);
	cr_assert_eq(relay_log_count(&relay, "connect failed"), 0);

	/* It goes on serving the other route; nothing is left open. */
	echo_once(1, "after a connect timeout");
	cr_assert_eq(wait_sockets(1, 3000), 1, "sockets left open");
	relay_down();
	backend_stop(&hidden);
	for (i = 0; i < 4; i++)
		close(fill[i]);
	fbe_stop(&silent);
}

/* Stream into the ${knocked} route until the relay closes us (5 s). */
static void
stream_until_closed(int knocked, const char * what)
{
	struct sc * S = calloc(1, sizeof(*S));

	sc_init(S, knocked, 11);
	sc_pump(S, 1, 1, 0, 5000);
	cr_assert(S->closed, "%s: client not closed after %llu bytes sent; "
	    "log:\n%s", what, (unsigned long long)S->sent, relay.log);
	close(S->fd);
	free(S);
}

Test(faults, backend_resets_mid_stream_both_routes, .timeout = 30)
{
	struct fbe rst;
	int i;

	/* Both routes lead to a backend that reads 256 KiB, then resets. */
	fbe_start(&rst, FB_RESET_AFTER, 256 * 1024, 0);
	relay_up(rst.port, rst.port, NULL);
	for (i = 0; i < 4; i++) {
		stream_until_closed(i % 2, "backend reset");
		cr_assert(fbe_wait_done(&rst, (unsigned)i + 1, 3000) == 0,
		    "the backend did not read its 256 KiB");
	}
	cr_assert_eq(wait_log_count(" closed: ", 4, 3000), 4,
	    "closes not logged; log:\n%s", relay.log);
	cr_assert(relay_log_count(&relay, "Connection reset by peer") +
	    relay_log_count(&relay, "Broken pipe") >= 1,
	    "no reset in the close reasons; log:\n%s", relay.log);
	cr_assert(relay_alive());
	cr_assert_eq(wait_sockets(1, 3000), 1, "sockets left open");
	relay_down();
	fbe_stop(&rst);
}

Test(faults, backend_reset_then_relay_keeps_serving, .timeout = 30)
{
	struct fbe rst;

	/* Hidden backend resets; the normal route is unaffected meanwhile. */
	fbe_start(&rst, FB_RESET_AFTER, 64 * 1024, 0);
	backend_start(&normal, AF_INET, BE_ECHO, "normal");
	relay_up(normal.port, rst.port, NULL);
	stream_until_closed(1, "hidden backend reset");
	echo_once(0, "after a backend reset");
	stream_until_closed(1, "hidden backend reset again");
	echo_once(0, "after two backend resets");
	cr_assert_eq(wait_sockets(1, 3000), 1, "sockets left open");
	relay_down();
	backend_stop(&normal);
	fbe_stop(&rst);
}

Test(faults, backend_closes_early_while_client_sends, .timeout = 30)
{
	struct fbe early;
	int fds, i;

	fbe_start(&early, FB_CLOSE_AFTER, 1024, 0);
	backend_start(&normal, AF_INET, BE_ECHO, "normal");
	relay_up(normal.port, early.port, NULL);
	echo_once(0, "warm-up");
	cr_assert_eq(wait_sockets(1, 3000), 1);
	fds = relay_fd_count(&relay);
	for (i = 0; i < 5; i++)
		stream_until_closed(1, "backend closed early");
	cr_assert(fbe_wait_done(&early, 5, 3000) == 0);
	cr_assert_eq(wait_log_count(" closed: ", 6, 3000), 6,
	    "closes not logged; log:\n%s", relay.log);
	echo_once(0, "after early closes");
	cr_assert_eq(wait_sockets(1, 3000), 1, "sockets left open");
	cr_assert(relay_fd_count(&relay) <= fds + 4,
	    "descriptors: %d after warm-up, %d now", fds,
	    relay_fd_count(&relay));
	cr_assert(relay_alive());
	relay_down();
	backend_stop(&normal);
	fbe_stop(&early);
}

/* Send from ${S} until no progress for ${idle} ms or ${limit}; bytes sent. */
static uint64_t
push_until_blocked(struct sc * S, uint64_t limit, int idle, int ms)
{
	struct pollfd p = { .fd = S->fd, .events = POLLOUT };
	uint64_t end = now_ms() + (uint64_t)ms;
	size_t want;
	ssize_t n;

	while (S->sent < limit && now_ms() < end) {
		p.revents = 0;
		if (poll(&p, 1, idle) <= 0)
			break;		/* No room for ${idle} ms: blocked. */
		if (p.revents & (POLLERR | POLLHUP))
			break;
		if (S->outoff == S->outlen) {
			block(S->out, S->seed, S->blk++);
			S->outlen = BLK;
			S->outoff = 0;
		}
		want = S->outlen - S->outoff;
		if (want > limit - S->sent)
			want = (size_t)(limit - S->sent);
		n = send(S->fd, S->out + S->outoff, want, MSG_NOSIGNAL);
		if (n > 0) {
			S->outoff += (size_t)n;
			S->sent += (uint64_t)n;
		} else if (n == -1 && errno != EAGAIN && errno != EINTR) {
			S->err = errno;
			break;
		}
	}
	return (S->sent);
}

Test(faults, backend_never_reads_backpressure_bounded, .timeout = 90)
{
	const uint64_t total = 100 * MIB;
	struct fbe gated;
	struct sc * S = calloc(1, sizeof(*S));
	long rss0, rss1;
	int pipes0, pipes1, socks, fd;
	char c;

	fbe_start(&gated, FB_GATED, 0, 0);
	backend_start(&normal, AF_INET, BE_ECHO, "normal");
	relay_up(normal.port, gated.port, NULL);
	echo_once(0, "warm-up");
	/* A first hidden connection, let through the gate at once. */
	fd = tcp_connect(AF_INET, relay.port);
	send_all(fd, KNOCK "ping", KLEN + 4);
	shutdown(fd, SHUT_WR);
	gated.gate = 1;
	cr_assert(fbe_wait_done(&gated, 1, 3000) == 0);
	cr_assert(wait_closed(fd, 3000));
	close(fd);
	gated.gate = 0;
	cr_assert_eq(wait_sockets(1, 3000), 1);
	rss0 = relay_rss_kib();
	pipes0 = relay_fd_count_kind(&relay, "pipe:");
	cr_assert(rss0 > 0);

	/* The client pushes until the relay stops taking bytes. */
	sc_init(S, 1, 21);
	push_until_blocked(S, total, 1500, 30000);
	cr_assert_eq(S->err, 0, "send: %s", strerror(S->err));
	cr_assert(S->sent < total, "all of %llu MiB went into a backend that "
	    "reads nothing", (unsigned long long)(total / MIB));
	rss1 = relay_rss_kib();
	pipes1 = relay_fd_count_kind(&relay, "pipe:");
	socks = relay_fd_count_kind(&relay, "socket:");
	cr_log_info("blocked after %llu KiB; relay RSS %ld -> %ld KiB; pipe "
	    "fds %d -> %d", (unsigned long long)(S->sent / 1024), rss0, rss1,
	    pipes0, pipes1);
	cr_assert(rss1 - rss0 < 8 * 1024, "relay RSS grew from %ld to %ld KiB "
	    "while %llu KiB were stuck", rss0, rss1,
	    (unsigned long long)(S->sent / 1024));
	/* At most one pipe per direction: 2 pipes, 4 descriptors. */
	cr_assert(pipes1 - pipes0 <= 4, "pipe descriptors %d -> %d", pipes0,
	    pipes1);
	cr_assert_eq(socks, 3, "sockets: %d (listener, client, backend)",
	    socks);
	/* Other clients are served meanwhile. */
	echo_once(0, "while a backend is stuck");

	/* The backend reads now: every byte arrives. */
	gated.gate = 1;
	push_until_blocked(S, total, 10000, 60000);
	cr_assert_eq(S->sent, total, "sent %llu of %llu bytes (%s)",
	    (unsigned long long)S->sent, (unsigned long long)total,
	    S->err ? strerror(S->err) : "stalled");
	shutdown(S->fd, SHUT_WR);
	cr_assert(fbe_wait_done(&gated, 2, 20000) == 0,
	    "the backend saw no EOF; it got %llu bytes",
	    (unsigned long long)fbe_get(&gated, &gated.len));
	cr_assert_eq(gated.len, total, "backend got %llu of %llu bytes",
	    (unsigned long long)gated.len, (unsigned long long)total);
	cr_assert_eq(gated.hash, stream_hash(21, total), "bytes differ");
	fcntl(S->fd, F_SETFL, 0);
	cr_assert_eq(recv_until(S->fd, &c, 1, 3000), 0, "no EOF to the client");
	close(S->fd);
	free(S);
	cr_assert_eq(wait_sockets(1, 3000), 1, "sockets left open");
	relay_down();
	backend_stop(&normal);
	fbe_stop(&gated);
}

/* ================= clients ================= */

#define NRESET	8

Test(faults, client_resets_mid_stream_both_routes, .timeout = 60)
{
	static struct sc S[NRESET];
	int i, round, got, pipes;

	setup_echo(NULL);
	for (round = 0; round < 3; round++) {
		/* 8 bulk echoes, half per route, reset after 1 MiB came back. */
		for (i = 0; i < NRESET; i++)
			sc_init(&S[i], i % 2, (uint64_t)(round * 100 + i));
		got = sc_pump(S, NRESET, 1, MIB, 20000);
		cr_assert_eq(got, NRESET, "only %d of %d echoed 1 MiB", got,
		    NRESET);
		for (i = 0; i < NRESET; i++) {
			cr_assert(!S[i].closed, "connection %d closed early: "
			    "%s", i, strerror(S[i].err));
			close_reset(S[i].fd);
		}
		cr_assert(relay_alive(), "the relay died");
		cr_assert_eq(wait_sockets(1, 3000), 1, "round %d: sockets left "
		    "open", round);
		echo_once(0, "after client resets");
		echo_once(1, "after client resets");
	}
	cr_assert_eq(wait_log_count(" closed: ", 3 * (NRESET + 2), 3000),
	    3 * (NRESET + 2), "closes not logged; log:\n%s", relay.log);
	cr_assert(relay_log_count(&relay, "Connection reset by peer") >= 1,
	    "no reset logged; log:\n%s", relay.log);
	pipes = relay_fd_count_kind(&relay, "pipe:");
	cr_assert(pipes <= 2 * 64, "%d pipe descriptors", pipes);
	cr_assert_eq(relay_fd_others(&relay), 0);
	teardown_echo();
}

Test(faults, slow_consumer_relay_slows_its_reads, .timeout = 40)
{
	const uint64_t total = 4 * MIB;
	static uint8_t buf[4 * 1024 * 1024];
	struct fbe sender;
	long rss0, rss, rssmax = 0;
	int fd, pipes0, pipes, pipesmax = 0, i;
	uint64_t got = 0, h, sent_slow;
	size_t n;

	fbe_start(&sender, FB_SEND, total, 31);
	backend_start(&normal, AF_INET, BE_ECHO, "normal");
	relay_up(normal.port, sender.port, NULL);
	echo_once(0, "warm-up");
	cr_assert_eq(wait_sockets(1, 3000), 1);
	rss0 = relay_rss_kib();
	pipes0 = relay_fd_count_kind(&relay, "pipe:");

	fd = tcp_connect(AF_INET, relay.port);
	send_all(fd, KNOCK, KLEN);
	/* 3 s at 10 KiB/s: 1 KiB every 100 ms. */
	for (i = 0; i < 30; i++) {
		n = recv_n(fd, buf + got, 1024, 2000);
		cr_assert_eq(n, 1024, "slow read %d got %zu bytes", i, n);
		got += n;
		usleep(100000);
		if ((rss = relay_rss_kib()) > rssmax)
			rssmax = rss;
		if ((pipes = relay_fd_count_kind(&relay, "pipe:")) > pipesmax)
			pipesmax = pipes;
	}
	sent_slow = fbe_get(&sender, &sender.len);
	cr_log_info("slow phase: backend sent %llu KiB, client read %llu KiB;"
	    " relay RSS %ld -> max %ld KiB; pipe fds %d -> max %d",
	    (unsigned long long)(sent_slow / 1024),
	    (unsigned long long)(got / 1024), rss0, rssmax, pipes0, pipesmax);
	cr_assert(rssmax - rss0 < 8 * 1024, "relay RSS grew from %ld to %ld "
	    "KiB for a slow reader", rss0, rssmax);
	cr_assert(pipesmax - pipes0 <= 4, "pipe descriptors %d -> %d",
	    pipes0, pipesmax);
	cr_assert(relay_alive());

	/* Now fast: every byte, in order. */
	got += recv_until(fd, buf + got, total - got, 15000);
	cr_assert_eq(got, total, "client got %llu of %llu bytes",
	    (unsigned long long)got, (unsigned long long)total);
	h = hash64(HASH_INIT, buf, (size_t)total);
	cr_assert_eq(h, stream_hash(31, total), "bytes differ");
	shutdown(fd, SHUT_WR);
	cr_assert(wait_closed(fd, 3000), "no EOF after the last byte");
	close(fd);
	cr_assert_eq(wait_sockets(1, 3000), 1, "sockets left open");
	relay_down();
	backend_stop(&normal);
	fbe_stop(&sender);
}

#define NSILENT	1000

Test(faults, thousand_silent_connections_freed_normal_served, .timeout = 60)
{
	static int fds[NSILENT];
	uint64_t t0, ms;
	char buf[64];
	int i, fd, socks;

	raise_nofile(4 * NSILENT + 256);
	/* After -k 1s they go to the normal backend, after -o 1s more, out. */
	setup_echo((const char *[]){ "-k", "1s", "-o", "1s", "-v", NULL });
	for (i = 0; i < NSILENT; i++)
		fds[i] = tcp_connect(AF_INET, relay.port);
	cr_assert_eq(wait_log_count(" accepted from ", NSILENT, 5000), NSILENT,
	    "not all accepted");

	/* Meanwhile a client on each route is served within a second. */
	t0 = now_ms();
	fd = tcp_connect(AF_INET, relay.port);
	send_all(fd, NREQ, NREQLEN);
	cr_assert_eq(recv_n(fd, buf, NREQLEN, 1000), NREQLEN,
	    "normal client not served within 1 s among %d silent", NSILENT);
	ms = now_ms() - t0;
	close(fd);
	fd = tcp_connect(AF_INET, relay.port);
	send_all(fd, KNOCK "ping", KLEN + 4);
	cr_assert_eq(recv_n(fd, buf, 4, 1000), 4,
	    "hidden client not served within 1 s among %d silent", NSILENT);
	close(fd);
	cr_log_info("normal client served in %llu ms", (unsigned long long)ms);

	/* The knock timeout routes them, the idle timeout frees them. */
	cr_assert_eq(wait_log_count("routed to normal (timeout)", NSILENT,
	    10000), NSILENT, "knock timeouts missing");
	cr_assert_eq(wait_log_count("closed: idle timeout", NSILENT, 10000),
	    NSILENT, "silent connections not freed");
	socks = wait_sockets(1, 5000);
	cr_assert_eq(socks, 1, "%d sockets after the timeouts", socks);
	for (i = 0; i < NSILENT; i++) {
		cr_assert(wait_closed(fds[i], 1000), "client %d not closed", i);
		close(fds[i]);
	}
	echo_once(0, "after the silent ones");
	teardown_echo();
}

#define NFLOOD	2000

Test(faults, connect_and_close_flood, .timeout = 90)
{
	int i, fd, fds0, socks, accepted, closed;

	raise_nofile(4096);
	setup_echo((const char *[]){ "-v", NULL });	/* "accepted" lines. */
	echo_once(0, "warm-up");
	echo_once(1, "warm-up");
	cr_assert_eq(wait_sockets(1, 3000), 1);
	fds0 = relay_fd_count(&relay);
	for (i = 0; i < NFLOOD; i++) {
		fd = tcp_connect(AF_INET, relay.port);
		switch (i % 4) {
		case 0:
			close(fd);
			break;
		case 1:
			close_reset(fd);
			break;
		case 2:		/* Half a knock, then a reset. */
			send_all(fd, KNOCK, 4);
			close_reset(fd);
			break;
		case 3:		/* A request, then gone at once. */
			send_all(fd, NREQ, NREQLEN);
			close(fd);
			break;
		}
	}
	accepted = wait_log_count(" accepted from ", NFLOOD + 2, 10000);
	closed = wait_log_count(" closed: ", NFLOOD + 2, 20000);
	cr_assert_eq(accepted, NFLOOD + 2, "accepted %d", accepted);
	cr_assert_eq(closed, NFLOOD + 2, "closed %d of %d", closed, accepted);
	socks = wait_sockets(1, 5000);
	cr_assert_eq(socks, 1, "%d sockets after the flood", socks);
	cr_assert(relay_alive(), "the relay died");
	echo_once(0, "after the flood");
	echo_once(1, "after the flood");
	cr_assert_eq(wait_sockets(1, 3000), 1);
	cr_assert(relay_fd_count(&relay) <= fds0 + 4, "descriptors: %d before,"
	    " %d after", fds0, relay_fd_count(&relay));
	teardown_echo();
}

/* ================= resources ================= */

Test(faults, ten_thousand_sequential_connections_no_growth, .timeout = 240)
{
	int i, fds0, fds1, socks;
	long rss0, rss1;

	setup_echo(NULL);
	for (i = 0; i < 100; i++)
		echo_once(i % 2, "warm-up");
	cr_assert_eq(wait_sockets(1, 3000), 1);
	fds0 = relay_fd_count(&relay);
	rss0 = relay_rss_kib();
	for (i = 0; i < 10000; i++)
		echo_once(i % 2, "sequential");
	socks = wait_sockets(1, 5000);
	fds1 = relay_fd_count(&relay);
	rss1 = relay_rss_kib();
	cr_log_info("after 10,000: fds %d -> %d, RSS %ld -> %ld KiB", fds0,
	    fds1, rss0, rss1);
	cr_assert_eq(socks, 1, "%d sockets after 10,000 connections", socks);
	cr_assert_eq(fds1, fds0, "descriptors: %d after warm-up, %d after "
	    "10,000 connections", fds0, fds1);
	cr_assert(rss1 <= rss0 + 1024, "RSS: %ld KiB after warm-up, %ld KiB "
	    "after 10,000 connections", rss0, rss1);
	cr_assert_eq(wait_log_count(" closed: done", 10100, 5000), 10100);
	teardown_echo();
}

/* ================= signals ================= */

#define NLOAD	50

struct load {
	struct sc * S;
	volatile int stop;
	uint64_t moved;
};

static void *
load_pump(void * cookie)
{
	struct load * L = cookie;
	int i;

	while (!L->stop) {
		sc_pump(L->S, NLOAD / 2, 1, ~0ULL, 50);
		sc_pump(L->S + NLOAD / 2, NLOAD - NLOAD / 2, 1, ~0ULL, 50);
	}
	for (L->moved = 0, i = 0; i < NLOAD; i++)
		L->moved += L->S[i].got;
	return (NULL);
}

Test(faults, sigterm_under_load_exits_zero_promptly, .timeout = 30)
{
	static struct sc S[NLOAD];
	struct load L = { .S = S };
	pthread_t t;
	uint64_t t0, ms, before;
	int i, st, busy = 0;

	setup_echo(NULL);
	for (i = 0; i < NLOAD; i++)
		sc_init(&S[i], i % 2, (uint64_t)(500 + i));
	cr_assert(pthread_create(&t, NULL, load_pump, &L) == 0);
	/* Let every connection move bytes. */
	for (i = 0; i < 100 && busy < NLOAD; i++) {
		usleep(50000);
		for (busy = 0, st = 0; st < NLOAD; st++)
			busy += (S[st].got > 0);
	}
	cr_assert_eq(busy, NLOAD, "only %d of %d connections transferring",
	    busy, NLOAD);
	before = 0;
	for (i = 0; i < NLOAD; i++)
		before += S[i].got;

	t0 = now_ms();
	st = relay_stop(&relay, SIGTERM, 3000);
	ms = now_ms() - t0;
	L.stop = 1;
	pthread_join(t, NULL);
	for (i = 0; i < NLOAD; i++)
		close(S[i].fd);
	cr_log_info("%llu MiB echoed before SIGTERM; exit after %llu ms",
	    (unsigned long long)(before / MIB), (unsigned long long)ms);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "status %#x under load; log tail:\n%s", st,
	    relay.loglen > 2000 ? relay.log + relay.loglen - 2000 : relay.log);
	cr_assert(ms < 1000, "exited after %llu ms", (unsigned long long)ms);
	cr_assert(strstr(relay.log, "received SIGTERM: exiting") != NULL);
	backend_stop(&normal);
	backend_stop(&hidden);
}

Test(faults, sigpipe_never_kills, .timeout = 60)
{
	struct fbe sender;
	static uint8_t buf[256 * 1024];
	int i, fd;

	/* Both routes lead to a backend sending 64 MiB as fast as it can. */
	fbe_start(&sender, FB_SEND, 64 * MIB, 41);
	relay_up(sender.port, sender.port, NULL);
	for (i = 0; i < 20; i++) {
		fd = tcp_connect(AF_INET, relay.port);
		if (i % 2)
			send_all(fd, KNOCK, KLEN);
		else
			send_all(fd, NREQ, NREQLEN);
		/* Read some, so the relay is writing to us, then reset. */
		cr_assert_eq(recv_n(fd, buf, sizeof(buf), 5000), sizeof(buf),
		    "connection %d: no data", i);
		close_reset(fd);
		cr_assert(relay_alive(), "the relay died after reset %d; log "
		    "tail:\n%s", i, relay.log);
	}
	cr_assert_eq(wait_log_count(" closed: ", 20, 5000), 20,
	    "closes not logged; log:\n%s", relay.log);
	cr_assert(relay_log_count(&relay, "Connection reset by peer") +
	    relay_log_count(&relay, "Broken pipe") >= 1,
	    "no write error logged; log:\n%s", relay.log);
	cr_assert_eq(wait_sockets(1, 3000), 1, "sockets left open");
	/* Still serving. */
	fd = tcp_connect(AF_INET, relay.port);
	send_all(fd, KNOCK, KLEN);
	cr_assert_eq(recv_n(fd, buf, 1024, 5000), 1024, "not served after");
	close(fd);
	relay_down();		/* Exit 0 on SIGTERM: not killed by SIGPIPE. */
	fbe_stop(&sender);
}

/* ================= integrity among faults ================= */

#define NHEALTHY	6
#define NRUDE		8

struct rude {
	volatile int stop;
	int download;		/* Download then reset, else upload then reset. */
	unsigned rounds;
};

/*
 * Rude clients, 8 at a time: either blast 1 MiB into the echo route without
 * reading, or download 256 KiB on the hidden route; then reset.
 */
static void *
rude_clients(void * cookie)
{
	struct rude * U = cookie;
	static uint8_t buf[256 * 1024];
	struct sc S[NRUDE];
	int i;

	while (!U->stop) {
		if (U->download) {
			for (i = 0; i < NRUDE; i++) {
				S[i].fd = tcp_connect(AF_INET, relay.port);
				send_all(S[i].fd, KNOCK, KLEN);
			}
			for (i = 0; i < NRUDE; i++)
				(void)recv_n(S[i].fd, buf, sizeof(buf), 2000);
		} else {
			for (i = 0; i < NRUDE; i++)
				sc_init(&S[i], 0, (uint64_t)i);
			sc_pump(S, NRUDE, 1, MIB, 300);
		}
		for (i = 0; i < NRUDE; i++)
			close_reset(S[i].fd);
		U->rounds++;
	}
	return (NULL);
}

/*
 * Healthy clients download 32 MiB each on the hidden route while rude ones
 * reset nearby: every healthy byte arrives, in order, without waiting for
 * a timeout (the idle timeout is 30 s; the test gives up after 20 s).
 */
static void
healthy_among_rude(int download)
{
	const uint64_t total = 32 * MIB;
	static uint8_t in[BLK];
	struct fbe sender;
	struct rude U = { .download = download };
	struct pollfd pfd[NHEALTHY];
	uint64_t got[NHEALTHY], h[NHEALTHY], last[NHEALTHY], want, end, now;
	int fd[NHEALTHY], eof[NHEALTHY], i, left, round, ok = 0, stalled = 0;
	pthread_t t;
	ssize_t n;

	raise_nofile(4096);
	fbe_start(&sender, FB_SEND, total, 51);
	backend_start(&normal, AF_INET, BE_ECHO, "normal");
	relay_up(normal.port, sender.port, NULL);
	want = stream_hash(51, total);
	cr_assert(pthread_create(&t, NULL, rude_clients, &U) == 0);
	/* Rounds of 6 healthy downloads; 3 s without a byte is a stall. */
	end = now_ms() + 25000;
	for (round = 0; round < 3 && !stalled && now_ms() < end; round++) {
		for (i = 0; i < NHEALTHY; i++) {
			fd[i] = tcp_connect(AF_INET, relay.port);
			send_all(fd[i], KNOCK, KLEN);
			got[i] = 0;
			h[i] = HASH_INIT;
			eof[i] = 0;
			last[i] = now_ms();
		}
		for (;;) {
			for (left = 0, i = 0; i < NHEALTHY; i++) {
				pfd[i].fd = eof[i] ? -1 : fd[i];
				pfd[i].events = POLLIN;
				pfd[i].revents = 0;
				left += !eof[i];
			}
			if (left == 0 || (now = now_ms()) >= end ||
			    poll(pfd, NHEALTHY, 100) < 0)
				break;
			for (i = 0; i < NHEALTHY; i++) {
				if (!eof[i] && now - last[i] > 3000)
					stalled = 1;
				if (!pfd[i].revents)
					continue;
				n = recv(fd[i], in, sizeof(in), 0);
				if (n > 0) {
					h[i] = hash64(h[i], in, (size_t)n);
					got[i] += (uint64_t)n;
					last[i] = now_ms();
				} else {
					eof[i] = 1;
				}
			}
			if (stalled)
				break;
		}
		if (stalled)
			dump_relay_sockets();
		for (i = 0; i < NHEALTHY; i++) {
			if (got[i] == total && h[i] == want && eof[i])
				ok++;
			else
				cr_log_error("round %d, healthy client %d: %llu "
				    "of %llu bytes%s%s", round, i,
				    (unsigned long long)got[i],
				    (unsigned long long)total,
				    eof[i] ? ", closed" : ", stalled",
				    eof[i] && h[i] != want ? ", bytes differ" :
				    "");
			close(fd[i]);
		}
	}
	U.stop = 1;
	pthread_join(t, NULL);
	cr_log_info("%d rounds of %d healthy downloads, %u rounds of %d "
	    "resets meanwhile", round, NHEALTHY, U.rounds, NRUDE);
	cr_assert_eq(ok, round * NHEALTHY, "%d of %d healthy transfers "
	    "complete", ok, round * NHEALTHY);
	cr_assert(relay_alive());
	cr_assert_eq(wait_sockets(1, 5000), 1, "sockets left open");
	relay_down();
	backend_stop(&normal);
	fbe_stop(&sender);
}

Test(faults, uploads_reset_nearby_lose_no_healthy_byte, .timeout = 60)
{

	healthy_among_rude(0);
}

Test(faults, downloads_reset_nearby_lose_no_healthy_byte, .timeout = 60)
{

	healthy_among_rude(1);
}
