/*
 * The test harness's relay: the real binary as a child process, its argv
 * built from a struct of options, its stderr captured, its /proc state read.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* Collect the relay's stderr into ${P}->log until it closes. */
static void *
h_rl_drain(void * cookie)
{
	struct h_relay * P = cookie;
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

/* "${host}:${port}" for the loopback of ${family} into ${buf}. */
static void
h_rl_addr(char * buf, size_t len, int family, uint16_t port)
{

	if (family == AF_INET6)
		snprintf(buf, len, "[::1]:%u", port);
	else
		snprintf(buf, len, "127.0.0.1:%u", port);
}

void
h_relay_argv(const struct h_relay_conf * conf, struct h_argv * A)
{
	size_t n = 0, i;

	A->v[n++] = h_bin_relay();
	h_rl_addr(A->listen, sizeof(A->listen), conf->family, 0);
	A->v[n++] = "--listen";
	A->v[n++] = A->listen;
	if (conf->normal != 0) {
		h_rl_addr(A->normal, sizeof(A->normal), conf->family,
		    conf->normal);
		A->v[n++] = "--normal";
		A->v[n++] = A->normal;
	}
	if (conf->hidden != 0) {
		h_rl_addr(A->hidden, sizeof(A->hidden), conf->family,
		    conf->hidden);
		A->v[n++] = "--hidden";
		A->v[n++] = A->hidden;
	}
	for (i = 0; conf->extra != NULL && conf->extra[i] != NULL; i++) {
		cr_assert(n < H_ARGV_MAX - 2, "too many relay arguments");
		A->v[n++] = conf->extra[i];
	}
	if (conf->knock != NULL)
		A->v[n++] = conf->knock;
	A->v[n] = NULL;
}

/* The argv to exec: valgrind's (if $L7KK_VALGRIND), then ${A}'s. */
static void
h_rl_exec_argv(const struct h_argv * A, const char ** argv, size_t max)
{
	size_t n = 0, i;

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
	for (i = 0; A->v[i] != NULL && n < max - 1; i++)
		argv[n++] = A->v[i];
	argv[n] = NULL;
}

/* The chroot the sandbox wants when started as root. */
static void
h_rl_chroot_dir(void)
{

	if (geteuid() == 0) {
		(void)mkdir("/var/empty", 0755);
		(void)chmod("/var/empty", 0755);
	}
}

/* In the child: limits and user of ${conf}, then exec ${argv}. */
static void
h_rl_child(const struct h_relay_conf * conf, const char ** argv, int errfd)
{
	struct rlimit rl = { conf->nofile, conf->nofile };

	dup2(errfd, 2);
	if (conf->nofile != 0 && setrlimit(RLIMIT_NOFILE, &rl))
		_exit(125);
	if (conf->uid != 0 && (setgroups(0, NULL) ||
	    setresgid(conf->gid, conf->gid, conf->gid) ||
	    setresuid(conf->uid, conf->uid, conf->uid)))
		_exit(126);
	/* Nothing of Criterion's may leak into the relay. */
	close_range(3, ~0U, 0);
	if (conf->pre_exec != NULL)
		conf->pre_exec();
	execv(argv[0], (char * const *)argv);
	_exit(127);
}

/*
 * The relay drops privileges, which clears PR_SET_PDEATHSIG; so a small
 * watchdog kills it if this test process dies (a Criterion timeout) and
 * nothing outlives the test.
 */
static void
h_rl_watchdog(struct h_relay * P)
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

/* The port of the first "listening on" line of the log. */
static uint16_t
h_rl_port(struct h_relay * P)
{
	const char * l, * p;
	uint16_t port = 0;

	pthread_mutex_lock(&P->mtx);
	if ((l = strstr(P->log, "listening on ")) != NULL) {
		l += 13;
		/* [v6]:port or v4:port */
		p = (*l == '[') ? strstr(l, "]:") : strchr(l, ':');
		if (p != NULL)
			port = (uint16_t)atoi(p + (*l == '[' ? 2 : 1));
	}
	pthread_mutex_unlock(&P->mtx);
	return (port);
}

void
h_relay_start(struct h_relay * P, const struct h_relay_conf * conf)
{
	const char * argv[H_ARGV_MAX + 8];
	struct h_argv A;
	int pfd[2];

	memset(P, 0, sizeof(*P));
	pthread_mutex_init(&P->mtx, NULL);
	h_rl_chroot_dir();
	h_relay_argv(conf, &A);
	h_rl_exec_argv(&A, argv, sizeof(argv) / sizeof(argv[0]));
	cr_assert(pipe2(pfd, O_CLOEXEC) == 0);
	/*
	 * The relay drops log lines rather than wait for a slow reader: room
	 * for about 10,000 lines while this process counts lines under load.
	 */
	(void)fcntl(pfd[0], F_SETPIPE_SZ, 1 << 20);
	P->pid = fork();
	cr_assert(P->pid >= 0);
	if (P->pid == 0)
		h_rl_child(conf, argv, pfd[1]);
	close(pfd[1]);
	P->errfd = pfd[0];
	h_rl_watchdog(P);
	cr_assert(pthread_create(&P->thr, NULL, h_rl_drain, P) == 0);
	if (h_relay_log_wait(P, "ready\n",
	    getenv("L7KK_VALGRIND") != NULL ? 30000 : 5000)) {
		h_relay_stop(P, SIGKILL, 1000);
		cr_assert_fail("relay did not start; its log:\n%s",
		    P->log ? P->log : "(empty)");
	}
	P->port = h_rl_port(P);
	cr_assert(P->port != 0, "no port in the log:\n%s", P->log);
}

int
h_relay_stop(struct h_relay * P, int sig, int ms)
{
	uint64_t end = h_now_ms() + (uint64_t)ms;
	int status;
	pid_t r;

	if (P->pid <= 0)
		return (-1);
	if (sig != 0)
		kill(P->pid, sig);
	do {
		if ((r = waitpid(P->pid, &status, WNOHANG)) == P->pid)
			break;
		usleep(5000);
	} while (h_now_ms() < end);
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

void
h_relay_down(struct h_relay * P)
{
	int st;

	st = h_relay_stop(P, SIGTERM, 3000);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "relay did not exit 0 on SIGTERM (status %#x%s%s); log tail:\n%s",
	    st, st != -1 && WIFSIGNALED(st) ? ", signal " : "",
	    st != -1 && WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "",
	    P->log != NULL && P->loglen > 3000 ?
	    P->log + P->loglen - 3000 : P->log);
}

void
h_relay_setup(struct h_relay * P, struct h_backend * N, enum h_mode nmode,
    struct h_backend * H, enum h_mode hmode, const struct h_relay_conf * conf)
{
	struct h_relay_conf c = *conf;

	h_backend_start(N, &(struct h_backend_conf){ .family = conf->family,
	    .mode = nmode, .name = "normal" });
	h_backend_start(H, &(struct h_backend_conf){ .family = conf->family,
	    .mode = hmode, .name = "hidden" });
	c.normal = N->port;
	c.hidden = H->port;
	h_relay_start(P, &c);
}

void
h_relay_teardown(struct h_relay * P, struct h_backend * N,
    struct h_backend * H)
{

	h_relay_down(P);
	h_backend_stop(N);
	h_backend_stop(H);
}

int
h_relay_alive(struct h_relay * P)
{
	int st;

	return (P->pid > 0 && waitpid(P->pid, &st, WNOHANG) == 0);
}

void
h_relay_echo(struct h_relay * P, int family, const void * msg, size_t len,
    struct h_backend * B, unsigned n, const void * expect, size_t elen)
{
	char buf[1024];
	size_t got;
	int fd;

	fd = h_connect(family, P->port);
	h_send_all(fd, msg, len);
	shutdown(fd, SHUT_WR);
	got = h_recv(fd, buf, sizeof(buf), 5000);
	close(fd);
	cr_assert_eq(got, elen, "echo: %zu bytes, expected %zu; log:\n%s",
	    got, elen, P->log);
	cr_assert(memcmp(buf, expect, elen) == 0, "echo differs");
	cr_assert(h_backend_wait_done(B, n, 3000) == 0, "backend: no EOF");
	cr_assert_eq(B->last.len, elen, "backend got %llu bytes, expected %zu",
	    (unsigned long long)B->last.len, elen);
	cr_assert(memcmp(B->last.head, expect, elen) == 0,
	    "the backend received other bytes");
}

int
h_relay_log_count(struct h_relay * P, const char * s)
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
h_relay_log_wait(struct h_relay * P, const char * s, int ms)
{

	return (h_relay_log_wait_count(P, s, 1, ms) >= 1 ? 0 : -1);
}

int
h_relay_log_wait_count(struct h_relay * P, const char * s, int n, int ms)
{
	uint64_t end = h_now_ms() + (uint64_t)ms;
	int got;

	do {
		if ((got = h_relay_log_count(P, s)) >= n)
			break;
		usleep(5000);
	} while (h_now_ms() < end);
	return (got);
}

pid_t
h_relay_worker(const struct h_relay * P)
{
	pid_t pids[64];
	int n;

	/* The kernel lists children oldest first. */
	if ((n = h_proc_children(P->pid, pids, 64)) <= 0)
		return (P->pid);
	return (pids[n - 1]);
}

/* Call ${fn}(fd, link, cookie) for each descriptor of ${pid}; 0 or -1. */
static int
h_rl_each_fd(pid_t pid, void (* fn)(int, const char *, void *),
    void * cookie)
{
	char path[300], target[128];
	struct dirent * d;
	DIR * dir;
	ssize_t len;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if ((dir = opendir(path)) == NULL)
		return (-1);
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd/%s", (int)pid,
		    d->d_name);
		if ((len = readlink(path, target, sizeof(target) - 1)) < 0)
			continue;
		target[len] = '\0';
		fn(atoi(d->d_name), target, cookie);
	}
	closedir(dir);
	return (0);
}

