/*
 * l7knockknock-client against the real sandboxed relay: bulk transfers
 * with half-close, --fdpass, a real ssh login through ProxyCommand and
 * ProxyUseFdpass, prompt ends, the error exits; its seccomp policy (the
 * table, the golden filter) and probes that try what the policy forbids.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <seccomp.h>

#include "client.h"
#include "client_policy.h"
#include "harness.h"
#include "keyfile.h"
#include "log.h"
#include "probe.h"
#include "run.h"
#include "token.h"

/*
 * ---- The harness, in a few helpers (tests/harness.c may change) ----
 *
 * Everything this file uses of tests/harness.h is below, down to
 * "Helpers of this suite", plus the types struct h_relay, struct
 * backend (its .port) and struct h_record (.len, .hash, .head).
 */

/*
 * The relay on ${listen} (port 0) in front of 127.0.0.1:${normal} and
 * 127.0.0.1:${hidden}, its hidden route given by ${secret_opt} ${path}
 * ("--knock-file" or "--key-file"), and the idle timeout ${idle} if not
 * NULL.
 */
static void
cl_relay_run(struct h_relay * R, const char * listen, uint16_t normal,
    uint16_t hidden, const char * secret_opt, const char * path,
    const char * idle)
{
	const char * extra[12];
	char n[32], h[32];
	size_t i = 0;

	/* The harness listens on 127.0.0.1:0 or [::1]:0; backends on IPv4. */
	cr_assert(strcmp(listen, "127.0.0.1:0") == 0 ||
	    strcmp(listen, "[::1]:0") == 0, "cannot listen on %s", listen);
	snprintf(n, sizeof(n), "127.0.0.1:%u", (unsigned)normal);
	snprintf(h, sizeof(h), "127.0.0.1:%u", (unsigned)hidden);
	extra[i++] = "--normal";
	extra[i++] = n;
	extra[i++] = "--hidden";
	extra[i++] = h;
	extra[i++] = secret_opt;
	extra[i++] = path;
	if (idle != NULL) {
		extra[i++] = "-o";
		extra[i++] = idle;
	}
	extra[i] = NULL;
	h_relay_start(R, &(struct h_relay_conf){ .family = (listen[0] == '[') ?
	    AF_INET6 : AF_INET, .extra = extra });
}

/* A relay on 127.0.0.1 with a static knock route. */
static void
cl_relay_start(struct h_relay * R, uint16_t normal, uint16_t hidden,
    const char * knock_file)
{

	cl_relay_run(R, "127.0.0.1:0", normal, hidden, "--knock-file",
	    knock_file, NULL);
}

/* A relay on 127.0.0.1 whose hidden route takes tokens of ${key_file}. */
static void
cl_relay_start_key(struct h_relay * R, uint16_t normal, uint16_t hidden,
    const char * key_file)
{

	cl_relay_run(R, "127.0.0.1:0", normal, hidden, "--key-file",
	    key_file, NULL);
}

/* The relay's port. */
static uint16_t
cl_relay_port(const struct h_relay * R)
{

	return (R->port);
}

/* Has the relay logged ${s}? */
static int
cl_relay_logged(struct h_relay * R, const char * s)
{

	return (h_relay_log_count(R, s) > 0);
}

/* Does this relay take --key-file (token routes)? */
static int
cl_relay_has_tokens(void)
{
	char * argv[] = { (char *)h_bin_relay(), "--help", NULL };
	static char out[16384];
	int st;

	(void)run_capture(argv, 10000, &st, out, sizeof(out), NULL, 0);
	return (strstr(out, "--key-file") != NULL);
}

/* Stop the relay; it must exit by itself. */
static void
cl_relay_stop(struct h_relay * R)
{
	int st = h_relay_stop(R, SIGTERM, 5000);

	cr_expect(st != -1 && WIFEXITED(st), "relay did not exit cleanly");
}

/* An echo backend on 127.0.0.1. */
static void
cl_backend_start(struct h_backend * B, const char * name)
{

	h_backend_start(B, &(struct h_backend_conf){ .family = AF_INET,
	    .mode = H_ECHO, .name = name });
}

/* Stop it. */
static void
cl_backend_stop(struct h_backend * B)
{

	h_backend_stop(B);
}

/* How many connections it accepted. */
static unsigned
cl_backend_conns(struct h_backend * B)
{

	return (B->conns);
}

/* Wait ${ms} for its first connection's EOF; what it received, or NULL. */
static const struct h_record *
cl_backend_last(struct h_backend * B, int ms)
{

	return (h_backend_wait_done(B, 1, ms) == 0 ? &B->last : NULL);
}

/* The harness's generic helpers. */
#define CL_HASH_INIT	H_HASH_INIT

/* Monotonic milliseconds. */
static uint64_t
cl_now(void)
{

	return (h_now_ms());
}

/* 64-bit FNV-1a over ${len} bytes from ${h}. */
static uint64_t
cl_hash(uint64_t h, const void * buf, size_t len)
{

	return (h_hash(h, buf, len));
}

/* Deterministic pseudo-random bytes. */
static void
cl_fill(void * buf, size_t len, uint64_t seed)
{

	h_fill(buf, len, seed);
}

/* Send all of ${buf} on the socket ${fd} (the test fails otherwise). */
static void
cl_send(int fd, const void * buf, size_t len)
{

	h_send_all(fd, buf, len);
}

/* Receive up to ${len} bytes from the socket ${fd} within ${ms}. */
static size_t
cl_recv(int fd, void * buf, size_t len, int ms)
{

	return (h_recv(fd, buf, len, ms));
}

/* Is the socket ${fd} closed by its peer within ${ms}? */
static int
cl_closed(int fd, int ms)
{

	return (h_wait_closed(fd, ms));
}

/* Close the socket ${fd} with a reset. */
static void
cl_reset(int fd)
{

	h_close_reset(fd);
}

/*
 * ---- Helpers of this suite ----
 */

#define CL_KNOCK	"client-test-knock"

