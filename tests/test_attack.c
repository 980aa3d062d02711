/*
 * Integration tests of the relay under attack: one host cannot take every
 * slot (the per-source limit), a flood of knock-phase connections from
 * many hosts cannot keep others out (eviction), and clients that close
 * first do not run the ports toward an off-host backend out
 * (--backend-ports).  The real, sandboxed binary; attackers bind 127.0.0.x
 * source addresses.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define KNOCK	"open-sesame"
#define KLEN	(sizeof(KNOCK) - 1)

/* Not the knock, as long as it: routed to the normal backend at once. */
#define JUNK	"GET / HTTP/1.0\r\n"

/* Most attacker connections a test opens. */
#define AT_MAX	256

static struct h_backend normal, hidden;
static struct h_relay relay;
static int at[AT_MAX];
static int nat;

/* Start both backends (echo, greet) and a relay with ${extra}. */
static void
at_start(const char * const * extra)
{

	h_raise_nofile(4 * AT_MAX);
	h_relay_setup(&relay, &normal, H_ECHO, &hidden, H_GREET,
	    &(struct h_relay_conf){ .family = AF_INET, .extra = extra,
	    .knock = KNOCK });
}

static void
at_teardown(void)
{
	int i;

	for (i = 0; i < nat; i++)
		if (at[i] != -1)
			close(at[i]);
	nat = 0;
	/* tw_run stops its relays itself (and clears the pid). */
	if (relay.pid > 0)
		h_relay_down(&relay);
	h_backend_stop(&normal);
	h_backend_stop(&hidden);
}

/* A blocking connection to the relay from the source address ${src}. */
static int
at_connect_from(const char * src, uint16_t port)
{
	struct sockaddr_in sin;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0, "socket: %s", strerror(errno));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	cr_assert(inet_pton(AF_INET, src, &sin.sin_addr) == 1);
	cr_assert(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0,
	    "bind %s: %s", src, strerror(errno));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	cr_assert(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0,
	    "connect from %s: %s", src, strerror(errno));
	return (fd);
}

/*
 * Open ${n} attacker connections from ${src}, each sending ${first}.  The
 * relay may refuse one with a reset before ${first} goes out (its source
 * is at its limit): the send then fails, and at_closed() counts it.
 */
static void
at_open(const char * src, int n, const char * first)
{
	int i;

	cr_assert_leq(nat + n, AT_MAX);
	for (i = 0; i < n; i++) {
		at[nat] = at_connect_from(src, relay.port);
		if (first != NULL)
			(void)send(at[nat], first, strlen(first),
			    MSG_NOSIGNAL);
		nat++;
	}
}

/* How many attacker connections the relay has closed (within ${ms}). */
static int
at_closed(int ms)
{
	struct pollfd pfd[AT_MAX];
	char buf[256];
	int i, n = 0;
	uint64_t end = h_now_ms() + (uint64_t)ms;

	/* Drain echoes; count EOFs and resets. */
	do {
		for (i = 0; i < nat; i++) {
			pfd[i].fd = at[i];
			pfd[i].events = POLLIN;
		}
		if (poll(pfd, (nfds_t)nat, 50) < 0)
			break;
		for (i = 0; i < nat; i++) {
			if (at[i] == -1 || !(pfd[i].revents &
			    (POLLIN | POLLHUP | POLLERR)))
				continue;
			if (recv(at[i], buf, sizeof(buf), MSG_DONTWAIT) <= 0) {
				close(at[i]);
				at[i] = -1;
			}
		}
	} while (h_now_ms() < end);
	for (i = 0; i < nat; i++)
		n += (at[i] == -1);
	return (n);
}

/* A knocking client from 127.0.0.1 gets its greeting; return the ms. */
static uint64_t
at_served(void)
{
	char buf[64];
	uint64_t t0 = h_now_ms();
	size_t got;
	int fd = h_connect(AF_INET, relay.port);

	h_send_all(fd, KNOCK, KLEN);
	got = h_recv(fd, buf, sizeof("GREET hidden\n") - 1, 3000);
	close(fd);
	cr_assert_eq(got, sizeof("GREET hidden\n") - 1,
	    "the client was not served; log:\n%s", relay.log);
	cr_assert(memcmp(buf, "GREET hidden\n", got) == 0);
	return (h_now_ms() - t0);
}

