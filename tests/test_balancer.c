/*
 * Relays behind a balancer: --accept-proxy, through the real,
 * sandboxed relay.
 *   accept_proxy: a test process plays the balancer on 127.0.0.1 and
 *     writes PROXY headers by hand (v1, v2, IPv4, IPv6, split, LOCAL,
 *     UNKNOWN, bad, late, none); the normal backend echoes, and its route
 *     sends a PROXY v1 header of its own, so the client reads back the
 *     address the relay took for the client and for its destination.  A
 *     source outside --accept-proxy (127.0.0.1 when only 127.0.0.2 is
 *     listed) has its bytes relayed untouched, a header included.  The
 *     per-source limit counts the header's client, not the balancer.
 *   haproxy_affinity: real haproxy in front of three relays
 *     (contrib/haproxy/haproxy.cfg's frontend and backend, on loopback).
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "harness.h"
#include "keyfile.h"
#include "proxy_consumer.h"
#include "run.h"
#include "token.h"

/* The knock: longer than anything the tests send without it. */
#define BAL_KNOCK	"knock-for-the-balancer-test"

/* The v2 signature. */
#define BAL_SIG		"\r\n\r\n\0\r\nQUIT\n"

static struct h_backend bal_normal, bal_hidden;
static struct h_relay bal_relay;

/* Start the backends and a relay with ${extra} (NULL-terminated). */
static void
bal_start(const char * const * extra)
{
	static const char * argv[24];
	static char normal[64];
	size_t i = 0;

	h_backend_start(&bal_normal, &(struct h_backend_conf){ .mode = H_ECHO });
	h_backend_start(&bal_hidden, &(struct h_backend_conf){ .mode = H_GREET,
	    .name = "hidden" });
	snprintf(normal, sizeof(normal), "127.0.0.1:%u,proxy=v1",
	    bal_normal.port);
	argv[i++] = "--normal";
	argv[i++] = normal;
	argv[i++] = "-k";
	argv[i++] = "2s";
	argv[i++] = "-v";
	while (extra != NULL && *extra != NULL && i < 22)
		argv[i++] = *extra++;
	argv[i] = NULL;
	h_relay_start(&bal_relay, &(struct h_relay_conf){
	    .hidden = bal_hidden.port, .extra = argv, .knock = BAL_KNOCK });
}

/* Stop what bal_start started. */
static void
bal_fini(void)
{

	if (bal_relay.pid > 0)
		h_relay_down(&bal_relay);
	h_backend_stop(&bal_normal);
	h_backend_stop(&bal_hidden);
}

/* 203.0.113.7:40000 -> 198.51.100.1:443 as a v2 TCP4 block. */
static const uint8_t bal_blk4[12] = { 203, 0, 113, 7, 198, 51, 100, 1,
	0x9c, 0x40, 0x01, 0xbb };

/* 2001:db8::7 port 40000 -> 2001:db8::443 port 443 as a v2 TCP6 block. */
static const uint8_t bal_blk6[36] = {
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x04, 0x43,
	0x9c, 0x40, 0x01, 0xbb };

/*
 * From ${src} to ${port}, send ${len} bytes of ${buf} (in two parts if ${split}, 200 ms
 * apart, the first ${split} bytes), half-close, and read the answer to EOF
 * into ${out} (NUL-terminated); return its length, or -1 on a reset.
 */
static ssize_t
bal_exchange_split(const char * src, uint16_t port, const void * buf,
    size_t len, size_t split, char * out, size_t outlen)
{
	int fd = h_connect_from(src, port);
	struct pollfd p;
	size_t got = 0;
	ssize_t n = 0;
	uint64_t end = h_now_ms() + 8000;

	if (split > 0 && split < len) {
		h_send_all(fd, buf, split);
		usleep(200000);
		h_send_all(fd, (const uint8_t *)buf + split, len - split);
	} else {
		h_send_all(fd, buf, len);
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		p.fd = fd;
		p.events = POLLIN;
		if (got + 1 >= outlen || h_now_ms() >= end ||
		    poll(&p, 1, 500) == -1)
			break;
		if (p.revents == 0)
			continue;
		if ((n = recv(fd, out + got, outlen - 1 - got, 0)) <= 0)
			break;
		got += (size_t)n;
	}
	out[got] = '\0';
	close(fd);
	if (n == -1 && errno == ECONNRESET)
		return (-1);
	return ((ssize_t)got);
}

