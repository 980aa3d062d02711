/*
 * Integration tests of the relay's token routes and several
 * hidden routes, against the real sandboxed binary.  The tokens are made
 * by an independent implementation (a few lines of Python written from
 * DESIGN.md's text), never by token.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "run.h"

/* A token on the wire. */
#define TLEN		H_TLEN

/* What the clients send after the knock or token. */
#define PAYLOAD		"SSH-2.0-test\r\n"
#define PLEN		(sizeof(PAYLOAD) - 1)

static struct h_backend normal, hidden, two, three;
static struct h_relay relay;

/* A static knock ${s} in a mode-0600 file; its path into ${path}. */
static void
knock_file(char path[64], const char * s)
{
	int fd;

	snprintf(path, 64, "/tmp/l7kk-knock-XXXXXX");
	cr_assert((fd = mkstemp(path)) != -1);
	cr_assert_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	cr_assert_eq(fchmod(fd, 0600), 0);
	close(fd);
}

/*
 * Unix time now, from the relay's clock (CLOCK_REALTIME).  Not time(2):
 * that reads the coarse clock, which lags for up to a tick after a second
 * begins, so a token minted for "now" could be a second behind the relay.
 */
static long long
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((long long)ts.tv_sec);
}

/* Start the two usual backends (echo). */
static void
backends(enum h_mode mode)
{

	h_backend_start(&normal, &(struct h_backend_conf){ .mode = mode,
	    .name = "normal" });
	h_backend_start(&hidden, &(struct h_backend_conf){ .mode = mode,
	    .name = "hidden" });
}

