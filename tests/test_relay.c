/*
 * Integration tests: the real, sandboxed binary between a client and two
 * real backends on loopback.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define KNOCK	"open-sesame"
#define KLEN	(sizeof(KNOCK) - 1)

static struct h_backend normal, hidden;
static struct h_relay relay;

/*
 * Start both backends on ${family} and a relay in front of them with
 * ${extra} options and, if ${nofile}, that descriptor limit.
 */
static void
start(int family, enum h_mode nmode, enum h_mode hmode,
    const char * const * extra, unsigned nofile)
{

	h_relay_setup(&relay, &normal, nmode, &hidden, hmode,
	    &(struct h_relay_conf){ .family = family, .extra = extra,
	    .knock = KNOCK, .nofile = nofile });
}

static void
setup(enum h_mode nmode, enum h_mode hmode, const char * const * extra)
{

	start(AF_INET, nmode, hmode, extra, 0);
}

static void
teardown(void)
{

	h_relay_teardown(&relay, &normal, &hidden);
}

/* Send ${msg}, half-close, read the echo; check what the backend got. */
static void
roundtrip(int family, const char * msg, size_t len, struct h_backend * B,
    const char * expect, size_t elen)
{

	h_relay_echo(&relay, family, msg, len, B, 1, expect, elen);
}

Test(relay, normal_route_bytes_unchanged, .timeout = 20)
{
	const char req[] = "GET / HTTP/1.1\r\nHost: example\r\n\r\n";

	setup(H_ECHO, H_ECHO, NULL);
	roundtrip(AF_INET, req, sizeof(req) - 1, &normal, req, sizeof(req) - 1);
	cr_assert_eq(hidden.conns, 0);
	cr_assert(h_relay_log_wait(&relay, "routed to normal (mismatch)", 2000) == 0);
	teardown();
}

Test(relay, hidden_route_consumes_knock, .timeout = 20)
{
	const char msg[] = KNOCK "SSH-2.0-client\r\n";

	setup(H_ECHO, H_ECHO, NULL);
	roundtrip(AF_INET, msg, sizeof(msg) - 1, &hidden, msg + KLEN,
	    sizeof(msg) - 1 - KLEN);
	cr_assert_eq(normal.conns, 0);
	cr_assert(h_relay_log_wait(&relay, "routed to hidden (knock)", 2000) == 0);
	teardown();
}

Test(relay, ipv6_both_routes, .timeout = 20)
{
	const char req[] = "hello over IPv6, long enough";
	const char msg[] = KNOCK "hidden over IPv6";

	start(AF_INET6, H_ECHO, H_ECHO, NULL, 0);
	roundtrip(AF_INET6, req, sizeof(req) - 1, &normal, req, sizeof(req) - 1);
	roundtrip(AF_INET6, msg, sizeof(msg) - 1, &hidden, msg + KLEN,
	    sizeof(msg) - 1 - KLEN);
	teardown();
}

Test(relay, knock_split_one_byte_per_segment, .timeout = 20)
{
	char buf[64];
	size_t i;
	int fd;

	setup(H_ECHO, H_ECHO, (const char *[]){ "-k", "5s", NULL });
	fd = h_connect(AF_INET, relay.port);
	for (i = 0; i < KLEN; i++) {
		h_send_all(fd, &KNOCK[i], 1);
		usleep(20000);
	}
	h_send_all(fd, "after", 5);
	shutdown(fd, SHUT_WR);
	cr_assert_eq(h_recv(fd, buf, sizeof(buf), 5000), 5);
	cr_assert(memcmp(buf, "after", 5) == 0);
	close(fd);
	cr_assert(h_backend_wait_done(&hidden, 1, 3000) == 0);
	cr_assert_eq(hidden.last.len, 5);
	cr_assert_eq(normal.conns, 0);
	teardown();
}

Test(relay, wrong_last_byte_reaches_normal_intact, .timeout = 20)
{
	char msg[] = KNOCK "and more";

	msg[KLEN - 1] ^= 1;
	setup(H_ECHO, H_ECHO, NULL);
	roundtrip(AF_INET, msg, sizeof(msg) - 1, &normal, msg, sizeof(msg) - 1);
	cr_assert_eq(hidden.conns, 0);
	teardown();
}

Test(relay, diverging_prefix_split_reaches_normal_intact, .timeout = 20)
{
	const char msg[] = "open-sXsame plus the rest of a request";
	char buf[128];
	int fd;

	setup(H_ECHO, H_ECHO, NULL);
	fd = h_connect(AF_INET, relay.port);
	h_send_all(fd, msg, 4);		/* A matching prefix... */
	usleep(50000);
	h_send_all(fd, msg + 4, sizeof(msg) - 1 - 4);	/* ...then it diverges. */
	shutdown(fd, SHUT_WR);
	cr_assert_eq(h_recv(fd, buf, sizeof(buf), 5000), sizeof(msg) - 1);
	close(fd);
	cr_assert(h_backend_wait_done(&normal, 1, 3000) == 0);
	cr_assert_eq(normal.last.len, sizeof(msg) - 1);
	cr_assert(memcmp(normal.last.head, msg, sizeof(msg) - 1) == 0);
	cr_assert_eq(hidden.conns, 0);
	teardown();
}

