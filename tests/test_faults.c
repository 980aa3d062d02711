/*
 * Fault tests: the real, sandboxed binary between broken or hostile peers
 * on loopback.  Backends that reset, close early, never answer or never
 * read; clients that reset, read slowly, never send or flood; many
 * sequential connections; signals.  Every check is on bytes, exit codes,
 * log lines or /proc state, never on speed.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
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

static struct h_backend normal, hidden;
static struct h_relay relay;

/* Start a backend in ${mode} (${n} and ${seed} as the mode wants). */
static void
backend(struct h_backend * B, enum h_mode mode, uint64_t n, uint64_t seed)
{

	h_backend_start(B, &(struct h_backend_conf){ .mode = mode, .n = n,
	    .seed = seed });
}

/* Start a relay in front of ${nport} (normal) and ${hport} (hidden). */
static void
start_relay(uint16_t nport, uint16_t hport, const char * const * extra)
{

	h_relay_start(&relay, &(struct h_relay_conf){ .normal = nport,
	    .hidden = hport, .extra = extra, .knock = KNOCK });
}

/* Both echo backends and a relay in front of them. */
static void
setup_echo(const char * const * extra)
{

	h_relay_setup(&relay, &normal, H_ECHO, &hidden, H_ECHO,
	    &(struct h_relay_conf){ .extra = extra, .knock = KNOCK });
}

static void
teardown_echo(void)
{

	h_relay_teardown(&relay, &normal, &hidden);
}

/* Wait until the relay holds ${n} sockets (${ms}); return what it holds. */
static int
wait_sockets(int n, int ms)
{

	return (h_relay_wait_fds(&relay, "socket:", n, ms));
}

/* Wait until the log holds ${n} occurrences of ${s}; return the count. */
static int
wait_log_count(const char * s, int n, int ms)
{

	return (h_relay_log_wait_count(&relay, s, n, ms));
}

/* A short exchange on one route: send, half-close, the echo comes back. */
static void
echo_once(int knocked, const char * what)
{
	char buf[64];
	size_t got;
	int fd;

	fd = h_connect(AF_INET, relay.port);
	if (knocked)
		h_send_all(fd, KNOCK "ping", KLEN + 4);
	else
		h_send_all(fd, NREQ, NREQLEN);
	shutdown(fd, SHUT_WR);
	got = h_recv(fd, buf, sizeof(buf), 5000);
	close(fd);
	if (knocked)
		cr_assert(got == 4 && memcmp(buf, "ping", 4) == 0,
		    "%s: hidden route echoed %zu bytes", what, got);
	else
		cr_assert(got == NREQLEN && memcmp(buf, NREQ, NREQLEN) == 0,
		    "%s: normal route echoed %zu bytes", what, got);
}

/*
 * A streaming client on the ${knocked} route (else its first bytes are a
 * request): the endless stream of ${seed}, no FIN.
 */
static void
stream_start(struct h_client * C, int knocked, uint64_t seed)
{

	h_client_start(C, &(struct h_client_conf){ .port = relay.port,
	    .knock = knocked ? KNOCK : NULL, .request = knocked ? NULL : NREQ,
	    .len = H_ENDLESS, .seed = seed });
}

/* ================= backends ================= */