/* A relay with --key-file ${K} on the hidden route and ${extra} after. */
static void
start_token_relay(const struct h_key * K, const char * const * extra)
{
	const char * args[24];
	size_t n = 0, i;

	args[n++] = "--key-file";
	args[n++] = K->path;
	for (i = 0; extra != NULL && extra[i] != NULL; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	h_relay_start(&relay, &(struct h_relay_conf){ .normal = normal.port,
	    .hidden = hidden.port, .extra = args });
}

static void
teardown(void)
{

	h_relay_teardown(&relay, &normal, &hidden);
	h_backend_stop(&two);
	h_backend_stop(&three);
}

/*
 * Send ${first} (${flen} bytes) and PAYLOAD, half-close, read the echo.
 * The backend ${B} must have received exactly ${expect} (${elen} bytes),
 * and its echo must come back; ${n} is its connections so far, this one
 * included.
 */
static void
through(const char * first, size_t flen, struct h_backend * B, unsigned n,
    const char * expect, size_t elen)
{
	char msg[512];

	memcpy(msg, first, flen);
	memcpy(msg + flen, PAYLOAD, PLEN);
	h_relay_echo(&relay, AF_INET, msg, flen + PLEN, B, n, expect, elen);
}

/* The token went to the hidden backend, without the token. */
static void
to_hidden(const char * tok, struct h_backend * B, unsigned n)
{

	through(tok, TLEN, B, n, PAYLOAD, PLEN);
}

/* The token went to the normal backend, intact: all 54 bytes and more. */
static void
to_normal(const char * tok, unsigned n)
{
	char expect[TLEN + PLEN];

	memcpy(expect, tok, TLEN);
	memcpy(expect + TLEN, PAYLOAD, PLEN);
	through(tok, TLEN, &normal, n, expect, TLEN + PLEN);
}

Test(routes, token_reaches_hidden_once_then_the_replay_normal_intact,
    .timeout = 30)
{
	struct h_key K;
	char tok[TLEN + 1];

	h_key_make(&K);
	backends(H_ECHO);
	start_token_relay(&K, NULL);
	h_mint(&K, now_s(), -1, tok);
	to_hidden(tok, &hidden, 1);
	cr_assert(h_relay_log_wait(&relay, "conn 1.1 routed to hidden (token) "
	    "from 127.0.0.1:", 2000) == 0, "%s", relay.log);
	to_normal(tok, 1);
	cr_assert(h_relay_log_wait(&relay, "conn 1.2 routed to normal "
	    "(replayed token) from 127.0.0.1:", 2000) == 0, "%s", relay.log);
	to_normal(tok, 2);
	cr_assert_eq(hidden.conns, 1, "a replay reached the hidden backend");
	cr_assert(h_relay_log_wait_count(&relay, "(replayed token)", 2, 2000) ==
	    2, "%s", relay.log);
	teardown();
	unlink(K.path);
}

/*
 * The man page's recipe for a client without l7knockknock-client
 * (contrib/token/l7knockknock-token: openssl, od, tr, cut, date, run by
 * the POSIX sh): its token reaches the hidden route once, its replay the
 * normal one.
 */
Test(routes, stock_tools_token_recipe_reaches_hidden_once, .timeout = 30)
{
	struct h_key K;
	char cmd[256], tok[TLEN + 2];
	FILE * f;

	h_key_make(&K);
	backends(H_ECHO);
	start_token_relay(&K, NULL);
	snprintf(cmd, sizeof(cmd), "sh ../contrib/token/l7knockknock-token %s",
	    K.path);
	cr_assert_not_null(f = popen(cmd, "r"), "popen %s", cmd);
	memset(tok, 0, sizeof(tok));
	cr_assert_not_null(fgets(tok, sizeof(tok), f), "no token from %s", cmd);
	cr_assert_eq(pclose(f), 0, "%s failed", cmd);
	cr_assert_eq(strlen(tok), TLEN, "not %d characters: '%s'", TLEN, tok);
	to_hidden(tok, &hidden, 1);
	cr_assert(h_relay_log_wait(&relay, "conn 1.1 routed to hidden (token) "
	    "from 127.0.0.1:", 2000) == 0, "%s", relay.log);
	to_normal(tok, 1);
	cr_assert(h_relay_log_wait(&relay, "(replayed token)", 2000) == 0,
	    "%s", relay.log);
	teardown();
	unlink(K.path);
}

/* Does the log hold a line with both ${a} and ${b}? */
static int
log_line_with(struct h_relay * P, const char * a, const char * b)
{
	const char * line, * end;
	int found = 0;

	pthread_mutex_lock(&P->mtx);
	for (line = P->log; !found && line != NULL && *line != '\0';
	    line = (*end == '\n') ? end + 1 : end) {
		end = line + strcspn(line, "\n");
		found = (memmem(line, (size_t)(end - line), a, strlen(a)) &&
		    memmem(line, (size_t)(end - line), b, strlen(b)));
	}
	pthread_mutex_unlock(&P->mtx);
	return (found);
}

Test(routes, a_replay_on_another_worker_goes_normal_intact, .timeout = 60)
{
	static const char * const extra[] = { "--workers", "2", NULL };
	char tok[TLEN + 1], other[16];
	struct h_key K;
	unsigned w, i;

	h_key_make(&K);
	backends(H_ECHO);
	start_token_relay(&K, extra);
	h_mint(&K, now_s(), -1, tok);
	to_hidden(tok, &hidden, 1);
	cr_assert(h_relay_log_wait(&relay, "routed to hidden (token)", 2000) ==
	    0);
	w = log_line_with(&relay, "conn 1.", "routed to hidden (token)") ? 1 :
	    2;
	snprintf(other, sizeof(other), "conn %u.", 3 - w);

	/* SO_REUSEPORT spreads them: replay until one lands on the other. */
	for (i = 1; i <= 64; i++) {
		to_normal(tok, i);
		if (h_relay_log_wait_count(&relay, "(replayed token)", (int)i,
		    2000) == (int)i && log_line_with(&relay, other,
		    "routed to normal (replayed token)"))
			break;
	}
	cr_assert(i <= 64, "no replay reached worker %u in 64 tries; log:\n%s",
	    3 - w, relay.log);
	cr_assert_eq(hidden.conns, 1, "a replay reached the hidden backend");
	cr_log_info("the replay reached worker %u at try %u", 3 - w, i);
	teardown();
	unlink(K.path);
}

/*
 * Each refusal, with its reason in the log.  The window is wide and every
 * token is far from its edges (10 s or more), so that no outcome rests on
 * which second the relay's clock shows when it decides (a token 31 s
 * ahead under a 30 s window turned valid when the relay's second moved on
 * before it decided); the edges themselves, to the second, are
 * knockset::tokens_refused_say_why's, with a fixed time.
 */
Test(routes, refused_tokens_reach_normal_intact_with_the_reason,
    .timeout = 60)
{
	static const char * const extra[] = { "--token-window", "120s", NULL };
	char tok[TLEN + 1];
	struct h_key K, other;
	long long before;
	unsigned n = 0;

	h_key_make(&K);
	h_key_make(&other);
	backends(H_ECHO);
	/*
	 * Minted 3 s before the relay starts: inside the window (unless the
	 * relay took 117 s to start), but stale.
	 */
	before = now_s() - 3;
	start_token_relay(&K, extra);

	h_mint(&K, now_s() - 130, -1, tok);
	to_normal(tok, ++n);
	cr_assert(h_relay_log_wait_count(&relay, "routed to normal (expired "
	    "token)", 1, 2000) == 1, "130 s old; log:\n%s", relay.log);
	h_mint(&K, now_s() + 130, -1, tok);
	to_normal(tok, ++n);
	cr_assert(h_relay_log_wait_count(&relay, "routed to normal (expired "
	    "token)", 2, 2000) == 2, "130 s ahead; log:\n%s", relay.log);
	h_mint(&K, before, -1, tok);
	to_normal(tok, ++n);
	cr_assert(h_relay_log_wait(&relay, "routed to normal (stale token "
	    "(minted before the relay started))", 2000) == 0, "%s", relay.log);
	/* One flipped bit: in the nonce, the time, the tag. */
	h_mint(&K, now_s(), 5, tok);
	to_normal(tok, ++n);
	h_mint(&K, now_s(), 16 * 8 + 3, tok);
	to_normal(tok, ++n);
	h_mint(&K, now_s(), 39 * 8 + 7, tok);
	to_normal(tok, ++n);
	h_mint(&other, now_s(), -1, tok);
	to_normal(tok, ++n);
	cr_assert(h_relay_log_wait_count(&relay, "routed to normal (mismatch)",
	    4, 2000) == 4, "%s", relay.log);

	/*
	 * Inside the window: 100 s ahead is accepted (100 s old would be
	 * before this relay's start: stale, as the 3 s old one above).
	 */
	h_mint(&K, now_s() + 100, -1, tok);
	to_hidden(tok, &hidden, 1);
	h_mint(&K, now_s(), -1, tok);
	to_hidden(tok, &hidden, 2);
	/* The log is read by a thread: wait for the lines. */
	cr_assert(h_relay_log_wait_count(&relay, "routed to hidden (token)", 2,
	    2000) == 2, "%s", relay.log);
	teardown();
	unlink(K.path);
	unlink(other.path);
}

Test(routes, a_full_replay_cache_refuses_and_logs, .timeout = 30)
{
	static const char * const extra[] = { "--replay-cache", "1", NULL };
	char tok[TLEN + 1];
	struct h_key K;

	h_key_make(&K);
	backends(H_ECHO);
	start_token_relay(&K, extra);
	h_mint(&K, now_s(), -1, tok);
	to_hidden(tok, &hidden, 1);
	/* A valid, fresh token: no room until the first one expires. */
	h_mint(&K, now_s(), -1, tok);
	to_normal(tok, 1);
	cr_assert(h_relay_log_wait(&relay, "routed to normal (cache full)",
	    2000) == 0, "%s", relay.log);
	cr_assert(h_relay_log_wait(&relay, "error: the replay cache is full",
	    2000) == 0, "%s", relay.log);
	h_mint(&K, now_s(), -1, tok);
	to_normal(tok, 2);
	cr_assert(h_relay_log_wait_count(&relay, "(cache full)", 2, 2000) == 2,
	    "%s", relay.log);
	/* Rate-limited: one error line for the two. */
	cr_assert_eq(h_relay_log_count(&relay, "replay cache is full"), 1);
	cr_assert_eq(hidden.conns, 1);
	teardown();
	unlink(K.path);
}

Test(routes, three_routes_each_reach_their_own_backend, .timeout = 30)
{
	char r2[128], r3[160], kf[64], tok[TLEN + 1];
	struct h_key K1, K2;
	const char * extra[8];

	h_key_make(&K1);
	h_key_make(&K2);
	knock_file(kf, "knock-ten!");
	backends(H_ECHO);
	h_backend_start(&two, &(struct h_backend_conf){ .mode = H_ECHO });
	h_backend_start(&three, &(struct h_backend_conf){ .mode = H_ECHO });
	snprintf(r2, sizeof(r2), "127.0.0.1:%u,key-file=%s,name=two,idle=1h",
	    two.port, K2.path);
	snprintf(r3, sizeof(r3), "127.0.0.1:%u,knock-file=%s,name=three",
	    three.port, kf);
	extra[0] = "--key-file";
	extra[1] = K1.path;
	extra[2] = "--route";
	extra[3] = r2;
	extra[4] = "--route";
	extra[5] = r3;
	extra[6] = NULL;
	h_relay_start(&relay, &(struct h_relay_conf){ .normal = normal.port,
	    .hidden = hidden.port, .extra = extra });
	cr_assert(h_relay_log_wait(&relay, "route two: backend 127.0.0.1:",
	    100) == 0);
	cr_assert(h_relay_log_wait(&relay, ", token, idle 3600000 ms, no "
	    "PROXY header", 100) == 0, "%s", relay.log);
	cr_assert(h_relay_log_wait(&relay, ", knock of 10 bytes, idle "
	    "7200000 ms", 100) == 0, "%s", relay.log);

	h_mint(&K2, now_s(), -1, tok);
	to_hidden(tok, &two, 1);
	h_mint(&K1, now_s(), -1, tok);
	to_hidden(tok, &hidden, 1);
	through("knock-ten!", 10, &three, 1, PAYLOAD, PLEN);
	to_normal(tok, 1);		/* A replay under the first key. */
	through("knock-ten?", 10, &normal, 2, "knock-ten?" PAYLOAD, 10 + PLEN);
	cr_assert_eq(hidden.conns + two.conns + three.conns, 3);
	cr_assert(h_relay_log_wait(&relay, "routed to two (token)", 100) == 0);
	cr_assert(h_relay_log_wait(&relay, "routed to hidden (token)", 100) ==
	    0);
	cr_assert(h_relay_log_wait(&relay, "routed to three (knock)", 100) ==
	    0);
	teardown();
	unlink(K1.path);
	unlink(K2.path);
	unlink(kf);
}

/* Run the relay with ${extra}; it must exit ${code} with ${msg} on stderr. */
static void
refused(const char * const * extra, const char * knock, int code,
    const char * msg)
{
	struct h_argv A;
	char err[4096];
	int st;

	h_relay_argv(&(struct h_relay_conf){ .normal = 1, .hidden = 2,
	    .extra = extra, .knock = knock }, &A);
	(void)run_capture((char * const *)(uintptr_t)A.v, 5000, &st, NULL, 0,
	    err, sizeof(err));
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == code,
	    "'%s': status %d, expected exit %d; stderr: %s", msg, st, code,
	    err);
	cr_expect(strstr(err, msg) != NULL, "want '%s' in: %s", msg, err);
	cr_expect_eq(strchr(err, '\n'), err + strlen(err) - 1,
	    "more than one line: %s", err);
}