/* A count of descriptors of one kind. */
struct h_rl_kind {
	const char * kind;
	int n;
};

/* Count ${link} if it is of the kind asked. */
static void
h_rl_count_kind(int fd, const char * link, void * cookie)
{
	struct h_rl_kind * K = cookie;

	(void)fd;
	if (K->kind == NULL || strncmp(link, K->kind, strlen(K->kind)) == 0)
		K->n++;
}

int
h_proc_children(pid_t pid, pid_t * pids, int max)
{
	char path[64];
	FILE * f;
	int n = 0, c;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid,
	    (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	while (n < max && fscanf(f, "%d", &c) == 1)
		pids[n++] = c;
	fclose(f);
	return (n);
}

int
h_proc_status(pid_t pid, const char * key, char * val, size_t len)
{
	char path[64], line[512];
	size_t klen = strlen(key);
	FILE * f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			snprintf(val, len, "%s", line + klen + 1 +
			    strspn(line + klen + 1, " \t"));
			val[strcspn(val, "\n")] = '\0';
			found = 1;
		}
	}
	fclose(f);
	return (found ? 0 : -1);
}

long
h_proc_status_num(pid_t pid, const char * key)
{
	char v[256];

	if (h_proc_status(pid, key, v, sizeof(v)))
		return (-1);
	return (strtol(v, NULL, 10));
}

