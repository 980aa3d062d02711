#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <grp.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

uint64_t
hash64(uint64_t h, const void * buf, size_t len)
{
	const uint8_t * p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return (h);
}

void
fill_random(void * buf, size_t len, uint64_t seed)
{
	uint8_t * p = buf;
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

/* ---- backends ---- */

struct be_conn {
	struct backend * B;
	int fd;
};

static void
be_record(struct backend * B, const struct be_record * r)
{

	pthread_mutex_lock(&B->mtx);
	B->last = *r;
	if (r->done)
		B->done++;
	pthread_mutex_unlock(&B->mtx);
}

static int
be_write(int fd, const void * buf, size_t len)
{
	const uint8_t * p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

static void *
be_serve(void * cookie)
{
	struct be_conn * BC = cookie;
	struct backend * B = BC->B;
	struct be_record r;
	static __thread uint8_t buf[65536];
	char line[128];
	ssize_t n;
	size_t c;

	memset(&r, 0, sizeof(r));
	r.hash = HASH_INIT;
	if (B->mode == BE_GREET) {
		snprintf(line, sizeof(line), "GREET %s\n", B->name);
		(void)be_write(BC->fd, line, strlen(line));
	}
	if (B->mode == BE_URGENT) {
		(void)be_write(BC->fd, "GREET", 5);
		usleep(50000);
		(void)send(BC->fd, "U", 1, MSG_OOB | MSG_NOSIGNAL);
		usleep(50000);
		(void)be_write(BC->fd, "ING\n", 4);
	}
	if (B->mode == BE_NOREAD) {
		while (!B->stop)
			usleep(10000);
		goto out;
	}
	for (;;) {
		n = recv(BC->fd, buf, sizeof(buf), 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		r.hash = hash64(r.hash, buf, (size_t)n);
		c = sizeof(r.head) - r.headlen;
		if (c > (size_t)n)
			c = (size_t)n;
		memcpy(r.head + r.headlen, buf, c);
		r.headlen += c;
		r.len += (uint64_t)n;
		if (B->mode != BE_AT_EOF && be_write(BC->fd, buf, (size_t)n))
			break;
	}
	if (n == 0) {
		r.done = 1;
		if (B->mode == BE_AT_EOF) {
			snprintf(line, sizeof(line), "%llu %016llx\n",
			    (unsigned long long)r.len,
			    (unsigned long long)r.hash);
			(void)be_write(BC->fd, line, strlen(line));
		}
		shutdown(BC->fd, SHUT_WR);
	}
	be_record(B, &r);
out:
	close(BC->fd);
	free(BC);
	return (NULL);
}

static void *
be_accept(void * cookie)
{
	struct backend * B = cookie;
	struct pollfd p = { .fd = B->lfd, .events = POLLIN };
	struct be_conn * BC;
	pthread_t t;
	int fd;

	while (!B->stop) {
		if (poll(&p, 1, 50) <= 0)
			continue;
		if ((fd = accept(B->lfd, NULL, NULL)) == -1)
			continue;
		pthread_mutex_lock(&B->mtx);
		B->conns++;
		pthread_mutex_unlock(&B->mtx);
		BC = malloc(sizeof(*BC));
		BC->B = B;
		BC->fd = fd;
		if (pthread_create(&t, NULL, be_serve, BC)) {
			close(fd);
			free(BC);
			continue;
		}
		pthread_detach(t);
	}
	return (NULL);
}

void
backend_start(struct backend * B, int family, int mode, const char * name)
{
	struct sockaddr_storage ss;
	struct sockaddr_in * sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 * sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int one = 1;

	memset(B, 0, sizeof(*B));
	memset(&ss, 0, sizeof(ss));
	B->family = family;
	B->mode = mode;
	B->name = name;
	pthread_mutex_init(&B->mtx, NULL);
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	B->lfd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(B->lfd >= 0);
	setsockopt(B->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert(bind(B->lfd, (struct sockaddr *)&ss, len) == 0,
	    "backend bind: %s", strerror(errno));
	cr_assert(listen(B->lfd, 1024) == 0);
	cr_assert(getsockname(B->lfd, (struct sockaddr *)&ss, &len) == 0);
	B->port = ntohs(family == AF_INET ? sin->sin_port : sin6->sin6_port);
	cr_assert(pthread_create(&B->thr, NULL, be_accept, B) == 0);
}

void
backend_stop(struct backend * B)
{

	B->stop = 1;
	pthread_join(B->thr, NULL);
	close(B->lfd);
}

int
backend_wait_done(struct backend * B, unsigned n, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	unsigned done;

	do {
		pthread_mutex_lock(&B->mtx);
		done = B->done;
		pthread_mutex_unlock(&B->mtx);
		if (done >= n)
			return (0);
		usleep(5000);
	} while (now_ms() < end);
	return (-1);
}

/* ---- a network namespace with small TCP buffers ---- */

/* Write ${val} to the sysctl file ${path}. */
static int
harness_sysctl(const char * path, const char * val)
{
	int fd, rc = -1;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1)
		return (-1);
	if (write(fd, val, strlen(val)) == (ssize_t)strlen(val))
		rc = 0;
	close(fd);
	return (rc);
}

int
harness_small_buffers(void)
{
	struct ifreq ifr;
	int fd, rc;

	if (unshare(CLONE_NEWNET))
		return (-1);
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (rc == 0)
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	close(fd);
	if (rc)
		return (-1);
	if (harness_sysctl("/proc/sys/net/ipv4/tcp_wmem", "4096 16384 16384") ||
	    harness_sysctl("/proc/sys/net/ipv4/tcp_rmem", "4096 16384 16384"))
		return (-1);
	return (0);
}

/* ---- the relay process ---- */

unsigned harness_nofile;

static void *
relay_drain(void * cookie)
{
	struct relay_proc * P = cookie;
	char buf[4096];
	ssize_t n;

	while ((n = read(P->errfd, buf, sizeof(buf))) > 0) {
		pthread_mutex_lock(&P->mtx);
		P->log = realloc(P->log, P->loglen + (size_t)n + 1);
		memcpy(P->log + P->loglen, buf, (size_t)n);
		P->loglen += (size_t)n;
		P->log[P->loglen] = '\0';
		pthread_mutex_unlock(&P->mtx);
	}
	return (NULL);
}

static const char *
relay_bin(void)
{
	const char * b = getenv("L7KK_BIN");

	return (b ? b : "../l7knockknock");
}

/* The chroot the sandbox wants when started as root. */
static void
relay_chroot_dir(void)
{

	if (geteuid() == 0) {
		(void)mkdir("/var/empty", 0755);
		(void)chmod("/var/empty", 0755);
	}
}

/*
 * The relay drops privileges, which clears PR_SET_PDEATHSIG; so a small
 * watchdog kills it if this test process dies (a Criterion timeout) and
 * nothing outlives the test.
 */
static void
relay_watchdog(struct relay_proc * P)
{
	int wp[2];
	char c;

	cr_assert(pipe2(wp, O_CLOEXEC) == 0);
	P->watchdog = fork();
	cr_assert(P->watchdog >= 0);
	if (P->watchdog == 0) {
		dup2(wp[0], 0);
		close_range(1, ~0U, 0);
		while (read(0, &c, 1) == -1 && errno == EINTR)
			;
		kill(P->pid, SIGKILL);
		_exit(0);
	}
	close(wp[0]);
	P->watchfd = wp[1];
}

void
relay_start(struct relay_proc * P, const char * const * args)
{

	relay_start_as(P, args, 0, 0);
}

void
relay_start_as(struct relay_proc * P, const char * const * args, uid_t uid,
    gid_t gid)
{
	const char * argv[64];
	int pfd[2];
	size_t i, n;
	const char * p;

	memset(P, 0, sizeof(*P));
	pthread_mutex_init(&P->mtx, NULL);
	relay_chroot_dir();
	n = 0;
	if (getenv("L7KK_VALGRIND") != NULL) {
		/* Memory errors, definite leaks: exit 99, which tests catch. */
		argv[n++] = "/usr/bin/valgrind";
		argv[n++] = "-q";
		argv[n++] = "--error-exitcode=99";
		argv[n++] = "--leak-check=full";
		argv[n++] = "--errors-for-leak-kinds=definite";
		argv[n++] = "--track-fds=yes";
		/*
		 * Reports go to stderr, captured with the relay's log: a log
		 * file could not grow under the sandbox's RLIMIT_FSIZE 0.
		 */
	}
	argv[n++] = relay_bin();
	for (i = 0; args[i] != NULL && n < 62; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	cr_assert(pipe2(pfd, O_CLOEXEC) == 0);
	/*
	 * The relay drops log lines rather than wait for a slow reader: room
	 * for about 10,000 lines while this process counts lines under load.
	 */
	(void)fcntl(pfd[0], F_SETPIPE_SZ, 1 << 20);
	P->pid = fork();
	cr_assert(P->pid >= 0);
	if (P->pid == 0) {
		dup2(pfd[1], 2);
		if (harness_nofile != 0) {
			struct rlimit rl = { harness_nofile, harness_nofile };

			if (setrlimit(RLIMIT_NOFILE, &rl))
				_exit(125);
		}
		if (uid != 0 && (setgroups(0, NULL) ||
		    setresgid(gid, gid, gid) || setresuid(uid, uid, uid)))
			_exit(126);
		/* Nothing of Criterion's may leak into the relay. */
		close_range(3, ~0U, 0);
		execv(argv[0], (char * const *)argv);
		_exit(127);
	}
	close(pfd[1]);
	P->errfd = pfd[0];
	relay_watchdog(P);
	cr_assert(pthread_create(&P->thr, NULL, relay_drain, P) == 0);
	if (relay_log_wait(P, "ready\n",
	    getenv("L7KK_VALGRIND") != NULL ? 30000 : 5000)) {
		relay_stop(P, SIGKILL, 1000);
		cr_assert_fail("relay did not start; its log:\n%s",
		    P->log ? P->log : "(empty)");
	}
	pthread_mutex_lock(&P->mtx);
	p = strstr(P->log, "listening on ");
	if (p != NULL && (p = strstr(p, "]:")) == NULL)
		p = strchr(strstr(P->log, "listening on ") + 13, ':');
	else if (p != NULL)
		p++;
	cr_assert(p != NULL);
	P->port = (uint16_t)atoi(p + 1);
	pthread_mutex_unlock(&P->mtx);
	cr_assert(P->port != 0);
}

int
relay_stop(struct relay_proc * P, int sig, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	int status;
	pid_t r;

	if (P->pid <= 0)
		return (-1);
	kill(P->pid, sig);
	do {
		if ((r = waitpid(P->pid, &status, WNOHANG)) == P->pid)
			break;
		usleep(5000);
	} while (now_ms() < end);
	if (r != P->pid) {
		kill(P->pid, SIGKILL);
		waitpid(P->pid, &status, 0);
		status = -1;
	}
	P->pid = 0;
	close(P->watchfd);
	waitpid(P->watchdog, NULL, 0);
	pthread_join(P->thr, NULL);
	close(P->errfd);
	return (status);
}

int
relay_log_count(struct relay_proc * P, const char * s)
{
	const char * p;
	int n = 0;

	pthread_mutex_lock(&P->mtx);
	for (p = P->log; p != NULL && (p = strstr(p, s)) != NULL; p++)
		n++;
	pthread_mutex_unlock(&P->mtx);
	return (n);
}

int
relay_log_wait(struct relay_proc * P, const char * s, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	do {
		if (relay_log_count(P, s) > 0)
			return (0);
		usleep(5000);
	} while (now_ms() < end);
	return (-1);
}

int
relay_fd_count_kind(const struct relay_proc * P, const char * kind)
{
	char path[300], target[128];
	struct dirent * d;
	DIR * dir;
	ssize_t len;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)P->pid);
	if ((dir = opendir(path)) == NULL)
		return (-1);
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)P->pid,
		    d->d_name);
		if ((len = readlink(path, target, sizeof(target) - 1)) < 0)
			continue;
		target[len] = '\0';
		if (kind == NULL || strncmp(target, kind, strlen(kind)) == 0)
			n++;
	}
	closedir(dir);
	return (n);
}