/* bal_exchange_split to the relay. */
static ssize_t
bal_exchange(const char * src, const void * buf, size_t len, size_t split,
    char * out, size_t outlen)
{

	return (bal_exchange_split(src, bal_relay.port, buf, len, split, out,
	    outlen));
}

/* bal_exchange_split to ${port}, in one part. */
static ssize_t
bal_exchange_to(const char * src, uint16_t port, const void * buf,
    size_t len, char * out, size_t outlen)
{

	return (bal_exchange_split(src, port, buf, len, 0, out, outlen));
}

/* Expect the echo to be exactly ${want}. */
static void
bal_expect(const char * src, const void * buf, size_t len, size_t split,
    const char * want)
{
	char out[1024];
	ssize_t n;

	n = bal_exchange(src, buf, len, split, out, sizeof(out));
	cr_assert_str_eq(out, want, "got %zd bytes \"%s\", expected \"%s\"; "
	    "log:\n%s", n, out, want, bal_relay.log);
}

/* The header ${hdr} (${hlen} bytes) then "hello" in one buffer. */
static size_t
bal_with(uint8_t * buf, const void * hdr, size_t hlen, const char * data)
{

	memcpy(buf, hdr, hlen);
	memcpy(&buf[hlen], data, strlen(data));
	return (hlen + strlen(data));
}

/*
 * Debian's fail2ban-regex with contrib/fail2ban's filter over the relay's
 * log so far: exactly the addresses ${want} (one a line) come out.
 */
static void
bal_fail2ban(const char * want)
{
	char path[] = "/tmp/l7kk-bal-log-XXXXXX";
	char * argv[] = { "/usr/bin/fail2ban-regex", "--out", "ip", path,
	    "../contrib/fail2ban/filter.d/l7knockknock.conf", NULL };
	char out[1024], err[1024];
	int fd, st;

	if (access(argv[0], X_OK) != 0)
		cr_skip_test("fail2ban-regex is not installed");
	cr_assert((fd = mkstemp(path)) != -1);
	pthread_mutex_lock(&bal_relay.mtx);
	cr_assert_eq(write(fd, bal_relay.log, bal_relay.loglen),
	    (ssize_t)bal_relay.loglen);
	pthread_mutex_unlock(&bal_relay.mtx);
	close(fd);
	cr_assert_eq(run_capture(argv, 50000, &st, out, sizeof(out), err,
	    sizeof(err)), 0, "fail2ban-regex timed out");
	unlink(path);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", err);
	cr_expect_str_eq(out, want, "fail2ban found:\n%s", out);
}

TestSuite(accept_proxy, .fini = bal_fini, .timeout = 60);