/* Write ${text} to a new 0600 file; its path in ${path} (of 64 bytes). */
static void
cl_file(char * path, const char * text)
{
	int fd;

	strcpy(path, "/tmp/l7kk-client-XXXXXX");
	cr_assert((fd = mkstemp(path)) != -1);
	cr_assert(fchmod(fd, 0600) == 0);
	cr_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

/* /dev/null for writing (the client's stdout when nothing is read). */
static int
cl_devnull(void)
{
	static int fd = -1;

	if (fd == -1)
		cr_assert((fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) != -1);
	return (fd);
}

/* A running client. */
struct cproc {
	pid_t pid;
	int errfd;		/* Its stderr. */
};

/* Start the client with ${argv} (after argv[0]), stdin ${in}, stdout ${out}. */
static void
cproc_start(struct cproc * C, const char * const * args, int in, int out)
{
	const char * argv[16];
	int ep[2];
	size_t n = 0;

	argv[n++] = "l7knockknock-client";
	while (*args != NULL && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	cr_assert(pipe2(ep, O_CLOEXEC) == 0);
	fflush(NULL);
	cr_assert((C->pid = fork()) != -1);
	if (C->pid == 0) {
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    dup2(in, 0) == -1 || dup2(out, 1) == -1 ||
		    dup2(ep[1], 2) == -1)
			_exit(126);
		signal(SIGPIPE, SIG_DFL);
		execv(h_bin_client(), (char * const *)argv);
		_exit(127);
	}
	close(ep[1]);
	C->errfd = ep[0];
}

/*
 * Start the client with the knock file ${kf} towards 127.0.0.1:${port},
 * on pipes of the test's: it writes to ${in}[1] and reads ${out}[0].
 */
static void
cproc_knock(struct cproc * C, const char * kf, const char * port, int in[2],
    int out[2])
{

	cr_assert(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0);
	cproc_start(C, (const char *[]){ "--knock-file", kf, "127.0.0.1",
	    port, NULL }, in[0], out[1]);
	close(in[0]);
	close(out[1]);
}

/* Wait ${ms} for the client; its wait status, or -1 (then it is killed). */
static int
cproc_wait(struct cproc * C, int ms, char * err, size_t errlen)
{
	uint64_t end = cl_now() + (uint64_t)ms;
	ssize_t n;
	size_t len = 0;
	int st = -1;

	while (waitpid(C->pid, &st, WNOHANG) == 0) {
		if (cl_now() >= end) {
			kill(C->pid, SIGKILL);
			waitpid(C->pid, NULL, 0);
			st = -1;
			break;
		}
		usleep(5000);
	}
	if (err != NULL) {
		fcntl(C->errfd, F_SETFL, O_NONBLOCK);
		while (len < errlen - 1 &&
		    (n = read(C->errfd, err + len, errlen - 1 - len)) > 0)
			len += (size_t)n;
		err[len] = '\0';
	}
	close(C->errfd);
	return (st);
}

/* Did the client exit with ${code}? */
static int
cl_exited(int st, int code)
{

	return (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == code);
}

/*
 * Send ${len} pseudo-random bytes into ${wfd} while reading ${rfd}; close
 * ${wfd} once all is sent (the half-close), read ${rfd} to EOF.  Bounded
 * by ${ms}.  Return the bytes read.
 */
static uint64_t
cl_pump(int wfd, int rfd, uint64_t len, uint64_t seed, int ms,
    uint64_t * hsent, uint64_t * hgot)
{
	static uint8_t out[1 << 16], in[1 << 16];
	uint64_t end = cl_now() + (uint64_t)ms, sent = 0, got = 0, blk = 0;
	size_t outlen = 0, outoff = 0;
	struct pollfd p[2];
	ssize_t n;

	*hsent = *hgot = CL_HASH_INIT;
	fcntl(wfd, F_SETFL, O_NONBLOCK);
	fcntl(rfd, F_SETFL, O_NONBLOCK);
	while (rfd != -1 && cl_now() < end) {
		if (outoff == outlen && sent < len) {
			outlen = (len - sent < sizeof(out)) ?
			    (size_t)(len - sent) : sizeof(out);
			cl_fill(out, outlen, seed + blk++);
			*hsent = cl_hash(*hsent, out, outlen);
			outoff = 0;
		}
		if (wfd != -1 && sent == len && outoff == outlen) {
			close(wfd);
			wfd = -1;
		}
		p[0].fd = wfd;
		p[0].events = POLLOUT;
		p[1].fd = rfd;
		p[1].events = POLLIN;
		if (poll(p, 2, 100) <= 0)
			continue;
		if (wfd != -1 && (p[0].revents & (POLLOUT | POLLERR)) &&
		    (n = write(wfd, out + outoff, outlen - outoff)) > 0) {
			outoff += (size_t)n;
			sent += (uint64_t)n;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			if ((n = read(rfd, in, sizeof(in))) > 0) {
				*hgot = cl_hash(*hgot, in, (size_t)n);
				got += (uint64_t)n;
			} else if (n == 0 || errno != EAGAIN) {
				rfd = -1;
			}
		}
	}
	if (wfd != -1)
		close(wfd);
	return (got);
}

/* Write all of ${buf} to the pipe ${fd}. */
static void
cl_write_all(int fd, const void * buf, size_t len)
{
	const char * p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		cr_assert(n > 0, "write: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

/* Read the pipe ${fd} until EOF, ${max} bytes or ${ms}; the bytes read. */
static size_t
cl_read_until(int fd, char * buf, size_t max, int ms)
{
	uint64_t end = cl_now() + (uint64_t)ms, now;
	struct pollfd p = { fd, POLLIN, 0 };
	size_t got = 0;
	ssize_t n;

	while (got < max && (now = cl_now()) < end &&
	    poll(&p, 1, (int)(end - now)) == 1) {
		if ((n = read(fd, buf + got, max - got)) <= 0)
			break;
		got += (size_t)n;
	}
	return (got);
}

/* Does the pipe ${fd} reach EOF (nothing more to read) within ${ms}? */
static int
cl_pipe_eof(int fd, int ms)
{
	char buf[4096];
	uint64_t end = cl_now() + (uint64_t)ms, now;
	struct pollfd p = { fd, POLLIN, 0 };
	ssize_t n;

	while ((now = cl_now()) < end && poll(&p, 1, (int)(end - now)) == 1)
		if ((n = read(fd, buf, sizeof(buf))) <= 0)
			return (n == 0);
	return (0);
}

/* Accept on ${lfd} within ${ms}; the socket. */
static int
cl_accept(int lfd, int ms)
{
	struct pollfd p = { lfd, POLLIN, 0 };
	int fd;

	cr_assert(poll(&p, 1, ms) == 1, "no connection within %d ms", ms);
	cr_assert((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) != -1);
	return (fd);
}

/* A port nothing listens on (bound, then closed). */
static uint16_t
cl_closed_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	cr_assert((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&sin, &len) == 0);
	close(fd);
	return (ntohs(sin.sin_port));
}

/*
 * ---- Through the relay ----
 */

/* 64 MiB each way, the half-close passed on; ${fam}: -4 or -6 option. */
Test(client, bulk_64mib_each_way_with_half_close, .timeout = 120)
{
	const uint64_t len = 64ULL << 20;
	const struct h_record * rec;
	struct h_backend normal, hidden;
	struct h_relay R;
	struct cproc C;
	char kf[64], port[8], err[1024];
	uint64_t hs, hg, got;
	int in[2], out[2], st;

	cl_backend_start(&normal, "normal");
	cl_backend_start(&hidden, "hidden");
	cl_file(kf, CL_KNOCK "\n");
	cl_relay_start(&R, normal.port, hidden.port, kf);
	snprintf(port, sizeof(port), "%u", (unsigned)cl_relay_port(&R));
	cproc_knock(&C, kf, port, in, out);
	got = cl_pump(in[1], out[0], len, 11, 90000, &hs, &hg);
	close(out[0]);
	st = cproc_wait(&C, 5000, err, sizeof(err));
	cr_expect(got == len, "got %llu of %llu bytes back",
	    (unsigned long long)got, (unsigned long long)len);
	cr_expect(hg == hs, "the echo differs from what was sent");
	cr_expect(cl_exited(st, 0), "client status %d: %s", st, err);
	cr_assert((rec = cl_backend_last(&hidden, 5000)) != NULL,
	    "the hidden backend never saw the client's EOF");
	cr_expect(rec->len == len && rec->hash == hs,
	    "the hidden backend got %llu bytes, not the ones sent (knock "
	    "left in?)", (unsigned long long)rec->len);
	cr_expect(cl_backend_conns(&normal) == 0);
	unlink(kf);
	cl_relay_stop(&R);
	cl_backend_stop(&normal);
	cl_backend_stop(&hidden);
}

/* Receive one descriptor on ${fd} (SCM_RIGHTS) within ${ms}; it, or -1. */
static int
cl_recv_fd(int fd, int ms)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct pollfd p = { fd, POLLIN, 0 };
	struct msghdr msg;
	struct cmsghdr * c;
	struct iovec iov;
	char byte;
	int got = -1;

	if (poll(&p, 1, ms) != 1)
		return (-1);
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = &byte;
	iov.iov_len = 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	if (recvmsg(fd, &msg, MSG_CMSG_CLOEXEC) != 1)
		return (-1);
	c = CMSG_FIRSTHDR(&msg);
	if (c != NULL && c->cmsg_level == SOL_SOCKET &&
	    c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&got, CMSG_DATA(c), sizeof(int));
	return (got);
}

Test(client, fdpass_hands_over_the_knocked_socket, .timeout = 30)
{
	const struct h_record * rec;
	struct h_backend normal, hidden;
	struct h_relay R;
	struct sockaddr_in sin;
	socklen_t slen = sizeof(sin);
	struct cproc C;
	char kf[64], port[8], err[1024], buf[64];
	int sp[2], null, fd, st;

	cl_backend_start(&normal, "normal");
	cl_backend_start(&hidden, "hidden");
	cl_file(kf, CL_KNOCK);
	cl_relay_start(&R, normal.port, hidden.port, kf);
	snprintf(port, sizeof(port), "%u", (unsigned)cl_relay_port(&R));
	cr_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0);
	cr_assert((null = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1);
	cproc_start(&C, (const char *[]){ "--fdpass", "--knock-file", kf,
	    "127.0.0.1", port, NULL }, null, sp[1]);
	close(sp[1]);
	close(null);
	fd = cl_recv_fd(sp[0], 10000);
	st = cproc_wait(&C, 5000, err, sizeof(err));
	cr_assert(fd != -1, "no descriptor received; client: %s", err);
	cr_expect(cl_exited(st, 0), "client status %d: %s", st, err);

	/* It is the socket to the relay, knocked: the echo answers. */
	cr_assert(getpeername(fd, (struct sockaddr *)&sin, &slen) == 0);
	cr_expect(ntohs(sin.sin_port) == cl_relay_port(&R));
	cl_send(fd, "ping", 4);
	cr_expect(cl_recv(fd, buf, 4, 5000) == 4 && memcmp(buf, "ping", 4) == 0,
	    "no echo through the passed socket");
	shutdown(fd, SHUT_WR);
	cr_expect(cl_closed(fd, 5000));
	cr_assert((rec = cl_backend_last(&hidden, 5000)) != NULL);
	cr_expect(rec->len == 4 && memcmp(rec->head, "ping", 4) == 0,
	    "the hidden backend did not get exactly ping");
	cr_expect(cl_backend_conns(&normal) == 0);
	close(fd);
	close(sp[0]);
	unlink(kf);
	cl_relay_stop(&R);
	cl_backend_stop(&normal);
	cl_backend_stop(&hidden);
}

/* The TCP state (hex, /proc/net/tcp) of local port ${port}, or -1. */
static int
cl_tcp_state(uint16_t port)
{
	char line[512];
	unsigned int lport, state;
	FILE * f;
	int found = -1;

	cr_assert((f = fopen("/proc/net/tcp", "r")) != NULL);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, " %*d: %*x:%x %*x:%*x %x", &lport, &state) == 2 &&
		    lport == port)
			found = (int)state;
	fclose(f);
	return (found);
}

