/*
 * systemd without a running systemd: socket activation through Debian's
 * systemd-socket-activate (one IPv4 and one IPv6 listener, traffic through
 * both), READY=1/STOPPING=1 on a test-made $NOTIFY_SOCKET, the seccomp rule
 * that lets only the notify descriptor send with the notify flags, the
 * refusal of --listen with $LISTEN_FDS, and the units checked by
 * systemd-analyze (verify, and the security exposure against 1.2).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <grp.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sysexits.h>

#include <seccomp.h>

#include "buildflags.h"
#include "harness.h"
#include "log.h"
#include "notify.h"
#include "run.h"
#include "sandbox.h"

#define SA_BIN		"/usr/bin/systemd-socket-activate"
#define ANALYZE_BIN	"/usr/bin/systemd-analyze"
#define KNOCK		"open-sesame"
#define EXPOSURE_MAX	1.2

/* The relay (or systemd-socket-activate, strace) a test started, and a
 * child of it (the relay under strace); both killed in fini. */
static pid_t sd_pid, sd_grandchild;

/* What it wrote on stderr so far. */
static char sd_log[32768];
static size_t sd_loglen;

static const char *
sd_bin(void)
{

	return (h_bin_relay());
}

/* Criterion .fini: nothing the test started outlives it. */
static void
sd_fini(void)
{

	if (sd_grandchild > 0)
		kill(sd_grandchild, SIGKILL);
	if (sd_pid > 0) {
		kill(sd_pid, SIGKILL);
		waitpid(sd_pid, NULL, 0);
	}
	sd_pid = sd_grandchild = 0;
}

/* The first child of ${pid} (from /proc), or 0. */
static pid_t
sd_child_of(pid_t pid)
{
	pid_t c;

	return (h_proc_children(pid, &c, 1) == 1 ? c : 0);
}

/* Start ${argv} with stderr into a pipe; the pipe's read end. */
static int
sd_spawn(char * const * argv)
{
	int p[2];

	cr_assert(pipe2(p, O_CLOEXEC) == 0);
	sd_loglen = 0;
	sd_log[0] = '\0';
	fflush(NULL);
	cr_assert((sd_pid = fork()) != -1);
	if (sd_pid == 0) {
		dup2(p[1], 2);
		close_range(3, ~0U, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	return (p[0]);
}

/* Read stderr ${fd} until it holds ${s} or ${ms} pass; 0 or -1. */
static int
sd_wait_log(int fd, const char * s, int ms)
{
	uint64_t end = h_now_ms() + (uint64_t)ms;
	struct pollfd pfd = { fd, POLLIN, 0 };
	ssize_t n;

	while (strstr(sd_log, s) == NULL) {
		if (poll(&pfd, 1, ms > 0 ? 100 : 0) == -1)
			return (-1);
		if (pfd.revents == 0 && h_now_ms() >= end)
			return (-1);
		if (pfd.revents == 0)
			continue;
		n = read(fd, sd_log + sd_loglen, sizeof(sd_log) - 1 - sd_loglen);
		if (n <= 0)
			return (-1);
		sd_loglen += (size_t)n;
		sd_log[sd_loglen] = '\0';
	}
	return (0);
}

/* Wait for the process to exit within ${ms}; its wait status or -1. */
static int
sd_reap(int ms)
{
	uint64_t end = h_now_ms() + (uint64_t)ms;
	int st;

	do {
		if (waitpid(sd_pid, &st, WNOHANG) == sd_pid) {
			sd_pid = 0;
			return (st);
		}
		usleep(10000);
	} while (h_now_ms() < end);
	return (-1);
}

/* SIGTERM the relay, which must exit 0; close ${fd}. */
static void
sd_term(int fd)
{
	int st;

	kill(sd_pid, SIGTERM);
	st = sd_reap(5000);
	cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "status %#x; log: %s", st, sd_log);
	close(fd);
}

/* SIGTERM the relay, which must exit 0; close ${efd}, stop ${N} and ${H}. */
static void
sd_stop(int efd, struct h_backend * N, struct h_backend * H)
{

	sd_term(efd);
	h_backend_stop(N);
	h_backend_stop(H);
}

/* A port that was free a moment ago on ${family} loopback. */
static uint16_t
sd_free_port(int family)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr =
		    htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	cr_assert((fd = socket(family, SOCK_STREAM, 0)) != -1);
	cr_assert(bind(fd, (struct sockaddr *)&ss, family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6)) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&ss, &len) == 0);
	close(fd);
	return (ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
	    ((struct sockaddr_in6 *)&ss)->sin6_port));
}

/*
 * Send ${first}, read "GREET <name>\n" from ${fd}, then check the echo of
 * ${msg} (sent after ${first} unless it is ${first} itself).
 */
