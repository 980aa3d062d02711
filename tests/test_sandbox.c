/*
 * The sandbox probe: a forked child enters the same sandbox as the relay
 * (src/sandbox*.c, the compiled policy/) and then tries ONE thing.  What
 * the relay needs must still work; everything else must kill the child by
 * SIGSYS or be refused with the errno the policy names.  The child reports
 * a refusal through its exit code (the errno), success as PROBE_DONE.
 */
#include <criterion/criterion.h>
#include <grp.h>

#include "buildflags.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "harness.h"
#include "log.h"
#include "probe.h"
#include "sandbox.h"


#define PAYLOAD		"hello through the sandbox"

/* What the test made before forking; the child inherits it. */
struct probe {
	int lfd;		/* The relay's listener. */
	int bfd;		/* A backend listener: its port is allowed. */
	int ofd;		/* Another listener: its port is not. */
	uint16_t lport, bport, oport;
	int epfd;		/* Made by the child, like main does. */
};

static struct probe P;

/* The listeners named in the child's sandbox_conf: lfd, or lfd and ofd. */
static int probe_listeners[2];
static size_t probe_nlisten = 1;

/* The chroot directory the child is given. */
static const char * probe_chroot = "/var/empty";

/* Criterion .init: the listeners, and /var/empty when we are root. */
static void
probe_setup(void)
{

	if (geteuid() == 0 && mkdir("/var/empty", 0755) == -1)
		cr_assert(errno == EEXIST, "mkdir /var/empty: %s", strerror(errno));
	P.lfd = h_listen(AF_INET, 16, &P.lport);
	P.bfd = h_listen(AF_INET, 16, &P.bport);
	P.ofd = h_listen(AF_INET, 16, &P.oport);
}

/* In the child: the same set-up as main, then the sandbox. */
static void
probe_enter(void)
{
	struct sandbox_conf conf;
	sigset_t set;
	int sfd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) ||
	    (P.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1 ||
	    (sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		_exit(PROBE_NOSANDBOX);
	memset(&conf, 0, sizeof(conf));
	conf.chroot_dir = probe_chroot;
	probe_listeners[0] = P.lfd;
	probe_listeners[1] = P.ofd;
	conf.listen_fds = probe_listeners;
	conf.nlisten = probe_nlisten;
	conf.epoll_fd = P.epfd;
	conf.signal_fd = sfd;
	conf.connect_ports = &P.bport;
	conf.nports = 1;
	log_setlevel(LOG_ERR);
	if (sandbox_enter(&conf))
		_exit(PROBE_NOSANDBOX);
}

/* Run ${attempt} in a sandboxed child; its wait status. */
static int
probe_run(void (*attempt)(void))
{

	return (probe_fork(probe_enter, attempt));
}

/* The attempt must kill the child by SIGSYS. */
static void
expect_sigsys(void (*attempt)(void), const char * what)
{

	probe_expect_sigsys(probe_enter, "sandbox_enter", attempt, what);
}

/* The attempt must fail with ${err} (or succeed: PROBE_DONE). */
static void
expect_errno(void (*attempt)(void), int err, const char * what)
{

	probe_expect_exit(probe_enter, "sandbox_enter", attempt, err, what);
}

static void
try_open_write(void)
{

	probe_result(open("/tmp/l7kk-probe", O_WRONLY | O_CREAT, 0600));
}

/* 127.0.0.1:${port} in ${sin}. */
static void
probe_loopback(struct sockaddr_in * sin, uint16_t port)
{

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin->sin_port = htons(port);
}

/* bind on the listener: seccomp kills (a0 != $listen_fd). */
static void
try_bind(void)
{
	struct sockaddr_in sin;

	probe_loopback(&sin, 0);
	probe_result(bind(P.lfd, (struct sockaddr *)&sin, sizeof(sin)));
}

/* A backend socket bound without --backend-ports: Landlock refuses. */
static void
try_bind_backend(void)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    IPPROTO_TCP);

	if (fd == -1)
		probe_result(-1);
	probe_loopback(&sin, 40000);
	probe_result(bind(fd, (struct sockaddr *)&sin, sizeof(sin)));
}

/* bind with an address length that is neither sockaddr_in nor _in6. */
static void
try_bind_unix_len(void)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	probe_result(bind(P.bfd, (struct sockaddr *)&ss, 110));
}

static void
try_listen(void)
{

	probe_result(listen(P.lfd, 1));
}

static void
try_write_large(void)
{
	static char buf[PIPE_BUF + 1];

	/* Small writes park a message's rest in a pipe; larger ones kill. */
	probe_result(write(STDOUT_FILENO, buf, sizeof(buf)));
}

/* A pipe made as the relay makes them, or _exit(PROBE_BROKEN). */
static int
probe_pipe(void)
{
	int fds[2];

	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) == -1)
		_exit(PROBE_BROKEN);
	return (fds[1]);
}

static void
try_pipe_grow(void)
{

	/* Allowed: a bulk pipe grows to 1 MiB (EPERM past the user's limit). */
	probe_result(fcntl(probe_pipe(), F_SETPIPE_SZ, 1 << 20));
}

static void
try_pipe_grow_more(void)
{

	/* F_SETPIPE_SZ only up to 1 MiB. */
	probe_result(fcntl(probe_pipe(), F_SETPIPE_SZ, 2 << 20));
}