Test(relay, short_request_then_eof_goes_normal, .timeout = 20)
{
	/* Shorter than the knock, then a FIN: decided at the FIN. */
	setup(H_ECHO, H_ECHO, (const char *[]){ "-k", "10s", NULL });
	roundtrip(AF_INET, "open", 4, &normal, "open", 4);
	cr_assert(h_relay_log_wait(&relay, "routed to normal (EOF)", 2000) == 0);
	teardown();
}

/* Time from connect (and ${first} byte) to the greeting of the backend. */
static uint64_t
time_to_greeting(const char * first)
{
	char buf[64];
	uint64_t t0 = h_now_ms();
	int fd = h_connect(AF_INET, relay.port);

	if (first != NULL)
		h_send_all(fd, first, 1);
	cr_assert_eq(h_recv(fd, buf, 13, 5000), 13);
	cr_assert(memcmp(buf, "GREET normal\n", 13) == 0);
	close(fd);
	return (h_now_ms() - t0);
}

Test(relay, silent_client_reaches_speak_first_backend, .timeout = 20)
{
	uint64_t ms;

	setup(H_GREET, H_ECHO, (const char *[]){ "-k", "300ms", NULL });
	ms = time_to_greeting(NULL);
	cr_assert(ms >= 250 && ms < 3000, "greeting after %llu ms",
	    (unsigned long long)ms);
	cr_assert(h_relay_log_wait(&relay, "routed to normal (timeout)", 2000) == 0);
	teardown();
}

static int
cmp_u64(const void * a, const void * b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return ((x > y) - (x < y));
}

Test(relay, decision_time_independent_of_first_byte, .timeout = 30)
{
	uint64_t right[5], wrong[5];
	int i;

	/*
	 * A right first byte and a wrong one must both wait for the knock
	 * timeout: if a wrong byte were decided at once, a prober would learn
	 * the knock byte by byte.  Generous bounds; medians of 5.
	 */
	setup(H_GREET, H_ECHO, (const char *[]){ "-k", "400ms", NULL });
	for (i = 0; i < 5; i++) {
		right[i] = time_to_greeting("o");
		wrong[i] = time_to_greeting("x");
	}
	qsort(right, 5, sizeof(right[0]), cmp_u64);
	qsort(wrong, 5, sizeof(wrong[0]), cmp_u64);
	cr_assert(right[2] >= 350 && wrong[2] >= 350,
	    "decided early: right %llu ms, wrong %llu ms",
	    (unsigned long long)right[2], (unsigned long long)wrong[2]);
	cr_assert(right[2] < wrong[2] + 200 && wrong[2] < right[2] + 200,
	    "decision times differ: right %llu ms, wrong %llu ms",
	    (unsigned long long)right[2], (unsigned long long)wrong[2]);
	teardown();
}

/* 64 MiB each way through one route, checked by hash. */
static void
bulk(int knocked)
{
	const uint64_t len = 64ULL << 20;
	struct h_backend * B = knocked ? &hidden : &normal;
	struct h_client C;

	setup(H_ECHO, H_ECHO, NULL);
	h_client_start(&C, &(struct h_client_conf){ .port = relay.port,
	    .knock = knocked ? KNOCK : NULL, .len = len, .seed = 7,
	    .fin = 1 });
	h_clients_run(&C, 1, 0, 60000);
	h_client_close(&C, 0);
	cr_assert_eq(C.got, len, "received %llu of %llu bytes",
	    (unsigned long long)C.got, (unsigned long long)len);
	cr_assert(h_client_intact(&C), "echoed bytes differ");
	cr_assert(h_backend_wait_done(B, 1, 5000) == 0);
	cr_assert_eq(B->last.len, len);
	cr_assert_eq(B->last.hash, C.hsent);
	cr_assert_eq((knocked ? &normal : &hidden)->conns, 0);
	teardown();
}

Test(relay, bulk_64mib_each_way_normal, .timeout = 90)
{

	bulk(0);
}

Test(relay, bulk_64mib_each_way_hidden, .timeout = 90)
{

	bulk(1);
}

/*
 * Small messages are copied (recv + send), not spliced.  In a network
 * namespace with 16 KiB TCP buffers, the client sends 400 messages of 500
 * bytes, one every 200 us, and reads only when it cannot send: the relay's
 * send of an echoed message to it comes up short, and what the client did
 * not take must wait in a pipe and arrive, in order, once it reads.
 */
Test(relay, small_messages_to_a_full_client_arrive_intact, .timeout = 30)
{
	static uint8_t out[400 * 500], in[sizeof(out)];
	struct sockaddr_in sin;
	struct pollfd pfd;
	int rcvbuf = 4096, one = 1, stalls = 0;
	uint64_t end;
	size_t sent = 0, got = 0;
	ssize_t n;
	int fd;

	if (h_small_buffers())
		cr_skip_test("no network namespace of our own: %s",
		    strerror(errno));
	setup(H_ECHO, H_ECHO, NULL);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(fd >= 0, "socket: %s", strerror(errno));
	/* Before connect, so the window is small from the start. */
	cr_assert(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
	    sizeof(rcvbuf)) == 0);
	cr_assert(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)) == 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(relay.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0,
	    "connect: %s", strerror(errno));
	h_send_all(fd, KNOCK, KLEN);
	h_fill(out, sizeof(out), 7);

	end = h_now_ms() + 10000;
	while (got < sizeof(in) && h_now_ms() < end) {
		if (sent < sizeof(out)) {
			n = send(fd, out + sent, 500 - sent % 500,
			    MSG_DONTWAIT);
			if (n > 0) {
				sent += (size_t)n;
				usleep(200);
				continue;
			}
			cr_assert(n == -1 && errno == EAGAIN, "send: %s",
			    strerror(errno));
			stalls++;
		}
		/* Blocked (or all sent): read what came back. */
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 100) == 1) {
			n = recv(fd, in + got, sizeof(in) - got, 0);
			cr_assert(n > 0, "recv: %zd (%s)", n,
			    n == -1 ? strerror(errno) : "EOF");
			got += (size_t)n;
		}
	}
	cr_assert_eq(got, sizeof(in), "%zu of %zu bytes came back", got,
	    sizeof(in));
	cr_assert(memcmp(in, out, sizeof(out)) == 0,
	    "the echoed bytes differ from those sent");
	/* The buffers were full at least once. */
	cr_expect(stalls > 0, "the client never had to wait");
	close(fd);
	teardown();
}