static void
sd_expect_route(int fd, const char * first, const char * name,
    const char * msg)
{
	char want[64], got[128];
	size_t n = strlen(msg);

	h_send_all(fd, first, strlen(first));
	snprintf(want, sizeof(want), "GREET %s\n", name);
	cr_assert_eq(h_recv(fd, got, strlen(want), 5000), strlen(want));
	cr_assert(memcmp(got, want, strlen(want)) == 0, "wanted %s", want);
	if (msg != first)
		h_send_all(fd, msg, n);
	cr_assert_eq(h_recv(fd, got, n, 5000), n);
	cr_assert(memcmp(got, msg, n) == 0, "echo of %s", msg);
}

/*
 * Start the relay under systemd-socket-activate on a free IPv4 and IPv6
 * loopback port (retried if another process takes one meanwhile), ending
 * with ${extra} (NULL-terminated, at most 5) instead of the knock if not
 * NULL; the ports in ${p4} and ${p6}, stderr's read end returned.
 * ${nopt} goes after --normal's port ("" or ",proxy=v1", say).
 */
static int
sd_activate(uint16_t np, const char * nopt, uint16_t hp,
    const char * const * extra, uint16_t * p4, uint16_t * p6)
{
	char l4[64], l6[64], n[64], h[64];
	char * argv[16];
	int attempt, i, fd = -1;

	snprintf(n, sizeof(n), "127.0.0.1:%u%s", np, nopt);
	snprintf(h, sizeof(h), "127.0.0.1:%u", hp);
	for (attempt = 0; attempt < 5; attempt++) {
		*p4 = sd_free_port(AF_INET);
		*p6 = sd_free_port(AF_INET6);
		snprintf(l4, sizeof(l4), "127.0.0.1:%u", *p4);
		snprintf(l6, sizeof(l6), "[::1]:%u", *p6);
		argv[0] = SA_BIN; argv[1] = "-l"; argv[2] = l4;
		argv[3] = "-l"; argv[4] = l6; argv[5] = (char *)sd_bin();
		argv[6] = "--normal"; argv[7] = n; argv[8] = "--hidden";
		argv[9] = h; argv[10] = KNOCK; argv[11] = NULL;
		for (i = 0; extra != NULL && extra[i] != NULL && i < 5; i++)
			argv[10 + i] = (char *)extra[i];
		if (i > 0)
			argv[10 + i] = NULL;
		fd = sd_spawn(argv);
		if (sd_wait_log(fd, "Listening on [::1]", 5000) == 0)
			return (fd);
		close(fd);
		sd_fini();	/* A port was taken meanwhile: again. */
	}
	cr_assert_fail("systemd-socket-activate did not listen: %s", sd_log);
	return (-1);
}

TestSuite(systemd, .fini = sd_fini);

Test(systemd, socket_activation_ipv4_and_ipv6, .timeout = 30)
{
	struct h_backend N, H;
	uint16_t p4, p6;
	int efd, c4, c6;

	cr_assert(access(SA_BIN, X_OK) == 0, "%s missing (Debian's systemd)",
	    SA_BIN);
	h_backend_start(&N, &(struct h_backend_conf){ .family = AF_INET,
	    .mode = H_GREET, .name = "normal" });
	h_backend_start(&H, &(struct h_backend_conf){ .family = AF_INET,
	    .mode = H_GREET, .name = "hidden" });
	efd = sd_activate(N.port, "", H.port, NULL, &p4, &p6);

	/* The first connection makes systemd-socket-activate exec the relay. */
	c4 = h_connect(AF_INET, p4);
	cr_assert(sd_wait_log(efd, "l7knockknock: ready\n", 10000) == 0,
	    "relay not ready: %s", sd_log);
	cr_assert(strstr(sd_log, "(socket activation, descriptor 3)") != NULL &&
	    strstr(sd_log, "(socket activation, descriptor 4)") != NULL,
	    "%s", sd_log);
	sd_expect_route(c4, KNOCK, "hidden", "over IPv4");
	c6 = h_connect(AF_INET6, p6);
	sd_expect_route(c6, "GET / HTTP/1.0\r\n", "normal",
	    "GET / HTTP/1.0\r\n");
	close(c4);
	close(c6);

	sd_stop(efd, &N, &H);
}

Test(systemd, socket_activation_proxy_header_names_the_listener,
    .timeout = 30)
{
	struct h_backend N, H;
	char want[128];
	uint16_t p4, p6;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int efd, c6;

	/*
	 * The relay does not know where systemd's sockets listen: the PROXY
	 * destination comes from the client socket (getsockname).
	 */
	cr_assert(access(SA_BIN, X_OK) == 0, "%s missing (Debian's systemd)",
	    SA_BIN);
	h_backend_start(&N, &(struct h_backend_conf){ .family = AF_INET,
	    .mode = H_ECHO });
	h_backend_start(&H, &(struct h_backend_conf){ .family = AF_INET,
	    .mode = H_ECHO });
	efd = sd_activate(N.port, ",proxy=v1", H.port, NULL, &p4,
	    &p6);
	c6 = h_connect(AF_INET6, p6);
	cr_assert(sd_wait_log(efd, "l7knockknock: ready\n", 10000) == 0,
	    "relay not ready: %s", sd_log);
	cr_assert(getsockname(c6, (struct sockaddr *)&ss, &len) == 0);
	snprintf(want, sizeof(want), "PROXY TCP6 ::1 ::1 %u %u\r\nGET /",
	    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), p6);
	h_send_all(c6, "GET / HTTP/1.0\r\n", 16);
	cr_assert(shutdown(c6, SHUT_WR) == 0);
	cr_assert(h_backend_wait_done(&N, 1, 5000) == 0, "no EOF at the "
	    "backend: %s", sd_log);
	cr_assert(N.last.headlen >= strlen(want) && memcmp(N.last.head, want,
	    strlen(want)) == 0, "the backend got \"%.*s\", want \"%s...\"",
	    (int)N.last.headlen, N.last.head, want);
	close(c6);

	sd_stop(efd, &N, &H);
}