int
h_proc_fds(pid_t pid, const char * kind)
{
	struct h_rl_kind K = { kind, 0 };

	return (h_rl_each_fd(pid, h_rl_count_kind, &K) ? -1 : K.n);
}

int
h_relay_fds(const struct h_relay * P, const char * kind)
{

	return (h_proc_fds(h_relay_worker(P), kind));
}

int
h_relay_wait_fds(const struct h_relay * P, const char * kind, int n, int ms)
{
	uint64_t end = h_now_ms() + (uint64_t)ms;
	int got;

	do {
		if ((got = h_relay_fds(P, kind)) == n)
			break;
		usleep(10000);
	} while (h_now_ms() < end);
	return (got);
}

/* Count (and name) ${link} if it is not a socket, pipe or anon inode. */
static void
h_rl_count_other(int fd, const char * link, void * cookie)
{
	static const char * ok[] = { "socket:", "pipe:", "anon_inode:" };
	int * n = cookie;
	size_t i;

	if (fd <= 2)
		return;
	for (i = 0; i < 3; i++)
		if (strncmp(link, ok[i], strlen(ok[i])) == 0)
			return;
	/*
	 * Under make test VALGRIND=1: valgrind keeps its own descriptors (its
	 * binary, logs, vgdb pipes) at the top of the descriptor table, far
	 * above what the relay uses here.
	 */
	if (getenv("L7KK_VALGRIND") != NULL && fd >= 1024)
		return;
	fprintf(stderr, "relay has fd %d -> %s\n", fd, link);
	(*n)++;
}

int
h_relay_fd_others(const struct h_relay * P)
{
	int n = 0;

	return (h_rl_each_fd(h_relay_worker(P), h_rl_count_other, &n) ? -1 :
	    n);
}

long
h_relay_cpu_ticks(const struct h_relay * P)
{
	char path[64], buf[1024], * p;
	unsigned long ut, st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)h_relay_worker(P));
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

long
h_relay_rss_kib(const struct h_relay * P)
{

	return (h_proc_status_num(h_relay_worker(P), "VmRSS"));
}

/* Socket inodes of a relay. */
struct h_rl_inodes {
	unsigned long ino[256];
	size_t n;
};

/* Note the inode of ${link} if it is a socket. */
static void
h_rl_note_inode(int fd, const char * link, void * cookie)
{
	struct h_rl_inodes * I = cookie;
	unsigned long ino;

	(void)fd;
	if (I->n < 256 && sscanf(link, "socket:[%lu]", &ino) == 1)
		I->ino[I->n++] = ino;
}

void
h_relay_dump_sockets(const struct h_relay * P)
{
	struct h_rl_inodes I = { .n = 0 };
	unsigned lport, rport, st;
	unsigned long txq, rxq, ino;
	char line[512];
	size_t i;
	FILE * f;

	if (h_rl_each_fd(h_relay_worker(P), h_rl_note_inode, &I) ||
	    (f = fopen("/proc/net/tcp", "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, " %*u: %*x:%x %*x:%x %x %lx:%lx %*x:%*x %*x "
		    "%*u %*u %lu", &lport, &rport, &st, &txq, &rxq, &ino) != 6)
			continue;
		for (i = 0; i < I.n; i++)
			if (I.ino[i] == ino)
				cr_log_error("relay socket :%u -> :%u state "
				    "%02x send-q %lu recv-q %lu", lport, rport,
				    st, txq, rxq);
	}
	fclose(f);
}