/* The local port of the client's socket (descriptor 3), from /proc. */
static uint16_t
cl_client_port(pid_t pid)
{
	char path[64], target[64], line[512];
	unsigned long inode, ino;
	unsigned int lport;
	ssize_t n;
	FILE * f;
	uint16_t port = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid,
	    CLIENT_SOCK_FD);
	if ((n = readlink(path, target, sizeof(target) - 1)) <= 0)
		return (0);
	target[n] = '\0';
	if (sscanf(target, "socket:[%lu]", &inode) != 1)
		return (0);
	cr_assert((f = fopen("/proc/net/tcp", "r")) != NULL);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, " %*d: %*x:%x %*x:%*x %*x %*x:%*x %*x:%*x "
		    "%*x %*d %*d %lu", &lport, &ino) == 2 && ino == inode)
			port = (uint16_t)lport;
	fclose(f);
	return (port);
}

/* TCP_CLOSE_WAIT in /proc/net/tcp. */
#define CL_CLOSE_WAIT	0x08

Test(client, server_close_reaches_ssh_and_client_exits, .timeout = 30)
{
	struct h_backend normal;
	struct h_relay R;
	struct cproc C;
	char kf[64], port[8], err[1024], buf[64];
	uint16_t hport, cport;
	uint64_t t0;
	size_t n;
	int lfd, sfd, in[2], out[2], st;

	cl_backend_start(&normal, "normal");
	lfd = h_listen(AF_INET, 16, &hport);
	cl_file(kf, CL_KNOCK);
	cl_relay_start(&R, normal.port, hport, kf);
	snprintf(port, sizeof(port), "%u", (unsigned)cl_relay_port(&R));
	cproc_knock(&C, kf, port, in, out);

	/* The server says goodbye and closes; stdin stays open. */
	sfd = cl_accept(lfd, 5000);
	cport = cl_client_port(C.pid);
	cl_send(sfd, "bye\n", 4);
	close(sfd);
	t0 = cl_now();
	n = cl_read_until(out[0], buf, sizeof(buf), 3000);
	cr_expect(n == 4 && memcmp(buf, "bye\n", 4) == 0,
	    "read %zu bytes, not bye and EOF", n);
	cr_expect(cl_now() - t0 < 2000,
	    "stdout was not closed within 2 s of the server's close");

	/* ssh then closes its end: the client ends at once. */
	close(in[1]);
	st = cproc_wait(&C, 2000, err, sizeof(err));
	cr_expect(cl_exited(st, 0), "client status %d: %s", st, err);
	cr_expect(cport != 0, "no socket found for the client");
	cr_expect(cl_tcp_state(cport) != CL_CLOSE_WAIT,
	    "the client's socket is left in CLOSE-WAIT");
	close(out[0]);
	close(lfd);
	unlink(kf);
	cl_relay_stop(&R);
	cl_backend_stop(&normal);
}

/*
 * A reset is not an orderly end: the client exits 74 (EX_IOERR) with one
 * line naming it, distinct from the 0 of an orderly end (above), so that
 * ssh and scripts can tell a cut session from a complete one.  First a
 * listener that resets the connection itself (stdin still open: the reset
 * alone must end the client).
 */
Test(client, reset_ends_the_client_with_status_74, .timeout = 30)
{
	struct cproc C;
	char kf[64], port[8], err[1024], buf[64];
	uint16_t lport;
	int lfd, sfd, in[2], out[2], st;

	lfd = h_listen(AF_INET, 16, &lport);
	cl_file(kf, CL_KNOCK);
	snprintf(port, sizeof(port), "%u", (unsigned)lport);
	cproc_knock(&C, kf, port, in, out);
	sfd = cl_accept(lfd, 5000);
	cr_assert(cl_recv(sfd, buf, strlen(CL_KNOCK), 3000) ==
	    strlen(CL_KNOCK));
	cl_send(sfd, "partial\n", 8);
	usleep(100000);
	cl_reset(sfd);

	/* What came before the reset still arrives; then the end. */
	cr_expect_eq(cl_read_until(out[0], buf, 8, 3000), 8);
	cr_expect(cl_pipe_eof(out[0], 3000), "stdout not closed after a reset");
	st = cproc_wait(&C, 3000, err, sizeof(err));
	cr_expect(cl_exited(st, 74), "client status %d after the reset (want "
	    "exit 74): %s", st, err);
	cr_expect(strstr(err, "connection lost") != NULL &&
	    strstr(err, "reset") != NULL, "no line names the reset: %s", err);
	close(in[1]);
	close(out[0]);
	close(lfd);
	unlink(kf);
}

/*
 * The same through the relay: the hidden backend resets after 4 bytes, the
 * relay passes the reset on, the client exits 74.
 */
Test(client, backend_reset_through_the_relay_exits_74, .timeout = 30)
{
	struct h_backend normal, hidden;
	struct h_relay R;
	struct cproc C;
	char kf[64], port[8], err[1024];
	int in[2], out[2], st;

	cl_backend_start(&normal, "normal");
	h_backend_start(&hidden, &(struct h_backend_conf){ .family = AF_INET,
	    .mode = H_RESET_AFTER, .n = 4 });
	cl_file(kf, CL_KNOCK);
	cl_relay_start(&R, normal.port, hidden.port, kf);
	snprintf(port, sizeof(port), "%u", (unsigned)cl_relay_port(&R));
	cr_assert(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0);
	cproc_start(&C, (const char *[]){ "--knock-file", kf, "127.0.0.1",
	    port, NULL }, in[0], out[1]);
	close(in[0]);
	close(out[1]);
	cr_assert(write(in[1], "ping", 4) == 4);
	cr_expect(cl_pipe_eof(out[0], 5000), "stdout not closed after a reset");
	st = cproc_wait(&C, 3000, err, sizeof(err));
	cr_expect(cl_exited(st, 74), "client status %d after the backend's "
	    "reset (want exit 74): %s", st, err);
	cr_expect(cl_relay_logged(&R, "backend reset"), "log:\n%s", R.log);
	close(in[1]);
	close(out[0]);
	unlink(kf);
	cl_relay_stop(&R);
	h_backend_stop(&hidden);
	cl_backend_stop(&normal);
}

/*
 * ---- The first write: knock and the first bytes together ----
 */