Test(faults, backend_not_answering_connect_timeout, .timeout = 30)
{
	struct h_backend silent;
	int fill[4], i, fd, err;
	uint64_t t0, t1;
	struct sockaddr_in sin;

	/*
	 * A listener with backlog 0 whose accept queue is full: the kernel
	 * drops further SYNs, so a connect to it neither succeeds nor fails.
	 */
	backend(&silent, H_SILENT, 0, 0);
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

	backend(&hidden, H_ECHO, 0, 0);
	start_relay(silent.port, hidden.port, (const char *[]){
	    "--connect-timeout", "500ms", NULL });
	fd = h_connect(AF_INET, relay.port);
	t0 = h_now_ms();
	h_send_all(fd, NREQ, NREQLEN);
	cr_assert(h_wait_closed(fd, 5000), "client not closed by the connect "
	    "timeout; log:\n%s", relay.log);
	t1 = h_now_ms();
	close(fd);
	cr_assert(h_relay_log_wait(&relay, "closed: backend connect timed out",
	    2000) == 0, "log:\n%s", relay.log);
	/* Not refused, not failed: it timed out (bounds are generous). */
	cr_assert(t1 - t0 >= 400, "closed after %llu ms, before the 500 ms "
	    "connect timeout; log:\n%s", (unsigned long long)(t1 - t0),
	    relay.log);
	cr_assert_eq(h_relay_log_count(&relay, "connect failed"), 0);

	/* It goes on serving the other route; nothing is left open. */
	echo_once(1, "after a connect timeout");
	cr_assert_eq(wait_sockets(1, 3000), 1, "sockets left open");
	h_relay_down(&relay);
	h_backend_stop(&hidden);
	for (i = 0; i < 4; i++)
		close(fill[i]);
	h_backend_stop(&silent);
}

/* Stream into the ${knocked} route until the relay closes us (5 s). */
static void
stream_until_closed(int knocked, const char * what)
{
	struct h_client C;

	stream_start(&C, knocked, 11);
	h_clients_run(&C, 1, 0, 5000);
	h_client_close(&C, 0);
	cr_assert(C.closed, "%s: client not closed after %llu bytes sent; "
	    "log:\n%s", what, (unsigned long long)C.sent, relay.log);
}

Test(faults, backend_resets_mid_stream_both_routes, .timeout = 30)
{
	struct h_backend rst;
	int i;

	/* Both routes lead to a backend that reads 256 KiB, then resets. */
	backend(&rst, H_RESET_AFTER, 256 * 1024, 0);
	start_relay(rst.port, rst.port, NULL);
	for (i = 0; i < 4; i++) {
		stream_until_closed(i % 2, "backend reset");
		cr_assert(h_backend_wait_done(&rst, (unsigned)i + 1, 3000) == 0,
		    "the backend did not read its 256 KiB");
	}
	cr_assert_eq(wait_log_count(" closed: ", 4, 3000), 4,
	    "closes not logged; log:\n%s", relay.log);
	cr_assert(h_relay_log_count(&relay, "Connection reset by peer") +
	    h_relay_log_count(&relay, "Broken pipe") >= 1,
	    "no reset in the close reasons; log:\n%s", relay.log);
	cr_assert(h_relay_alive(&relay));
	cr_assert_eq(wait_sockets(1, 3000), 1, "sockets left open");
	h_relay_down(&relay);
	h_backend_stop(&rst);
}

Test(faults, backend_reset_then_relay_keeps_serving, .timeout = 30)
{
	struct h_backend rst;

	/* Hidden backend resets; the normal route is unaffected meanwhile. */
	backend(&rst, H_RESET_AFTER, 64 * 1024, 0);
	backend(&normal, H_ECHO, 0, 0);
	start_relay(normal.port, rst.port, NULL);
	stream_until_closed(1, "hidden backend reset");
	echo_once(0, "after a backend reset");
	stream_until_closed(1, "hidden backend reset again");
	echo_once(0, "after two backend resets");
	cr_assert_eq(wait_sockets(1, 3000), 1, "sockets left open");
	h_relay_down(&relay);
	h_backend_stop(&normal);
	h_backend_stop(&rst);
}

Test(faults, backend_closes_early_while_client_sends, .timeout = 30)
{
	struct h_backend early;
	int fds, i;

	backend(&early, H_CLOSE_AFTER, 1024, 0);
	backend(&normal, H_ECHO, 0, 0);
	start_relay(normal.port, early.port, NULL);
	echo_once(0, "warm-up");
	cr_assert_eq(wait_sockets(1, 3000), 1);
	fds = h_relay_fds(&relay, NULL);
	for (i = 0; i < 5; i++)
		stream_until_closed(1, "backend closed early");
	cr_assert(h_backend_wait_done(&early, 5, 3000) == 0);
	cr_assert_eq(wait_log_count(" closed: ", 6, 3000), 6,
	    "closes not logged; log:\n%s", relay.log);
	echo_once(0, "after early closes");
	cr_assert_eq(wait_sockets(1, 3000), 1, "sockets left open");
	cr_assert(h_relay_fds(&relay, NULL) <= fds + 4,
	    "descriptors: %d after warm-up, %d now", fds,
	    h_relay_fds(&relay, NULL));
	cr_assert(h_relay_alive(&relay));
	h_relay_down(&relay);
	h_backend_stop(&normal);
	h_backend_stop(&early);
}