Test(routes, start_up_refusals_exit_64_with_one_line, .timeout = 60)
{
	char k1[64], k1b[64], k2[64], r[160], r2[160], bad[64];
	struct h_key K;

	h_key_make(&K);
	knock_file(k1, "samesame");
	knock_file(k1b, "samesame");
	knock_file(k2, "samesame-longer");
	knock_file(bad, "not a key\n");

	/* Two routes with the same static knock. */
	snprintf(r, sizeof(r), "127.0.0.1:3,knock-file=%s", k1b);
	refused((const char *[]){ "--knock-file", k1, "--route", r, NULL },
	    NULL, 64, "error: route 'hidden2': its knock is route 'hidden''s "
	    "knock too: give each route its own knock");
	refused((const char *[]){ "--route", r, NULL }, "samesame", 64,
	    "its knock is route 'hidden''s knock too");
	/* A knock that is a prefix of another's, either way round. */
	snprintf(r, sizeof(r), "127.0.0.1:3,knock-file=%s,name=long", k2);
	refused((const char *[]){ "--knock-file", k1, "--route", r, NULL },
	    NULL, 64, "error: route 'long': its knock and route 'hidden''s "
	    "begin the same way (one is a prefix of the other");
	snprintf(r, sizeof(r), "127.0.0.1:3,knock-file=%s,name=short", k1);
	refused((const char *[]){ "--knock-file", k2, "--route", r, NULL },
	    NULL, 64, "error: route 'short': its knock and route 'hidden''s "
	    "begin the same way");
	/* The same key twice. */
	snprintf(r, sizeof(r), "127.0.0.1:3,key-file=%s", K.path);
	snprintf(r2, sizeof(r2), "127.0.0.1:4,key-file=%s,name=again", K.path);
	refused((const char *[]){ "--route", r, "--route", r2, NULL }, "k", 64,
	    "error: route 'again': the key in '");
	refused((const char *[]){ "--key-file", K.path, "--route", r, NULL },
	    NULL, 64, "is another route's key too: give each route its own "
	    "key");
	/* Sub-options. */
	refused((const char *[]){ "--route", "127.0.0.1:3,key-file=a,color=red",
	    NULL }, "k", 64, "error: invalid sub-option 'color=red' in "
	    "--route '127.0.0.1:3,key-file=a,color=red'");
	refused((const char *[]){ "--route", "127.0.0.1:3,name=x", NULL }, "k",
	    64, "error: --route '127.0.0.1:3,name=x' has no key-file= or "
	    "knock-file=");
	refused((const char *[]){ "--route", "127.0.0.1:3,key-file=a,"
	    "knock-file=b", NULL }, "k", 64, "error: invalid sub-option "
	    "'knock-file=b'");
	/* File errors: 66. */
	snprintf(r, sizeof(r), "127.0.0.1:3,key-file=%s", bad);
	refused((const char *[]){ "--route", r, NULL }, "k", 66, bad);
	refused((const char *[]){ "--route", "127.0.0.1:3,key-file="
	    "/nonexistent/l7kk.key", NULL }, "k", 66, "/nonexistent/l7kk.key");
	unlink(k1);
	unlink(k1b);
	unlink(k2);
	unlink(bad);
	unlink(K.path);
}