/*
 * A knock file holding ${knock}, mode 0600, in a new directory (into
 * ${dir}, the file's path into ${path}), both the relay user's (nobody)
 * when the tests run as root.
 */
static void
sd_knock_file(char * dir, size_t dlen, char * path, size_t plen,
    const char * knock)
{
	FILE * f;

	snprintf(dir, dlen, "/tmp/l7kk-sd-XXXXXX");
	cr_assert(mkdtemp(dir) != NULL);
	snprintf(path, plen, "%s/knock", dir);
	cr_assert((f = fopen(path, "w")) != NULL);
	fputs(knock, f);
	fclose(f);
	cr_assert(chmod(path, 0600) == 0);
	if (geteuid() == 0)
		cr_assert(chown(dir, 65534, 65534) == 0 &&
		    chown(path, 65534, 65534) == 0);
}

/*
 * The unit's way: socket activation, --workers 1, the knock in a file.
 * SIGHUP with a new knock: a session on the passed listener goes on, the
 * new knock is hidden, the old one normal, on the same passed sockets.
 */
Test(systemd, socket_activation_with_workers_1_reloads, .timeout = 30)
{
	char dir[64], path[96], got[16];
	struct h_backend N, H;
	uint16_t p4, p6;
	int efd, c, c2;
	FILE * f;

	cr_assert(access(SA_BIN, X_OK) == 0, "%s missing (Debian's systemd)",
	    SA_BIN);
	sd_knock_file(dir, sizeof(dir), path, sizeof(path), "old-" KNOCK);
	h_backend_start(&N, &(struct h_backend_conf){ .family = AF_INET,
	    .mode = H_GREET, .name = "normal" });
	h_backend_start(&H, &(struct h_backend_conf){ .family = AF_INET,
	    .mode = H_GREET, .name = "hidden" });
	efd = sd_activate(N.port, "", H.port, (const char *[]){ "--workers", "1",
	    "--knock-file", path, NULL }, &p4, &p6);
	c = h_connect(AF_INET, p4);
	cr_assert(sd_wait_log(efd, "worker 0 ready\n", 10000) == 0,
	    "relay not ready: %s", sd_log);
	sd_expect_route(c, "old-" KNOCK, "hidden", "before");

	cr_assert((f = fopen(path, "w")) != NULL);
	fputs("new-" KNOCK, f);
	fclose(f);
	kill(sd_pid, SIGHUP);
	cr_assert(sd_wait_log(efd, "1 old ones draining", 5000) == 0 &&
	    sd_wait_log(efd, "draining: no longer accepting", 5000) == 0,
	    "no reload: %s", sd_log);
	h_send_all(c, "after", 5);
	cr_assert_eq(h_recv(c, got, 5, 5000), 5);
	cr_assert(memcmp(got, "after", 5) == 0);
	c2 = h_connect(AF_INET6, p6);
	sd_expect_route(c2, "new-" KNOCK, "hidden", "new knock");
	close(c2);
	c2 = h_connect(AF_INET, p4);
	sd_expect_route(c2, "old-" KNOCK, "normal", "old-" KNOCK);
	close(c2);
	close(c);
	cr_assert(sd_wait_log(efd, "of generation 0 drained", 5000) == 0,
	    "%s", sd_log);

	sd_stop(efd, &N, &H);
}

/* Bind a datagram socket at ${addr} ('@': abstract); its fd. */
static int
sd_notify_socket(const char * addr)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, addr);
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(addr));
	if (addr[0] == '@')
		sun.sun_path[0] = '\0';
	else
		(void)unlink(addr);
	cr_assert((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) != -1);
	cr_assert(bind(fd, (struct sockaddr *)&sun, len) == 0, "bind %s: %s",
	    addr, strerror(errno));
	if (addr[0] != '@')
		cr_assert(chmod(addr, 0666) == 0);	/* The relay drops root. */
	return (fd);
}

/* One datagram from ${fd} within ${ms} into ${buf}; its length or -1. */
static ssize_t
sd_recv(int fd, char * buf, size_t len, int ms)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	ssize_t n;

	if (poll(&pfd, 1, ms) != 1)
		return (-1);
	if ((n = recv(fd, buf, len - 1, 0)) >= 0)
		buf[n] = '\0';
	return (n);
}