Test(accept_proxy, client_from_header)
{
	static const char * const extra[] = { "--accept-proxy", "127.0.0.0/30",
	    NULL };
	const char * v1 = "PROXY TCP4 203.0.113.9 198.51.100.2 40001 8443\r\n";
	uint8_t hdr[128], buf[256];
	size_t n;

	bal_start(extra);
	/* v2, IPv4: the relay's own header names the header's client. */
	n = h_proxy_v2(hdr, 0x21, 0x11, 12, bal_blk4, 12);
	n = bal_with(buf, hdr, n, "hello");
	bal_expect("127.0.0.1", buf, n, 0,
	    "PROXY TCP4 203.0.113.7 198.51.100.1 40000 443\r\nhello");
	cr_expect(h_relay_log_wait(&bal_relay, "routed to normal (EOF) from "
	    "203.0.113.7:40000 via", 3000) == 0, "log:\n%s", bal_relay.log);
	/* The same, split inside the header (the relay waits for it). */
	bal_expect("127.0.0.1", buf, n, 9,
	    "PROXY TCP4 203.0.113.7 198.51.100.1 40000 443\r\nhello");
	/* v2, IPv6. */
	n = h_proxy_v2(hdr, 0x21, 0x21, 36, bal_blk6, 36);
	n = bal_with(buf, hdr, n, "hello");
	bal_expect("127.0.0.2", buf, n, 20,
	    "PROXY TCP6 2001:db8::7 2001:db8::443 40000 443\r\nhello");
	/* v1, from another listed address. */
	n = bal_with(buf, v1, strlen(v1), "hello");
	bal_expect("127.0.0.3", buf, n, 0,
	    "PROXY TCP4 203.0.113.9 198.51.100.2 40001 8443\r\nhello");
	/* The knock right after the header: hidden, under the client's name. */
	n = bal_with(buf, v1, strlen(v1), BAL_KNOCK "hi");
	bal_expect("127.0.0.1", buf, n, 0, "GREET hidden\nhi");
	cr_expect(h_relay_log_wait(&bal_relay, "routed to hidden (knock) from "
	    "203.0.113.9:40001 via", 3000) == 0, "log:\n%s", bal_relay.log);
	cr_expect(h_relay_log_count(&bal_relay, "PROXY v2 header from "
	    "127.0.0.1:") >= 2, "log:\n%s", bal_relay.log);
}

Test(accept_proxy, local_is_the_balancer)
{
	static const char * const extra[] = { "--accept-proxy", "127.0.0.1",
	    NULL };
	uint8_t hdr[64], buf[128];
	char out[512];
	size_t n;

	bal_start(extra);
	/* LOCAL, with an address block that must be ignored. */
	n = h_proxy_v2(hdr, 0x20, 0x11, 12, bal_blk4, 12);
	n = bal_with(buf, hdr, n, "hello");
	cr_assert_geq(bal_exchange("127.0.0.1", buf, n, 0, out, sizeof(out)),
	    0, "reset; log:\n%s", bal_relay.log);
	cr_expect(strncmp(out, "PROXY TCP4 127.0.0.1 127.0.0.1 ", 31) == 0 &&
	    strstr(out, "\r\nhello") != NULL && strstr(out, "203.") == NULL,
	    "got \"%s\"", out);
	cr_expect(h_relay_log_wait(&bal_relay, "LOCAL header from 127.0.0.1:",
	    3000) == 0, "log:\n%s", bal_relay.log);
}

/* From a listed source, ${len} bytes of ${buf} are refused: a reset, ${why}. */
static void
bal_refused(const void * buf, size_t len, const char * why, int nth)
{
	char out[256], line[128];
	ssize_t n;

	n = bal_exchange("127.0.0.1", buf, len, 0, out, sizeof(out));
	cr_expect_eq(n, -1, "%s: not reset; got \"%s\"", why, out);

	/* The refusal line ends with the reason; the close line goes on. */
	snprintf(line, sizeof(line), "%s\n", why);
	cr_expect_eq(h_relay_log_wait_count(&bal_relay, line, nth, 5000), nth,
	    "no %d \"%s\"; log:\n%s", nth, why, bal_relay.log);
}