int
relay_fd_others(const struct relay_proc * P)
{
	static const char * ok[] = { "socket:", "pipe:", "anon_inode:" };
	char path[300], target[128];
	struct dirent * d;
	DIR * dir;
	ssize_t len;
	size_t i;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)P->pid);
	if ((dir = opendir(path)) == NULL)
		return (-1);
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.' || atoi(d->d_name) <= 2)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)P->pid,
		    d->d_name);
		if ((len = readlink(path, target, sizeof(target) - 1)) < 0)
			continue;
		target[len] = '\0';
		for (i = 0; i < 3; i++)
			if (strncmp(target, ok[i], strlen(ok[i])) == 0)
				break;
		/*
		 * Under make test VALGRIND=1: valgrind keeps its own
		 * descriptors (its binary, logs, vgdb pipes) at the top of the
		 * descriptor table, far above what the relay uses here.
		 */
		if (i == 3 && getenv("L7KK_VALGRIND") != NULL &&
		    atoi(d->d_name) >= 1024)
			continue;
		if (i == 3) {
			fprintf(stderr, "relay has fd %s -> %s\n", d->d_name,
			    target);
			n++;
		}
	}
	closedir(dir);
	return (n);
}

long
relay_cpu_ticks(const struct relay_proc * P)
{
	char path[64], buf[1024], * p;
	unsigned long ut, st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)P->pid);
	if ((fd = open(path, O_RDONLY)) == -1)
		return (-1);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return (-1);
	buf[n] = '\0';
	/* Fields 14 and 15, counted after the ")" that ends the name. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return (-1);
	return ((long)(ut + st));
}

int
relay_fd_count(const struct relay_proc * P)
{

	return (relay_fd_count_kind(P, NULL));
}

/* ---- clients ---- */