Test(faults, backend_never_reads_backpressure_bounded, .timeout = 90)
{
	const uint64_t total = 100 * MIB;
	struct h_backend gated;
	struct h_client C;
	long rss0, rss1;
	int pipes0, pipes1, socks, fd;
	char c;

	backend(&gated, H_NOREAD, 0, 0);
	backend(&normal, H_ECHO, 0, 0);
	start_relay(normal.port, gated.port, NULL);
	echo_once(0, "warm-up");
	/* A first hidden connection, let through the gate at once. */
	fd = h_connect(AF_INET, relay.port);
	h_send_all(fd, KNOCK "ping", KLEN + 4);
	shutdown(fd, SHUT_WR);
	h_backend_gate(&gated, 1);
	cr_assert(h_backend_wait_done(&gated, 1, 3000) == 0);
	cr_assert(h_wait_closed(fd, 3000));
	close(fd);
	h_backend_gate(&gated, 0);
	cr_assert_eq(wait_sockets(1, 3000), 1);
	rss0 = h_relay_rss_kib(&relay);
	pipes0 = h_relay_fds(&relay, "pipe:");
	cr_assert(rss0 > 0);

	/* The client pushes until the relay stops taking bytes. */
	stream_start(&C, 1, 21);
	h_client_push(&C, total, 1500, 30000);
	cr_assert_eq(C.err, 0, "send: %s", strerror(C.err));
	cr_assert(C.sent < total, "all of %llu MiB went into a backend that "
	    "reads nothing", (unsigned long long)(total / MIB));
	rss1 = h_relay_rss_kib(&relay);
	pipes1 = h_relay_fds(&relay, "pipe:");
	socks = h_relay_fds(&relay, "socket:");
	cr_log_info("blocked after %llu KiB; relay RSS %ld -> %ld KiB; pipe "
	    "fds %d -> %d", (unsigned long long)(C.sent / 1024), rss0, rss1,
	    pipes0, pipes1);
	cr_assert(rss1 - rss0 < 8 * 1024, "relay RSS grew from %ld to %ld KiB "
	    "while %llu KiB were stuck", rss0, rss1,
	    (unsigned long long)(C.sent / 1024));
	/* At most one pipe per direction: 2 pipes, 4 descriptors. */
	cr_assert(pipes1 - pipes0 <= 4, "pipe descriptors %d -> %d", pipes0,
	    pipes1);
	cr_assert_eq(socks, 3, "sockets: %d (listener, client, backend)",
	    socks);
	/* Other clients are served meanwhile. */
	echo_once(0, "while a backend is stuck");

	/* The backend reads now: every byte arrives. */
	h_backend_gate(&gated, 1);
	h_client_push(&C, total, 10000, 60000);
	cr_assert_eq(C.sent, total, "sent %llu of %llu bytes (%s)",
	    (unsigned long long)C.sent, (unsigned long long)total,
	    C.err ? strerror(C.err) : "stalled");
	shutdown(C.fd, SHUT_WR);
	cr_assert(h_backend_wait_done(&gated, 2, 20000) == 0,
	    "the backend saw no EOF");
	cr_assert_eq(gated.last.len, total, "backend got %llu of %llu bytes",
	    (unsigned long long)gated.last.len, (unsigned long long)total);
	cr_assert_eq(gated.last.hash, h_stream_hash(21, total),
	    "bytes differ");
	fcntl(C.fd, F_SETFL, 0);
	cr_assert_eq(h_recv(C.fd, &c, 1, 3000), 0, "no EOF to the client");
	h_client_close(&C, 0);
	cr_assert_eq(wait_sockets(1, 3000), 1, "sockets left open");
	h_relay_down(&relay);
	h_backend_stop(&normal);
	h_backend_stop(&gated);
}