/* The "Seccomp:" mode in /proc/${pid}/status, or -1. */
static int
sd_seccomp_mode(pid_t pid)
{

	return ((int)h_proc_status_num(pid, "Seccomp"));
}

/* Start the relay with $NOTIFY_SOCKET ${addr}; check READY and STOPPING. */
static void
sd_notify_run(const char * addr)
{
	char * argv[] = { (char *)sd_bin(), "--listen", "127.0.0.1:0",
	    "--normal", "127.0.0.1:9", "--hidden", "127.0.0.1:9", KNOCK, NULL };
	char buf[256];
	int nfd, efd, st;

	nfd = sd_notify_socket(addr);
	cr_assert(setenv("NOTIFY_SOCKET", addr, 1) == 0);
	efd = sd_spawn(argv);
	cr_assert(unsetenv("NOTIFY_SOCKET") == 0);

	/* READY=1 comes once the sandbox is in place, not before. */
	cr_assert(sd_recv(nfd, buf, sizeof(buf), 10000) == 7,
	    "no READY=1 datagram");
	cr_assert_str_eq(buf, "READY=1");
	cr_assert_eq(sd_seccomp_mode(sd_pid), 2,
	    "READY=1 before seccomp was loaded");
	/* The relay logged the filter before it sent READY=1: it is there. */
	(void)sd_wait_log(efd, "l7knockknock: seccomp: ", 0);
	cr_assert(strstr(sd_log, "l7knockknock: seccomp: ") != NULL,
	    "READY=1 before the sandbox: %s", sd_log);
	cr_assert(sd_wait_log(efd, "l7knockknock: ready\n", 5000) == 0);
	cr_assert(sd_recv(nfd, buf, sizeof(buf), 200) == -1,
	    "a second datagram before SIGTERM: %s", buf);

	kill(sd_pid, SIGTERM);
	cr_assert(sd_recv(nfd, buf, sizeof(buf), 5000) == 10, "no STOPPING=1");
	cr_assert_str_eq(buf, "STOPPING=1");
	st = sd_reap(5000);
	cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "status %d", st);
	(void)sd_wait_log(efd, "received SIGTERM", 1000);
	cr_assert(strstr(sd_log, "notify") == NULL, "%s", sd_log);
	close(efd);
	close(nfd);
}

Test(systemd, notify_abstract_ready_after_seccomp, .timeout = 30,
    .disabled = SANDBOX_TESTS_DISABLED)
{
	char addr[64];

	snprintf(addr, sizeof(addr), "@l7kk-test-notify-%d", (int)getpid());
	sd_notify_run(addr);
}

Test(systemd, notify_path_connected_before_chroot, .timeout = 30,
    .disabled = SANDBOX_TESTS_DISABLED)
{
	char addr[64];

	snprintf(addr, sizeof(addr), "/tmp/l7kk-test-notify-%d", (int)getpid());
	sd_notify_run(addr);
	(void)unlink(addr);
}

/*
 * The order itself, without a race: under strace, the seccomp filter is
 * loaded before the READY=1 datagram is sent.
 */
Test(systemd, notify_ready_after_seccomp_in_strace_order, .timeout = 60,
    .disabled = SANDBOX_TESTS_DISABLED)
{
	char trace[64], addr[64], buf[256];
	char * argv[] = { "/usr/bin/strace", "-f", "-qq", "-e",
	    "trace=seccomp,sendto", "-e", "signal=none", "-o", trace,
	    (char *)sd_bin(), "--listen", "127.0.0.1:0", "--normal",
	    "127.0.0.1:9", "--hidden", "127.0.0.1:9", KNOCK, NULL };
	char * log, * filter, * ready;
	int nfd, efd, st, fd;
	ssize_t n;

	if (access("/usr/bin/strace", X_OK) != 0)
		cr_skip_test("strace is not installed");
	snprintf(trace, sizeof(trace), "/tmp/l7kk-test-strace-%d", (int)getpid());
	snprintf(addr, sizeof(addr), "@l7kk-test-strace-%d", (int)getpid());
	nfd = sd_notify_socket(addr);
	cr_assert(setenv("NOTIFY_SOCKET", addr, 1) == 0);
	efd = sd_spawn(argv);
	cr_assert(unsetenv("NOTIFY_SOCKET") == 0);
	cr_assert(sd_recv(nfd, buf, sizeof(buf), 20000) == 7, "no READY=1");
	cr_assert(sd_wait_log(efd, "l7knockknock: ready\n", 10000) == 0);
	cr_assert((sd_grandchild = sd_child_of(sd_pid)) > 0);
	kill(sd_grandchild, SIGTERM);	/* strace ends with its tracee. */
	st = sd_reap(10000);
	sd_grandchild = 0;
	cr_assert(st != -1, "strace did not end");
	close(efd);
	close(nfd);

	cr_assert((fd = open(trace, O_RDONLY)) != -1);
	cr_assert((log = calloc(1, 65536)) != NULL);
	n = read(fd, log, 65535);
	close(fd);
	(void)unlink(trace);
	cr_assert(n > 0);
	filter = strstr(log, "seccomp(SECCOMP_SET_MODE_FILTER");
	ready = strstr(log, "\"READY=1\"");
	cr_assert(filter != NULL && ready != NULL, "trace: %s", log);
	cr_assert(filter < ready, "READY=1 sent before the filter: %s", log);
	cr_assert(strstr(ready, "MSG_DONTWAIT|MSG_NOSIGNAL, NULL, 0") != NULL,
	    "READY=1 not sent as the policy allows: %s", ready);
	free(log);
}