int
tcp_connect(int family, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in * sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 * sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	cr_assert(connect(fd, (struct sockaddr *)&ss, len) == 0,
	    "connect to port %u: %s", port, strerror(errno));
	return (fd);
}

void
send_all(int fd, const void * buf, size_t len)
{
	const uint8_t * p = buf;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		cr_assert(n > 0, "send: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

/* Wait for ${fd} to be readable within what is left until ${end}. */
static int
wait_readable(int fd, uint64_t end)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t now = now_ms();

	if (now >= end)
		return (0);
	return (poll(&p, 1, (int)(end - now)) > 0);
}

size_t
recv_until(int fd, void * buf, size_t max, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	size_t got = 0;
	ssize_t n;

	while (got < max && wait_readable(fd, end)) {
		n = recv(fd, (uint8_t *)buf + got, max - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return (got);
}

size_t
recv_n(int fd, void * buf, size_t len, int ms)
{

	return (recv_until(fd, buf, len, ms));
}

int
wait_closed(int fd, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	char c[4096];
	ssize_t n;

	while (wait_readable(fd, end)) {
		n = recv(fd, c, sizeof(c), 0);
		if (n <= 0)
			return (1);
	}
	return (0);
}

void
close_reset(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

uint64_t
pump_echo(int fd, uint64_t len, size_t chunk, uint64_t seed, int ms,
    uint64_t * hsent, uint64_t * hgot)
{
	static uint8_t out[1 << 16], in[1 << 16];
	uint64_t end = now_ms() + (uint64_t)ms;
	uint64_t sent = 0, got = 0, blk = 0;
	size_t outlen = 0, outoff = 0;
	struct pollfd p;
	ssize_t n;
	int eof = 0, shut = 0;

	if (chunk > sizeof(out))
		chunk = sizeof(out);
	*hsent = *hgot = HASH_INIT;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (!eof && now_ms() < end) {
		if (outoff == outlen && sent < len) {
			outlen = (len - sent < chunk) ? (size_t)(len - sent) : chunk;
			fill_random(out, outlen, seed + blk++);
			*hsent = hash64(*hsent, out, outlen);
			outoff = 0;
		}
		if (sent == len && outoff == outlen && !shut) {
			shutdown(fd, SHUT_WR);
			shut = 1;
		}
		p.fd = fd;
		p.events = POLLIN | ((outoff < outlen) ? POLLOUT : 0);
		if (poll(&p, 1, 100) <= 0)
			continue;
		if ((p.revents & POLLOUT) && outoff < outlen) {
			n = send(fd, out + outoff, outlen - outoff, MSG_NOSIGNAL);
			if (n > 0) {
				outoff += (size_t)n;
				sent += (uint64_t)n;
			}
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(fd, in, sizeof(in), 0);
			if (n > 0) {
				*hgot = hash64(*hgot, in, (size_t)n);
				got += (uint64_t)n;
			} else if (n == 0 || errno != EAGAIN) {
				eof = 1;
			}
		}
	}
	return (got);
}