Test(client, knock_and_first_bytes_in_one_write, .timeout = 30)
{
	struct pollfd p;
	struct cproc C;
	char kf[64], port[8], err[1024], buf[256];
	const char * want = "KNOCK1234SSH-2.0-test\r\n";
	uint16_t lport;
	ssize_t n;
	int lfd, sfd, in[2], st;

	lfd = h_listen(AF_INET, 16, &lport);
	cl_file(kf, "KNOCK1234\n");
	snprintf(port, sizeof(port), "%u", (unsigned)lport);
	cr_assert(pipe2(in, O_CLOEXEC) == 0);
	cl_write_all(in[1], "SSH-2.0-test\r\n", 14);
	cproc_start(&C, (const char *[]){ "--knock-file", kf, "127.0.0.1",
	    port, NULL }, in[0], cl_devnull());
	close(in[0]);
	sfd = cl_accept(lfd, 5000);
	p.fd = sfd;
	p.events = POLLIN;
	cr_assert(poll(&p, 1, 5000) == 1);

	/* Whatever is readable first is the whole first write. */
	n = recv(sfd, buf, sizeof(buf), MSG_DONTWAIT);
	cr_expect(n == (ssize_t)strlen(want) && memcmp(buf, want, (size_t)n)
	    == 0, "first read: %zd bytes", n);
	close(in[1]);
	cr_expect(cl_closed(sfd, 3000), "stdin's EOF not passed on");
	close(sfd);
	st = cproc_wait(&C, 3000, err, sizeof(err));
	cr_expect(cl_exited(st, 0), "client status %d: %s", st, err);
	close(lfd);
	unlink(kf);
}

Test(client, knock_alone_after_200ms_without_input, .timeout = 30)
{
	struct cproc C;
	char kf[64], port[8], err[1024], buf[256];
	uint16_t lport;
	uint64_t t0, dt;
	size_t n;
	int lfd, sfd, in[2], st;

	lfd = h_listen(AF_INET, 16, &lport);
	cl_file(kf, "KNOCK1234");
	snprintf(port, sizeof(port), "%u", (unsigned)lport);
	cr_assert(pipe2(in, O_CLOEXEC) == 0);
	cproc_start(&C, (const char *[]){ "--knock-file", kf, "127.0.0.1",
	    port, NULL }, in[0], cl_devnull());
	close(in[0]);
	sfd = cl_accept(lfd, 5000);
	t0 = cl_now();
	n = cl_recv(sfd, buf, 9, 3000);
	dt = cl_now() - t0;
	cr_expect(n == 9 && memcmp(buf, "KNOCK1234", 9) == 0);
	cr_expect(dt >= 100 && dt < 1500, "the knock came after %llu ms, "
	    "not about %d", (unsigned long long)dt, CLIENT_COALESCE_MS);

	/* Nothing else came with it; later bytes follow as they come. */
	cr_expect(recv(sfd, buf, sizeof(buf), MSG_DONTWAIT) == -1);
	cl_write_all(in[1], "later", 5);
	cr_expect(cl_recv(sfd, buf, 5, 3000) == 5 && memcmp(buf, "later", 5)
	    == 0);
	close(in[1]);
	cr_expect(cl_closed(sfd, 3000));
	close(sfd);
	st = cproc_wait(&C, 3000, err, sizeof(err));
	cr_expect(cl_exited(st, 0), "client status %d: %s", st, err);
	close(lfd);
	unlink(kf);
}

/*
 * ---- Addresses: IPv6, and every address of a name in turn ----
 */

Test(client, ipv6_literal_through_a_relay_on_ipv6, .timeout = 30)
{
	static const char * const hosts[] = { "::1", "[::1]" };
	struct h_backend normal, hidden;
	struct h_relay R;
	struct cproc C;
	char kf[64], port[8], err[1024], buf[16];
	int in[2], out[2], st;
	size_t i;

	cl_backend_start(&normal, "normal");
	cl_backend_start(&hidden, "hidden");
	cl_file(kf, CL_KNOCK);
	cl_relay_run(&R, "[::1]:0", normal.port, hidden.port, "--knock-file",
	    kf, NULL);
	snprintf(port, sizeof(port), "%u", (unsigned)cl_relay_port(&R));
	for (i = 0; i < 2; i++) {
		cr_assert(pipe2(in, O_CLOEXEC) == 0 &&
		    pipe2(out, O_CLOEXEC) == 0);
		cproc_start(&C, (const char *[]){ "-6", "--knock-file", kf,
		    hosts[i], port, NULL }, in[0], out[1]);
		close(in[0]);
		close(out[1]);
		cl_write_all(in[1], "six", 3);
		close(in[1]);
		cr_expect(cl_read_until(out[0], buf, sizeof(buf), 5000) == 3 &&
		    memcmp(buf, "six", 3) == 0, "no echo through %s", hosts[i]);
		close(out[0]);
		st = cproc_wait(&C, 3000, err, sizeof(err));
		cr_expect(cl_exited(st, 0), "%s: status %d: %s", hosts[i], st,
		    err);
	}
	cr_expect(cl_backend_conns(&normal) == 0);
	unlink(kf);
	cl_relay_stop(&R);
	cl_backend_stop(&normal);
	cl_backend_stop(&hidden);
}

/* An addrinfo for 127.0.0.1 or ::1 (${family}) port ${port}, in ${A}. */
struct cl_ai {
	struct addrinfo ai;
	struct sockaddr_storage ss;
};

static void
cl_ai_set(struct cl_ai * A, int family, const char * addr, uint16_t port,
    struct cl_ai * next)
{
	struct sockaddr_in * sin = (struct sockaddr_in *)&A->ss;
	struct sockaddr_in6 * sin6 = (struct sockaddr_in6 *)&A->ss;

	memset(A, 0, sizeof(*A));
	A->ai.ai_family = family;
	A->ai.ai_socktype = SOCK_STREAM;
	A->ai.ai_protocol = IPPROTO_TCP;
	A->ai.ai_addr = (struct sockaddr *)&A->ss;
	A->ai.ai_next = (next != NULL) ? &next->ai : NULL;
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		cr_assert(inet_pton(AF_INET, addr, &sin->sin_addr) == 1);
		A->ai.ai_addrlen = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		cr_assert(inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1);
		A->ai.ai_addrlen = sizeof(*sin6);
	}
}

Test(client, dial_tries_every_address_in_turn, .timeout = 30)
{
	struct cl_ai refused, blackhole, good;
	struct run_redirect rd;
	struct sockaddr_in sin;
	char err[512];
	socklen_t len = sizeof(sin);
	uint16_t lport;
	uint64_t t0;
	int lfd, fd;

	lfd = h_listen(AF_INET, 16, &lport);
	log_setlevel(LOG_ERR);

	/* Refused on ::1, then 127.0.0.1 answers. */
	cl_ai_set(&good, AF_INET, "127.0.0.1", lport, NULL);
	cl_ai_set(&refused, AF_INET6, "::1", cl_closed_port(), &good);
	fd = client_dial(&refused.ai, "test", 2000);
	cr_assert(fd >= 0, "client_dial gave %d", fd);
	cr_assert(getpeername(fd, (struct sockaddr *)&sin, &len) == 0);
	cr_expect(ntohs(sin.sin_port) == lport);
	close(fd);

	/* No answer (or no route) within 300 ms, then the good one. */
	cl_ai_set(&blackhole, AF_INET, "192.0.2.1", 9, &good);
	t0 = cl_now();
	fd = client_dial(&blackhole.ai, "test", 300);
	cr_assert(fd >= 0, "client_dial gave %d", fd);
	cr_expect(cl_now() - t0 < 2000, "the timeout was not kept");
	close(fd);

	/* Nothing answers: CLIENT_ERR_PEER, and one line says why. */
	refused.ai.ai_next = NULL;
	cr_assert(run_redirect_begin(&rd, STDERR_FILENO) == 0);
	fd = client_dial(&refused.ai, "test", 300);
	cr_assert(run_redirect_end(&rd, err, sizeof(err)) >= 0);
	cr_expect(fd == CLIENT_ERR_PEER);
	cr_expect(strstr(err, "cannot connect to 'test'") != NULL &&
	    strstr(err, "refused") != NULL, "logged: %s", err);
	close(lfd);
}

/*
 * ---- No secret left in memory once sent ----
 */