Test(systemd, notify_socket_unreachable_is_refused, .timeout = 10)
{
	char * argv[] = { (char *)sd_bin(), "--listen", "127.0.0.1:0",
	    "--normal", "127.0.0.1:9", "--hidden", "127.0.0.1:9", KNOCK, NULL };
	char err[4096];
	int st;

	cr_assert(setenv("NOTIFY_SOCKET", "/nonexistent/notify", 1) == 0);
	cr_assert(run_capture(argv, 5000, &st, NULL, 0, err, sizeof(err)) == 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == EX_OSERR, "%s", err);
	cr_assert(strstr(err, "NOTIFY_SOCKET") != NULL, "%s", err);
}

/*
 * In a child: put a listening TCP socket (or, if ${udp}, a UDP socket) at
 * descriptor 3, set $LISTEN_PID/$LISTEN_FDS for the relay and run it with
 * ${extra} (NULL-terminated, or NULL).  Its exit status; stderr in ${err}.
 */
static int
sd_listen_fds_run(int udp, const char * const * extra, char * err, size_t len)
{
	char * argv[16];
	char pidbuf[32];
	size_t i, n = 0;
	int p[2], fd, st;
	ssize_t r;

	argv[n++] = (char *)sd_bin();
	for (i = 0; extra != NULL && extra[i] != NULL; i++)
		argv[n++] = (char *)extra[i];
	argv[n++] = "--normal"; argv[n++] = "127.0.0.1:9";
	argv[n++] = "--hidden"; argv[n++] = "127.0.0.1:9";
	argv[n++] = KNOCK; argv[n] = NULL;
	cr_assert(pipe(p) == 0);
	fflush(NULL);
	cr_assert((sd_pid = fork()) != -1);
	if (sd_pid == 0) {
		fd = udp ? socket(AF_INET, SOCK_DGRAM, 0) :
		    socket(AF_INET, SOCK_STREAM, 0);
		if (fd == -1 || (!udp && listen(fd, 1)) || dup2(fd, 3) != 3 ||
		    dup2(p[1], 2) != 2)
			_exit(126);
		close_range(4, ~0U, 0);
		snprintf(pidbuf, sizeof(pidbuf), "%d", (int)getpid());
		setenv("LISTEN_PID", pidbuf, 1);
		setenv("LISTEN_FDS", "1", 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	for (i = 0; i < len - 1 && (r = read(p[0], err + i, len - 1 - i)) > 0;)
		i += (size_t)r;
	err[i] = '\0';
	if ((st = sd_reap(5000)) == -1)
		sd_fini();
	close(p[0]);
	return (st);
}

Test(systemd, listen_with_activation_exits_64, .timeout = 20)
{
	static const char * const listen[] = { "--listen", "127.0.0.1:0", NULL };
	static const char * const port[] = { "-p", "4443", NULL };
	static const char * const workers[] = { "--workers", "2", NULL };
	char err[4096];
	int st;

	st = sd_listen_fds_run(0, listen, err, sizeof(err));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == EX_USAGE, "%s", err);
	cr_assert(strstr(err, "--listen/-p cannot be given") != NULL, "%s", err);
	st = sd_listen_fds_run(0, port, err, sizeof(err));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == EX_USAGE, "%s", err);
	st = sd_listen_fds_run(0, workers, err, sizeof(err));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == EX_USAGE, "%s", err);
	cr_assert(strstr(err, "--workers cannot be given") != NULL, "%s", err);
}

Test(systemd, activation_refuses_a_udp_socket, .timeout = 20)
{
	char err[4096];
	int st;

	st = sd_listen_fds_run(1, NULL, err, sizeof(err));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == EX_USAGE, "%s", err);
	cr_assert(strstr(err, "descriptor 3 is not a listening TCP socket") !=
	    NULL, "%s", err);
}

/* ---- the notify rule of the seccomp policy ---- */

/* The probe's descriptors, made by the child before the sandbox. */
static int probe_notify = -1, probe_other = -1;

#define PROBE_DONE	200
#define PROBE_NOSANDBOX	201