/* ================= clients ================= */

#define NRESET	8

Test(faults, client_resets_mid_stream_both_routes, .timeout = 60)
{
	static struct h_client S[NRESET];
	int i, round, got, pipes;

	setup_echo(NULL);
	for (round = 0; round < 3; round++) {
		/* 8 bulk echoes, half per route, reset after 1 MiB came back. */
		for (i = 0; i < NRESET; i++)
			stream_start(&S[i], i % 2, (uint64_t)(round * 100 + i));
		got = h_clients_run(S, NRESET, MIB, 20000);
		cr_assert_eq(got, NRESET, "only %d of %d echoed 1 MiB", got,
		    NRESET);
		for (i = 0; i < NRESET; i++) {
			cr_assert(!S[i].closed, "connection %d closed early: "
			    "%s", i, strerror(S[i].err));
			h_client_close(&S[i], 1);
		}
		cr_assert(h_relay_alive(&relay), "the relay died");
		cr_assert_eq(wait_sockets(1, 3000), 1, "round %d: sockets left "
		    "open", round);
		echo_once(0, "after client resets");
		echo_once(1, "after client resets");
	}
	cr_assert_eq(wait_log_count(" closed: ", 3 * (NRESET + 2), 3000),
	    3 * (NRESET + 2), "closes not logged; log:\n%s", relay.log);
	cr_assert(h_relay_log_count(&relay, "Connection reset by peer") >= 1,
	    "no reset logged; log:\n%s", relay.log);
	pipes = h_relay_fds(&relay, "pipe:");
	cr_assert(pipes <= 2 * 64, "%d pipe descriptors", pipes);
	cr_assert_eq(h_relay_fd_others(&relay), 0);
	teardown_echo();
}

Test(faults, slow_consumer_relay_slows_its_reads, .timeout = 40)
{
	const uint64_t total = 4 * MIB;
	static uint8_t buf[4 * 1024 * 1024];
	struct h_backend sender;
	long rss0, rss, rssmax = 0;
	int fd, pipes0, pipes, pipesmax = 0, i;
	uint64_t got = 0, h, sent_slow;
	size_t n;

	backend(&sender, H_SEND, total, 31);
	backend(&normal, H_ECHO, 0, 0);
	start_relay(normal.port, sender.port, NULL);
	echo_once(0, "warm-up");
	cr_assert_eq(wait_sockets(1, 3000), 1);
	rss0 = h_relay_rss_kib(&relay);
	pipes0 = h_relay_fds(&relay, "pipe:");

	fd = h_connect(AF_INET, relay.port);
	h_send_all(fd, KNOCK, KLEN);
	/* 3 s at 10 KiB/s: 1 KiB every 100 ms. */
	for (i = 0; i < 30; i++) {
		n = h_recv(fd, buf + got, 1024, 2000);
		cr_assert_eq(n, 1024, "slow read %d got %zu bytes", i, n);
		got += n;
		usleep(100000);
		if ((rss = h_relay_rss_kib(&relay)) > rssmax)
			rssmax = rss;
		if ((pipes = h_relay_fds(&relay, "pipe:")) > pipesmax)
			pipesmax = pipes;
	}
	sent_slow = h_backend_sent(&sender);
	cr_log_info("slow phase: backend sent %llu KiB, client read %llu KiB;"
	    " relay RSS %ld -> max %ld KiB; pipe fds %d -> max %d",
	    (unsigned long long)(sent_slow / 1024),
	    (unsigned long long)(got / 1024), rss0, rssmax, pipes0, pipesmax);
	cr_assert(rssmax - rss0 < 8 * 1024, "relay RSS grew from %ld to %ld "
	    "KiB for a slow reader", rss0, rssmax);
	cr_assert(pipesmax - pipes0 <= 4, "pipe descriptors %d -> %d",
	    pipes0, pipesmax);
	cr_assert(h_relay_alive(&relay));

	/* Now fast: every byte, in order. */
	got += h_recv(fd, buf + got, total - got, 15000);
	cr_assert_eq(got, total, "client got %llu of %llu bytes",
	    (unsigned long long)got, (unsigned long long)total);
	h = h_hash(H_HASH_INIT, buf, (size_t)total);
	cr_assert_eq(h, h_stream_hash(31, total), "bytes differ");
	shutdown(fd, SHUT_WR);
	cr_assert(h_wait_closed(fd, 3000), "no EOF after the last byte");
	close(fd);
	cr_assert_eq(wait_sockets(1, 3000), 1, "sockets left open");
	h_relay_down(&relay);
	h_backend_stop(&normal);
	h_backend_stop(&sender);
}

