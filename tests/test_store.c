/*
 * Integration tests of --replay-store: real, sandboxed relays sharing one
 * real redis-server (Debian's package, started here on a free loopback
 * port with --save '' --appendonly no, killed at the end).  A token used
 * on one relay reaches the other's normal backend with every byte; the
 * store killed mid-run sends tokens to the normal route while everything
 * else is served, and tokens work again once it is back; a store that
 * accepts and never answers costs a token its hidden route after about
 * 200 ms and nobody else anything; AUTH with a password file.  The tokens
 * come from the harness's independent minter.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* What the clients send after the token. */
#define PAYLOAD		"SSH-2.0-test\r\n"
#define PLEN		(sizeof(PAYLOAD) - 1)

static struct h_backend normal, hidden;
static struct h_relay ra, rb;
static pid_t redis = -1;
static struct h_key K;
static char pwfile[64];

/* Start redis-server on 127.0.0.1:${port} (with ${pass} if not NULL). */
static pid_t
redis_spawn(uint16_t port, const char * pass)
{
	char p[16];
	pid_t parent = getpid(), pid;
	int fd;

	snprintf(p, sizeof(p), "%u", (unsigned)port);
	if ((pid = fork()) != 0)
		return (pid);
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		(void)dup2(fd, 0);
		(void)dup2(fd, 1);
	}
	if (pass != NULL)
		execlp("redis-server", "redis-server", "--port", p, "--bind",
		    "127.0.0.1", "--save", "", "--appendonly", "no",
		    "--requirepass", pass, (char *)NULL);
	else
		execlp("redis-server", "redis-server", "--port", p, "--bind",
		    "127.0.0.1", "--save", "", "--appendonly", "no",
		    (char *)NULL);
	_exit(127);
}

/* Does a server answer PING on ${port} (any reply: +PONG or -NOAUTH)? */
static int
redis_answers(uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = h_loopback(&ss, AF_INET, port);
	char buf[64];
	int fd, ok;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return (0);
	if (connect(fd, (struct sockaddr *)&ss, len)) {
		close(fd);
		return (0);
	}
	h_send_all(fd, "PING\r\n", 6);
	ok = h_recv(fd, buf, 1, 1000) == 1 && (buf[0] == '+' || buf[0] == '-');
	close(fd);
	return (ok);
}

/* Start redis-server; wait (5 s) until it answers.  Its port. */
static uint16_t
redis_start(uint16_t port, const char * pass)
{
	uint64_t end;

	if (port == 0)
		cr_assert_neq(port = h_free_port(AF_INET), 0);
	redis = redis_spawn(port, pass);
	cr_assert_gt(redis, 0, "fork");
	for (end = h_now_ms() + 5000; h_now_ms() < end; usleep(20000))
		if (redis_answers(port))
			return (port);
	cr_assert_fail("redis-server did not answer on port %u",
	    (unsigned)port);
	return (0);
}

/* Kill redis-server and reap it. */
static void
redis_stop(void)
{

	if (redis <= 0)
		return;
	kill(redis, SIGKILL);
	(void)waitpid(redis, NULL, 0);
	redis = -1;
}

/*
 * A relay ${P} with the token key and --replay-store 127.0.0.1:${port},
 * the password file ${pw} if not NULL, --workers ${workers} if not NULL.
 */
static void
relay_start_workers(struct h_relay * P, uint16_t port, const char * pw,
    const char * workers)
{
	static char store[2][32];
	const char * args[10];
	char * s = store[P == &ra ? 0 : 1];
	size_t n = 0;

	snprintf(s, 32, "127.0.0.1:%u", (unsigned)port);
	args[n++] = "--key-file";
	args[n++] = K.path;
	args[n++] = "--replay-store";
	args[n++] = s;
	if (pw != NULL) {
		args[n++] = "--replay-store-password-file";
		args[n++] = pw;
	}
	if (workers != NULL) {
		args[n++] = "--workers";
		args[n++] = workers;
	}
	args[n] = NULL;
	h_relay_start(P, &(struct h_relay_conf){ .normal = normal.port,
	    .hidden = hidden.port, .extra = args });
}

/* A relay ${P} with the token key and --replay-store 127.0.0.1:${port}. */
static void
relay_start(struct h_relay * P, uint16_t port, const char * pw)
{

	relay_start_workers(P, port, pw, NULL);
}

static void
setup(void)
{

	h_key_make(&K);
	h_backend_start(&normal, &(struct h_backend_conf){ .mode = H_ECHO });
	h_backend_start(&hidden, &(struct h_backend_conf){ .mode = H_ECHO });
}