TestSuite(attack, .fini = at_teardown, .timeout = 60);

/*
 * 4 x the per-source limit of silent connections from 127.0.0.2, as many
 * as there are slots: each past the limit (8) takes the place of the
 * source's oldest silent one, which is closed; 8 stay, and a client from
 * 127.0.0.1 is served at once.
 */
Test(attack, silent_host_held_to_its_share)
{
	uint64_t ms;

	at_start((const char *[]){ "--max-conns", "32",
	    "--max-conns-per-source", "8", "-k", "20s", NULL });
	at_open("127.0.0.2", 32, NULL);
	cr_expect_eq(at_closed(500), 24, "log:\n%s", relay.log);
	ms = at_served();
	cr_expect_lt(ms, 1000, "served after %llu ms", (unsigned long long)ms);
	cr_expect_eq(h_relay_log_wait_count(&relay,
	    "evicted in the knock phase: per-source limit", 24, 2000), 24,
	    "log:\n%s", relay.log);
	cr_expect_eq(h_relay_log_count(&relay, "refused from"), 0);
	/* The 8 it holds are still there. */
	cr_expect_eq(at_closed(200), 24);
}

/*
 * Users behind one address (a NAT): with the source at its limit (4) with
 * silent connections, a user from that address who speaks at once is
 * served, and the source's oldest silent connection (or one partway
 * through its first message) is reset to make room.  Before, the new
 * connection was refused: one silent neighbour locked everyone out.
 */
Test(attack, nat_neighbour_takes_the_place_of_a_silent_one)
{
	char buf[64];
	int fd[2], i, end;

	at_start((const char *[]){ "--max-conns", "32",
	    "--max-conns-per-source", "4", "-k", "20s", NULL });
	at_open("127.0.0.2", 2, NULL);
	at_open("127.0.0.2", 1, "open-");	/* Partway through a knock. */
	at_open("127.0.0.2", 1, NULL);
	usleep(200000);
	/*
	 * Each neighbour stays connected (an established session counts
	 * towards its source), so the source is at its limit again for the
	 * second: closed at once, the relay may see that close first and
	 * then need no room.
	 */
	for (i = 0; i < 2; i++) {
		fd[i] = at_connect_from("127.0.0.2", relay.port);
		h_send_all(fd[i], KNOCK, KLEN);
		cr_assert_eq(h_recv(fd[i], buf, 13, 3000), 13, "a neighbour who "
		    "knocked was not served; log:\n%s", relay.log);
		cr_assert(memcmp(buf, "GREET hidden\n", 13) == 0);
		/* The oldest in the knock phase went, with a reset. */
		end = h_wait_end(at[i], 2000);
		cr_assert_eq(end, ECONNRESET, "the oldest silent one %s, not a "
		    "reset; log:\n%s", end == -1 ? "stayed" : end == 0 ?
		    "got a FIN" : strerror(end), relay.log);
		close(at[i]);
		at[i] = -1;
	}
	/* The others (the partial one is next) are still there. */
	cr_expect_eq(at_closed(300), 2, "log:\n%s", relay.log);
	cr_expect_eq(h_relay_log_count(&relay, "refused from"), 0);
	close(fd[0]);
	close(fd[1]);
}

/*
 * A source whose connections are all past the knock phase is refused
 * (established sessions are never taken): with a reset, as a full backlog
 * would give, and logged once per rate-limit period however many come.
 */