Test(accept_proxy, refused)
{
	static const char * const extra[] = { "--accept-proxy", "127.0.0.1",
	    NULL };
	uint8_t hdr[64];
	size_t n;
	unsigned before;
	uint64_t t0;
	int fd;

	bal_start(extra);
	before = bal_normal.conns;
	/* Not a header: a web request, a knock, a TLS record. */
	bal_refused("GET / HTTP/1.0\r\n\r\n", 18, "invalid PROXY header", 1);
	bal_refused(BAL_KNOCK, strlen(BAL_KNOCK), "invalid PROXY header", 2);
	bal_refused("\x16\x03\x01\x00\x05hello", 10, "invalid PROXY header", 3);
	/* Bad headers: a lone LF, a leading zero, a v2 length too short. */
	bal_refused("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\nhi", 33,
	    "invalid PROXY header", 4);
	bal_refused("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\nhi", 35,
	    "invalid PROXY header", 5);
	n = h_proxy_v2(hdr, 0x21, 0x11, 11, bal_blk4, 11);
	bal_refused(hdr, n, "invalid PROXY header", 6);
	/* Valid, but no client to name: UNKNOWN, UDP, AF_UNSPEC. */
	bal_refused("PROXY UNKNOWN\r\nhello", 20, "other than TCP over IPv4 or "
	    "IPv6", 1);
	n = h_proxy_v2(hdr, 0x21, 0x12, 12, bal_blk4, 12);
	bal_refused(hdr, n, "other than TCP over IPv4 or IPv6", 2);
	n = h_proxy_v2(hdr, 0x21, 0x00, 0, bal_blk4, 0);
	bal_refused(hdr, n, "other than TCP over IPv4 or IPv6", 3);
	/* Cut short by the EOF. */
	bal_refused("PROXY TCP4 1.2.3.4 5.6", 22, "EOF before a whole PROXY "
	    "header", 1);
	/* Cut short, then silence: refused at the knock timeout (2 s). */
	fd = h_connect_from("127.0.0.1", bal_relay.port);
	t0 = h_now_ms();
	h_send_all(fd, BAL_SIG, 12);
	cr_expect(h_wait_closed(fd, 6000), "not closed");
	cr_expect_geq(h_now_ms() - t0, 1500);
	close(fd);
	cr_expect(h_relay_log_wait(&bal_relay, "refused from 127.0.0.1:", 100)
	    == 0);
	cr_expect(h_relay_log_wait(&bal_relay, "no whole PROXY header within "
	    "the knock timeout", 3000) == 0, "log:\n%s", bal_relay.log);
	/* None of them reached a backend. */
	cr_expect_eq(bal_normal.conns, before);
	cr_expect_eq(bal_hidden.conns, 0);
	cr_expect(h_relay_alive(&bal_relay));
	/* A balancer's bad headers never get it banned. */
	bal_fail2ban("");
}

Test(accept_proxy, other_sources_untouched)
{
	static const char * const extra[] = { "--accept-proxy", "127.0.0.2",
	    NULL };
	const char * v1 = "PROXY TCP4 203.0.113.9 198.51.100.2 40001 8443\r\n";
	char out[512], want[256];
	ssize_t n;

	bal_start(extra);
	/* 127.0.0.1 is not listed: its header is bytes for the backend. */
	n = bal_exchange("127.0.0.1", v1, strlen(v1), 0, out, sizeof(out));
	cr_assert_gt(n, 0, "log:\n%s", bal_relay.log);
	snprintf(want, sizeof(want), "\r\n%s", v1);
	cr_expect(strncmp(out, "PROXY TCP4 127.0.0.1 127.0.0.1 ", 31) == 0 &&
	    strstr(out, want) != NULL, "got \"%s\"", out);
	cr_expect_eq(h_relay_log_count(&bal_relay, "PROXY v1 header from"), 0);
	cr_expect_eq(h_relay_log_count(&bal_relay, "203.0.113.9:"), 0);
}

/*
 * The limit counts the header's client, not the balancer: a client whose
 * one connection is past the knock phase (relayed to the normal route) is
 * refused another, naming it; another client through the same balancer
 * is served, and so is the first one's relayed connection.
 */