/*
 * TCP urgent data (MSG_OOB) in the middle of a stream: ${before} bytes,
 * (a pause if ${pause},) one urgent byte, ${after} bytes, FIN.  The relay keeps the urgent byte
 * in the stream and reads on past the mark: the backend must get all the
 * bytes, in order, and answer after the FIN.
 */
static void
urgent(size_t before, size_t after, int pause)
{
	static char buf[(4 << 20) + 11];
	char reply[64], expect[64];
	size_t len = before + 1 + after, got;
	uint64_t h;
	int fd;

	cr_assert(len <= sizeof(buf));
	setup(H_AT_EOF, H_AT_EOF, NULL);
	h_fill(buf, len, 11);
	buf[0] = 'G';
	h = h_hash(H_HASH_INIT, buf, len);
	snprintf(expect, sizeof(expect), "%zu %016llx\n", len,
	    (unsigned long long)h);
	fd = h_connect(AF_INET, relay.port);
	h_send_all(fd, buf, before);
	/* Let the relay route the first part (its log says when). */
	if (pause)
		cr_assert(h_relay_log_wait(&relay, "routed to", 3000) == 0,
		    "not routed; log:\n%s", relay.log);
	cr_assert_eq(send(fd, buf + before, 1, MSG_OOB), 1, "send(MSG_OOB)");
	h_send_all(fd, buf + before + 1, after);
	shutdown(fd, SHUT_WR);
	got = h_recv(fd, reply, sizeof(reply), 8000);
	close(fd);
	cr_assert_eq(got, strlen(expect), "reply of %zu bytes: the stream "
	    "stalled at the urgent byte? log:\n%s", got, relay.log);
	cr_assert(memcmp(reply, expect, got) == 0, "bytes lost or changed "
	    "around the urgent byte: got %.*s, want %s", (int)got, reply,
	    expect);
	teardown();
}

Test(relay, urgent_byte_in_small_messages_arrives_inline, .timeout = 20)
{

	urgent(100, 100, 1);
}

Test(relay, urgent_byte_in_a_bulk_flow_arrives_inline, .timeout = 30)
{

	urgent(1 << 20, 1 << 20, 1);
}

/* Urgent byte and FIN right behind a bulk flow: the FIN must not pass it. */
Test(relay, urgent_byte_just_before_the_fin_arrives_inline, .timeout = 60)
{
	int i;

	for (i = 0; i < 10; i++)
		urgent(4 << 20, 10, 0);
}

/* The other way: the backend's urgent byte reaches the client inline. */
Test(relay, urgent_byte_from_the_backend_arrives_inline, .timeout = 20)
{
	char buf[64];
	size_t got;
	int fd;

	setup(H_URGENT, H_URGENT, NULL);
	fd = h_connect(AF_INET, relay.port);
	h_send_all(fd, "xxxxxxxxxxx", KLEN);
	got = h_recv(fd, buf, 9, 8000);
	close(fd);
	cr_assert_eq(got, 9, "%zu bytes: stalled at the urgent byte?", got);
	cr_assert(memcmp(buf, "GREETUING", 9) == 0, "got %.9s", buf);
	teardown();
}

Test(relay, half_close_reply_still_arrives, .timeout = 20)
{
	char req[5000], reply[64], expect[64];
	uint64_t h;
	size_t got;
	int fd;

	/* The backend answers only after the client's FIN. */
	setup(H_AT_EOF, H_AT_EOF, NULL);
	h_fill(req, sizeof(req), 3);
	req[0] = 'G';
	h = h_hash(H_HASH_INIT, req, sizeof(req));
	snprintf(expect, sizeof(expect), "%zu %016llx\n", sizeof(req),
	    (unsigned long long)h);
	fd = h_connect(AF_INET, relay.port);
	h_send_all(fd, req, sizeof(req));
	shutdown(fd, SHUT_WR);
	got = h_recv(fd, reply, sizeof(reply), 5000);
	close(fd);
	cr_assert_eq(got, strlen(expect), "reply of %zu bytes", got);
	cr_assert(memcmp(reply, expect, got) == 0, "reply differs");
	teardown();
}