/* In a child: enter the relay's sandbox, with the notify fd if ${notify}. */
static void
probe_enter(const char * addr, int notify)
{
	struct sandbox_conf conf;
	uint16_t port = 9;
	sigset_t set;
	int lfd, pair[2], efd, sfd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	if (setenv("NOTIFY_SOCKET", addr, 1) || notify_open(&probe_notify) ||
	    socketpair(AF_UNIX, SOCK_DGRAM, 0, pair) ||
	    (lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 || listen(lfd, 1) ||
	    sigprocmask(SIG_BLOCK, &set, NULL) ||
	    (efd = epoll_create1(0)) == -1 ||
	    (sfd = signalfd(-1, &set, SFD_NONBLOCK)) == -1)
		_exit(PROBE_NOSANDBOX);
	probe_other = pair[0];
	memset(&conf, 0, sizeof(conf));
	conf.chroot_dir = "/var/empty";
	conf.listen_fds = &lfd;
	conf.nlisten = 1;
	conf.epoll_fd = efd;
	conf.signal_fd = sfd;
	conf.notify_fd = notify ? probe_notify : -1;
	conf.connect_ports = &port;
	conf.nports = 1;
	log_setlevel(LOG_ERR);
	if (sandbox_enter(&conf))
		_exit(PROBE_NOSANDBOX);
}

/* The attempts. */
static void
try_notify(void)
{

	_exit(send(probe_notify, "READY=1", 7, MSG_NOSIGNAL | MSG_DONTWAIT) ==
	    7 ? PROBE_DONE : errno);
}

static void
try_other_fd(void)
{

	_exit(send(probe_other, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) == -1 ?
	    errno : PROBE_DONE);
}

static void
try_notify_with_address(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	_exit(sendto(probe_notify, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT,
	    (struct sockaddr *)&sun, sizeof(sun)) == -1 ? errno : PROBE_DONE);
}

static void
try_notify_other_flags(void)
{

	_exit(send(probe_notify, "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT |
	    MSG_OOB) == -1 ? errno : PROBE_DONE);
}

/* Run ${attempt} sandboxed; its wait status.  The datagram into ${nfd}. */
static int
probe_run(void (*attempt)(void), int notify, char * got, size_t len)
{
	char addr[64];
	pid_t pid;
	int nfd, st;

	snprintf(addr, sizeof(addr), "@l7kk-test-probe-%d", (int)getpid());
	if (geteuid() == 0)
		(void)mkdir("/var/empty", 0755);
	nfd = sd_notify_socket(addr);
	fflush(NULL);
	cr_assert((pid = fork()) != -1);
	if (pid == 0) {
		probe_enter(addr, notify);
		attempt();
		_exit(PROBE_DONE);
	}
	cr_assert(waitpid(pid, &st, 0) == pid);
	got[0] = '\0';
	(void)sd_recv(nfd, got, len, 0);
	close(nfd);
	return (st);
}

#define EXPECT_SIGSYS(st, what)						\
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,		\
	    "%s: want SIGSYS, got status %#x", what, st)

Test(systemd, notify_rule_allows_only_the_notify_fd, .timeout = 20,
    .disabled = SANDBOX_TESTS_DISABLED)
{
	char got[64];
	int st;

	/* The positive control: the one send the rule is for. */
	st = probe_run(try_notify, 1, got, sizeof(got));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == PROBE_DONE,
	    "send on the notify fd: status %#x", st);
	cr_assert_str_eq(got, "READY=1");

	st = probe_run(try_other_fd, 1, got, sizeof(got));
	EXPECT_SIGSYS(st, "send(MSG_NOSIGNAL|MSG_DONTWAIT) on another fd");
	st = probe_run(try_notify_with_address, 1, got, sizeof(got));
	EXPECT_SIGSYS(st, "sendto with an address on the notify fd");
	st = probe_run(try_notify_other_flags, 1, got, sizeof(got));
	EXPECT_SIGSYS(st, "send(MSG_OOB) on the notify fd");

	/* Without $NOTIFY_SOCKET the rule is not in the filter at all. */
	st = probe_run(try_notify, 0, got, sizeof(got));
	EXPECT_SIGSYS(st, "send on a notify fd the sandbox was not told of");
}

/* ---- the units ---- */

/* Run systemd-analyze with ${args}; its exit status, stdout+stderr. */
static int
sd_analyze(const char * const * args, char * out, size_t len)
{
	char * argv[16];
	char err[8192];
	size_t i;
	int st;

	cr_assert(access(ANALYZE_BIN, X_OK) == 0, "%s missing", ANALYZE_BIN);
	argv[0] = ANALYZE_BIN;
	for (i = 0; args[i] != NULL && i < 14; i++)
		argv[i + 1] = (char *)args[i];
	argv[i + 1] = NULL;
	cr_assert(run_capture(argv, 60000, &st, out, len, err, sizeof(err)) ==
	    0, "systemd-analyze timed out");
	strncat(out, err, len - strlen(out) - 1);
	cr_assert(WIFEXITED(st));
	return (WEXITSTATUS(st));
}