static void
teardown(void)
{

	/* Each test starts one relay or two. */
	if (ra.pid > 0)
		h_relay_down(&ra);
	if (rb.pid > 0)
		h_relay_down(&rb);
	redis_stop();
	h_backend_stop(&normal);
	h_backend_stop(&hidden);
	unlink(K.path);
	if (pwfile[0] != '\0')
		unlink(pwfile);
	pwfile[0] = '\0';
}

/*
 * Send ${first} (${flen} bytes) and PAYLOAD through ${P}, half-close, read
 * the echo (5 s).  ${B} must have received exactly ${expect} (${elen}
 * bytes) as its ${n}th connection, and echoed it.
 */
static void
through(struct h_relay * P, const char * first, size_t flen,
    struct h_backend * B, unsigned n, const char * expect, size_t elen)
{
	char msg[256];

	memcpy(msg, first, flen);
	memcpy(msg + flen, PAYLOAD, PLEN);
	h_relay_echo(P, AF_INET, msg, flen + PLEN, B, n, expect, elen);
}

/* ${tok} through ${P} reaches the hidden backend without the token. */
static void
to_hidden(struct h_relay * P, const char * tok, unsigned n)
{

	through(P, tok, H_TLEN, &hidden, n, PAYLOAD, PLEN);
}

/* ${tok} through ${P} reaches the normal backend intact. */
static void
to_normal(struct h_relay * P, const char * tok, unsigned n)
{
	char expect[H_TLEN + PLEN];

	memcpy(expect, tok, H_TLEN);
	memcpy(expect + H_TLEN, PAYLOAD, PLEN);
	through(P, tok, H_TLEN, &normal, n, expect, H_TLEN + PLEN);
}

/* An unknocked message (60 bytes) through ${P} reaches normal. */
static void
plain(struct h_relay * P, unsigned n)
{
	static const char m[] = "GET / HTTP/1.1\r\nHost: example.com\r\n"
	    "User-Agent: test/1.0\r\n\r\n";

	char expect[sizeof(m) - 1 + PLEN];

	memcpy(expect, m, sizeof(m) - 1);
	memcpy(expect + sizeof(m) - 1, PAYLOAD, PLEN);
	through(P, m, sizeof(m) - 1, &normal, n, expect, sizeof(expect));
}

TestSuite(store, .init = setup, .fini = teardown, .timeout = 60);

Test(store, token_used_on_one_relay_is_refused_on_the_other)
{
	char t1[H_TLEN + 1], t2[H_TLEN + 1];
	uint16_t port = redis_start(0, NULL);

	relay_start(&ra, port, NULL);
	/* Each worker has a connection of its own. */
	relay_start_workers(&rb, port, NULL, "2");
	h_mint(&K, (long long)time(NULL), -1, t1);
	h_mint(&K, (long long)time(NULL), -1, t2);
	to_hidden(&ra, t1, 1);
	to_normal(&rb, t1, 1);
	cr_assert(h_relay_log_wait(&rb, "routed to normal (token used on "
	    "another relay)", 2000) == 0, "%s", rb.log);
	/* The other way round, and the first relay's own cache. */
	to_hidden(&rb, t2, 2);
	to_normal(&ra, t2, 2);
	to_normal(&ra, t1, 3);
	cr_assert(h_relay_log_wait(&ra, "routed to normal (replayed token)",
	    2000) == 0, "%s", ra.log);
}

/*
 * A fresh token through ${P}, until one reaches hidden (the relay has
 * reconnected: its back-off is at most 5 s), ${tries} at most, 1 s apart;
 * ${*nh}, ${*nn}: the hidden and normal backends' connections so far.
 * Return 0 once one did, -1 if none did.
 */
static int
until_hidden(struct h_relay * P, int tries, unsigned * nh, unsigned * nn)
{
	char tok[H_TLEN + 1], buf[256], msg[H_TLEN + PLEN];
	size_t got;
	int fd, i;

	for (i = 0; i < tries; i++) {
		h_mint(&K, (long long)time(NULL), -1, tok);
		memcpy(msg, tok, H_TLEN);
		memcpy(msg + H_TLEN, PAYLOAD, PLEN);
		fd = h_connect(AF_INET, P->port);
		h_send_all(fd, msg, sizeof(msg));
		shutdown(fd, SHUT_WR);
		got = h_recv(fd, buf, sizeof(buf), 5000);
		close(fd);
		if (got == PLEN) {
			(*nh)++;
			cr_assert(h_backend_wait_done(&hidden, *nh, 3000) == 0);
			return (0);
		}
		cr_assert_eq(got, sizeof(msg), "neither route: %zu bytes", got);
		(*nn)++;
		cr_assert(h_backend_wait_done(&normal, *nn, 3000) == 0);
		sleep(1);
	}
	return (-1);
}