Test(relay, backend_down_closes_client_relay_goes_on, .timeout = 20)
{
	char buf[64];
	int fd;

	setup(H_ECHO, H_ECHO, NULL);
	h_backend_stop(&normal);		/* Port now refuses connections. */
	fd = h_connect(AF_INET, relay.port);
	h_send_all(fd, "GET / HTTP/1.0\r\n\r\n", 18);
	cr_assert(h_wait_closed(fd, 3000), "client not closed");
	close(fd);
	cr_assert(h_relay_log_wait(&relay, "normal backend connect failed: "
	    "Connection refused", 2000) == 0, "log:\n%s", relay.log);
	/* The hidden route still works. */
	fd = h_connect(AF_INET, relay.port);
	h_send_all(fd, KNOCK "ping", KLEN + 4);
	shutdown(fd, SHUT_WR);
	cr_assert_eq(h_recv(fd, buf, sizeof(buf), 5000), 4);
	close(fd);
	teardown();		/* The normal backend is stopped already. */
}

Test(relay, idle_timeout_closes_quiet_connection, .timeout = 20)
{
	char buf[16];
	uint64_t t0;
	int fd;

	setup(H_ECHO, H_ECHO, (const char *[]){ "-o", "1s", NULL });
	fd = h_connect(AF_INET, relay.port);
	h_send_all(fd, KNOCK "x", KLEN + 1);
	cr_assert_eq(h_recv(fd, buf, 1, 3000), 1);
	t0 = h_now_ms();
	cr_assert(h_wait_closed(fd, 5000), "idle connection not closed");
	cr_assert(h_now_ms() - t0 >= 800, "closed after %llu ms",
	    (unsigned long long)(h_now_ms() - t0));
	close(fd);
	cr_assert(h_relay_log_wait(&relay, "idle timeout", 2000) == 0);
	teardown();
}

/* Open and reset 60 connections in every state a client can leave in. */
static void
reset_round(void)
{
	char buf[8];
	int i, fd;

	for (i = 0; i < 60; i++) {
		fd = h_connect(AF_INET, relay.port);
		switch (i % 3) {
		case 0:		/* Reset while waiting for the knock. */
			h_send_all(fd, "open", 4);
			break;
		case 1:		/* Reset while relaying (hidden). */
			h_send_all(fd, KNOCK "x", KLEN + 1);
			(void)h_recv(fd, buf, 1, 2000);
			break;
		case 2:		/* Reset while relaying (normal). */
			h_send_all(fd, "GET / HTTP/1.1\r\n", 16);
			(void)h_recv(fd, buf, 1, 2000);
			break;
		}
		h_close_reset(fd);
	}
}

Test(relay, client_resets_leak_no_descriptors, .timeout = 30)
{
	int sockets, pipes1, pipes2, got;

	setup(H_ECHO, H_ECHO, NULL);
	sockets = h_relay_fds(&relay, "socket:");
	cr_assert_eq(sockets, 1, "a listener only, got %d sockets", sockets);

	/* Every socket goes; empty pipes may stay in the bounded pool. */
	reset_round();
	got = h_relay_wait_fds(&relay, "socket:", sockets, 3000);
	cr_assert_eq(got, sockets, "sockets: %d before, %d after", sockets, got);
	pipes1 = h_relay_fds(&relay, "pipe:");
	reset_round();
	got = h_relay_wait_fds(&relay, "socket:", sockets, 3000);
	cr_assert_eq(got, sockets, "sockets: %d before, %d after", sockets, got);
	pipes2 = h_relay_fds(&relay, "pipe:");
	cr_assert_eq(pipes2, pipes1, "pipes grew from %d to %d", pipes1, pipes2);
	cr_assert(pipes2 <= 1 + 2 * 4, "%d pipe descriptors for sequential "
	    "connections", pipes2);
	teardown();
}

Test(relay, sigterm_exits_zero_promptly, .timeout = 20)
{
	uint64_t t0;
	int fd, st;

	setup(H_ECHO, H_ECHO, NULL);
	fd = h_connect(AF_INET, relay.port);	/* A connection in flight. */
	h_send_all(fd, KNOCK "x", KLEN + 1);
	t0 = h_now_ms();
	st = h_relay_stop(&relay, SIGTERM, 2000);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	cr_assert(h_now_ms() - t0 < 1000);
	close(fd);
	h_backend_stop(&normal);
	h_backend_stop(&hidden);
}

Test(relay, knock_wiped_from_cmdline, .timeout = 20)
{
	char path[64], buf[4096];
	FILE * f;
	size_t n;

	if (getenv("L7KK_VALGRIND") != NULL)
		cr_skip_test("under valgrind, /proc/PID/cmdline is valgrind's");
	setup(H_ECHO, H_ECHO, NULL);
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)relay.pid);
	cr_assert((f = fopen(path, "r")) != NULL);
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	cr_assert(n > 0);
	cr_assert(memmem(buf, n, KNOCK, KLEN) == NULL,
	    "the knock is visible in %s", path);
	cr_assert(memmem(buf, n, "--listen", 8) != NULL);
	teardown();
}

Test(relay, log_never_shows_knock_or_first_bytes, .timeout = 20)
{
	const char msg[] = KNOCK "secret-payload";
	const char req[] = "GET /private-path HTTP/1.1\r\n\r\n";

	setup(H_ECHO, H_ECHO, (const char *[]){ "-v", NULL });
	roundtrip(AF_INET, msg, sizeof(msg) - 1, &hidden, msg + KLEN,
	    sizeof(msg) - 1 - KLEN);
	roundtrip(AF_INET, req, sizeof(req) - 1, &normal, req, sizeof(req) - 1);
	cr_assert(h_relay_log_wait(&relay, "closed: done", 2000) == 0);
	teardown();
	cr_assert(strstr(relay.log, KNOCK) == NULL, "knock in log");
	cr_assert(strstr(relay.log, "secret-payload") == NULL);
	cr_assert(strstr(relay.log, "private-path") == NULL);
	cr_assert(strstr(relay.log, "knock of 11 bytes") != NULL);
}