static void
try_pipe_grow_high_bits(void)
{

	/* The kernel reads the size as an unsigned int: no high bits. */
	probe_result(syscall(SYS_fcntl, probe_pipe(), F_SETPIPE_SZ,
	    ((uint64_t)1 << 32) | 4096));
}

static void
try_fcntl_setfl(void)
{

	/* No other fcntl command: not F_SETFL ... */
	probe_result(fcntl(probe_pipe(), F_SETFL, 0));
}

static void
try_fcntl_dupfd(void)
{

	/* ... nor F_DUPFD, nor F_GETPIPE_SZ. */
	probe_result(fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 0));
}

static void
try_fcntl_getpipe(void)
{

	probe_result(fcntl(probe_pipe(), F_GETPIPE_SZ));
}

static void
try_sendto_address(void)
{
	struct sockaddr_in sin;

	probe_loopback(&sin, P.oport);
	probe_result(sendto(P.ofd, "x", 1, 0, (struct sockaddr *)&sin,
	    sizeof(sin)));
}

static void
try_send_flags(void)
{

	probe_result(send(P.ofd, "x", 1, MSG_DONTWAIT));
}

/* The log's send on a socket stderr, with the only flags it uses. */
static void
try_send_stderr(void)
{

	probe_result(send(STDERR_FILENO, "x\n", 2,
	    MSG_DONTWAIT | MSG_NOSIGNAL));
}

static void
try_send_stderr_oob(void)
{

	probe_result(send(STDERR_FILENO, "x", 1,
	    MSG_DONTWAIT | MSG_NOSIGNAL | MSG_OOB));
}

static void
try_send_other_log_flags(void)
{

	probe_result(send(P.ofd, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL));
}

static void
try_sendto_stderr_address(void)
{
	struct sockaddr_in sin;

	probe_loopback(&sin, P.oport);
	probe_result(sendto(STDERR_FILENO, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL,
	    (struct sockaddr *)&sin, sizeof(sin)));
}

/* The kernel's clock_gettime, as when the vDSO is not used. */
static void
try_clock_realtime(void)
{
	struct timespec ts;

	probe_result(syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts));
}

static void
try_clock_boottime(void)
{
	struct timespec ts;

	probe_result(syscall(SYS_clock_gettime, CLOCK_BOOTTIME, &ts));
}

static void
try_mprotect_exec(void)
{
	static char page[8192] __attribute__((aligned(4096)));

	probe_result(mprotect(page, 4096, PROT_READ | PROT_EXEC));
}

static void
try_recv_dontwait(void)
{
	char c;

	probe_result(recv(P.lfd, &c, 1, MSG_DONTWAIT));
}

static void
try_accept_other(void)
{

	/* accept4 only on the listeners named in the sandbox_conf. */
	probe_result(accept4(P.ofd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC));
}

static void
try_x32(void)
{

	/* close(-1) through the x32 ABI: allowed natively, but a foreign ABI kills. */
	probe_result(syscall(0x40000000 | SYS_close, -1));
}

/* Start a connect of ${fd} to 127.0.0.1:${port}: 0, or -1 with errno. */
static int
probe_dial(int fd, uint16_t port)
{
	struct sockaddr_in sin;

	probe_loopback(&sin, port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 &&
	    errno != EINPROGRESS)
		return (-1);
	return (0);
}

/* A TCP connect to ${port} with the relay's own socket flags. */
static void
probe_connect(uint16_t port)
{
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    IPPROTO_TCP)) == -1)
		_exit(PROBE_BROKEN);
	probe_result(probe_dial(fd, port));
}

static void
try_connect_other(void)
{

	probe_connect(P.oport);
}

static void
try_connect_backend(void)
{

	probe_connect(P.bport);
}

/* connect(AF_UNSPEC) on ${fd}, through the raw syscall with ${fd} as is. */
static void
probe_unspec(uint64_t fd)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_UNSPEC;
	probe_result(syscall(SYS_connect, fd, &sin, sizeof(sin)));
}

static void
try_connect_listener_unspec(void)
{

	/* Would dissolve the listener and free its port for reuse. */
	probe_unspec((uint64_t)P.lfd);
}

static void
try_connect_listener_high_bits(void)
{

	/* The kernel reads descriptor 0x1_0000_000N as N. */
	probe_unspec(((uint64_t)1 << 32) | (uint64_t)P.lfd);
}

static void
try_connect_second_listener(void)
{

	probe_unspec((uint64_t)P.ofd);
}

static void
try_shutdown_listener(void)
{

	probe_result(shutdown(P.lfd, SHUT_WR));
}

static void
try_shutdown_second_listener(void)
{

	probe_result(shutdown(P.ofd, SHUT_WR));
}

static void
try_shutdown_listener_high_bits(void)
{

	probe_result(syscall(SYS_shutdown, ((uint64_t)1 << 32) |
	    (uint64_t)P.lfd, SHUT_WR));
}

static void
try_shutdown_unconnected(void)
{
	int fd;

	/* Allowed on any other socket: not connected, so ENOTCONN. */
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    IPPROTO_TCP)) == -1)
		_exit(PROBE_BROKEN);
	probe_result(shutdown(fd, SHUT_WR));
}

static void
try_setsockopt_other(void)
{
	int one = 1;

	/*
	 * policy: setsockopt only TCP_NODELAY, SO_OOBINLINE, SO_LINGER and
	 * SO_REUSEADDR (--backend-ports).
	 */
	probe_result(setsockopt(P.ofd, SOL_SOCKET, SO_KEEPALIVE, &one,
	    sizeof(one)));
}