Test(store, store_killed_tokens_go_normal_others_served_then_back)
{
	char t[H_TLEN + 1];
	unsigned nh = 0, nn = 0;
	uint16_t port = redis_start(0, NULL);

	relay_start(&ra, port, NULL);
	relay_start(&rb, port, NULL);
	h_mint(&K, (long long)time(NULL), -1, t);
	to_hidden(&ra, t, ++nh);

	/* The store dies: tokens fail closed, everything else is served. */
	redis_stop();
	h_mint(&K, (long long)time(NULL), -1, t);
	to_normal(&ra, t, ++nn);
	h_mint(&K, (long long)time(NULL), -1, t);
	to_normal(&rb, t, ++nn);
	cr_assert(h_relay_log_wait(&ra, "routed to normal (replay store",
	    2000) == 0, "%s", ra.log);
	plain(&ra, ++nn);
	plain(&rb, ++nn);
	cr_assert(h_relay_alive(&ra) && h_relay_alive(&rb));

	/* It is back (same port): tokens work again on both. */
	(void)redis_start(port, NULL);
	cr_assert(until_hidden(&ra, 10, &nh, &nn) == 0, "%s", ra.log);
	cr_assert(until_hidden(&rb, 10, &nh, &nn) == 0, "%s", rb.log);
	cr_assert(h_relay_log_wait(&ra, "connected again", 2000) == 0, "%s",
	    ra.log);
}