#define NPAR	300

/*
 * Client ${i} of a transfer test: ${len} bytes (the first a 'G', not the
 * knock's first byte, unless knocked) echoed on the ${knocked} route, sent
 * in segments of random sizes, then a FIN.
 */
static void
transfer_start(struct h_client * C, int knocked, size_t len, uint64_t seed)
{

	h_client_start(C, &(struct h_client_conf){ .port = relay.port,
	    .knock = knocked ? KNOCK : NULL, .request = knocked ? NULL : "G",
	    .len = knocked ? len : len - 1, .seed = seed, .seg = 8192,
	    .fin = 1 });
}

/*
 * Run the ${n} clients ${C} until each saw EOF (at most ${ms}); close them
 * and return how many got back exactly what they sent.
 */
static int
transfer_run(struct h_client * C, int n, int ms)
{
	int i, ok = 0;

	h_clients_run(C, n, 0, ms);
	for (i = 0; i < n; i++) {
		ok += h_client_intact(&C[i]);
		h_client_close(&C[i], 0);
	}
	return (ok);
}

Test(relay, hundreds_of_parallel_connections_both_routes, .timeout = 90)
{
	static struct h_client C[NPAR];
	int i, ok;

	setup(H_ECHO, H_ECHO, NULL);
	for (i = 0; i < NPAR; i++)
		transfer_start(&C[i], i % 2, 1 + (size_t)(i * 7919) % 200000,
		    (uint64_t)i);
	ok = transfer_run(C, NPAR, 60000);
	cr_assert_eq(ok, NPAR, "%d of %d connections intact", ok, NPAR);
	cr_assert_eq(normal.conns, NPAR / 2);
	cr_assert_eq(hidden.conns, NPAR / 2);
	teardown();
}

Test(relay, max_conns_pauses_accepting_and_resumes, .timeout = 30)
{
	char buf[8];
	int a, b, c;

	setup(H_ECHO, H_ECHO, (const char *[]){ "--max-conns", "2", NULL });
	a = h_connect(AF_INET, relay.port);
	b = h_connect(AF_INET, relay.port);
	h_send_all(a, KNOCK "a", KLEN + 1);
	h_send_all(b, KNOCK "b", KLEN + 1);
	cr_assert_eq(h_recv(a, buf, 1, 3000), 1);
	cr_assert_eq(h_recv(b, buf, 1, 3000), 1);

	/* The kernel queues c, but the relay has no slot for it. */
	c = h_connect(AF_INET, relay.port);
	h_send_all(c, KNOCK "c", KLEN + 1);
	cr_assert_eq(h_recv(c, buf, 1, 500), 0, "served beyond --max-conns");
	cr_assert(h_relay_log_wait(&relay, "all 2 connection slots in use", 1000)
	    == 0);

	/* A slot frees: c is served. */
	close(a);
	cr_assert_eq(h_recv(c, buf, 1, 3000), 1, "not served after a slot freed");
	cr_assert_eq(buf[0], 'c');
	close(b);
	close(c);
	teardown();
}

Test(relay, knock_file_routes_hidden, .timeout = 20)
{
	char path[H_PATH_MAX];
	char buf[16];
	int fd;

	h_file_make(path, "knock", "file-knock\n", 11, 0600);
	h_relay_setup(&relay, &normal, H_ECHO, &hidden, H_ECHO,
	    &(struct h_relay_conf){ .extra = (const char *[]){ "--knock-file",
	    path, NULL } });
	unlink(path);
	fd = h_connect(AF_INET, relay.port);
	h_send_all(fd, "file-knockhi", 12);	/* The newline is not part. */
	shutdown(fd, SHUT_WR);
	cr_assert_eq(h_recv(fd, buf, sizeof(buf), 3000), 2);
	cr_assert(memcmp(buf, "hi", 2) == 0);
	close(fd);
	cr_assert_eq(normal.conns, 0);
	teardown();
}

/*
 * ${n} knocked clients push into the hidden backend, which never reads,
 * until the way through stays full for 100 ms (at most 2 s each): each
 * holds a pipe for as long as it lives.
 */
static void
hold_pipes(struct h_client * held, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		h_client_start(&held[i], &(struct h_client_conf){
		    .port = relay.port, .knock = KNOCK, .len = H_ENDLESS });
		h_client_push(&held[i], H_ENDLESS, 100, 2000);
		cr_assert_eq(held[i].err, 0, "send: %s",
		    strerror(held[i].err));
	}
}

/*
 * Pipes have a budget of their own (a quarter of the descriptors: 5 pipes
 * under RLIMIT_NOFILE 64).  Six knocked clients push into a hidden backend
 * that never reads: the relay's pipes fill and stay full, and the budget
 * is spent.  Then 8 echo transfers of 1 MiB run with no pipe at all: a
 * direction copies with recv(MSG_PEEK) + send + recv, and every byte
 * still arrives.
 */