Test(systemd, units_verify, .timeout = 90)
{
	static const char * const args[] = { "verify", "--man=no",
	    "../systemd/l7knockknock.socket", "../systemd/l7knockknock.service",
	    NULL };
	char out[16384];
	int rc;

	rc = sd_analyze(args, out, sizeof(out));
	/* Only the binary, installed by the package, may be missing here. */
	if (access("/usr/sbin/l7knockknock", X_OK) == 0)
		cr_assert_eq(rc, 0, "%s", out);
	else {
		char * p, * line;

		for (line = strtok_r(out, "\n", &p); line != NULL;
		    line = strtok_r(NULL, "\n", &p))
			cr_assert(strstr(line, "/usr/sbin/l7knockknock is not "
			    "executable") != NULL, "systemd-analyze verify: %s",
			    line);
	}
}

Test(systemd, service_exposure_at_most_1_2, .timeout = 90)
{
	static const char * const args[] = { "security", "--offline=true",
	    "../systemd/l7knockknock.service", NULL };
	static const char key[] =
	    "Overall exposure level for l7knockknock.service: ";
	char out[32768];
	const char * p;
	double level;

	(void)sd_analyze(args, out, sizeof(out));
	cr_assert((p = strstr(out, key)) != NULL, "no exposure line: %s", out);
	cr_assert(sscanf(p + strlen(key), "%lf", &level) == 1, "%s", p);
	cr_assert(level <= EXPOSURE_MAX, "exposure %.1f > %.1f:\n%s", level,
	    EXPOSURE_MAX, out);
}

/* Read the unit file ${name} of systemd/ into ${buf}. */
static void
sd_unit_read(const char * name, char * buf, size_t len)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "../systemd/%s", name);
	cr_assert((fd = open(path, O_RDONLY)) != -1, "%s", path);
	n = read(fd, buf, len - 1);
	close(fd);
	cr_assert(n > 0);
	buf[n] = '\0';
}

/*
 * The port stays served: a start that fails is retried with a pause and
 * without a start limit, since a start limit fails the socket too
 * (service-start-limit-hit, systemd.socket(5)) and closes 443; the reload
 * checks the file before the signal, so a bad one fails `systemctl
 * reload`.  (tests/system/run.sh shows both on a booted system.)
 */
Test(systemd, unit_retries_without_limit_and_checks_before_reload)
{
	static const char want[] = "\nExecReload=/usr/sbin/l7knockknock "
	    "--check --config /etc/l7knockknock/l7knockknock.conf\n"
	    "ExecReload=/bin/kill -HUP $MAINPID\n";
	char unit[16384], sock[4096];
	const char * reload;

	sd_unit_read("l7knockknock.service", unit, sizeof(unit));
	cr_assert(strstr(unit, "\nStartLimitIntervalSec=0\n") != NULL,
	    "the service has a start limit");
	cr_assert(strstr(unit, "\nStartLimitIntervalSec=0\n") <
	    strstr(unit, "\n[Service]\n"), "StartLimitIntervalSec= is not "
	    "in [Unit]");
	cr_assert(strstr(unit, "\nRestart=on-failure\n") != NULL);
	cr_assert(strstr(unit, "\nRestartSec=5s\n") != NULL,
	    "no pause between restarts");
	cr_assert(strstr(unit, "\nExecStart=/usr/sbin/l7knockknock --config "
	    "/etc/l7knockknock/l7knockknock.conf\n") != NULL);
	cr_assert((reload = strstr(unit, "\nExecReload=")) != NULL);
	cr_assert(strncmp(reload, want, strlen(want)) == 0,
	    "the reload does not check first: %.120s", reload);
	sd_unit_read("l7knockknock.socket", sock, sizeof(sock));
	cr_assert(strstr(sock, "\nConditionPathExistsGlob=|/etc/l7knockknock/"
	    "*.key\n") != NULL, "the socket does not wait for a key");
}

/* ---- the unit's SystemCallFilter= lets the relay start ---- */

/* Syscall groups as systemd-analyze syscall-filter prints them. */
static char sd_groups[262144];

/* Mark in ${set} every syscall of ${item} (a name or an @group). */
static void
sd_expand(const char * item, char (*set)[64], size_t * n, int add,
    int depth)
{
	char head[80], line[128];
	const char * p, * e;
	size_t i, len;

	if (item[0] != '@') {
		for (i = 0; i < *n && strcmp(set[i], item) != 0; i++)
			;
		if (add && i == *n && *n < 1024 && strlen(item) < 64)
			strcpy(set[(*n)++], item);
		else if (!add && i < *n && i != --(*n))
			memcpy(set[i], set[*n], sizeof(set[i]));
		return;
	}
	cr_assert(depth < 8, "groups nested too deep at %s", item);
	snprintf(head, sizeof(head), "\n%s\n", item);
	cr_assert((p = strstr(sd_groups, head)) != NULL, "no group %s", item);
	for (p += strlen(head); *p == ' '; p = e + 1) {
		if ((e = strchr(p, '\n')) == NULL)
			break;
		len = (size_t)(e - p);
		if (len >= sizeof(line))
			continue;
		memcpy(line, p, len);
		line[len] = '\0';
		for (i = 0; line[i] == ' '; i++)
			;
		if (line[i] != '#' && line[i] != '\0')
			sd_expand(line + i, set, n, add, depth + 1);
	}
}