/* Does the memory of process ${pid} hold the ${len} bytes ${needle}? */
static int
cl_mem_holds(pid_t pid, const void * needle, size_t len)
{
	static char buf[1 << 20];
	char path[64], line[512], perms[8];
	unsigned long lo, hi, off;
	FILE * maps;
	ssize_t n;
	int fd, found = 0;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		cr_skip_test("cannot read %s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	cr_assert((maps = fopen(path, "r")) != NULL);
	while (!found && fgets(line, sizeof(line), maps) != NULL) {
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 ||
		    perms[0] != 'r' || strstr(line, "[vvar]") != NULL ||
		    strstr(line, "[vsyscall]") != NULL)
			continue;
		for (off = lo; !found && off < hi; off += sizeof(buf) - len) {
			n = pread(fd, buf, (hi - off < sizeof(buf)) ?
			    hi - off : sizeof(buf), (off_t)off);
			if (n <= 0)
				break;
			found = (memmem(buf, (size_t)n, needle, len) != NULL);
			if ((size_t)n < sizeof(buf))
				break;
		}
	}
	fclose(maps);
	close(fd);
	return (found);
}

/*
 * Start the client with ${opt} ${path} against a listener; once the first
 * ${len} bytes (the knock or the token) have arrived, copy them to ${got}
 * and report whether the client's memory still holds ${needle} (or, if
 * NULL, what arrived).
 */
static int
cl_secret_left(const char * opt, const char * path, size_t len, char * got,
    const void * needle, size_t nlen)
{
	struct cproc C;
	char port[8], err[1024];
	uint16_t lport;
	uint64_t end;
	int lfd, sfd, in[2], st, held, control;

	lfd = h_listen(AF_INET, 16, &lport);
	snprintf(port, sizeof(port), "%u", (unsigned)lport);
	cr_assert(pipe2(in, O_CLOEXEC) == 0);
	cproc_start(&C, (const char *[]){ opt, path, "127.0.0.1", port, NULL },
	    in[0], cl_devnull());
	close(in[0]);
	sfd = cl_accept(lfd, 5000);
	cr_assert(cl_recv(sfd, got, len, 3000) == len);

	/* The control: the scan finds what the client still holds. */
	control = cl_mem_holds(C.pid, "l7knockknock-client", 19);
	/*
	 * The client wipes right after its send: scan until the secret is
	 * gone, or 3 s (not once after a fixed pause, which a slow build can
	 * outlast).
	 */
	end = cl_now() + 3000;
	while ((held = cl_mem_holds(C.pid, needle != NULL ? needle : got,
	    needle != NULL ? nlen : len)) && cl_now() < end)
		usleep(20000);
	close(in[1]);
	cr_expect(cl_closed(sfd, 3000));
	close(sfd);
	st = cproc_wait(&C, 3000, err, sizeof(err));
	cr_expect(cl_exited(st, 0), "client status %d: %s", st, err);
	close(lfd);
	cr_assert(control, "the memory scan finds nothing at all");
	return (held);
}

Test(client, no_knock_left_in_memory_once_sent, .timeout = 30)
{
	const char * knock = "Zq8-unique-knock-3f9c1e7b52d04a6e";
	char kf[64], got[64];

	if (geteuid() != 0)
		cr_skip_test("reading a non-dumpable process needs root");
#ifdef SANITIZE
	/* ASan's shadow maps terabytes: the scan cannot end in time. */
	cr_skip_test("not in a SANITIZE=1 build");
#endif
	cl_file(kf, knock);
	cr_expect(!cl_secret_left("--knock-file", kf, strlen(knock), got,
	    NULL, 0), "the knock is still in the client's memory");
	cr_expect(memcmp(got, knock, strlen(knock)) == 0);
	unlink(kf);
}

/*
 * ---- Tokens (--key-file, --gen-key) ----
 */

/* A key from --gen-key into ${key}, its file in ${path} (0600). */
static void
cl_gen_key(uint8_t key[TOKEN_KEYLEN], char * path)
{
	char * argv[] = { (char *)h_bin_client(), "--gen-key", NULL };
	char out[128];
	int st;

	cr_assert(run_capture(argv, 10000, &st, out, sizeof(out), NULL, 0)
	    == 0 && cl_exited(st, 0), "--gen-key failed");
	cr_assert(strlen(out) == KEYFILE_B64LEN + 1 &&
	    out[KEYFILE_B64LEN] == '\n', "--gen-key wrote '%s'", out);
	cr_assert(keyfile_parse(out, strlen(out), key) == KEYFILE_OK,
	    "--gen-key wrote no key: '%s'", out);
	cl_file(path, out);
}

Test(client, gen_key_writes_a_fresh_key_file_line, .timeout = 30)
{
	uint8_t a[TOKEN_KEYLEN], b[TOKEN_KEYLEN];
	char pa[64], pb[64];

	cl_gen_key(a, pa);
	cl_gen_key(b, pb);
	cr_expect(memcmp(a, b, sizeof(a)) != 0, "two --gen-key gave one key");
	unlink(pa);
	unlink(pb);
}

Test(client, no_token_or_key_left_in_memory_once_sent, .timeout = 30)
{
	uint8_t key[TOKEN_KEYLEN];
	char kf[64], got[TOKEN_LEN], b64[KEYFILE_B64LEN + 2];

	if (geteuid() != 0)
		cr_skip_test("reading a non-dumpable process needs root");
#ifdef SANITIZE
	/* ASan's shadow maps terabytes: the scan cannot end in time. */
	cr_skip_test("not in a SANITIZE=1 build");
#endif
	cl_gen_key(key, kf);
	keyfile_format(key, b64);
	cr_expect(!cl_secret_left("--key-file", kf, TOKEN_LEN, got, NULL, 0),
	    "the token is still in the client's memory");
	cr_expect(!cl_secret_left("--key-file", kf, TOKEN_LEN, got, key,
	    sizeof(key)), "the key is still in the client's memory");
	cr_expect(!cl_secret_left("--key-file", kf, TOKEN_LEN, got, b64,
	    KEYFILE_B64LEN), "the key file's text is still in memory");
	unlink(kf);
}


/* Run the client with key file ${kf} against a listener; the first bytes. */
static size_t
cl_token_first(const char * kf, const char * input, char * buf, size_t size)
{
	struct pollfd p;
	struct cproc C;
	char port[8], err[1024];
	uint16_t lport;
	ssize_t n;
	int lfd, sfd, in[2], st;

	lfd = h_listen(AF_INET, 16, &lport);
	snprintf(port, sizeof(port), "%u", (unsigned)lport);
	cr_assert(pipe2(in, O_CLOEXEC) == 0);
	cl_write_all(in[1], input, strlen(input));
	cproc_start(&C, (const char *[]){ "--key-file", kf, "127.0.0.1",
	    port, NULL }, in[0], cl_devnull());
	close(in[0]);
	sfd = cl_accept(lfd, 5000);
	p.fd = sfd;
	p.events = POLLIN;
	cr_assert(poll(&p, 1, 5000) == 1);
	n = recv(sfd, buf, size, MSG_DONTWAIT);
	close(in[1]);
	cr_expect(cl_closed(sfd, 3000), "stdin's EOF not passed on");
	close(sfd);
	st = cproc_wait(&C, 3000, err, sizeof(err));
	cr_expect(cl_exited(st, 0), "client status %d: %s", st, err);
	close(lfd);
	return (n > 0 ? (size_t)n : 0);
}

Test(client, key_file_sends_a_fresh_valid_token_with_the_first_bytes,
    .timeout = 30)
{
	uint8_t key[1][TOKEN_KEYLEN], other[1][TOKEN_KEYLEN];
	struct token_result r;
	char kf[64], of[64], a[256], b[256];
	uint64_t now = (uint64_t)time(NULL);
	size_t na, nb;

	cl_gen_key(key[0], kf);
	cl_gen_key(other[0], of);
	na = cl_token_first(kf, "SSH-2.0-x\r\n", a, sizeof(a));
	nb = cl_token_first(kf, "SSH-2.0-x\r\n", b, sizeof(b));
	cr_assert(na == TOKEN_LEN + 11 && nb == TOKEN_LEN + 11,
	    "first reads of %zu and %zu bytes", na, nb);
	cr_expect(memcmp(a + TOKEN_LEN, "SSH-2.0-x\r\n", 11) == 0);
	cr_expect(memcmp(a, b, TOKEN_LEN) != 0, "the same token twice");
	cr_expect(token_check((const uint8_t (*)[TOKEN_KEYLEN])key, 1,
	    (const uint8_t *)a, now, 30, now - 10, &r) == 0 &&
	    r.verdict == TOKEN_OK, "the token does not check: verdict %d",
	    r.verdict);
	cr_expect(token_check((const uint8_t (*)[TOKEN_KEYLEN])other, 1,
	    (const uint8_t *)a, now, 30, now - 10, &r) == -1,
	    "the token checks under another key");
	unlink(kf);
	unlink(of);
}