/* A connection of the timing test: what it sends, when its answer came. */
struct probe {
	int fd;
	char first[TLEN];
	size_t len;
	uint64_t t0, t;		/* Sent, first byte back (0: not yet). */
	char head[16];
};

/* Open every probe at once; wait for each one's first byte back. */
static void
probes_run(struct probe * P, size_t n, int ms)
{
	struct pollfd pfd[256];
	uint64_t end;
	size_t i, left = n;

	cr_assert(n <= 256);
	for (i = 0; i < n; i++) {
		P[i].fd = h_connect(AF_INET, relay.port);
		h_send_all(P[i].fd, P[i].first, P[i].len);
		P[i].t0 = h_now_ms();
		P[i].t = 0;
	}
	end = h_now_ms() + (uint64_t)ms;
	while (left > 0 && h_now_ms() < end) {
		for (i = 0; i < n; i++) {
			pfd[i].fd = (P[i].t == 0) ? P[i].fd : -1;
			pfd[i].events = POLLIN;
		}
		if (poll(pfd, n, 100) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			if (P[i].t != 0 || !(pfd[i].revents & (POLLIN |
			    POLLHUP | POLLERR)))
				continue;
			P[i].t = h_now_ms();
			(void)!recv(P[i].fd, P[i].head, sizeof(P[i].head) - 1,
			    MSG_DONTWAIT);
			left--;
		}
	}
	for (i = 0; i < n; i++) {
		close(P[i].fd);
		cr_assert(P[i].t != 0, "probe %zu: no answer", i);
	}
}