Test(accept_proxy, limit_per_real_client)
{
	static const char * const extra[] = { "--accept-proxy", "127.0.0.1",
	    "--max-conns-per-source", "1", NULL };
	const char * a = "PROXY TCP4 203.0.113.7 198.51.100.1 40000 443\r\n";
	const char * b = "PROXY TCP4 203.0.113.7 198.51.100.1 40001 443\r\n";
	const char * c = "PROXY TCP4 203.0.113.8 198.51.100.1 40002 443\r\n";
	uint8_t buf[128];
	char out[256];
	int fa, fb;
	size_t n;

	bal_start(extra);
	/*
	 * A holds 203.0.113.7's one slot, relayed: '!' is no base64url, so
	 * not a knock; the normal backend echoes its header and "hi!".
	 */
	fa = h_connect_from("127.0.0.1", bal_relay.port);
	n = bal_with(buf, a, strlen(a), "hi!");
	h_send_all(fa, buf, n);
	cr_assert_eq(h_recv(fa, out, n, 5000), n, "log:\n%s", bal_relay.log);
	cr_assert(memcmp(out, buf, n) == 0);
	/* B, the same client through the same balancer: refused. */
	fb = h_connect_from("127.0.0.1", bal_relay.port);
	h_send_all(fb, b, strlen(b));
	cr_expect(h_wait_closed(fb, 3000), "B not closed");
	close(fb);
	cr_expect(h_relay_log_wait(&bal_relay, "refused from 203.0.113.7:40001: "
	    "per-source limit", 3000) == 0, "log:\n%s", bal_relay.log);
	cr_expect_eq(h_relay_log_count(&bal_relay, "evicted"), 0);
	/* C, another client through the same balancer: served. */
	n = bal_with(buf, c, strlen(c), "hello");
	bal_expect("127.0.0.1", buf, n, 0,
	    "PROXY TCP4 203.0.113.8 198.51.100.1 40002 443\r\nhello");
	/* A is still served. */
	h_send_all(fa, "hi", 2);
	shutdown(fa, SHUT_WR);
	cr_expect_eq(h_recv(fa, out, sizeof(out) - 1, 5000), 2);
	close(fa);
	cr_expect_eq(h_relay_log_count(&bal_relay, "refused from 127.0.0.1"),
	    0);
	bal_fail2ban("203.0.113.7\n");
}

/*
 * As for a direct client (a NAT): a client at its limit through the
 * balancer gives up its own oldest silent connection for a new one, which
 * is served; the silent one is reset, and nobody is refused.
 */
Test(accept_proxy, limit_evicts_a_silent_client)
{
	static const char * const extra[] = { "--accept-proxy", "127.0.0.1",
	    "--max-conns-per-source", "1", NULL };
	const char * a = "PROXY TCP4 203.0.113.7 198.51.100.1 40000 443\r\n";
	const char * b = "PROXY TCP4 203.0.113.7 198.51.100.1 40001 443\r\n";
	uint8_t buf[128];
	int fa, end;
	size_t n;

	bal_start(extra);
	/* A holds 203.0.113.7's one slot, silent after its header. */
	fa = h_connect_from("127.0.0.1", bal_relay.port);
	h_send_all(fa, a, strlen(a));
	cr_assert(h_relay_log_wait(&bal_relay, "client 203.0.113.7:40000",
	    3000) == 0, "log:\n%s", bal_relay.log);
	/* B, the same client, speaks: served, in A's place. */
	n = bal_with(buf, b, strlen(b), "hello");
	bal_expect("127.0.0.1", buf, n, 0,
	    "PROXY TCP4 203.0.113.7 198.51.100.1 40001 443\r\nhello");
	end = h_wait_end(fa, 3000);
	cr_expect_eq(end, ECONNRESET, "A got %s, not a reset; log:\n%s",
	    end == -1 ? "nothing" : end == 0 ? "a FIN" : strerror(end),
	    bal_relay.log);
	close(fa);
	cr_expect_eq(h_relay_log_count(&bal_relay, "evicted in the knock "
	    "phase: per-source limit"), 1, "log:\n%s", bal_relay.log);
	cr_expect_eq(h_relay_log_count(&bal_relay, "refused from"), 0,
	    "log:\n%s", bal_relay.log);
}