Test(relay, pipe_budget_spent_copies_every_byte, .timeout = 60)
{
	static struct h_client C[8], held[6];
	int i, ok;

	if (getenv("L7KK_VALGRIND") != NULL)
		cr_skip_test("valgrind reserves descriptors");
	/* 16 of 18 slots from one source (loopback): no per-source limit. */
	start(AF_INET, H_ECHO, H_NOREAD, (const char *[]){
	    "--max-conns-per-source", "0", NULL }, 64);
	cr_assert(h_relay_log_wait(&relay, "18 connection slots, 5 pipes",
	    3000) == 0, "log:\n%s", relay.log);
	hold_pipes(held, 6);
	cr_assert(h_relay_log_wait(&relay, "all 5 pipes in use", 3000) == 0,
	    "the budget was never reached; log:\n%s", relay.log);

	for (i = 0; i < 8; i++)
		transfer_start(&C[i], 0, 1 << 20, (uint64_t)i + 100);
	ok = transfer_run(C, 8, 40000);
	for (i = 0; i < 6; i++)
		h_client_close(&held[i], 0);
	cr_assert_eq(ok, 8, "%d of 8 connections intact; log:\n%s", ok,
	    relay.log);
	teardown();
}

/*
 * --max-conns above what the descriptor limit allows.  Under
 * RLIMIT_NOFILE 64: 6 descriptors of the relay's own, 22 idle and 2
 * transfer connections (2 sockets each), 3 knocked clients pushing into a
 * backend that never reads: the first two get pipes, and for the third
 * pipe2 fails with EMFILE.  The budget is lowered (logged) and the 2 echo
 * transfers of 1 MiB copy without pipes and arrive intact.
 */
Test(relay, pipe2_out_of_descriptors_lowers_the_budget, .timeout = 60)
{
	static struct h_client C[2], held[3];
	int idle[22];
	char buf[KLEN];
	int i, ok;

	if (getenv("L7KK_VALGRIND") != NULL)
		cr_skip_test("valgrind reserves descriptors");
	start(AF_INET, H_ECHO, H_NOREAD, (const char *[]){ "--max-conns", "40",
	    "--max-conns-per-source", "0", NULL }, 64);
	memset(buf, 'G', sizeof(buf));
	for (i = 0; i < 22; i++) {
		idle[i] = h_connect(AF_INET, relay.port);
		h_send_all(idle[i], buf, sizeof(buf));
		cr_assert_eq(h_recv(idle[i], buf, sizeof(buf), 3000), KLEN,
		    "idle connection %d not relayed", i);
	}
	/* The transfers' first bytes route them (a backend socket each). */
	for (i = 0; i < 2; i++) {
		transfer_start(&C[i], 0, 1 << 20, (uint64_t)i + 200);
		cr_assert_eq(h_client_push(&C[i], KLEN, 1000, 3000), KLEN);
	}
	/* Routed (so connecting), before the held pipes take the rest. */
	cr_assert_eq(h_relay_log_wait_count(&relay, "routed to", 24, 3000), 24,
	    "not all routed; log:\n%s", relay.log);
	hold_pipes(held, 3);
	cr_assert(h_relay_log_wait(&relay, "pipe budget lowered from 5 to 2",
	    3000) == 0, "pipe2 never ran out; log:\n%s", relay.log);

	ok = transfer_run(C, 2, 40000);
	for (i = 0; i < 22; i++)
		close(idle[i]);
	for (i = 0; i < 3; i++)
		h_client_close(&held[i], 0);
	cr_assert_eq(ok, 2, "%d of 2 connections intact; log:\n%s", ok,
	    relay.log);
	teardown();
}

Test(relay, descriptor_exhaustion_pauses_without_spinning, .timeout = 40)
{
	static int fds[200];
	long t0, t1;
	char buf[8];
	int i, n;

	/* CPU ticks and descriptor counts mean nothing under valgrind. */
	if (getenv("L7KK_VALGRIND") != NULL)
		cr_skip_test("valgrind reserves descriptors and costs CPU");
	/* 64 descriptors for 200 clients: accept4 meets EMFILE. */
	start(AF_INET, H_ECHO, H_ECHO, (const char *[]){ "--max-conns", "500",
	    "-k", "30s", NULL }, 64);
	for (n = 0; n < 200; n++)
		fds[n] = h_connect(AF_INET, relay.port);
	cr_assert(h_relay_log_wait(&relay, "Too many open files", 3000) == 0,
	    "no EMFILE seen; log:\n%s", relay.log);

	/* Paused, not spinning: under 0.3 s of CPU in 2 s. */
	t0 = h_relay_cpu_ticks(&relay);
	usleep(2000000);
	t1 = h_relay_cpu_ticks(&relay);
	cr_assert(t0 >= 0 && t1 - t0 < 30, "%ld ticks of CPU in 2 s", t1 - t0);
	cr_assert_eq(kill(relay.pid, 0), 0, "the relay died");

	/* Connections close: it serves again. */
	for (i = 0; i < n; i++)
		close(fds[i]);
	usleep(300000);
	i = h_connect(AF_INET, relay.port);
	h_send_all(i, KNOCK "z", KLEN + 1);
	cr_assert_eq(h_recv(i, buf, 1, 5000), 1, "not served after the flood");
	cr_assert_eq(buf[0], 'z');
	close(i);
	teardown();
}