/*
 * ---- Error exits: one line, a sysexits code ----
 */

/* Run the client with ${args}; its exit status, stderr into ${err}. */
static int
cl_run(const char * const * args, char * err, size_t errlen)
{
	char * argv[16];
	size_t n = 0;
	int st;

	argv[n++] = (char *)h_bin_client();
	while (*args != NULL && n < 15)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	(void)run_capture(argv, 20000, &st, NULL, 0, err, errlen);
	return (st);
}

/* The command must exit with ${code} and one line naming ${what}. */
static void
cl_expect_exit(const char * const * args, int code, const char * what)
{
	char err[2048];
	const char * nl;
	int st = cl_run(args, err, sizeof(err));

	cr_expect(cl_exited(st, code), "%s %s: want exit %d, got status %d: "
	    "%s", args[0], args[1] ? args[1] : "", code, st, err);
	cr_expect(strstr(err, what) != NULL, "want '%s' in: %s", what, err);
	nl = strchr(err, '\n');
	cr_expect(nl != NULL && nl[1] == '\0', "not one line: %s", err);
}

Test(client, usage_errors_exit_64, .timeout = 30)
{

	cl_expect_exit((const char *[]){ "127.0.0.1", NULL }, 64,
	    "want HOST PORT");
	cl_expect_exit((const char *[]){ "127.0.0.1", "0", NULL }, 64,
	    "invalid PORT");
	cl_expect_exit((const char *[]){ "127.0.0.1", "65536", NULL }, 64,
	    "invalid PORT");
	cl_expect_exit((const char *[]){ "--key-file", "a", "--knock-file",
	    "b", "h", "22", NULL }, 64, "exclude each other");
	cl_expect_exit((const char *[]){ "-4", "-6", "h", "22", NULL }, 64,
	    "exclude each other");
	cl_expect_exit((const char *[]){ "--connect-timeout", "soon", "h",
	    "22", NULL }, 64, "--connect-timeout");
	cl_expect_exit((const char *[]){ "--bogus", "h", "22", NULL }, 64,
	    "--bogus");
	cl_expect_exit((const char *[]){ "--fdpass", "127.0.0.1", "22", NULL },
	    64, "UNIX socket on stdout");
}

Test(client, bad_knock_file_exits_66, .timeout = 30)
{
	char empty[64];

	cl_file(empty, "\n");
	cl_expect_exit((const char *[]){ "--knock-file", "/nonexistent/k",
	    "127.0.0.1", "22", NULL }, 66, "/nonexistent/k");
	cl_expect_exit((const char *[]){ "--knock-file", empty, "127.0.0.1",
	    "22", NULL }, 66, "empty");
	unlink(empty);
}

Test(client, bad_key_file_exits_66, .timeout = 30)
{
	char shortkey[64], knock[64];

	cl_file(shortkey, "c2hvcnQ=\n");
	cl_file(knock, CL_KNOCK "\n");
	cl_expect_exit((const char *[]){ "--key-file", "/nonexistent/key",
	    "127.0.0.1", "22", NULL }, 66, "/nonexistent/key");
	cl_expect_exit((const char *[]){ "--key-file", shortkey, "127.0.0.1",
	    "22", NULL }, 66, shortkey);
	cl_expect_exit((const char *[]){ "--key-file", knock, "127.0.0.1",
	    "22", NULL }, 66, knock);
	unlink(shortkey);
	unlink(knock);
}

Test(client, unknown_host_exits_68, .timeout = 30)
{

	cl_expect_exit((const char *[]){ "no-such-host.invalid", "22", NULL },
	    68, "no-such-host.invalid");
	cl_expect_exit((const char *[]){ "-6", "127.0.0.1", "22", NULL }, 68,
	    "127.0.0.1");
}

Test(client, refused_and_unreachable_exit_69, .timeout = 30)
{
	char port[8];

	snprintf(port, sizeof(port), "%u", (unsigned)cl_closed_port());
	cl_expect_exit((const char *[]){ "127.0.0.1", port, NULL }, 69,
	    "refused");
	cl_expect_exit((const char *[]){ "[::1]", port, NULL }, 69,
	    "refused");
	/* TEST-NET-1: times out, or has no route; either way 69. */
	cl_expect_exit((const char *[]){ "--connect-timeout", "300ms",
	    "192.0.2.1", "9", NULL }, 69, "192.0.2.1");
}

Test(client, help_and_version_exit_0, .timeout = 30)
{
	char err[256];

	cr_expect(cl_exited(cl_run((const char *[]){ "--help", NULL }, err,
	    sizeof(err)), 0));
	cr_expect(cl_exited(cl_run((const char *[]){ "--version", NULL }, err,
	    sizeof(err)), 0));
}

/*
 * ---- A real ssh login through the relay ----
 */

/* A throw-away sshd on 127.0.0.1. */
struct cl_sshd {
	char dir[64];		/* Its keys, config and log. */
	pid_t pid;
	uint16_t port;
};

/* Run ${cmd} through the shell within 20 s; 0 if it exited 0. */
static int
cl_sh(const char * cmd)
{
	char * argv[] = { "/bin/sh", "-c", (char *)cmd, NULL };
	int st;

	if (run_capture(argv, 20000, &st, NULL, 0, NULL, 0) != 0)
		return (-1);
	return (WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1);
}

/* Write sshd's config into ${S}->dir. */
static void
cl_sshd_config(struct cl_sshd * S)
{
	char path[128];
	FILE * f;

	snprintf(path, sizeof(path), "%s/sshd_config", S->dir);
	cr_assert((f = fopen(path, "w")) != NULL);
	fprintf(f, "Port %u\nListenAddress 127.0.0.1\n"
	    "HostKey %s/host_key\nAuthorizedKeysFile %s/authorized_keys\n"
	    "UsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\n"
	    "PubkeyAuthentication yes\nPasswordAuthentication no\n"
	    "KbdInteractiveAuthentication no\nPidFile none\n"
	    "LogLevel ERROR\n", (unsigned)S->port, S->dir, S->dir);
	fclose(f);
}