static void
try_setsockopt_linger_short(void)
{
	int zero = 0;

	/* SO_LINGER only with the length of a struct linger. */
	probe_result(setsockopt(P.ofd, SOL_SOCKET, SO_LINGER, &zero,
	    sizeof(zero)));
}

static void
try_setsockopt_linger(void)
{
	struct linger lg = { 1, 0 };

	/* Allowed: how the relay passes a reset on. */
	probe_result(setsockopt(P.ofd, SOL_SOCKET, SO_LINGER, &lg,
	    sizeof(lg)));
}

static void
try_getsockopt_tcp_info(void)
{
	uint8_t ti[256];
	socklen_t len = sizeof(ti);

	/* Allowed: the idle check and the lost-byte count (relay_queues.c). */
	probe_result(getsockopt(P.ofd, IPPROTO_TCP, TCP_INFO, ti, &len));
}

static void
try_getsockopt_tcp_other(void)
{
	char cc[16];
	socklen_t len = sizeof(cc);

	/* policy: getsockopt IPPROTO_TCP only TCP_INFO. */
	probe_result(getsockopt(P.ofd, IPPROTO_TCP, TCP_CONGESTION, cc, &len));
}

static void
try_getsockopt_tcp_info_high_bits(void)
{
	uint8_t ti[256];
	socklen_t len = sizeof(ti);

	/* The level is compared in full: no upper bits sneak past. */
	probe_result(syscall(SYS_getsockopt, P.ofd, ((uint64_t)1 << 32) |
	    IPPROTO_TCP, TCP_INFO, ti, &len));
}

static void
try_getsockopt_peercred(void)
{
	uint8_t cred[64];
	socklen_t len = sizeof(cred);

	/* policy: getsockopt SOL_SOCKET only SO_ERROR. */
	probe_result(getsockopt(P.ofd, SOL_SOCKET, SO_PEERCRED, cred, &len));
}

static void
try_getsockname_listener(void)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	/* getsockname is for backend sockets: never a listener. */
	probe_result(getsockname(P.lfd, (struct sockaddr *)&ss, &len));
}

static void
try_getsockname_listener_high_bits(void)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	probe_result(syscall(SYS_getsockname, ((uint64_t)1 << 32) |
	    (uint64_t)P.lfd, &ss, &len));
}

static void
try_getpeername(void)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	probe_result(getpeername(P.ofd, (struct sockaddr *)&ss, &len));
}

static void
try_getsockname_other(void)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	probe_result(getsockname(P.ofd, (struct sockaddr *)&ss, &len));
}

/* Landlock's network rules need ABI 4. */
static int
probe_landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, 1U);

	return (abi < 0 ? 0 : (int)abi);
}

TestSuite(sandbox, .init = probe_setup, .timeout = 30,
    .disabled = SANDBOX_TESTS_DISABLED);

Test(sandbox, open_is_refused_with_eacces)
{

	/* policy: openat errno=EACCES (a soft failure, not a kill). */
	expect_errno(probe_try_open_passwd, EACCES, "open(/etc/passwd)");
	expect_errno(try_open_write, EACCES, "open(O_CREAT)");
}

Test(sandbox, execve_kills)
{

	expect_sigsys(probe_try_execve, "execve");
}

Test(sandbox, fork_kills)
{

	expect_sigsys(probe_try_fork, "fork");
}

Test(sandbox, clone3_kills)
{

	expect_sigsys(probe_try_clone3, "clone3");
}

Test(sandbox, ptrace_kills)
{

	expect_sigsys(probe_try_ptrace, "ptrace");
}

Test(sandbox, unix_socket_kills)
{

	expect_sigsys(probe_try_unix_socket, "socket(AF_UNIX)");
}

Test(sandbox, udp_socket_kills)
{

	expect_sigsys(probe_try_udp_socket, "socket(AF_INET, SOCK_DGRAM)");
}

Test(sandbox, bind_kills)
{

	expect_sigsys(try_bind, "bind on a listener");
	expect_sigsys(try_bind_unix_len, "bind with a sockaddr_un length");
}

/* Without --backend-ports, Landlock (ABI 4) lets no socket bind. */
Test(sandbox, bind_refused_without_backend_ports)
{

	expect_errno(try_bind_backend, EACCES, "bind a backend socket");
}

Test(sandbox, listen_kills)
{

	expect_sigsys(try_listen, "listen");
}

Test(sandbox, setuid_kills)
{

	expect_sigsys(probe_try_setuid, "setuid(0)");
}

Test(sandbox, write_over_pipe_buf_kills)
{

	expect_sigsys(try_write_large, "write(1) of PIPE_BUF + 1 bytes");
}

Test(sandbox, fcntl_only_grows_a_pipe_to_1mib)
{
	int st = probe_run(try_pipe_grow);

	/* Done, or EPERM past fs.pipe-user-pages-soft: never killed. */
	cr_assert(WIFEXITED(st) && (WEXITSTATUS(st) == PROBE_DONE ||
	    WEXITSTATUS(st) == EPERM), "fcntl(F_SETPIPE_SZ, 1 MiB): %s",
	    probe_how(st, "sandbox_enter"));
	expect_sigsys(try_pipe_grow_more, "fcntl(F_SETPIPE_SZ, 2 MiB)");
	expect_sigsys(try_pipe_grow_high_bits,
	    "fcntl(F_SETPIPE_SZ, 2^32 + 4096)");
	expect_sigsys(try_fcntl_setfl, "fcntl(F_SETFL)");
	expect_sigsys(try_fcntl_dupfd, "fcntl(F_DUPFD_CLOEXEC)");
	expect_sigsys(try_fcntl_getpipe, "fcntl(F_GETPIPE_SZ)");
}