/* ---- real haproxy in front of three relays (contrib/haproxy) ---- */

/* Relays behind the balancer; fresh tokens, unknocked payloads sent. */
#define HA_RELAYS	3
#define HA_TOKENS	12
#define HA_WEB		30

static struct h_backend ha_normal[HA_RELAYS], ha_hidden[HA_RELAYS];
static struct h_relay ha_relay[HA_RELAYS];
static struct proxy_consumer ha_bal;
static char ha_key[64];

/* Stop everything, remove the key file. */
static void
ha_fini(void)
{
	int i;

	proxy_consumer_stop(&ha_bal);
	for (i = 0; i < HA_RELAYS; i++) {
		if (ha_relay[i].pid > 0)
			h_relay_down(&ha_relay[i]);
		h_backend_stop(&ha_normal[i]);
		h_backend_stop(&ha_hidden[i]);
	}
	if (ha_key[0] != '\0')
		unlink(ha_key);
}

/* A fresh key in a mode-0600 file (ha_key); the key into ${key}. */
static void
ha_make_key(uint8_t key[KEYFILE_KEYLEN])
{
	char line[KEYFILE_B64LEN + 2];
	int fd;

	cr_assert_eq(token_init(), 0);
	randombytes_buf(key, KEYFILE_KEYLEN);
	keyfile_format(key, line);
	snprintf(ha_key, sizeof(ha_key), "/tmp/l7kk-bal-key-XXXXXX");
	cr_assert((fd = mkstemp(ha_key)) != -1);
	cr_assert_eq(fchmod(fd, 0600), 0);
	cr_assert_eq(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	close(fd);
}

/* Relay ${i}: its own two backends, the key, --accept-proxy 127.0.0.1. */
static void
ha_start_relay(int i)
{
	static char normal[HA_RELAYS][64], hidden[HA_RELAYS][64],
	    gn[HA_RELAYS][24], gh[HA_RELAYS][24];	/* Room for any int. */
	static const char * extra[HA_RELAYS][16];

	snprintf(gn[i], sizeof(gn[i]), "normal%d", i + 1);
	snprintf(gh[i], sizeof(gh[i]), "hidden%d", i + 1);
	h_backend_start(&ha_normal[i], &(struct h_backend_conf){
	    .mode = H_GREET, .name = gn[i] });
	h_backend_start(&ha_hidden[i], &(struct h_backend_conf){
	    .mode = H_GREET, .name = gh[i] });
	snprintf(normal[i], sizeof(normal[i]), "127.0.0.1:%u,proxy=v1",
	    ha_normal[i].port);
	snprintf(hidden[i], sizeof(hidden[i]), "127.0.0.1:%u",
	    ha_hidden[i].port);
	memcpy(extra[i], (const char *[]){ "--normal", normal[i], "--hidden",
	    hidden[i], "--key-file", ha_key, "--accept-proxy", "127.0.0.1",
	    "-v", NULL }, 10 * sizeof(const char *));
	h_relay_start(&ha_relay[i], &(struct h_relay_conf){
	    .extra = extra[i] });
}

/* A fresh key (into ${key}), the HA_RELAYS relays and haproxy before them. */
static void
ha_start(uint8_t key[KEYFILE_KEYLEN])
{
	uint16_t ports[HA_RELAYS];
	int i;

	ha_make_key(key);
	for (i = 0; i < HA_RELAYS; i++) {
		ha_start_relay(i);
		ports[i] = ha_relay[i].port;
	}
	cr_assert_eq(proxy_balancer_start(&ha_bal,
	    "../contrib/haproxy/haproxy.cfg", ports, HA_RELAYS), 0);
}

/*
 * Through the balancer, from 127.0.0.2: send ${len} bytes of ${buf},
 * half-close, read to EOF.  Return the relay that answered (0-based) and
 * whether it was the hidden route (${hidden}); check that a normal answer
 * carries the relay's PROXY header naming 127.0.0.2 and the balancer's
 * address and port, then the bytes sent.
 */
static int
ha_send(const void * buf, size_t len, int * hidden)
{
	char out[1024], want[128];
	const char * p;
	ssize_t n;
	int r;

	n = bal_exchange_to("127.0.0.2", ha_bal.port4, buf, len, out,
	    sizeof(out));
	cr_assert_gt(n, 0, "no answer through haproxy");
	if (sscanf(out, "GREET hidden%d\n", &r) == 1) {
		*hidden = 1;
		return (r - 1);
	}
	cr_assert_eq(sscanf(out, "GREET normal%d\n", &r), 1, "answer \"%s\"",
	    out);
	*hidden = 0;
	p = strchr(out, '\n') + 1;
	cr_assert(strncmp(p, "PROXY TCP4 127.0.0.2 127.0.0.1 ", 31) == 0,
	    "the normal backend got \"%s\"", p);
	snprintf(want, sizeof(want), " %u\r\n", ha_bal.port4);
	cr_assert_not_null(strstr(p, want), "not the balancer's port: \"%s\"",
	    p);
	cr_assert_eq(memcmp(strstr(p, "\r\n") + 2, buf, len), 0);
	return (r - 1);
}

/* An unknocked payload of 60+ bytes: a web request with a unique path. */
static size_t
ha_web(char * buf, size_t len, int j)
{

	return ((size_t)snprintf(buf, len, "GET /page-%d-%08x HTTP/1.1\r\n"
	    "Host: www.example.org\r\n\r\n", j, (unsigned)(j * 2654435761U)));
}

/*
 * From 127.0.0.2, send ${s} through the balancer without a FIN: how long
 * until a relay logs its PROXY header (haproxy chose a relay), at most
 * ${ms}; -1 if none did.
 */
static long
ha_choose_ms(const char * s, int ms)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	char want[64];
	uint64_t t0, end;
	int fd, r;

	fd = h_connect_from("127.0.0.2", ha_bal.port4);
	cr_assert(getsockname(fd, (struct sockaddr *)&sin, &len) == 0);
	snprintf(want, sizeof(want), "client 127.0.0.2:%u ",
	    ntohs(sin.sin_port));
	t0 = h_now_ms();
	end = t0 + (uint64_t)ms;
	h_send_all(fd, s, strlen(s));
	while (h_now_ms() < end) {
		for (r = 0; r < HA_RELAYS; r++)
			if (ha_relay[r].pid > 0 &&
			    h_relay_log_count(&ha_relay[r], want) > 0) {
				close(fd);
				return ((long)(h_now_ms() - t0));
			}
		usleep(10000);
	}
	close(fd);
	return (-1);
}