Test(relay, slot_freed_by_a_timer_resumes_accepting, .timeout = 30)
{
	char buf[8];
	int a, b;

	/*
	 * The only slot is freed by the idle timer, not by an event: the
	 * client waiting in the backlog must still be accepted.
	 */
	setup(H_ECHO, H_ECHO, (const char *[]){ "--max-conns", "1", "-o",
	    "1s", "-k", "300ms", NULL });
	a = h_connect(AF_INET, relay.port);		/* Silent: idles out. */
	cr_assert(h_relay_log_wait(&relay, "conn 1.1 routed to normal "
	    "(timeout)", 2000) == 0);
	b = h_connect(AF_INET, relay.port);
	h_send_all(b, KNOCK "b", KLEN + 1);
	cr_assert_eq(h_recv(b, buf, 1, 6000), 1, "not served after the idle "
	    "timeout freed the slot; log:\n%s", relay.log);
	cr_assert_eq(buf[0], 'b');
	close(a);
	close(b);
	teardown();
}

Test(relay, starts_with_stderr_closed, .timeout = 20)
{
	struct h_argv A;
	pid_t pid;
	int st;

	/* With fd 2 closed, a listener must not become "stderr". */
	h_backend_start(&normal, &(struct h_backend_conf){ .mode = H_ECHO });
	h_backend_start(&hidden, &(struct h_backend_conf){ .mode = H_ECHO });
	h_relay_argv(&(struct h_relay_conf){ .normal = normal.port,
	    .hidden = normal.port, .extra = (const char *[]){ "-q", NULL },
	    .knock = KNOCK }, &A);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		close_range(3, ~0U, 0);
		close(2);
		execv(A.v[0], (char * const *)A.v);
		_exit(127);
	}
	usleep(500000);
	cr_assert_eq(waitpid(pid, &st, WNOHANG), 0, "it died (status %d)", st);
	kill(pid, SIGTERM);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	h_backend_stop(&normal);
	h_backend_stop(&hidden);
}

/*
 * A network namespace of our own whose TCP buffers are 4 KiB at most, as a
 * slow WAN client's are: what the client has not read waits in the relay.
 */
static void
slow_netns(void)
{

	if (h_small_buffers())
		cr_skip_test("no network namespace of our own: %s",
		    strerror(errno));
	cr_assert(h_sysctl("/proc/sys/net/ipv4/tcp_wmem",
	    "4096 4096 4096") == 0 && h_sysctl("/proc/sys/net/ipv4/tcp_rmem",
	    "4096 4096 4096") == 0, "sysctl: %s", strerror(errno));
}

/* A client socket with the smallest receive buffer, connected to the relay. */
static int
slow_client(void)
{
	struct sockaddr_in sin;
	int rcvbuf = 1;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(fd >= 0, "socket: %s", strerror(errno));
	cr_assert(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
	    sizeof(rcvbuf)) == 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(relay.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0,
	    "connect: %s", strerror(errno));
	return (fd);
}

/*
 * A slow reader is not idle.  With -o 2s, the client
 * sends 12,000 bytes to the echo backend and reads the echo at about
 * 1.5 KB/s (150 bytes every 100 ms): about 8 s of steady download, most of
 * it from bytes the relay holds in a pipe for the client (draining it was
 * not counted as activity: the relay closed as idle after about 4 s and
 * the client got 9 KB and a clean EOF).  Every byte must arrive, and the
 * relay may be idle only once it handed the last one to the kernel.
 */
Test(relay, slow_reader_is_not_idle, .timeout = 40)
{
	static uint8_t out[12000], in[sizeof(out)];
	size_t sent = 0, got = 0;
	uint64_t t0, end;
	ssize_t n;
	int fd;

	slow_netns();
	setup(H_ECHO, H_ECHO, (const char *[]){ "-o", "2s", NULL });
	fd = slow_client();
	h_send_all(fd, KNOCK, KLEN);
	h_fill(out, sizeof(out), 10);
	t0 = h_now_ms();
	end = t0 + 30000;
	while (got < sizeof(in) && h_now_ms() < end) {
		if (sent < sizeof(out) && (n = send(fd, out + sent,
		    sizeof(out) - sent, MSG_DONTWAIT)) > 0)
			sent += (size_t)n;
		usleep(100000);
		n = recv(fd, in + got, 150 < sizeof(in) - got ? 150 :
		    sizeof(in) - got, MSG_DONTWAIT);
		if (n == 0)
			break;
		if (n > 0)
			got += (size_t)n;
	}
	cr_assert_eq(got, sizeof(in), "%zu of %zu bytes arrived in %llu ms; "
	    "log:\n%s", got, sizeof(in), (unsigned long long)(h_now_ms() - t0),
	    relay.log);
	cr_assert(memcmp(in, out, sizeof(out)) == 0, "the bytes differ");
	cr_assert(h_now_ms() - t0 > 4000, "the download took only %llu ms",
	    (unsigned long long)(h_now_ms() - t0));
	/* Idle only once the relay had handed every byte to the kernel. */
	cr_assert_eq(h_relay_log_count(&relay, "idle timeout"),
	    h_relay_log_count(&relay, "idle timeout; 12000 bytes in, 12000 "
	    "bytes out"), "closed as idle while bytes flowed; log:\n%s",
	    relay.log);
	close(fd);
	teardown();
}

/* A listener on 127.0.0.1, any port, that the test serves itself. */
static int
fin_listener(uint16_t * port)
{

	return (h_listen(AF_INET, 8, port));
}

/*
 * A relay whose both backends are ${lfd} (port ${port}), with -o 30s and
 * --fin-timeout 1s; a client that knocked, and the backend's end of it.
 */