/* Keys, config, then sshd -D -e; wait until it accepts connections. */
static void
cl_sshd_start(struct cl_sshd * S)
{
	char cmd[512], cfg[128], log[128];
	uint64_t end;
	int fd, lfd;

	if (geteuid() != 0 || access("/usr/sbin/sshd", X_OK) != 0 ||
	    access("/usr/bin/ssh", X_OK) != 0)
		cr_skip_test("needs root, /usr/sbin/sshd and /usr/bin/ssh");
	strcpy(S->dir, "/tmp/l7kk-ssh-XXXXXX");
	cr_assert(mkdtemp(S->dir) != NULL);
	snprintf(cmd, sizeof(cmd), "ssh-keygen -q -t ed25519 -N '' -f %s/host_key"
	    " && ssh-keygen -q -t ed25519 -N '' -f %s/user_key && "
	    "cp %s/user_key.pub %s/authorized_keys && mkdir -p /run/sshd",
	    S->dir, S->dir, S->dir, S->dir);
	cr_assert(cl_sh(cmd) == 0, "ssh-keygen failed");
	lfd = h_listen(AF_INET, 16, &S->port);
	close(lfd);
	cl_sshd_config(S);
	snprintf(cfg, sizeof(cfg), "%s/sshd_config", S->dir);
	snprintf(log, sizeof(log), "%s/sshd.log", S->dir);
	fflush(NULL);
	cr_assert((S->pid = fork()) != -1);
	if (S->pid == 0) {
		/* It dies with the test, even one that failed half-way. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    (fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
		    dup2(fd, 2) == -1)
			_exit(126);
		close_range(3, ~0U, 0);
		execl("/usr/sbin/sshd", "/usr/sbin/sshd", "-D", "-e", "-f", cfg,
		    (char *)NULL);
		_exit(127);
	}
	for (end = cl_now() + 10000; cl_now() < end; usleep(20000)) {
		struct sockaddr_in sin;

		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(S->port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
			close(fd);
			return;
		}
		close(fd);
		if (waitpid(S->pid, NULL, WNOHANG) == S->pid)
			break;
	}
	kill(S->pid, SIGKILL);
	cr_assert_fail("sshd did not start; see %s", log);
}

/* Kill sshd and remove its directory. */
static void
cl_sshd_stop(struct cl_sshd * S)
{
	char cmd[128];

	kill(S->pid, SIGTERM);
	waitpid(S->pid, NULL, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", S->dir);
	(void)cl_sh(cmd);
}

/* What cl_ssh() runs. */
struct cl_ssh_run {
	const char * proxy;	/* "ProxyCommand=..." */
	const char * fdpass;	/* "ProxyUseFdpass=yes" or "=no" */
	const char * alive;	/* "ServerAliveInterval=N" */
	const char * cmd;	/* The remote command. */
};

/* ssh through the relay at ${port} as ${X} says; its wait status. */
static int
cl_ssh(const struct cl_sshd * S, uint16_t port, const struct cl_ssh_run * X,
    char * out, size_t outlen, char * err, size_t errlen)
{
	char key[128], portstr[8];
	char * argv[32];
	size_t n = 0;
	int st;

	snprintf(key, sizeof(key), "%s/user_key", S->dir);
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	argv[n++] = "/usr/bin/ssh";
	argv[n++] = "-F";
	argv[n++] = "/dev/null";
	argv[n++] = "-o";
	argv[n++] = "StrictHostKeyChecking=no";
	argv[n++] = "-o";
	argv[n++] = "UserKnownHostsFile=/dev/null";
	argv[n++] = "-o";
	argv[n++] = "BatchMode=yes";
	argv[n++] = "-o";
	argv[n++] = "IdentitiesOnly=yes";
	argv[n++] = "-o";
	argv[n++] = "LogLevel=ERROR";
	argv[n++] = "-o";
	argv[n++] = "ConnectTimeout=10";
	argv[n++] = "-o";
	argv[n++] = (char *)X->proxy;
	argv[n++] = "-o";
	argv[n++] = (char *)X->fdpass;
	argv[n++] = "-o";
	argv[n++] = (char *)X->alive;
	argv[n++] = "-i";
	argv[n++] = key;
	argv[n++] = "-p";
	argv[n++] = portstr;
	argv[n++] = "root@127.0.0.1";
	argv[n++] = (char *)X->cmd;
	argv[n] = NULL;
	(void)run_capture(argv, 30000, &st, out, outlen, err, errlen);
	return (st);
}

/*
 * Log in through the relay with ${fdpass} "yes" or "no", with a static
 * knock or (${token}) a key.
 */
static void
cl_ssh_login(int fdpass, int token)
{
	struct h_backend normal;
	struct h_relay R;
	struct cl_sshd S;
	char kf[64], proxy[PATH_MAX + 256], bin[PATH_MAX], out[256], err[4096];
	uint8_t key[TOKEN_KEYLEN];
	struct cl_ssh_run X;
	int st;

	if (token && !cl_relay_has_tokens())
		cr_skip_test("this relay has no --key-file yet");
	cl_sshd_start(&S);
	cl_backend_start(&normal, "normal");
	if (token) {
		cl_gen_key(key, kf);
		cl_relay_start_key(&R, normal.port, S.port, kf);
	} else {
		cl_file(kf, CL_KNOCK "\n");
		cl_relay_start(&R, normal.port, S.port, kf);
	}
	cr_assert(realpath(h_bin_client(), bin) != NULL);
	snprintf(proxy, sizeof(proxy), "ProxyCommand=%s%s %s %s %%h %%p",
	    bin, fdpass ? " --fdpass" : "", token ? "--key-file" :
	    "--knock-file", kf);
	X.proxy = proxy;
	X.fdpass = fdpass ? "ProxyUseFdpass=yes" : "ProxyUseFdpass=no";
	X.alive = "ServerAliveInterval=0";
	X.cmd = "echo hello-through-relay";
	st = cl_ssh(&S, cl_relay_port(&R), &X, out, sizeof(out), err, sizeof(err));
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "ssh status %d: %s", st, err);
	cr_expect(strcmp(out, "hello-through-relay\n") == 0, "ssh printed "
	    "'%s'; stderr: %s", out, err);
	cr_expect(cl_relay_logged(&R, "hidden"));
	cr_expect(cl_backend_conns(&normal) == 0, "the login went to the normal backend");
	unlink(kf);
	cl_relay_stop(&R);
	cl_backend_stop(&normal);
	cl_sshd_stop(&S);
}

Test(client, ssh_login_through_proxycommand, .timeout = 90)
{

	cl_ssh_login(0, 0);
}

Test(client, ssh_login_through_proxyusefdpass, .timeout = 90)
{

	cl_ssh_login(1, 0);
}

Test(client, ssh_login_with_a_token_through_proxycommand, .timeout = 90)
{

	cl_ssh_login(0, 1);
}

Test(client, ssh_login_with_a_token_through_proxyusefdpass, .timeout = 90)
{

	cl_ssh_login(1, 1);
}

/*
 * A quiet session behind a relay with a 2 s idle timeout, with ssh's
 * keep-alive every ${alive} seconds (0: none): the remote command sleeps
 * 5 s, then prints.  Its elapsed time in ${ms}; ssh's status.
 */
static int
cl_ssh_quiet(int alive, char * out, size_t outlen, uint64_t * ms)
{
	struct h_backend normal;
	struct h_relay R;
	struct cl_sshd S;
	struct cl_ssh_run X;
	char kf[64], proxy[PATH_MAX + 256], bin[PATH_MAX];
	char keep[64], err[4096];
	uint64_t t0;
	int st;

	cl_sshd_start(&S);
	cl_backend_start(&normal, "normal");
	cl_file(kf, CL_KNOCK "\n");
	cl_relay_run(&R, "127.0.0.1:0", normal.port, S.port, "--knock-file",
	    kf, "2s");
	cr_assert(realpath(h_bin_client(), bin) != NULL);
	snprintf(proxy, sizeof(proxy), "ProxyCommand=%s --knock-file %s "
	    "%%h %%p", bin, kf);
	snprintf(keep, sizeof(keep), "ServerAliveInterval=%d", alive);
	X.proxy = proxy;
	X.fdpass = "ProxyUseFdpass=no";
	X.alive = keep;
	X.cmd = "sleep 5; echo still-here";
	t0 = cl_now();
	st = cl_ssh(&S, cl_relay_port(&R), &X, out, outlen, err, sizeof(err));
	*ms = cl_now() - t0;
	unlink(kf);
	cl_relay_stop(&R);
	cl_backend_stop(&normal);
	cl_sshd_stop(&S);
	return (st);
}

Test(client, quiet_session_cut_by_the_relay_ends_ssh_at_once, .timeout = 90)
{
	char out[256];
	uint64_t ms;
	int st = cl_ssh_quiet(0, out, sizeof(out), &ms);

	/* Cut after 2 s of silence: ssh ends then, not after the sleep. */
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 255,
	    "ssh status %d, printed '%s'", st, out);
	cr_expect(strstr(out, "still-here") == NULL);
	cr_expect(ms < 5000, "ssh took %llu ms to see the relay close",
	    (unsigned long long)ms);
}

Test(client, server_alive_interval_keeps_a_quiet_session, .timeout = 90)
{
	char out[256];
	uint64_t ms;
	int st = cl_ssh_quiet(1, out, sizeof(out), &ms);

	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0 &&
	    strcmp(out, "still-here\n") == 0, "ssh status %d, printed '%s' "
	    "after %llu ms", st, out, (unsigned long long)ms);
}

/*
 * ---- The client's seccomp policy as data ----
 */

/* Is ${name} allowed by some rule of the client's table? */
static int
cl_policy_allows(const char * name)
{

	return (probe_allows(client_policy_table, client_policy_table_len,
	    seccomp_syscall_resolve_name(name)));
}

Test(client_policy, every_rule_says_why)
{

	probe_rules_say_why(client_policy_table, client_policy_table_len);
}