Test(haproxy_affinity, early_not_a_token, .fini = ha_fini, .timeout = 60)
{
	uint8_t key[KEYFILE_KEYLEN];
	long ms;

	if (!proxy_have(PROXY_HAPROXY))
		cr_skip_test("haproxy is not installed");
	ha_start(key);
	/*
	 * A byte outside base64url: haproxy chooses at once, well before its
	 * inspect-delay (2 s); 20 base64url characters wait for it.
	 */
	ms = ha_choose_ms("GET / HTTP/1.0\r\n\r\n", 1500);
	cr_expect(ms >= 0, "a web request waited for inspect-delay");
	ms = ha_choose_ms("\x16\x03\x01", 1500);
	cr_expect(ms >= 0, "a TLS record waited for inspect-delay");
	ms = ha_choose_ms("AAAAAAAAAAAAAAAAAAAA", 4000);
	cr_expect_geq(ms, 1500, "20 base64url characters: chosen after %ld "
	    "ms", ms);
}

Test(haproxy_affinity, three_relays, .fini = ha_fini, .timeout = 120)
{
	uint8_t key[KEYFILE_KEYLEN];
	char tok[HA_TOKENS][TOKEN_LEN], more[TOKEN_LEN], web[128];
	int tr[HA_TOKENS], wr[HA_WEB], share[HA_RELAYS] = { 0 };
	int i, j, r, hidden, took;
	size_t n;

	if (!proxy_have(PROXY_HAPROXY))
		cr_skip_test("haproxy is not installed");
	ha_start(key);

	/* Fresh tokens reach a hidden backend. */
	for (i = 0; i < HA_TOKENS; i++) {
		token_mint_now(key, tok[i]);
		tr[i] = ha_send(tok[i], TOKEN_LEN, &hidden);
		cr_assert(hidden, "fresh token %d went to normal%d", i,
		    tr[i] + 1);
	}
	/* Every replay meets the relay that took it: normal, logged there. */
	for (i = 0; i < HA_TOKENS; i++) {
		r = ha_send(tok[i], TOKEN_LEN, &hidden);
		cr_assert(!hidden && r == tr[i], "replay %d: %s%d, token on "
		    "relay %d", i, hidden ? "hidden" : "normal", r + 1,
		    tr[i] + 1);
	}
	for (r = 0; r < HA_RELAYS; r++) {
		for (i = 0, n = 0; i < HA_TOKENS; i++)
			n += (tr[i] == r);
		cr_expect_eq(h_relay_log_wait_count(&ha_relay[r],
		    "(replayed token) from 127.0.0.2:", (int)n, 3000), (int)n);
	}
	/* Unknocked connections spread over the three. */
	for (j = 0; j < HA_WEB; j++) {
		n = ha_web(web, sizeof(web), j);
		wr[j] = ha_send(web, n, &hidden);
		cr_assert(!hidden);
		share[wr[j]]++;
	}
	for (r = 0; r < HA_RELAYS; r++)
		cr_expect_gt(share[r], 0, "relay %d got none of %d", r + 1,
		    HA_WEB);
	/* The real client is in every relay's log, never the balancer. */
	for (r = 0, took = 0; r < HA_RELAYS; r++) {
		took += h_relay_log_count(&ha_relay[r],
		    "routed to hidden (token) from 127.0.0.2:");
		cr_expect_eq(h_relay_log_count(&ha_relay[r],
		    "routed to normal (mismatch) from 127.0.0.1:"), 0);
		cr_expect_eq(h_relay_log_count(&ha_relay[r],
		    "(token) from 127.0.0.1:"), 0);
	}
	cr_expect_eq(took, HA_TOKENS);

	/* Relay 2 stops: only its share moves; tokens still work. */
	h_relay_down(&ha_relay[1]);
	usleep(1500000);
	for (j = 0; j < HA_WEB; j++) {
		n = ha_web(web, sizeof(web), j);
		r = ha_send(web, n, &hidden);
		if (wr[j] == 1) {
			cr_expect_neq(r, 1, "payload %d still on relay 2", j);
		} else {
			cr_expect_eq(r, wr[j], "payload %d moved from relay "
			    "%d to %d", j, wr[j] + 1, r + 1);
		}
	}
	for (i = 0; i < HA_TOKENS / 2; i++) {
		token_mint_now(key, more);
		r = ha_send(more, TOKEN_LEN, &hidden);
		cr_expect(hidden && r != 1, "fresh token after the stop: %s%d",
		    hidden ? "hidden" : "normal", r + 1);
	}
	/* Tokens taken by the relays still up are still refused there. */
	for (i = 0; i < HA_TOKENS; i++) {
		if (tr[i] == 1)
			continue;
		r = ha_send(tok[i], TOKEN_LEN, &hidden);
		cr_expect(!hidden && r == tr[i], "replay %d after the stop: "
		    "%s%d", i, hidden ? "hidden" : "normal", r + 1);
	}
}