Test(sandbox, sendto_with_an_address_kills)
{

	expect_sigsys(try_sendto_address, "sendto with a destination address");
}

Test(sandbox, send_with_flags_kills)
{

	expect_sigsys(try_send_flags, "send(MSG_DONTWAIT)");
}

/* What the probe child gets as descriptor 2 (probe_enter_stderr). */
static int probe_stderr = -1;

/* In the child: ${probe_stderr} as stderr, then the sandbox. */
static void
probe_enter_stderr(void)
{

	if (dup2(probe_stderr, STDERR_FILENO) == -1)
		_exit(PROBE_NOSANDBOX);
	probe_enter();
}

Test(sandbox, log_send_on_stderr_is_allowed)
{
	char buf[16];
	int sv[2], p[2];

	/* stderr a socket (the journal's stream): sent, exactly those bytes. */
	cr_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	probe_stderr = sv[1];
	probe_expect_exit(probe_enter_stderr, "sandbox_enter", try_send_stderr,
	    PROBE_DONE, "send(2, MSG_DONTWAIT|MSG_NOSIGNAL) on a socket");
	close(sv[1]);
	cr_expect_eq(recv(sv[0], buf, sizeof(buf), MSG_DONTWAIT), 2);
	cr_expect(memcmp(buf, "x\n", 2) == 0, "the peer must read \"x\\n\"");
	close(sv[0]);

	/* stderr a pipe: the kernel refuses (ENOTSOCK), seccomp lets it. */
	cr_assert(pipe2(p, O_CLOEXEC) == 0);
	probe_stderr = p[1];
	probe_expect_exit(probe_enter_stderr, "sandbox_enter", try_send_stderr,
	    ENOTSOCK, "send(2, MSG_DONTWAIT|MSG_NOSIGNAL) on a pipe");
	close(p[0]);
	close(p[1]);
}

Test(sandbox, log_send_with_other_flags_kills)
{

	expect_sigsys(try_send_stderr_oob, "send(2, ... | MSG_OOB)");
}

Test(sandbox, log_send_flags_on_other_fd_kill)
{

	expect_sigsys(try_send_other_log_flags,
	    "send(MSG_DONTWAIT|MSG_NOSIGNAL) on a socket that is not stderr");
}

Test(sandbox, log_sendto_with_an_address_kills)
{

	expect_sigsys(try_sendto_stderr_address, "sendto(2) with an address");
}

Test(sandbox, clock_realtime_is_allowed)
{

	expect_errno(try_clock_realtime, PROBE_DONE, "clock_gettime(REALTIME)");
}

Test(sandbox, clock_boottime_kills)
{

	expect_sigsys(try_clock_boottime, "clock_gettime(CLOCK_BOOTTIME)");
}

Test(sandbox, mmap_exec_kills)
{

	expect_sigsys(probe_try_mmap_exec, "mmap(PROT_EXEC)");
}

Test(sandbox, mprotect_exec_kills)
{

	expect_sigsys(try_mprotect_exec, "mprotect(PROT_EXEC)");
}

Test(sandbox, recv_with_other_flags_kills)
{

	expect_sigsys(try_recv_dontwait, "recv(MSG_DONTWAIT)");
}

Test(sandbox, accept_on_other_socket_kills)
{

	expect_sigsys(try_accept_other, "accept4 on a non-listener fd");
}

/* Draining: EPOLL_CTL_DEL of ${fd}, then close it. */
static void
probe_epoll_del(int fd)
{

	if (epoll_ctl(P.epfd, EPOLL_CTL_ADD, fd, &(struct epoll_event){
	    .events = EPOLLIN }))
		_exit(PROBE_BROKEN);
	probe_result(epoll_ctl(P.epfd, EPOLL_CTL_DEL, fd, NULL));
}

static void
try_epoll_del_listener(void)
{

	probe_epoll_del(P.lfd);
}

static void
try_epoll_del_other(void)
{

	probe_epoll_del(P.bfd);
}

Test(sandbox, drain_removes_only_listeners_from_epoll)
{
	int st = probe_run(try_epoll_del_listener);

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == PROBE_DONE,
	    "EPOLL_CTL_DEL of a listener: %s", probe_how(st, "sandbox_enter"));
	expect_sigsys(try_epoll_del_other, "EPOLL_CTL_DEL of a non-listener");
}

Test(sandbox, x32_syscall_kills)
{

	expect_sigsys(try_x32, "x32 close");
}