/* The allow-list the unit's SystemCallFilter= lines make, in order. */
static size_t
sd_unit_filter(char (*set)[64])
{
	static const char key[] = "SystemCallFilter=";
	char unit[16384], * line, * save, * tok, * save2;
	size_t n = 0, lines = 0;
	ssize_t len;
	int fd, add;

	cr_assert((fd = open("../systemd/l7knockknock.service", O_RDONLY)) != -1);
	len = read(fd, unit, sizeof(unit) - 1);
	close(fd);
	cr_assert(len > 0);
	unit[len] = '\0';
	for (line = strtok_r(unit, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, key, strlen(key)) != 0)
			continue;
		line += strlen(key);
		add = (*line != '~');
		cr_assert(lines > 0 || add, "the first line must be an allow-list");
		line += !add;
		for (tok = strtok_r(line, " ", &save2); tok != NULL;
		    tok = strtok_r(NULL, " ", &save2))
			sd_expand(tok, set, &n, add, 0);
		lines++;
	}
	cr_assert(lines > 0, "the unit has no SystemCallFilter=");
	return (n);
}

/*
 * In a child: become nobody with an empty bounding set and no new
 * privileges, as the unit's User=, CapabilityBoundingSet= and
 * NoNewPrivileges= make it, load ${set} as an allow-list refusing the rest
 * with EPERM (SystemCallErrorNumber=EPERM), and exec the relay.
 */
static void
sd_exec_confined(char (*set)[64], size_t n, char * const * argv)
{
	struct passwd * pw = getpwnam("nobody");
	scmp_filter_ctx ctx;
	size_t i;
	int c, nr;

	if (pw == NULL)
		_exit(120);
	for (c = 0; c <= 63; c++)
		(void)prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
	if (setgroups(0, NULL) || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		_exit(121);
	if ((ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM))) == NULL)
		_exit(122);
	for (i = 0; i < n; i++)
		if ((nr = seccomp_syscall_resolve_name(set[i])) >= 0)
			(void)seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	if (seccomp_load(ctx))
		_exit(123);
	execv(argv[0], argv);
	_exit(127);
}

/*
 * Start ${argv} as nobody under the unit's SystemCallFilter= (the relay's
 * stderr into sd_log) and wait for ${ready}; return the read end.
 */
static int
sd_start_under_unit_filter(char * const * argv, const char * ready)
{
	static char set[1024][64];
	char * ana[] = { ANALYZE_BIN, "syscall-filter", NULL };
	char err[4096];
	size_t n;
	int p[2], st;

	sd_groups[0] = '\n';
	cr_assert(run_capture(ana, 30000, &st, sd_groups + 1,
	    sizeof(sd_groups) - 1, err, sizeof(err)) == 0);
	n = sd_unit_filter(set);
	cr_assert(n > 100, "only %zu syscalls in the unit's filter", n);

	cr_assert(pipe2(p, O_CLOEXEC) == 0);
	sd_loglen = 0;
	sd_log[0] = '\0';
	fflush(NULL);
	cr_assert((sd_pid = fork()) != -1);
	if (sd_pid == 0) {
		dup2(p[1], 2);
		close_range(3, ~0U, 0);
		sd_exec_confined(set, n, argv);
	}
	close(p[1]);
	cr_assert(sd_wait_log(p[0], ready, 10000) == 0,
	    "the relay did not start under the unit's filter: %s", sd_log);
	return (p[0]);
}

Test(systemd, unit_syscall_filter_lets_the_relay_start, .timeout = 60)
{
	char * argv[] = { (char *)sd_bin(), "--listen", "127.0.0.1:0",
	    "--normal", "127.0.0.1:9", "--hidden", "127.0.0.1:9", KNOCK, NULL };

	if (geteuid() != 0)
		cr_skip_test("needs root to become nobody like User=");
	sd_term(sd_start_under_unit_filter(argv,
	    "l7knockknock: ready\n"));
}

/*
 * The unit's ExecStart= runs --workers 1 and ExecReload= sends SIGHUP:
 * the supervisor starts, reloads (a knock file: with the knock on the
 * command line there is nothing to re-read) and drains under the unit's
 * filter too.
 */
Test(systemd, unit_syscall_filter_lets_the_supervisor_reload, .timeout = 60)
{
	char dir[64], path[96];
	char * argv[] = { (char *)sd_bin(), "--workers", "1", "--listen",
	    "127.0.0.1:0", "--normal", "127.0.0.1:9", "--hidden",
	    "127.0.0.1:9", "--knock-file", path, NULL };
	int fd;

	if (geteuid() != 0)
		cr_skip_test("needs root to become nobody like User=");
	sd_knock_file(dir, sizeof(dir), path, sizeof(path), KNOCK);
	fd = sd_start_under_unit_filter(argv, "worker 0 ready\n");
	kill(sd_pid, SIGHUP);
	cr_assert(sd_wait_log(fd, "of generation 0 drained", 10000) == 0,
	    "no reload under the unit's filter: %s", sd_log);
	sd_term(fd);
	(void)unlink(path);
	(void)rmdir(dir);
}