Test(attack, established_source_is_refused_with_a_reset)
{
	char buf[64];
	int fd, i, end;

	at_start((const char *[]){ "--max-conns", "32",
	    "--max-conns-per-source", "4", NULL });
	for (i = 0; i < 4; i++) {
		at_open("127.0.0.2", 1, JUNK);
		cr_assert_eq(h_recv(at[i], buf, strlen(JUNK), 2000),
		    strlen(JUNK));
	}
	for (i = 0; i < 3; i++) {
		fd = at_connect_from("127.0.0.2", relay.port);
		end = h_wait_end(fd, 2000);
		cr_assert_eq(end, ECONNRESET, "%s, not refused with a reset; "
		    "log:\n%s", end == -1 ? "still open" : end == 0 ?
		    "a FIN" : strerror(end), relay.log);
		close(fd);
	}
	cr_expect_eq(h_relay_log_wait_count(&relay, "refused from 127.0.0.2:",
	    1, 1000), 1, "refusals are logged once per period; log:\n%s",
	    relay.log);
	cr_expect_eq(h_relay_log_count(&relay, "evicted"), 0);
	/* The sessions go on. */
	for (i = 0; i < 4; i++) {
		h_send_all(at[i], "ping", 4);
		cr_assert_eq(h_recv(at[i], buf, 4, 2000), 4);
	}
}

/*
 * The same with attackers past the knock phase (routed to the normal
 * backend, dripping a byte a second), which nothing evicts: only the
 * per-source limit keeps slots free.
 */
Test(attack, dripping_host_held_to_its_share)
{
	uint64_t ms;
	int i, j;

	at_start((const char *[]){ "--max-conns", "32",
	    "--max-conns-per-source", "8", NULL });
	at_open("127.0.0.2", 32, JUNK);
	cr_expect_eq(at_closed(500), 24, "log:\n%s", relay.log);
	for (j = 0; j < 3; j++) {
		for (i = 0; i < nat; i++)
			if (at[i] != -1)
				(void)send(at[i], "x", 1, MSG_NOSIGNAL);
		ms = at_served();
		cr_expect_lt(ms, 1000, "served after %llu ms",
		    (unsigned long long)ms);
		usleep(1000000);
	}
	/* The 8 it holds are still being relayed. */
	cr_expect_eq(at_closed(200), 24);
}

/*
 * Without a per-source limit, a flood of silent connections from 64
 * sources, 4 times the slots: an established session keeps flowing all
 * along (never evicted), a new client is served at once (the oldest in the
 * knock phase make room once the slots are full).
 */
Test(attack, knock_flood_from_many_hosts)
{
	char src[32], buf[16];
	uint64_t ms;
	int fd, i;

	at_start((const char *[]){ "--max-conns", "32",
	    "--max-conns-per-source", "0", "-k", "20s", NULL });
	fd = h_connect(AF_INET, relay.port);
	h_send_all(fd, KNOCK, KLEN);
	cr_assert_eq(h_recv(fd, buf, 13, 3000), 13, "no greeting");
	for (i = 0; i < 128; i++) {
		snprintf(src, sizeof(src), "127.0.0.%d", 10 + i % 64);
		at_open(src, 1, NULL);
		if (i % 16 == 15) {
			h_send_all(fd, "ping", 4);
			cr_assert_eq(h_recv(fd, buf, 4, 2000), 4,
			    "the session stalled; log:\n%s", relay.log);
			cr_assert(memcmp(buf, "ping", 4) == 0);
		}
	}
	ms = at_served();
	cr_expect_lt(ms, 1000, "served after %llu ms", (unsigned long long)ms);
	cr_expect_geq(h_relay_log_count(&relay,
	    "closed: evicted in the knock phase"), 128 - 32);
	/* The slots the session does not hold wait in the knock phase. */
	cr_expect_geq(at_closed(500), 128 - 31);
	h_send_all(fd, "pong", 4);
	cr_assert_eq(h_recv(fd, buf, 4, 2000), 4);
	cr_assert(memcmp(buf, "pong", 4) == 0);
	close(fd);
}

/*
 * Every way a connection can end gives its count back exactly once: after
 * 120 connections from 127.0.0.3 (resets before and after the knock, early
 * closes, a refused backend, refusals at the limit, complete exchanges),
 * the source holds nothing: 4 silent connections stay, the 5th takes the
 * place of the oldest.
 */