/* Milliseconds from the send to the answer of ${p}. */
static uint64_t
probe_ms(const struct probe * p)
{

	return (p->t - p->t0);
}

/* Another base64url character than ${c}. */
static char
other_char(char c)
{

	return (c == 'A' ? 'B' : 'A');
}

Test(routes, decision_time_same_for_right_and_wrong_byte_at_every_position,
    .timeout = 90)
{
	static struct probe P[2 * (TLEN + 10)];
	const uint64_t k = 1000;
	char kf[64], r[160], tok[TLEN + 1];
	const char * knock = "knock-ten!";
	const char * extra[8];
	struct h_key K;
	size_t i, n = 0, p, L;
	const char * right;
	uint64_t a, b;

	/*
	 * Knocks of two lengths: 10 (static) and 54 (token).  For every
	 * position p of each, the first p bytes of the knock and then a right
	 * or a wrong byte: short of a complete knock, both must wait for the
	 * knock timeout, the same time, so a prober learns nothing byte by
	 * byte.  Decisions due at once are compared against k as the relay
	 * test does, never against a fixed figure.
	 */
	h_key_make(&K);
	knock_file(kf, knock);
	h_backend_start(&normal, &(struct h_backend_conf){ .mode = H_GREET,
	    .name = "normal" });
	h_backend_start(&hidden, &(struct h_backend_conf){ .mode = H_GREET,
	    .name = "hidden" });
	snprintf(r, sizeof(r), "127.0.0.1:%u,knock-file=%s", hidden.port, kf);
	extra[0] = "--key-file";
	extra[1] = K.path;
	extra[2] = "--route";
	extra[3] = r;
	extra[4] = "-k";
	extra[5] = "1s";
	extra[6] = NULL;
	h_relay_start(&relay, &(struct h_relay_conf){ .normal = normal.port,
	    .hidden = hidden.port, .extra = extra });
	h_mint(&K, now_s(), -1, tok);
	for (L = 10; L <= TLEN; L += TLEN - 10) {
		right = (L == 10) ? knock : tok;
		for (p = 0; p < L; p++) {
			memcpy(P[n].first, right, p + 1);
			P[n++].len = p + 1;
			memcpy(P[n].first, right, p + 1);
			P[n].first[p] = other_char(right[p]);
			P[n++].len = p + 1;
		}
	}
	/* The complete right token is accepted once: the last pair. */
	probes_run(P, n, 5000);

	for (i = 0; i < n; i += 2) {
		a = probe_ms(&P[i]);
		b = probe_ms(&P[i + 1]);
		L = (i < 20) ? 10 : TLEN;
		p = P[i].len - 1;
		if (p + 1 < L) {
			/* Incomplete: both at the knock timeout. */
			cr_expect(a >= k * 8 / 10 && b >= k * 8 / 10,
			    "length %zu, position %zu: decided early: right %llu "
			    "ms, wrong %llu ms", L, p, (unsigned long long)a,
			    (unsigned long long)b);
			cr_expect(a < b + k / 2 && b < a + k / 2, "length %zu, "
			    "position %zu: right %llu ms, wrong %llu ms", L, p,
			    (unsigned long long)a, (unsigned long long)b);
			cr_expect(memcmp(P[i].head, "GREET normal", 12) == 0 &&
			    memcmp(P[i + 1].head, "GREET normal", 12) == 0);
		} else if (L == 10) {
			/* The right knock at once; the wrong one waits for 54. */
			cr_expect(a < k / 2, "knock decided after %llu ms",
			    (unsigned long long)a);
			cr_expect(memcmp(P[i].head, "GREET hidden", 12) == 0);
			cr_expect(b >= k * 8 / 10, "a wrong 10-byte knock was "
			    "decided after %llu ms, before the timeout",
			    (unsigned long long)b);
		} else {
			/* The longest: right and wrong both at once. */
			cr_expect(a < k / 2 && b < k / 2, "complete token: right "
			    "%llu ms, wrong %llu ms", (unsigned long long)a,
			    (unsigned long long)b);
			cr_expect(memcmp(P[i].head, "GREET hidden", 12) == 0);
			cr_expect(memcmp(P[i + 1].head, "GREET normal", 12) == 0);
		}
	}
	teardown();
	unlink(K.path);
	unlink(kf);
}