#define NSILENT	1000

Test(faults, thousand_silent_connections_freed_normal_served, .timeout = 60)
{
	static int fds[NSILENT];
	uint64_t t0, ms;
	char buf[64];
	int i, fd, socks;

	h_raise_nofile(4 * NSILENT + 256);
	/* After -k 1s they go to the normal backend, after -o 1s more, out. */
	/* All from one host (loopback): no per-source limit. */
	setup_echo((const char *[]){ "-k", "1s", "-o", "1s", "-v",
	    "--max-conns-per-source", "0", NULL });
	for (i = 0; i < NSILENT; i++)
		fds[i] = h_connect(AF_INET, relay.port);
	cr_assert_eq(wait_log_count(" accepted from ", NSILENT, 5000), NSILENT,
	    "not all accepted");

	/* Meanwhile a client on each route is served within a second. */
	t0 = h_now_ms();
	fd = h_connect(AF_INET, relay.port);
	h_send_all(fd, NREQ, NREQLEN);
	cr_assert_eq(h_recv(fd, buf, NREQLEN, 1000), NREQLEN,
	    "normal client not served within 1 s among %d silent", NSILENT);
	ms = h_now_ms() - t0;
	close(fd);
	fd = h_connect(AF_INET, relay.port);
	h_send_all(fd, KNOCK "ping", KLEN + 4);
	cr_assert_eq(h_recv(fd, buf, 4, 1000), 4,
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
		cr_assert(h_wait_closed(fds[i], 1000), "client %d not closed", i);
		close(fds[i]);
	}
	echo_once(0, "after the silent ones");
	teardown_echo();
}

#define NFLOOD	2000