Test(attack, source_counts_return_to_zero)
{
	char buf[64];
	int fd, i, k;

	h_raise_nofile(4 * AT_MAX);
	/* The hidden backend's port, with nothing listening: refused. */
	h_relay_setup(&relay, &normal, H_ECHO, &hidden, H_ECHO,
	    &(struct h_relay_conf){ .family = AF_INET, .knock = KNOCK,
	    .extra = (const char *[]){ "--max-conns", "32",
	    "--max-conns-per-source", "4", NULL } });
	h_backend_stop(&hidden);
	for (i = 0; i < 120; i++) {
		fd = at_connect_from("127.0.0.3", relay.port);
		switch (i % 6) {
		case 0:		/* Reset in the knock phase. */
			h_close_reset(fd);
			continue;
		case 1:		/* Closed in the knock phase. */
			break;
		case 2:		/* The refused hidden backend. */
			h_send_all(fd, KNOCK, KLEN);
			(void)h_recv(fd, buf, sizeof(buf), 2000);
			break;
		case 3:		/* Reset while relayed. */
			h_send_all(fd, JUNK, strlen(JUNK));
			cr_assert_eq(h_recv(fd, buf, strlen(JUNK), 2000),
			    strlen(JUNK));
			h_close_reset(fd);
			continue;
		case 4:		/* A complete exchange. */
			h_send_all(fd, JUNK, strlen(JUNK));
			(void)shutdown(fd, SHUT_WR);
			cr_assert_eq(h_recv(fd, buf, sizeof(buf), 2000),
			    strlen(JUNK));
			break;
		case 5:		/* fd and 6 more: 3 refused at the limit. */
			/* Once the relay saw the closes before. */
			cr_assert_eq(h_relay_log_wait_count(&relay, "closed:",
			    i / 6 * 9 + 5, 3000), i / 6 * 9 + 5);
			/* Each past the knock phase: none can be evicted. */
			h_send_all(fd, JUNK, strlen(JUNK));
			(void)h_recv(fd, buf, strlen(JUNK), 2000);
			for (k = 0; k < 6; k++) {
				at_open("127.0.0.3", 1, NULL);
				/* Refused ones are reset: the send may fail. */
				(void)send(at[nat - 1], JUNK, strlen(JUNK),
				    MSG_NOSIGNAL);
				(void)h_recv(at[nat - 1], buf, strlen(JUNK),
				    2000);
			}
			cr_assert_eq(at_closed(300), 3, "log:\n%s", relay.log);
			for (k = 0; k < nat; k++)
				if (at[k] != -1)
					h_close_reset(at[k]);
			nat = 0;
			break;
		}
		close(fd);
	}
	/* Let the relay see every close: 9 accepted per 6 rounds. */
	cr_assert(h_relay_log_wait_count(&relay, "closed:", 20 * 9, 5000) >=
	    20 * 9, "log:\n%s", relay.log);
	at_open("127.0.0.3", 5, NULL);
	cr_expect_eq(at_closed(500), 1, "a count leaked; log:\n%s", relay.log);
}

/*
 * Ports toward an off-host backend, in a network namespace of the test's
 * own: a backend on 10.9.0.1 (not loopback, so the kernel's default
 * tcp_tw_reuse=2 does not apply) and 100 ephemeral ports.  Clients close first, so the relay sends
 * the first FIN toward the backend and its side keeps TIME_WAIT.
 */
#define TW_BACKEND	"10.9.0.1"
#define TW_PORT		30000
#define TW_CONNS	300

/* Serve TW_CONNS connections one by one: read to EOF, close; count them. */
static void *
tw_backend(void * arg)
{
	int * lfd = arg, fd, i, n = 0;
	char buf[256];
	struct pollfd pfd = { .fd = *lfd, .events = POLLIN };

	for (i = 0; i < TW_CONNS; i++) {
		if (poll(&pfd, 1, 3000) != 1)
			break;
		if ((fd = accept(*lfd, NULL, NULL)) == -1)
			break;
		while (h_recv(fd, buf, sizeof(buf), 2000) == sizeof(buf))
			;
		close(fd);
		n++;
	}
	lfd[1] = n;
	return (NULL);
}