Test(routes, each_route_has_its_own_idle_timeout, .timeout = 30)
{
	char r[160], kf[64], buf[64];
	int fn, fh;

	/* The hidden route idles out after 1 s; the normal one keeps 30 s. */
	knock_file(kf, "other-knock");
	backends(H_ECHO);
	h_backend_start(&two, &(struct h_backend_conf){ .mode = H_ECHO });
	snprintf(r, sizeof(r), "127.0.0.1:%u,knock-file=%s,name=quick,"
	    "idle=1s", two.port, kf);
	h_relay_start(&relay, &(struct h_relay_conf){ .normal = normal.port,
	    .hidden = hidden.port, .extra = (const char *[]){ "--route", r,
	    NULL }, .knock = "open-sesame" });
	fh = h_connect(AF_INET, relay.port);
	h_send_all(fh, "other-knockx", 12);
	cr_assert_eq(h_recv(fh, buf, 1, 3000), 1);
	fn = h_connect(AF_INET, relay.port);
	h_send_all(fn, "GET / HTTP/1.0\r\n", 16);
	cr_assert_eq(h_recv(fn, buf, 16, 3000), 16);
	cr_assert(h_wait_closed(fh, 4000), "the quick route did not idle out");
	cr_assert(h_relay_log_wait(&relay, "closed: idle timeout", 1000) == 0);
	/* The normal connection is still there and works. */
	h_send_all(fn, "x", 1);
	cr_assert_eq(h_recv(fn, buf, 1, 2000), 1, "normal closed too early");
	cr_assert_eq(h_relay_log_count(&relay, "closed: idle timeout"), 1);
	close(fn);
	close(fh);
	teardown();
	unlink(kf);
}