Test(faults, connect_and_close_flood, .timeout = 90)
{
	int i, fd, fds0, socks, accepted, closed;

	h_raise_nofile(4096);
	/* 2,000 from one host faster than the relay sees them close. */
	setup_echo((const char *[]){ "-v", "--max-conns-per-source", "0",
	    NULL });	/* "accepted" lines. */
	echo_once(0, "warm-up");
	echo_once(1, "warm-up");
	cr_assert_eq(wait_sockets(1, 3000), 1);
	fds0 = h_relay_fds(&relay, NULL);
	for (i = 0; i < NFLOOD; i++) {
		fd = h_connect(AF_INET, relay.port);
		switch (i % 4) {
		case 0:
			close(fd);
			break;
		case 1:
			h_close_reset(fd);
			break;
		case 2:		/* Half a knock, then a reset. */
			h_send_all(fd, KNOCK, 4);
			h_close_reset(fd);
			break;
		case 3:		/* A request, then gone at once. */
			h_send_all(fd, NREQ, NREQLEN);
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
	cr_assert(h_relay_alive(&relay), "the relay died");
	echo_once(0, "after the flood");
	echo_once(1, "after the flood");
	cr_assert_eq(wait_sockets(1, 3000), 1);
	cr_assert(h_relay_fds(&relay, NULL) <= fds0 + 4, "descriptors: %d before,"
	    " %d after", fds0, h_relay_fds(&relay, NULL));
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
	fds0 = h_relay_fds(&relay, NULL);
	rss0 = h_relay_rss_kib(&relay);
	for (i = 0; i < 10000; i++)
		echo_once(i % 2, "sequential");
	socks = wait_sockets(1, 5000);
	fds1 = h_relay_fds(&relay, NULL);
	rss1 = h_relay_rss_kib(&relay);
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
	struct h_client * S;
	volatile int stop;
	uint64_t moved;
};

static void *
load_pump(void * cookie)
{
	struct load * L = cookie;
	int i;

	while (!L->stop) {
		h_clients_run(L->S, NLOAD / 2, H_ENDLESS, 50);
		h_clients_run(L->S + NLOAD / 2, NLOAD - NLOAD / 2, H_ENDLESS,
		    50);
	}
	for (L->moved = 0, i = 0; i < NLOAD; i++)
		L->moved += L->S[i].got;
	return (NULL);
}

Test(faults, sigterm_under_load_exits_zero_promptly, .timeout = 30)
{
	static struct h_client S[NLOAD];
	struct load L = { .S = S };
	pthread_t t;
	uint64_t t0, ms, before;
	int i, st, busy = 0;

	setup_echo(NULL);
	for (i = 0; i < NLOAD; i++)
		stream_start(&S[i], i % 2, (uint64_t)(500 + i));
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

	t0 = h_now_ms();
	st = h_relay_stop(&relay, SIGTERM, 3000);
	ms = h_now_ms() - t0;
	L.stop = 1;
	pthread_join(t, NULL);
	for (i = 0; i < NLOAD; i++)
		h_client_close(&S[i], 0);
	cr_log_info("%llu MiB echoed before SIGTERM; exit after %llu ms",
	    (unsigned long long)(before / MIB), (unsigned long long)ms);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "status %#x under load; log tail:\n%s", st,
	    relay.loglen > 2000 ? relay.log + relay.loglen - 2000 : relay.log);
	cr_assert(ms < 1000, "exited after %llu ms", (unsigned long long)ms);
	cr_assert(strstr(relay.log, "received SIGTERM: exiting") != NULL);
	h_backend_stop(&normal);
	h_backend_stop(&hidden);
}

Test(faults, sigpipe_never_kills, .timeout = 60)
{
	struct h_backend sender;
	static uint8_t buf[256 * 1024];
	int i, fd;

	/* Both routes lead to a backend sending 64 MiB as fast as it can. */
	backend(&sender, H_SEND, 64 * MIB, 41);
	start_relay(sender.port, sender.port, NULL);
	for (i = 0; i < 20; i++) {
		fd = h_connect(AF_INET, relay.port);
		if (i % 2)
			h_send_all(fd, KNOCK, KLEN);
		else
			h_send_all(fd, NREQ, NREQLEN);
		/* Read some, so the relay is writing to us, then reset. */
		cr_assert_eq(h_recv(fd, buf, sizeof(buf), 5000), sizeof(buf),
		    "connection %d: no data", i);
		h_close_reset(fd);
		cr_assert(h_relay_alive(&relay), "the relay died after reset %d; log "
		    "tail:\n%s", i, relay.log);
	}
	cr_assert_eq(wait_log_count(" closed: ", 20, 5000), 20,
	    "closes not logged; log:\n%s", relay.log);
	cr_assert(h_relay_log_count(&relay, "Connection reset by peer") +
	    h_relay_log_count(&relay, "Broken pipe") >= 1,
	    "no write error logged; log:\n%s", relay.log);
	cr_assert_eq(wait_sockets(1, 3000), 1, "sockets left open");
	/* Still serving. */
	fd = h_connect(AF_INET, relay.port);
	h_send_all(fd, KNOCK, KLEN);
	cr_assert_eq(h_recv(fd, buf, 1024, 5000), 1024, "not served after");
	close(fd);
	h_relay_down(&relay);		/* Exit 0 on SIGTERM: not killed by SIGPIPE. */
	h_backend_stop(&sender);
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
	struct h_client S[NRUDE];
	int i;

	while (!U->stop) {
		if (U->download) {
			for (i = 0; i < NRUDE; i++)
				h_client_start(&S[i], &(struct h_client_conf){
				    .port = relay.port, .knock = KNOCK });
			for (i = 0; i < NRUDE; i++)	/* One after another. */
				h_clients_run(&S[i], 1, 256 * 1024, 2000);
		} else {
			for (i = 0; i < NRUDE; i++)
				stream_start(&S[i], 0, (uint64_t)i);
			h_clients_run(S, NRUDE, MIB, 300);
		}
		for (i = 0; i < NRUDE; i++)
			h_client_close(&S[i], 1);
		U->rounds++;
	}
	return (NULL);
}

/*
 * Healthy clients download 32 MiB each on the hidden route while rude ones
 * reset nearby: every healthy byte arrives, in order, without waiting for
 * a timeout (the idle timeout is 30 s).  A client that gets no byte for
 * STALL_MS is stalled: a third of the idle timeout, so that a loaded
 * machine (a whole test suite on two cores) is not taken for a relay that
 * waits for a timer.
 */
#define STALL_MS	10000

/* Run the ${n} clients ${C} to EOF (until ${end}); 1 if one stalled. */
static int
run_unless_stalled(struct h_client * C, int n, uint64_t end)
{
	uint64_t now;
	int i;

	while ((now = h_now_ms()) < end) {
		if (h_clients_run(C, n, 0, 100) == n)
			return (0);
		for (i = 0; i < n; i++)
			if (!C[i].closed && h_now_ms() - C[i].last > STALL_MS)
				return (1);
	}
	return (0);
}

static void
healthy_among_rude(int download)
{
	const uint64_t total = 32 * MIB;
	static struct h_client C[NHEALTHY];
	struct h_backend sender;
	struct rude U = { .download = download };
	uint64_t want, end;
	int i, round, ok = 0, stalled = 0;
	pthread_t t;

	h_raise_nofile(4096);
	backend(&sender, H_SEND, total, 51);
	backend(&normal, H_ECHO, 0, 0);
	start_relay(normal.port, sender.port, NULL);
	want = h_stream_hash(51, total);
	cr_assert(pthread_create(&t, NULL, rude_clients, &U) == 0);
	/*
	 * Up to 3 rounds of 6 healthy downloads, started within 20 s; each
	 * runs to its end unless a client stalls (or 30 s pass).
	 */
	end = h_now_ms() + 20000;
	for (round = 0; round < 3 && !stalled && h_now_ms() < end; round++) {
		for (i = 0; i < NHEALTHY; i++)
			h_client_start(&C[i], &(struct h_client_conf){
			    .port = relay.port, .knock = KNOCK });
		if ((stalled = run_unless_stalled(C, NHEALTHY,
		    h_now_ms() + 30000)))
			h_relay_dump_sockets(&relay);
		for (i = 0; i < NHEALTHY; i++) {
			if (C[i].got == total && C[i].hgot == want &&
			    C[i].closed && C[i].err == 0)
				ok++;
			else
				cr_log_error("round %d, healthy client %d: %llu "
				    "of %llu bytes%s%s", round, i,
				    (unsigned long long)C[i].got,
				    (unsigned long long)total,
				    C[i].closed ? ", closed" : ", stalled",
				    C[i].closed && C[i].hgot != want ?
				    ", bytes differ" : "");
			h_client_close(&C[i], 0);
		}
	}
	U.stop = 1;
	pthread_join(t, NULL);
	cr_log_info("%d rounds of %d healthy downloads, %u rounds of %d "
	    "resets meanwhile", round, NHEALTHY, U.rounds, NRUDE);
	cr_assert_eq(ok, round * NHEALTHY, "%d of %d healthy transfers "
	    "complete", ok, round * NHEALTHY);
	cr_assert(h_relay_alive(&relay));
	cr_assert_eq(wait_sockets(1, 5000), 1, "sockets left open");
	h_relay_down(&relay);
	h_backend_stop(&normal);
	h_backend_stop(&sender);
}

Test(faults, uploads_reset_nearby_lose_no_healthy_byte, .timeout = 90)
{

	healthy_among_rude(0);
}

Test(faults, downloads_reset_nearby_lose_no_healthy_byte, .timeout = 90)
{

	healthy_among_rude(1);
}