Test(sandbox, connect_or_shutdown_on_a_listener_kills)
{

	/* policy: connect and shutdown a0!=$listen_fd. */
	expect_sigsys(try_connect_listener_unspec, "connect(AF_UNSPEC) on "
	    "the listener");
	expect_sigsys(try_connect_listener_high_bits, "connect on the "
	    "listener's descriptor with the upper 32 bits set");
	expect_sigsys(try_shutdown_listener, "shutdown on the listener");
	expect_sigsys(try_shutdown_listener_high_bits, "shutdown on the "
	    "listener's descriptor with the upper 32 bits set");
	expect_errno(try_shutdown_unconnected, ENOTCONN, "shutdown on another "
	    "socket");
	/*
	 * Positive control, last (it dissolves that socket): a socket that
	 * is not a listener of this sandbox may be connected.
	 */
	expect_errno(try_connect_second_listener, PROBE_DONE, "connect("
	    "AF_UNSPEC) on a socket that is not a listener here");
}

Test(sandbox, setsockopt_other_than_the_relays_kills)
{

	/* policy: setsockopt SO_LINGER a4==2*sizeof(int). */
	expect_sigsys(try_setsockopt_other, "setsockopt(SO_KEEPALIVE)");
	expect_sigsys(try_setsockopt_linger_short, "setsockopt(SO_LINGER) "
	    "with an int");
	expect_errno(try_setsockopt_linger, PROBE_DONE, "setsockopt(SO_LINGER) "
	    "with a struct linger");
}

Test(sandbox, getsockopt_only_so_error_and_tcp_info)
{

	/* policy: getsockopt a1==IPPROTO_TCP,a2==TCP_INFO (the idle check). */
	expect_sigsys(try_getsockopt_tcp_other, "getsockopt(TCP_CONGESTION)");
	expect_sigsys(try_getsockopt_tcp_info_high_bits, "getsockopt(TCP_INFO) "
	    "with the level's upper 32 bits set");
	expect_sigsys(try_getsockopt_peercred, "getsockopt(SO_PEERCRED)");
	/* Positive control. */
	expect_errno(try_getsockopt_tcp_info, PROBE_DONE, "getsockopt(TCP_INFO)");
}

Test(sandbox, getsockname_only_off_listeners_getpeername_kills)
{

	/* policy: getsockname a0!=$listen_fd (the routed log line). */
	expect_sigsys(try_getsockname_listener, "getsockname on the listener");
	expect_sigsys(try_getsockname_listener_high_bits, "getsockname on "
	    "the listener's descriptor with the upper 32 bits set");
	expect_sigsys(try_getpeername, "getpeername");
	/* Positive control: a socket that is not a listener here. */
	expect_errno(try_getsockname_other, PROBE_DONE, "getsockname on a "
	    "socket that is not a listener here");
}

Test(sandbox, every_listener_is_protected_when_there_are_two)
{

	probe_nlisten = 2;
	expect_sigsys(try_connect_listener_unspec, "connect(AF_UNSPEC) on "
	    "the first listener");
	expect_sigsys(try_connect_second_listener, "connect(AF_UNSPEC) on "
	    "the second listener");
	expect_sigsys(try_shutdown_listener, "shutdown on the first listener");
	expect_sigsys(try_shutdown_second_listener, "shutdown on the second "
	    "listener");
	expect_errno(try_shutdown_unconnected, ENOTCONN, "shutdown on another "
	    "socket");
}

Test(sandbox, connect_to_other_port_is_refused_by_landlock)
{
	int st;

	if (probe_landlock_abi() < 4)
		cr_skip_test("Landlock ABI %d has no network rules",
		    probe_landlock_abi());
	expect_errno(try_connect_other, EACCES, "connect to a non-backend port");

	/* The same call to the backend's port goes through. */
	st = probe_run(try_connect_backend);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == PROBE_DONE,
	    "connect to the backend port: %s", probe_how(st, "sandbox_enter"));
}

static void
try_nothing(void)
{

}

/* As root, sandbox_enter() must refuse the chroot directory ${dir}. */
static void
expect_chroot_refused(const char * dir)
{
	int st;

	probe_chroot = dir;
	st = probe_run(try_nothing);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == PROBE_NOSANDBOX,
	    "chroot %s: want refusal, got: %s", dir, probe_how(st, "sandbox_enter"));
}

Test(sandbox, unsafe_chroot_dirs_are_refused)
{
	char dir[] = "/tmp/l7kk-chroot-XXXXXX";
	char file[64];
	int fd;

	if (geteuid() != 0)
		cr_skip_test("the chroot is only used when started as root");
	cr_assert(mkdtemp(dir) != NULL);
	cr_assert(chmod(dir, 0777) == 0);
	expect_chroot_refused(dir);		/* Writable by others. */
	cr_assert(chmod(dir, 0755) == 0);
	snprintf(file, sizeof(file), "%s/x", dir);
	cr_assert((fd = open(file, O_WRONLY | O_CREAT, 0600)) != -1);
	close(fd);
	expect_chroot_refused(dir);		/* Not empty. */
	unlink(file);
	expect_chroot_refused("/nonexistent-l7kk");	/* Missing. */
	cr_assert(rmdir(dir) == 0);
}

/* Wait until ${fd} shows ${events} on the child's epoll; 0 or exit. */
static void
probe_wait(int fd, uint32_t events)
{
	struct epoll_event ev;

	struct epoll_event got;
	int i;

	/* Registered once, like the relay (the policy allows only ADD). */
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLOUT;
	ev.data.fd = fd;
	if (epoll_ctl(P.epfd, EPOLL_CTL_ADD, fd, &ev) && errno != EEXIST)
		_exit(PROBE_BROKEN);
	for (i = 0; i < 1000; i++) {
		if (epoll_wait(P.epfd, &got, 1, 10000) != 1)
			_exit(PROBE_BROKEN);
		if (got.data.fd == fd && (got.events & (events | EPOLLERR |
		    EPOLLHUP)))
			return;
	}
	_exit(PROBE_BROKEN);
}