Test(routes, fail2ban_bans_what_the_real_relay_logs_for_replays,
    .timeout = 90)
{
	char * argv[] = { "/usr/bin/fail2ban-regex", "--out", "ip", NULL,
	    "../contrib/fail2ban/filter.d/l7knockknock.conf", NULL };
	char path[] = "/tmp/l7kk-f2b-XXXXXX", out[4096], err[4096];
	char tok[TLEN + 1];
	struct h_key K;
	int fd, st;

	if (access(argv[0], X_OK) != 0)
		cr_skip_test("no fail2ban-regex (Debian's fail2ban)");
	h_key_make(&K);
	backends(H_ECHO);
	start_token_relay(&K, NULL);
	h_mint(&K, now_s(), -1, tok);
	to_hidden(tok, &hidden, 1);		/* Not a ban. */
	to_normal(tok, 1);			/* A ban: replayed. */
	h_mint(&K, now_s() - 40, -1, tok);
	to_normal(tok, 2);			/* A ban: expired. */
	through("GET / HTTP/1.0\r\n\r\n", 18, &normal, 3,
	    "GET / HTTP/1.0\r\n\r\n" PAYLOAD, 18 + PLEN);	/* Not a ban. */
	cr_assert(h_relay_log_wait_count(&relay, "routed to ", 4, 2000) == 4);
	teardown();

	/* The relay's own lines, through the filter the package installs. */
	cr_assert((fd = mkstemp(path)) != -1);
	pthread_mutex_lock(&relay.mtx);
	cr_assert_eq(write(fd, relay.log, relay.loglen),
	    (ssize_t)relay.loglen);
	pthread_mutex_unlock(&relay.mtx);
	close(fd);
	argv[3] = path;
	cr_assert(run_capture(argv, 60000, &st, out, sizeof(out), err,
	    sizeof(err)) == 0, "fail2ban-regex timed out");
	unlink(path);
	unlink(K.path);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", err);
	cr_assert_str_eq(out, "127.0.0.1\n127.0.0.1\n", "matched:\n%s", out);
}

Test(routes, ipv6_token_and_the_routed_line_in_brackets, .timeout = 30)
{
	char tok[TLEN + 1], buf[64];
	struct h_key K;
	int fd;

	h_key_make(&K);
	h_relay_setup(&relay, &normal, H_ECHO, &hidden, H_ECHO,
	    &(struct h_relay_conf){ .family = AF_INET6,
	    .extra = (const char *[]){ "--key-file", K.path, NULL } });
	h_mint(&K, now_s(), -1, tok);
	fd = h_connect(AF_INET6, relay.port);
	h_send_all(fd, tok, TLEN);
	h_send_all(fd, PAYLOAD, PLEN);
	shutdown(fd, SHUT_WR);
	cr_assert_eq(h_recv(fd, buf, sizeof(buf), 5000), PLEN);
	close(fd);
	cr_assert(memcmp(buf, PAYLOAD, PLEN) == 0);
	cr_assert(h_relay_log_wait(&relay, "conn 1.1 routed to hidden (token) "
	    "from [::1]:", 2000) == 0, "%s", relay.log);
	cr_assert(log_line_with(&relay, "routed to hidden (token)",
	    " via [::1]:"), "%s", relay.log);
	teardown();
	unlink(K.path);
}

/*
 * Connect, send the ${len} bytes at ${msg} in pieces of ${piece} bytes
 * ${gap_ms} apart (no FIN), and read their echo; return the milliseconds
 * from the connect to the last byte of it (the echo must be exact).
 */