/* Write ${val} to the sysctl file ${path}; 0 or -1. */
static int
tw_sysctl(const char * path, const char * val)
{
	FILE * f = fopen(path, "w");
	int rc;

	if (f == NULL)
		return (-1);
	rc = (fputs(val, f) < 0);
	return ((fclose(f) || rc) ? -1 : 0);
}

/* The namespace: lo up with 10.9.0.1 on it, ports 40000-40099. */
static void
tw_netns(void)
{

	if (unshare(CLONE_NEWNET))
		cr_skip_test("unshare(CLONE_NEWNET): %s (not root?)",
		    strerror(errno));
	cr_assert(system("ip link set lo up && ip addr add " TW_BACKEND
	    "/32 dev lo") == 0, "ip failed");
	cr_assert(tw_sysctl("/proc/sys/net/ipv4/ip_local_port_range",
	    "40000 40099") == 0);
}

/*
 * Client ${i}, on 127.0.0.1:20000 + ${i} % 100 (bound, with SO_REUSEADDR, so
 * that its own TIME_WAIT, left since it closes first, is reused: on
 * loopback the kernel would reuse it only a second later).
 */
static int
tw_client(int i, uint16_t port)
{
	struct sockaddr_in sin;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)(20000 + i % 100));
	cr_assert(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0,
	    "bind: %s", strerror(errno));
	sin.sin_port = htons(port);
	cr_assert(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0,
	    "client %d: connect: %s", i, strerror(errno));
	return (fd);
}

/* TW_CONNS clients that close first; return how many reached the backend. */
static int
tw_run(const char * const * extra)
{
	struct sockaddr_in sin;
	pthread_t thr;
	char buf[64];
	int b[2], i, fd, one = 1;

	b[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(b[0] >= 0);
	(void)setsockopt(b[0], SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(TW_PORT);
	cr_assert(inet_pton(AF_INET, TW_BACKEND, &sin.sin_addr) == 1);
	cr_assert(bind(b[0], (struct sockaddr *)&sin, sizeof(sin)) == 0,
	    "bind: %s", strerror(errno));
	cr_assert(listen(b[0], 64) == 0);
	b[1] = 0;
	h_relay_start(&relay, &(struct h_relay_conf){ .family = AF_INET,
	    .extra = extra, .knock = KNOCK });
	cr_assert(pthread_create(&thr, NULL, tw_backend, b) == 0);
	for (i = 0; i < TW_CONNS; i++) {
		fd = tw_client(i, relay.port);
		h_send_all(fd, JUNK, strlen(JUNK));
		(void)shutdown(fd, SHUT_WR);
		(void)h_recv(fd, buf, sizeof(buf), 2000);
		close(fd);
	}
	pthread_join(thr, NULL);
	close(b[0]);
	h_relay_down(&relay);
	relay.pid = 0;
	return (b[1]);
}

Test(attack, backend_ports_reuse_time_wait, .timeout = 120)
{
	static const char * const plain[] = { "--normal",
	    TW_BACKEND ":30000", "--hidden", TW_BACKEND ":30000", NULL };
	static const char * const bound[] = { "--normal",
	    TW_BACKEND ":30000", "--hidden", TW_BACKEND ":30000",
	    "--backend-ports", "50000-50099", NULL };
	int n;

	tw_netns();
	/* The problem: 100 ports, TIME_WAIT for each after one connection. */
	n = tw_run(plain);
	cr_expect_lt(n, TW_CONNS / 2, "%d of %d reached the backend without "
	    "--backend-ports", n, TW_CONNS);
	cr_log_info("without --backend-ports: %d of %d connections", n,
	    TW_CONNS);
	/* The fix: 100 bound ports, each reused out of TIME_WAIT. */
	n = tw_run(bound);
	cr_expect_eq(n, TW_CONNS, "%d of %d reached the backend with "
	    "--backend-ports; log:\n%s", n, TW_CONNS, relay.log);
}