/* A listening socket on a free loopback port that never answers. */
static int
silent_store(uint16_t * port)
{
	struct sockaddr_storage ss;
	socklen_t len = h_loopback(&ss, AF_INET, 0);
	int fd;

	cr_assert((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&ss, len), 0);
	cr_assert_eq(listen(fd, 64), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return (fd);
}

Test(store, silent_store_token_normal_within_the_bound_others_unaffected)
{
	char t[H_TLEN + 1], buf[256], msg[H_TLEN + PLEN];
	uint64_t t0, ms;
	uint16_t port;
	size_t got;
	int lfd = silent_store(&port), fd;

	relay_start(&ra, port, NULL);
	h_mint(&K, (long long)time(NULL), -1, t);
	memcpy(msg, t, H_TLEN);
	memcpy(msg + H_TLEN, PAYLOAD, PLEN);

	/* The token waits for the store; meanwhile others pass. */
	t0 = h_now_ms();
	fd = h_connect(AF_INET, ra.port);
	h_send_all(fd, msg, sizeof(msg));
	shutdown(fd, SHUT_WR);
	plain(&ra, 1);
	got = h_recv(fd, buf, sizeof(buf), 5000);
	ms = h_now_ms() - t0;
	close(fd);
	cr_assert_eq(got, sizeof(msg), "%zu bytes; log:\n%s", got, ra.log);
	cr_assert(memcmp(buf, msg, sizeof(msg)) == 0);
	cr_assert(h_backend_wait_done(&normal, 2, 3000) == 0);
	/* 200 ms, generously bounded on a loaded machine. */
	cr_assert_lt(ms, 1500, "the token waited %llu ms",
	    (unsigned long long)ms);
	cr_assert_geq(ms, 150, "the token waited only %llu ms",
	    (unsigned long long)ms);
	cr_assert(h_relay_log_wait(&ra, "no answer in time", 2000) == 0, "%s",
	    ra.log);
	cr_assert(h_relay_log_wait(&ra, "routed to normal (replay store "
	    "failed)", 2000) == 0, "%s", ra.log);
	plain(&ra, 3);
	cr_assert(h_relay_alive(&ra));
	close(lfd);
}

/* The password ${pw} in a mode-0600 file (pwfile). */
static void
password_file(const char * pw)
{
	int fd;

	snprintf(pwfile, sizeof(pwfile), "/tmp/l7kk-pw-XXXXXX");
	cr_assert((fd = mkstemp(pwfile)) != -1);
	cr_assert_eq(write(fd, pw, strlen(pw)), (ssize_t)strlen(pw));
	cr_assert_eq(fchmod(fd, 0600), 0);
	close(fd);
}

Test(store, auth_with_the_password_file)
{
	char t[H_TLEN + 1];
	uint16_t port = redis_start(0, "s3cret-Pass");

	password_file("s3cret-Pass\n");
	relay_start(&ra, port, pwfile);
	relay_start(&rb, port, NULL);
	h_mint(&K, (long long)time(NULL), -1, t);
	to_hidden(&ra, t, 1);
	to_normal(&ra, t, 1);
	/* Without AUTH the store refuses SET: fail closed. */
	h_mint(&K, (long long)time(NULL), -1, t);
	to_normal(&rb, t, 2);
	cr_assert(h_relay_log_wait(&rb, "NOAUTH", 2000) == 0, "%s", rb.log);
	cr_assert(h_relay_alive(&ra) && h_relay_alive(&rb));
}

Test(store, wrong_password_refused_tokens_normal)
{
	char t[H_TLEN + 1];
	uint16_t port = redis_start(0, "right");

	password_file("wrong\n");
	relay_start(&ra, port, pwfile);
	h_mint(&K, (long long)time(NULL), -1, t);
	to_normal(&ra, t, 1);
	cr_assert(h_relay_log_wait(&ra, "refused AUTH", 2000) == 0, "%s",
	    ra.log);
	plain(&ra, 2);
}

/* Send ${cmd} (inline commands) to the store on ${port}; its replies. */
static void
redis_cmd(uint16_t port, const char * cmd, char * buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = h_loopback(&ss, AF_INET, port);
	size_t got;
	int fd;

	cr_assert((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&ss, len), 0);
	h_send_all(fd, cmd, strlen(cmd));
	shutdown(fd, SHUT_WR);
	got = h_recv(fd, buf, size - 1, 2000);
	buf[got] = '\0';
	close(fd);
}

/* Write ${text} into ${path} (0600), replacing what it held. */
static void
file_put(const char * path, const char * text)
{
	int fd;

	cr_assert((fd = open(path, O_WRONLY | O_TRUNC | O_CREAT | O_CLOEXEC,
	    0600)) != -1, "%s", path);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/*
 * A reload (SIGHUP, --config) reads the password file again: the new
 * worker AUTHs with the new password.  The store's address is kept: a
 * restart is needed for it, and the new worker claims in the old store.
 */
Test(store, a_reload_reads_the_password_again_and_keeps_the_store)
{
	char t[H_TLEN + 1], conf[32] = "/tmp/l7kk-conf-XXXXXX", text[512];
	const char * args[] = { "--config", conf, NULL };
	uint16_t port = redis_start(0, "one"), other;
	int fd;

	cr_assert_neq(other = h_free_port(AF_INET), 0);
	password_file("one\n");
	cr_assert((fd = mkstemp(conf)) != -1);
	close(fd);
	snprintf(text, sizeof(text), "key-file %s\nreplay-store 127.0.0.1:%u\n"
	    "replay-store-password-file %s\n", K.path, (unsigned)port, pwfile);
	file_put(conf, text);
	/* The supervisor reads them again as the relay's user (nobody). */
	if (geteuid() == 0) {
		cr_assert(chown(conf, 65534, 65534) == 0);
		cr_assert(chown(pwfile, 65534, 65534) == 0);
		cr_assert(chown(K.path, 65534, 65534) == 0);
	}
	h_relay_start(&ra, &(struct h_relay_conf){ .normal = normal.port,
	    .hidden = hidden.port, .extra = args });
	h_mint(&K, (long long)time(NULL), -1, t);
	to_hidden(&ra, t, 1);

	/* A new password in the store and the file; the store "moved". */
	redis_cmd(port, "AUTH one\r\nCONFIG SET requirepass two\r\n", text,
	    sizeof(text));
	cr_assert_str_eq(text, "+OK\r\n+OK\r\n");
	file_put(pwfile, "two\n");
	snprintf(text, sizeof(text), "key-file %s\nreplay-store 127.0.0.1:%u\n"
	    "replay-store-password-file %s\n", K.path, (unsigned)other, pwfile);
	file_put(conf, text);
	cr_assert(kill(ra.pid, SIGHUP) == 0);
	cr_assert(h_relay_log_wait(&ra, "reload: 1 workers of generation 1 "
	    "started", 5000) == 0, "%s", ra.log);
	cr_assert(h_relay_log_wait(&ra, "draining: no longer accepting",
	    5000) == 0, "%s", ra.log);
	cr_assert_eq(h_relay_log_count(&ra, "reload: --replay-store changed: "
	    "a restart is needed for it; the running value is kept"), 1, "%s",
	    ra.log);

	/* The new worker: the old store, the new password. */
	h_mint(&K, (long long)time(NULL), -1, t);
	to_hidden(&ra, t, 2);
	to_normal(&ra, t, 1);
	cr_assert_eq(h_relay_log_count(&ra, "refused AUTH"), 0, "%s", ra.log);
	unlink(conf);
}