static uint64_t
echo_ms(const void * msg, size_t len, size_t piece, int gap_ms,
    const void * expect, size_t elen)
{
	char buf[512];
	uint64_t t0 = h_now_ms();
	size_t off, n;
	int fd = h_connect(AF_INET, relay.port);

	for (off = 0; off < len; off += n) {
		n = (len - off < piece) ? len - off : piece;
		if (off > 0)
			usleep((useconds_t)gap_ms * 1000);
		h_send_all(fd, (const char *)msg + off, n);
	}
	cr_assert_eq(h_recv(fd, buf, elen, 10000), elen, "no echo; log:\n%s",
	    relay.log);
	t0 = h_now_ms() - t0;
	close(fd);
	cr_assert(memcmp(buf, expect, elen) == 0, "the echo differs");
	return (t0);
}

/*
 * Issue 18.3: with a key route (tokens are base64url), a short first
 * message with a byte outside base64url cannot become a knock: it goes to
 * the normal backend at once, not after the knock timeout (5 s here, so
 * "at once" is anything under 1 s, whatever the load).  A base64url-only
 * short message still waits; a token in three pieces still reaches hidden.
 */
Test(routes, short_messages_that_cannot_be_a_knock_go_normal_at_once,
    .timeout = 60)
{
	static const char * const extra[] = { "-k", "5s", NULL };
	static const char http[] = "GET / HTTP/1.0\r\n\r\n";
	static const uint8_t bin[12] = { 0x16, 0x03, 0x01, 0x00, 0xa5, 0x01,
	    0x00, 0x00, 0xa1, 0x03, 0x03, 0x7f };
	char tok[TLEN + 1], msg[TLEN + PLEN];
	struct h_key K;
	uint64_t ms;

	h_key_make(&K);
	backends(H_ECHO);
	start_token_relay(&K, extra);

	ms = echo_ms(http, 18, 18, 0, http, 18);
	cr_expect(ms < 1000, "18-byte HTTP request: %llu ms",
	    (unsigned long long)ms);
	ms = echo_ms(bin, sizeof(bin), sizeof(bin), 0, bin, sizeof(bin));
	cr_expect(ms < 1000, "12-byte binary message: %llu ms",
	    (unsigned long long)ms);
	cr_assert(h_relay_log_wait_count(&relay, "routed to normal (not "
	    "base64url)", 2, 2000) == 2, "%s", relay.log);

	/* Base64url only: it could still become a token; it waits. */
	ms = echo_ms("abcdefghijkl", 12, 12, 0, "abcdefghijkl", 12);
	cr_expect(ms >= 4500, "a base64url message was decided after %llu ms",
	    (unsigned long long)ms);
	cr_assert(h_relay_log_wait(&relay, "routed to normal (timeout)",
	    2000) == 0, "%s", relay.log);

	/* A valid token in three pieces, 200 ms apart, then the payload. */
	h_mint(&K, now_s(), -1, tok);
	memcpy(msg, tok, TLEN);
	memcpy(msg + TLEN, PAYLOAD, PLEN);
	ms = echo_ms(msg, TLEN + PLEN, 18, 200, PAYLOAD, PLEN);
	cr_expect_eq(hidden.conns, 1, "the token did not reach hidden");
	cr_expect(h_relay_log_wait(&relay, "routed to hidden (token)", 2000) ==
	    0, "%s", relay.log);
	teardown();
	unlink(K.path);
}

/*
 * A static knock with a byte outside base64url: nothing can be decided
 * early, the start-up summary says so, and an HTTP request waits.
 */
Test(routes, a_knock_outside_base64url_makes_short_messages_wait,
    .timeout = 60)
{
	static const char http[] = "GET / HTTP/1.0\r\n\r\n";
	const char * extra[4] = { "-k", "2s", NULL, NULL };
	uint64_t ms;

	backends(H_ECHO);
	h_relay_start(&relay, &(struct h_relay_conf){ .normal = normal.port,
	    .hidden = hidden.port, .extra = extra,
	    .knock = "a knock with spaces, longer than 18 bytes" });
	cr_assert(h_relay_log_wait(&relay, "a static knock has bytes outside "
	    "base64url", 2000) == 0, "%s", relay.log);
	ms = echo_ms(http, 18, 18, 0, http, 18);
	cr_expect(ms >= 1800, "decided after %llu ms, before the knock "
	    "timeout", (unsigned long long)ms);
	teardown();
}