static void
fin_setup(int lfd, uint16_t port, int * cfd, int * bfd)
{
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };

	h_relay_start(&relay, &(struct h_relay_conf){ .family = AF_INET,
	    .normal = port, .hidden = port, .knock = KNOCK,
	    .extra = (const char *[]){ "-o", "30s", "--fin-timeout", "1s",
	    NULL } });
	*cfd = h_connect(AF_INET, relay.port);
	h_send_all(*cfd, KNOCK, KLEN);
	cr_assert_eq(poll(&pfd, 1, 5000), 1, "the relay did not connect");
	*bfd = accept(lfd, NULL, NULL);
	cr_assert(*bfd >= 0, "accept: %s", strerror(errno));
}

/*
 * The backend sends its FIN at once and the client
 * never closes.  The relay passes the FIN on, and the client's slot is
 * freed within the fin timeout (1 s), not the idle timeout (30 s).
 */
Test(relay, fin_timeout_frees_a_client_that_never_closes, .timeout = 30)
{
	char buf[16];
	uint64_t t0, ms, end;
	uint16_t port;
	int lfd, cfd, bfd, fds, now, st;

	lfd = fin_listener(&port);
	fin_setup(lfd, port, &cfd, &bfd);
	cr_assert(h_relay_log_wait(&relay, "fin 1000 ms", 2000) == 0);
	fds = h_relay_fds(&relay, NULL);
	close(bfd);
	/* The FIN came through; the client stays, silent. */
	cr_assert_eq(h_recv(cfd, buf, sizeof(buf), 3000), 0);
	t0 = h_now_ms();
	cr_assert(h_relay_log_wait(&relay, "closed: fin timeout", 5000) == 0,
	    "no fin timeout; log:\n%s", relay.log);
	ms = h_now_ms() - t0;
	cr_assert(ms >= 700 && ms < 4000, "freed after %llu ms",
	    (unsigned long long)ms);
	/* The slot and both its sockets are free (closed after the log line). */
	end = h_now_ms() + 3000;
	while ((now = h_relay_fds(&relay, NULL)) != fds - 2 && h_now_ms() < end)
		usleep(20000);
	cr_assert_eq(now, fds - 2, "%d descriptors, %d before", now, fds);
	close(cfd);
	close(lfd);
	st = h_relay_stop(&relay, SIGTERM, 3000);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
}

/*
 * After the backend's FIN, the client still sends, a byte every 300 ms for
 * 2.4 s: with --fin-timeout 1s the connection stays while bytes flow the
 * other way (every byte reaches the backend), and closes about 1 s after
 * the last one.
 */
/*
 * The client half-closes first and its backend answers only after
 * --fin-timeout + 1 s (a request whose reply takes a while): the relay
 * waits under the idle timeout (30 s), not the fin timeout, so the answer
 * arrives, then the backend's FIN ends the connection ("done").
 */
Test(relay, fin_timeout_spares_a_client_waiting_for_its_answer,
    .timeout = 30)
{
	char buf[16];
	uint16_t port;
	int lfd, cfd, bfd, st;

	lfd = fin_listener(&port);
	fin_setup(lfd, port, &cfd, &bfd);
	cr_assert(shutdown(cfd, SHUT_WR) == 0);
	/* The client's FIN reaches the backend. */
	cr_assert_eq(h_recv(bfd, buf, sizeof(buf), 3000), 0);
	usleep(2000000);
	cr_assert_eq(h_relay_log_count(&relay, "closed:"), 0,
	    "closed while the client waited; log:\n%s", relay.log);
	h_send_all(bfd, "answer", 6);
	close(bfd);
	cr_assert_eq(h_recv(cfd, buf, sizeof(buf), 3000), 6,
	    "the answer did not arrive; log:\n%s", relay.log);
	cr_assert(memcmp(buf, "answer", 6) == 0);
	cr_assert(h_relay_log_wait(&relay, "closed: done", 3000) == 0,
	    "log:\n%s", relay.log);
	close(cfd);
	close(lfd);
	st = h_relay_stop(&relay, SIGTERM, 3000);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
}

Test(relay, fin_timeout_waits_while_the_other_way_flows, .timeout = 30)
{
	char buf[16];
	uint64_t t0, ms;
	uint16_t port;
	int lfd, cfd, bfd, i, st;

	lfd = fin_listener(&port);
	fin_setup(lfd, port, &cfd, &bfd);
	cr_assert(shutdown(bfd, SHUT_WR) == 0);
	cr_assert_eq(h_recv(cfd, buf, sizeof(buf), 3000), 0);
	for (i = 0; i < 8; i++) {
		usleep(300000);
		h_send_all(cfd, "x", 1);
		cr_assert_eq(h_recv(bfd, buf, 1, 2000), 1,
		    "byte %d did not reach the backend; log:\n%s", i,
		    relay.log);
	}
	cr_assert_eq(h_relay_log_count(&relay, "closed:"), 0,
	    "closed while the client sent; log:\n%s", relay.log);
	t0 = h_now_ms();
	cr_assert(h_relay_log_wait(&relay, "closed: fin timeout", 5000) == 0,
	    "no fin timeout; log:\n%s", relay.log);
	ms = h_now_ms() - t0;
	cr_assert(ms >= 500 && ms < 4000, "closed %llu ms after the last byte",
	    (unsigned long long)ms);
	/* The backend sees the end of the client's stream. */
	cr_assert(h_wait_closed(bfd, 2000), "backend not closed");
	close(bfd);
	close(cfd);
	close(lfd);
	st = h_relay_stop(&relay, SIGTERM, 3000);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
}
