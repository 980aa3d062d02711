/*
 * Unit tests of src/store.c, the --replay-store client, against a fake
 * server on loopback driven by the test: claims queued before the
 * connection is up are sent once it is, pipelined; replies (split across
 * reads) are matched in order to the claims; an error or unexpected reply
 * fails that claim only; a full ring refuses at once; AUTH goes first; a
 * refused AUTH, a reply nobody asked for and a closed connection fail
 * every waiting claim; reconnecting waits for the back-off.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "net.h"
#include "resp.h"
#include "store.h"

/* The outcomes delivered, in order. */
struct rec {
	uint32_t slot[32];
	int result[32];
	size_t n;
};

/* store_reply_fn: record. */
static void
record(void * cookie, uint32_t slot, uint32_t gen, int result)
{
	struct rec * R = cookie;

	cr_assert_eq(gen, slot + 100, "gen %u for slot %u", gen, slot);
	cr_assert_lt(R->n, 32);
	R->slot[R->n] = slot;
	R->result[R->n++] = result;
}

/* The fake server, the client, its epoll set. */
struct fake {
	int lfd, fd, epfd;
	struct net_addr addr;
	struct store * S;
	struct rec rec;
	uint64_t now;
};

/* Listen; start the client (AUTH ${pw} if not NULL, ${pending} claims). */
static void
fake_start(struct fake * F, const char * pw, size_t pending)
{
	struct store_conf sc;
	socklen_t len;

	memset(F, 0, sizeof(*F));
	F->fd = -1;
	F->addr.len = h_loopback(&F->addr.ss, AF_INET, 0);
	cr_assert((F->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >=
	    0);
	cr_assert_eq(bind(F->lfd, (struct sockaddr *)&F->addr.ss,
	    F->addr.len), 0);
	cr_assert_eq(listen(F->lfd, 8), 0);
	len = sizeof(F->addr.ss);
	cr_assert_eq(getsockname(F->lfd, (struct sockaddr *)&F->addr.ss,
	    &len), 0);
	F->addr.len = len;
	cr_assert((F->epfd = epoll_create1(EPOLL_CLOEXEC)) >= 0);
	memset(&sc, 0, sizeof(sc));
	sc.addr = &F->addr;
	sc.password = (const uint8_t *)pw;
	sc.password_len = (pw != NULL) ? strlen(pw) : 0;
	sc.pending = pending;
	sc.epoll_fd = F->epfd;
	sc.ev_data = 42;
	F->now = 1000;
	cr_assert_not_null(F->S = store_init(&sc, F->now));
}

/* Accept the client's connection. */
static void
fake_accept(struct fake * F)
{

	if (F->fd != -1)
		close(F->fd);
	cr_assert((F->fd = accept(F->lfd, NULL, NULL)) >= 0);
}

/* Deliver the client's events for up to ${ms}. */
static void
fake_pump(struct fake * F, int ms)
{
	struct epoll_event ev[4];
	uint64_t end = h_now_ms() + (uint64_t)ms;
	int n, i;

	while (h_now_ms() < end) {
		n = epoll_wait(F->epfd, ev, 4, 10);
		for (i = 0; i < n; i++) {
			cr_assert_eq(ev[i].data.u64, 42);
			store_event(F->S, ev[i].events, F->now, record, &F->rec);
		}
	}
}

/* Read what the client sent (up to ${max} - 1 bytes, 1 s) as a string. */
static size_t
fake_read(struct fake * F, char * buf, size_t max, size_t want)
{
	size_t got = 0;
	uint64_t end = h_now_ms() + 2000;

	while (got < want && h_now_ms() < end) {
		fake_pump(F, 20);
		got += h_recv(F->fd, buf + got, max - 1 - got, 50);
	}
	buf[got] = '\0';
	return (got);
}

/* The SET a claim of tag 16 x ${b} with ${ttl} sends. */
static size_t
set_of(char * out, size_t max, uint8_t b, const char * ttl)
{
	char hex[33];
	size_t i;

	for (i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", b);
	return ((size_t)snprintf(out, max, "*6\r\n$3\r\nSET\r\n$51\r\n"
	    STORE_PREFIX "%s\r\n$1\r\n1\r\n$2\r\nNX\r\n$2\r\nPX\r\n$%zu\r\n"
	    "%s\r\n", hex, strlen(ttl), ttl));
}

/* Claim a tag of 16 bytes ${b} for slot ${slot} (gen slot + 100). */
static int
claim(struct fake * F, uint8_t b, uint32_t slot, uint64_t ttl)
{
	uint8_t tag[16];

	memset(tag, b, sizeof(tag));
	return (store_claim(F->S, tag, ttl, slot, slot + 100, F->now));
}

static void
fake_stop(struct fake * F)
{

	if (F->fd != -1)
		close(F->fd);
	close(F->lfd);
	close(F->epfd);
}

Test(storeclient, pipelined_claims_matched_in_order, .timeout = 20)
{
	struct fake F;
	char want[512], got[512];
	size_t wl;

	fake_start(&F, NULL, 4);
	/* Queued while connecting, sent once connected. */
	cr_assert_eq(claim(&F, 0xa1, 1, 32000), 0);
	cr_assert_eq(claim(&F, 0xb2, 2, 5), 0);
	fake_accept(&F);
	wl = set_of(want, sizeof(want), 0xa1, "32000");
	wl += set_of(want + wl, sizeof(want) - wl, 0xb2, "5");
	cr_assert_eq(fake_read(&F, got, sizeof(got), wl), wl, "%s", got);
	cr_assert_str_eq(got, want);
	cr_assert_eq(claim(&F, 0xc3, 3, 7), 0);
	cr_assert_eq(claim(&F, 0xd4, 4, 7), 0);
	wl = set_of(want, sizeof(want), 0xc3, "7");
	wl += set_of(want + wl, sizeof(want) - wl, 0xd4, "7");
	cr_assert_eq(fake_read(&F, got, sizeof(got), wl), wl);
	cr_assert_str_eq(got, want);

	/* Replies split across reads; each claim gets its own. */
	h_send_all(F.fd, "+OK\r\n$-", 7);
	fake_pump(&F, 100);
	cr_assert_eq(F.rec.n, 1);
	h_send_all(F.fd, "1\r\n-OOM command not allowed\r\n_\r", 31);
	fake_pump(&F, 100);
	cr_assert_eq(F.rec.n, 3);
	h_send_all(F.fd, "\n", 1);
	fake_pump(&F, 100);
	cr_assert_eq(F.rec.n, 4);
	cr_assert_eq(F.rec.slot[0], 1);
	cr_assert_eq(F.rec.result[0], STORE_FRESH);
	cr_assert_eq(F.rec.slot[1], 2);
	cr_assert_eq(F.rec.result[1], STORE_USED);
	cr_assert_eq(F.rec.slot[2], 3);
	cr_assert_eq(F.rec.result[2], STORE_FAILED);
	cr_assert_eq(F.rec.slot[3], 4);
	cr_assert_eq(F.rec.result[3], STORE_USED);

	/* An unexpected kind fails that claim only. */
	cr_assert_eq(claim(&F, 0xe5, 5, 7), 0);
	cr_assert_eq(claim(&F, 0xe6, 6, 7), 0);
	wl = 2 * set_of(want, sizeof(want), 0xe5, "7");
	(void)fake_read(&F, got, sizeof(got), wl);
	h_send_all(F.fd, ":1\r\n+OK\r\n", 9);
	fake_pump(&F, 100);
	cr_assert_eq(F.rec.n, 6);
	cr_assert_eq(F.rec.result[4], STORE_FAILED);
	cr_assert_eq(F.rec.result[5], STORE_FRESH);
	fake_stop(&F);
}

Test(storeclient, full_ring_refused_at_once, .timeout = 20)
{
	struct fake F;
	uint32_t i;

	fake_start(&F, NULL, 4);
	fake_accept(&F);
	/* The ring holds --max-conns + 1 (AUTH's place). */
	for (i = 0; i < 5; i++)
		cr_assert_eq(claim(&F, (uint8_t)i, i, 1000), 0, "claim %u", i);
	cr_assert_eq(claim(&F, 9, 9, 1000), -1);
	cr_assert_eq(F.rec.n, 0);
	fake_stop(&F);
}

Test(storeclient, closed_connection_fails_all_then_backoff, .timeout = 20)
{
	struct fake F;
	char got[512];

	fake_start(&F, NULL, 4);
	fake_accept(&F);
	cr_assert_eq(claim(&F, 1, 1, 1000), 0);
	cr_assert_eq(claim(&F, 2, 2, 1000), 0);
	(void)fake_read(&F, got, sizeof(got), 2 * 95);
	close(F.fd);
	F.fd = -1;
	fake_pump(&F, 200);
	cr_assert_eq(F.rec.n, 2);
	cr_assert_eq(F.rec.result[0], STORE_FAILED);
	cr_assert_eq(F.rec.result[1], STORE_FAILED);
	/* Down: refused at once; the first back-off is 100 ms. */
	cr_assert_eq(claim(&F, 3, 3, 1000), -1);
	cr_assert_eq(store_wait(F.S, F.now, -1), 100);
	cr_assert_eq(store_wait(F.S, F.now + 40, 1000), 60);
	store_tick(F.S, F.now + 99);
	cr_assert_eq(claim(&F, 3, 3, 1000), -1);
	F.now += 100;
	store_tick(F.S, F.now);
	cr_assert_eq(store_wait(F.S, F.now, -1), -1);
	fake_accept(&F);
	cr_assert_eq(claim(&F, 4, 4, 1000), 0);
	/* A reply nobody asked for: give the connection up. */
	(void)fake_read(&F, got, sizeof(got), 95);
	h_send_all(F.fd, "+OK\r\n+OK\r\n", 10);
	fake_pump(&F, 200);
	cr_assert_eq(F.rec.n, 3);
	cr_assert_eq(F.rec.result[2], STORE_FRESH);
	cr_assert_eq(claim(&F, 5, 5, 1000), -1);
	/* The good reply reset the back-off; without one it doubles. */
	cr_assert_eq(store_wait(F.S, F.now, -1), 100);
	F.now += 100;
	store_tick(F.S, F.now);
	fake_accept(&F);
	close(F.fd);
	F.fd = -1;
	fake_pump(&F, 200);
	cr_assert_eq(store_wait(F.S, F.now, -1), 200);
	fake_stop(&F);
}

Test(storeclient, auth_first_refused_fails_claims, .timeout = 20)
{
	struct fake F;
	char got[512];
	static const char auth[] = "*2\r\n$4\r\nAUTH\r\n$6\r\npw\r\nx1\r\n";

	fake_start(&F, "pw\r\nx1", 4);
	cr_assert_eq(claim(&F, 7, 7, 1000), 0);
	fake_accept(&F);
	(void)fake_read(&F, got, sizeof(got), sizeof(auth) - 1 + 95);
	cr_assert(strncmp(got, auth, sizeof(auth) - 1) == 0, "%s", got);
	cr_assert(strncmp(got + sizeof(auth) - 1, "*6\r\n$3\r\nSET", 11) == 0);
	h_send_all(F.fd, "-WRONGPASS invalid username-password pair\r\n", 43);
	fake_pump(&F, 200);
	cr_assert_eq(F.rec.n, 1);
	cr_assert_eq(F.rec.result[0], STORE_FAILED);
	cr_assert_eq(claim(&F, 8, 8, 1000), -1);
	fake_stop(&F);
}

/*
 * A server that streams one endless line (here 128 KiB and no end) is
 * given up once the reply passes RESP_REPLY_MAX: the claim fails, the
 * client is down and backs off, instead of reading for as long as the
 * server sends.
 */
Test(storeclient, endless_reply_given_up, .timeout = 20)
{
	static char line[128 * 1024];
	struct fake F;
	char got[512];

	fake_start(&F, NULL, 4);
	fake_accept(&F);
	cr_assert_eq(claim(&F, 1, 1, 1000), 0);
	(void)fake_read(&F, got, sizeof(got), 95);
	memset(line, 'x', sizeof(line));
	line[0] = '+';
	cr_assert_eq(send(F.fd, line, sizeof(line), MSG_DONTWAIT | MSG_NOSIGNAL) >
	    RESP_REPLY_MAX, 1);
	fake_pump(&F, 300);
	cr_assert_eq(F.rec.n, 1);
	cr_assert_eq(F.rec.result[0], STORE_FAILED);
	cr_assert_eq(claim(&F, 2, 2, 1000), -1, "the client is not down");
	cr_assert_eq(store_wait(F.S, F.now, -1), 100);
	fake_stop(&F);
}