/* Move everything from ${src} to ${dst} through a pipe, like the relay. */
static void
probe_splice(int src, int dst)
{
	int p[2];
	ssize_t n;

	if (pipe2(p, O_NONBLOCK | O_CLOEXEC))
		_exit(PROBE_BROKEN);
	for (;;) {
		n = splice(src, NULL, p[1], NULL, 65536,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == 0)
			break;
		if (n == -1 && errno == EAGAIN) {
			probe_wait(src, EPOLLIN);
			continue;
		}
		if (n == -1 || splice(p[0], NULL, dst, NULL, (size_t)n,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK) != n)
			_exit(PROBE_BROKEN);
	}
	close(p[0]);
	close(p[1]);
}

/* Everything the relay does, inside the sandbox. */
static void
try_relay(void)
{
	struct sockaddr_storage local;
	struct timespec ts;
	char buf[8];
	int one = 1, err = 0, cfd, bfd;
	socklen_t len = sizeof(err);

	probe_wait(P.lfd, EPOLLIN);
	if ((cfd = accept4(P.lfd, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC)) == -1 ||
	    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
	    recv(cfd, buf, sizeof(buf), MSG_PEEK) <= 0 ||
	    clock_gettime(CLOCK_MONOTONIC, &ts))
		_exit(PROBE_BROKEN);
	if ((bfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    IPPROTO_TCP)) == -1)
		_exit(PROBE_BROKEN);
	if (probe_dial(bfd, P.bport))
		_exit(errno);
	probe_wait(bfd, EPOLLOUT);
	if (getsockopt(bfd, SOL_SOCKET, SO_ERROR, &err, &len) || err != 0)
		_exit(PROBE_BROKEN);
	/* The routed log line; the Unix time as without the vDSO. */
	len = sizeof(local);
	if (getsockname(bfd, (struct sockaddr *)&local, &len) ||
	    syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts) ||
	    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts))
		_exit(PROBE_BROKEN);
	probe_splice(cfd, bfd);
	if (shutdown(bfd, SHUT_WR) || write(STDERR_FILENO, "", 0) != 0)
		_exit(PROBE_BROKEN);
	close(bfd);
	close(cfd);
	_exit(PROBE_DONE);
}

/* Read everything from a connection accepted on ${lfd}. */
static size_t
backend_read(int lfd, char * buf, size_t size)
{
	struct pollfd pfd = { lfd, POLLIN, 0 };
	size_t len = 0;
	ssize_t n;
	int fd;

	cr_assert(poll(&pfd, 1, 10000) == 1, "the backend got no connection");
	cr_assert((fd = accept(lfd, NULL, NULL)) != -1);
	pfd.fd = fd;
	while (len < size && poll(&pfd, 1, 10000) == 1 &&
	    (n = read(fd, buf + len, size - len)) > 0)
		len += (size_t)n;
	close(fd);
	return (len);
}