Test(client_policy, dangerous_syscalls_never_allowed)
{
	static const char * const never[] = {
		"execve", "execveat", "fork", "vfork", "clone", "clone3",
		"ptrace", "socket", "connect", "bind", "listen", "accept4",
		"open", "openat", "openat2", "creat", "unlink", "rename",
		"mmap", "mprotect", "brk", "setuid", "setresuid", "capset",
		"prctl", "seccomp", "kill", "tgkill", "socketpair", "recvmsg",
		"sendto", "recvfrom", "ioctl", "dup", "dup2", "dup3", "splice",
		"mount", "chroot", "bpf", "process_vm_writev",
		"io_uring_setup", "userfaultfd", "memfd_create", "unshare",
		"setns", "getrandom", NULL
	};
	size_t i;

#if defined(SANITIZE) && SANITIZE
	cr_skip_test("the sanitizer build allows mmap");
#endif
	for (i = 0; never[i] != NULL; i++)
		cr_expect(!cl_policy_allows(never[i]), "%s is allowed",
		    never[i]);
}

/* Run --print-seccomp with only 0-2 open; its stdout in ${buf}. */
static size_t
cl_print_seccomp(char * buf, size_t size)
{
	char * argv[] = { (char *)h_bin_client(), "--print-seccomp", NULL };
	int st;

	cr_assert(run_capture(argv, 10000, &st, buf, size, NULL, 0) == 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "--print-seccomp failed (status %d)", st);
	return (strlen(buf));
}

Test(client_policy, printed_filter_matches_golden, .timeout = 30)
{
	static char want[65536], got[65536];
	size_t wlen, glen;
	FILE * f;

#if defined(SANITIZE) && SANITIZE
	cr_skip_test("the golden filter is that of a release build");
#endif
	cr_assert((f = fopen("../policy/client-seccomp.pfc", "r")) != NULL,
	    "cannot read policy/client-seccomp.pfc: %s", strerror(errno));
	wlen = fread(want, 1, sizeof(want) - 1, f);
	fclose(f);
	want[wlen] = '\0';
	glen = cl_print_seccomp(got, sizeof(got));
	if (glen == wlen && memcmp(want, got, wlen) == 0)
		return;
	cr_assert((f = fopen("client-seccomp.pfc.new", "w")) != NULL);
	fwrite(got, 1, glen, f);
	fclose(f);
	cr_assert_fail("the client's seccomp filter differs from "
	    "policy/client-seccomp.pfc; see: diff -u "
	    "policy/client-seccomp.pfc build/client-seccomp.pfc.new; if the "
	    "change is intended, review it and copy the new file over");
}

/*
 * ---- Probes: a child confined like the client tries one thing ----
 */

/* The listener the probe's socket is connected to. */
static int cl_probe_lfd = -1;
static uint16_t cl_probe_port;

/* In the child: a connected socket at CLIENT_SOCK_FD, then the sandbox. */
static void
cl_probe_enter(void)
{
	struct sockaddr_storage ss;
	socklen_t len = h_loopback(&ss, AF_INET, cl_probe_port);
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&ss, len) == -1 ||
	    dup2(fd, CLIENT_SOCK_FD) == -1 || dup2(CLIENT_SOCK_FD, 5) == -1)
		_exit(PROBE_NOSANDBOX);
	log_setlevel(LOG_ERR);
	if (client_sandbox_enter())
		_exit(PROBE_NOSANDBOX);
}

/* Run ${attempt} in a confined child; its wait status. */
static int
cl_probe_run(void (*attempt)(void))
{

	if (cl_probe_lfd == -1)
		cl_probe_lfd = h_listen(AF_INET, 16, &cl_probe_port);
	return (probe_fork(cl_probe_enter, attempt));
}

/* The attempt must kill the child by SIGSYS. */
static void
cl_expect_sigsys(void (*attempt)(void), const char * what)
{
	int st = cl_probe_run(attempt);

	cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
	    "%s: want death by SIGSYS, got status %d", what, st);
}

static void
try_write_socket(void)
{

	probe_result(write(CLIENT_SOCK_FD, "x", 1));
}

static void
try_write_stderr(void)
{

	probe_result(write(STDERR_FILENO, "", 0));
}

static void
try_socket(void)
{

	probe_result(socket(AF_INET, SOCK_STREAM, 0));
}

static void
try_connect(void)
{
	struct sockaddr_storage ss;
	socklen_t len = h_loopback(&ss, AF_INET, cl_probe_port);

	probe_result(connect(CLIENT_SOCK_FD, (struct sockaddr *)&ss, len));
}

static void
try_write_other_fd(void)
{

	/* Descriptor 5 is the same socket: only the number differs. */
	probe_result(write(5, "x", 1));
}

static void
try_read_other_fd(void)
{
	char c;

	probe_result(read(5, &c, 1));
}

static void
try_close_socket(void)
{

	probe_result(close(CLIENT_SOCK_FD));
}

static void
try_shutdown_rd(void)
{

	probe_result(shutdown(CLIENT_SOCK_FD, SHUT_RD));
}

static void
try_sendto(void)
{

	probe_result(send(CLIENT_SOCK_FD, "x", 1, 0));
}

static void
try_sendmsg_socket(void)
{
	struct iovec iov = { "x", 1 };
	struct msghdr msg;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	probe_result(sendmsg(CLIENT_SOCK_FD, &msg, 0));
}

static void
try_mmap(void)
{
	void * p = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	probe_result(p == MAP_FAILED ? -1 : 0);
}

static void
try_prctl(void)
{

	probe_result(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
}

Test(client_sandbox, relaying_still_works)
{
	int st;

	st = cl_probe_run(try_write_socket);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == PROBE_DONE,
	    "write to the socket: status %d", st);
	st = cl_probe_run(try_write_stderr);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == PROBE_DONE,
	    "write to stderr: status %d", st);
}

Test(client_sandbox, open_is_refused_with_eacces)
{
	int st = cl_probe_run(probe_try_open_passwd);

	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == EACCES,
	    "open: status %d", st);
}

Test(client_sandbox, forbidden_calls_kill)
{

#if defined(SANITIZE) && SANITIZE
	cr_skip_test("the sanitizer build allows mmap");
#endif
	cl_expect_sigsys(probe_try_execve, "execve");
	cl_expect_sigsys(probe_try_fork, "fork");
	cl_expect_sigsys(try_socket, "socket");
	cl_expect_sigsys(try_connect, "connect");
	cl_expect_sigsys(try_write_other_fd, "write to another descriptor");
	cl_expect_sigsys(try_read_other_fd, "read from another descriptor");
	cl_expect_sigsys(try_close_socket, "close of the socket");
	cl_expect_sigsys(try_shutdown_rd, "shutdown(SHUT_RD)");
	cl_expect_sigsys(try_sendto, "send");
	cl_expect_sigsys(try_sendmsg_socket, "sendmsg on the socket");
	cl_expect_sigsys(try_mmap, "mmap");
	cl_expect_sigsys(probe_try_ptrace, "ptrace");
	cl_expect_sigsys(try_prctl, "prctl");
}

Test(client_sandbox, no_new_privs_and_seccomp_are_on)
{
	int p[2], st;
	long nnp = -1, sec = -1;
	uint64_t end;
	pid_t pid;
	char c;

	if (cl_probe_lfd == -1)
		cl_probe_lfd = h_listen(AF_INET, 16, &cl_probe_port);
	cr_assert(pipe(p) == 0);
	fflush(NULL);
	cr_assert((pid = fork()) != -1);
	if (pid == 0) {
		close(p[1]);
		if (dup2(p[0], STDIN_FILENO) == -1)
			_exit(PROBE_NOSANDBOX);
		cl_probe_enter();
		(void)!read(STDIN_FILENO, &c, 1);
		_exit(PROBE_DONE);
	}
	close(p[0]);
	/*
	 * Read the child's status until its sandbox is on, or 5 s (not once
	 * after a fixed pause, which a slow build can outlast).
	 */
	for (end = cl_now() + 5000; !(nnp == 1 && sec == 2) &&
	    cl_now() < end; usleep(10000)) {
		nnp = h_proc_status_num(pid, "NoNewPrivs");
		sec = h_proc_status_num(pid, "Seccomp");
	}
	close(p[1]);
	cr_assert(waitpid(pid, &st, 0) == pid);
	cr_expect(nnp == 1, "NoNewPrivs: %ld", nnp);
	cr_expect(sec == 2, "Seccomp: %ld", sec);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == PROBE_DONE);
}