Test(sandbox, the_relay_still_works)
{
	struct sockaddr_in sin;
	char buf[64];
	size_t len;
	pid_t pid;
	int c, st;

	/* A client with its bytes and half-close already on the way. */
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(P.lport);
	cr_assert((c = socket(AF_INET, SOCK_STREAM, 0)) != -1);
	cr_assert(connect(c, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	cr_assert(write(c, PAYLOAD, strlen(PAYLOAD)) == (ssize_t)strlen(PAYLOAD));
	cr_assert(shutdown(c, SHUT_WR) == 0);

	fflush(NULL);
	cr_assert((pid = fork()) != -1);
	if (pid == 0) {
		probe_enter();
		try_relay();
	}
	len = backend_read(P.bfd, buf, sizeof(buf) - 1);
	buf[len] = '\0';
	cr_assert(waitpid(pid, &st, 0) == pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == PROBE_DONE,
	    "the sandboxed relay steps: %s", probe_how(st, "sandbox_enter"));
	cr_assert_str_eq(buf, PAYLOAD);
	close(c);
}

/*
 * contrib/nftables/l7knockknock.nft, the address half of what a
 * compromised relay may reach: loaded in a network namespace of this test
 * process's own (Criterion runs each test in its own process), with
 * RELAY_USER 65534 and one backend; then a process of that user reaches
 * the backend and is refused any other address or port, while root is
 * not restricted.
 */
#include <sched.h>
#include <sys/types.h>

#include "run.h"

#define FW_FILE		"../contrib/nftables/l7knockknock.nft"
#define FW_UID		65534

/* A listener on ${addr}:${port} (0: any, stored back); the socket. */
static int
fw_listen(const char * addr, uint16_t * port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(*port);
	cr_assert(inet_pton(AF_INET, addr, &sin.sin_addr) == 1);
	cr_assert((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1);
	cr_assert(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0,
	    "bind %s:%u: %s", addr, (unsigned)*port, strerror(errno));
	cr_assert(listen(fd, 16) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&sin, &len) == 0);
	*port = ntohs(sin.sin_port);
	return (fd);
}

/* A blocking connect to ${addr}:${port}: 0 or the errno. */
static int
fw_connect(const char * addr, uint16_t port)
{
	struct sockaddr_in sin;
	int fd, err = 0;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1 ||
	    (fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (EINVAL);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		err = errno;
	close(fd);
	return (err);
}

/* Run a shell command with a time limit; its exit status, stderr in ${err}. */
static int
fw_sh(const char * cmd, char * err, size_t errlen)
{
	char * argv[] = { "/bin/sh", "-c", (char *)cmd, NULL };
	int st;

	if (run_capture(argv, 10000, &st, NULL, 0, err, errlen) != 0 ||
	    !WIFEXITED(st))
		return (-1);
	return (WEXITSTATUS(st));
}

/* The shipped rule file with RELAY_USER and BACKENDS4 set, into ${path}. */
static void
fw_ruleset(const char * path, uint16_t port)
{
	char line[512];
	FILE * in, * out;
	int user = 0, backends = 0;

	cr_assert((in = fopen(FW_FILE, "r")) != NULL, "cannot read %s: %s",
	    FW_FILE, strerror(errno));
	cr_assert((out = fopen(path, "w")) != NULL);
	while (fgets(line, sizeof(line), in) != NULL) {
		if (strncmp(line, "define RELAY_USER = ", 20) == 0) {
			fprintf(out, "define RELAY_USER = %d\n", FW_UID);
			user++;
		} else if (strncmp(line, "define BACKENDS4 = ", 19) == 0) {
			fprintf(out, "define BACKENDS4 = { 127.0.0.1 . %u }\n",
			    (unsigned)port);
			backends++;
		} else
			fputs(line, out);
	}
	fclose(in);
	fclose(out);
	cr_assert(user == 1 && backends == 1, "%s: want one RELAY_USER and "
	    "one BACKENDS4 definition", FW_FILE);
}

/* In a child as uid FW_UID: the connects' errnos, 8 bits each. */
static int
fw_as_relay_user(uint16_t port, uint16_t other)
{
	pid_t pid;
	int st;

	fflush(NULL);
	cr_assert((pid = fork()) != -1);
	if (pid == 0) {
		if (setgroups(0, NULL) || setresgid(FW_UID, FW_UID, FW_UID) ||
		    setresuid(FW_UID, FW_UID, FW_UID))
			_exit(255);
		/* Backend: 0.  Other address, other port: ECONNREFUSED. */
		_exit((fw_connect("127.0.0.1", port) == 0 ? 0 : 1) |
		    (fw_connect("127.0.0.2", port) == ECONNREFUSED ? 0 : 2) |
		    (fw_connect("127.0.0.1", other) == ECONNREFUSED ? 0 : 4));
	}
	cr_assert(waitpid(pid, &st, 0) == pid);
	cr_assert(WIFEXITED(st), "status 0x%x", st);
	return (WEXITSTATUS(st));
}

Test(firewall, nft_rule_lets_the_relay_user_reach_only_the_backends,
    .timeout = 60)
{
	char path[] = "/tmp/l7kk-nft-XXXXXX", cmd[256], err[2048];
	uint16_t port = 0, other = 0;
	int fd, b, o, o2, rc;

	if (geteuid() != 0)
		cr_skip_test("a network namespace and nft need root");
	if (unshare(CLONE_NEWNET) != 0)
		cr_skip_test("nft cannot run: no network namespace here (%s)",
		    strerror(errno));
	if (fw_sh("ip link set lo up", err, sizeof(err)) != 0)
		cr_skip_test("nft cannot run: ip link set lo up: %s", err);
	if (fw_sh("nft add table inet l7kk_probe && "
	    "nft delete table inet l7kk_probe", err, sizeof(err)) != 0)
		cr_skip_test("nft cannot run here: %s", err);

	/* Backend 127.0.0.1:P; not backends: 127.0.0.2:P and 127.0.0.1:Q. */
	b = fw_listen("127.0.0.1", &port);
	o = fw_listen("127.0.0.2", &port);
	o2 = fw_listen("127.0.0.1", &other);

	/* Without the rule every connect succeeds, as the user too. */
	rc = fw_as_relay_user(port, other);
	cr_assert_eq(rc & 1, 0, "the backend is not reachable at all");
	cr_assert_eq(rc & 6, 6, "a non-backend was refused without the rule");

	cr_assert((fd = mkstemp(path)) != -1);
	close(fd);
	fw_ruleset(path, port);
	snprintf(cmd, sizeof(cmd), "nft -f %s", path);
	rc = fw_sh(cmd, err, sizeof(err));
	unlink(path);
	cr_assert_eq(rc, 0, "%s does not load: %s", FW_FILE, err);

	/* The rule: backend only, for that user; root is not restricted. */
	rc = fw_as_relay_user(port, other);
	cr_expect_eq(rc & 1, 0, "as uid %d the backend is not reached", FW_UID);
	cr_expect_eq(rc & 2, 0, "as uid %d 127.0.0.2:%u (not a backend) was "
	    "not refused", FW_UID, (unsigned)port);
	cr_expect_eq(rc & 4, 0, "as uid %d 127.0.0.1:%u (not a backend) was "
	    "not refused", FW_UID, (unsigned)other);
	cr_expect_eq(fw_connect("127.0.0.2", port), 0, "root was restricted");

	/* Loading it again replaces it (the table is its own). */
	fw_ruleset(path, port);
	rc = fw_sh(cmd, err, sizeof(err));
	unlink(path);
	cr_expect_eq(rc, 0, "%s does not reload: %s", FW_FILE, err);
	close(o2);
	close(o);
	close(b);
}

/* What the relay test's callback needs and found. */
struct fw_relay {
	int normal;		/* The normal backend's listener. */
	uint16_t lport;		/* The relay's listener. */
	char got[64];		/* What the normal backend received. */
	int hidden_closed;	/* The knocked client was closed. */
};

/* A client of the relay at 127.0.0.1:${port} that sends ${msg}. */
static int
fw_client(uint16_t port, const char * msg)
{
	struct sockaddr_storage ss;
	socklen_t len = h_loopback(&ss, AF_INET, port);
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	if (connect(fd, (struct sockaddr *)&ss, len) == -1 ||
	    write(fd, msg, strlen(msg)) != (ssize_t)strlen(msg)) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/* run_capture_until() callback, once the relay is ready. */
static void
fw_relay_clients(pid_t pid, void * cookie)
{
	struct fw_relay * F = cookie;
	struct pollfd pfd;
	char c;
	ssize_t n;
	int fd, b;

	/* Not knocked: relayed to the normal backend, which is allowed. */
	if ((fd = fw_client(F->lport, "hello")) != -1) {
		pfd = (struct pollfd){ F->normal, POLLIN, 0 };
		if (poll(&pfd, 1, 5000) == 1 &&
		    (b = accept(F->normal, NULL, NULL)) != -1) {
			pfd = (struct pollfd){ b, POLLIN, 0 };
			if (poll(&pfd, 1, 5000) == 1 &&
			    (n = read(b, F->got, sizeof(F->got) - 1)) > 0)
				F->got[n] = '\0';
			close(b);
		}
		close(fd);
	}

	/* Knocked: the hidden backend is not in the rule, so it is closed. */
	if ((fd = fw_client(F->lport, "knock")) != -1) {
		pfd = (struct pollfd){ fd, POLLIN, 0 };
		F->hidden_closed = (poll(&pfd, 1, 5000) == 1 &&
		    read(fd, &c, 1) <= 0);
		close(fd);
	}
	kill(pid, SIGTERM);
}

/*
 * The real relay, started as root with --user 65534, under the rule: its
 * clients are served, its connect to the normal backend passes, its
 * connect to a hidden backend that the rule does not list is refused.
 */
Test(firewall, the_relay_under_the_rule_reaches_only_listed_backends,
    .timeout = 60)
{
	char path[] = "/tmp/l7kk-nft-XXXXXX", cmd[256], err[2048];
	static char out[4096], log[16384];
	char listen_arg[32], normal_arg[32], hidden_arg[32];
	char * argv[] = { "../l7knockknock", "--listen", listen_arg,
	    "--normal", normal_arg, "--hidden", hidden_arg, "--user", "65534",
	    "-k", "500ms", "knock", NULL };
	struct fw_relay F;
	uint16_t port = 0;
	int fd, hidden, probe, rc, st;

	if (geteuid() != 0)
		cr_skip_test("a network namespace and nft need root");
	argv[0] = (char *)h_bin_relay();
	if (unshare(CLONE_NEWNET) != 0)
		cr_skip_test("nft cannot run: no network namespace here (%s)",
		    strerror(errno));
	if (fw_sh("ip link set lo up", err, sizeof(err)) != 0 ||
	    fw_sh("nft add table inet l7kk_probe && "
	    "nft delete table inet l7kk_probe", err, sizeof(err)) != 0)
		cr_skip_test("nft cannot run here: %s", err);
	if (mkdir("/var/empty", 0755) == -1 && errno != EEXIST)
		cr_skip_test("no /var/empty: %s", strerror(errno));

	/* Normal backend 127.0.0.1:P (listed); hidden 127.0.0.2:P (not). */
	memset(&F, 0, sizeof(F));
	F.normal = fw_listen("127.0.0.1", &port);
	hidden = fw_listen("127.0.0.2", &port);
	/* This namespace is ours alone: a port found free stays free. */
	probe = fw_listen("127.0.0.1", &F.lport);
	close(probe);
	snprintf(listen_arg, sizeof(listen_arg), "127.0.0.1:%u",
	    (unsigned)F.lport);
	snprintf(normal_arg, sizeof(normal_arg), "127.0.0.1:%u",
	    (unsigned)port);
	snprintf(hidden_arg, sizeof(hidden_arg), "127.0.0.2:%u",
	    (unsigned)port);

	cr_assert((fd = mkstemp(path)) != -1);
	close(fd);
	fw_ruleset(path, port);
	snprintf(cmd, sizeof(cmd), "nft -f %s", path);
	rc = fw_sh(cmd, err, sizeof(err));
	unlink(path);
	cr_assert_eq(rc, 0, "%s does not load: %s", FW_FILE, err);

	rc = run_capture_until(argv, 30000, "ready", fw_relay_clients, &F,
	    &st, out, sizeof(out), log, sizeof(log));
	cr_assert_eq(rc, 0, "the relay never became ready: %s", log);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x: %s",
	    st, log);
	cr_expect_str_eq(F.got, "hello", "the normal backend got '%s': %s",
	    F.got, log);
	cr_expect(F.hidden_closed, "the knocked client was not closed: %s",
	    log);
	cr_expect_neq(strstr(log, "hidden backend connect failed: "
	    "Connection refused"), NULL, "%s", log);
	close(hidden);
	close(F.normal);
}
