/*
 * Tests of src/proxyparse.c, the reader of incoming PROXY headers
 * (--accept-proxy), and of src/cidr.c, the networks they may come from.
 * The headers are the examples of haproxy's doc/proxy-protocol.txt (the
 * line before an HTTP request, the longest lines of each family, the short
 * and worst UNKNOWN lines, the v2 signature and its 0x11/0x21 blocks) and
 * what proxyhdr_build() writes; each valid one is also cut at every length
 * (NEED_MORE, never OK or INVALID, before its last byte) and followed by
 * client bytes (never taken into the header).  Bad headers: every field of
 * the grammar broken once, every v2 length too short for its family or too
 * long to wait for.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cidr.h"
#include "harness.h"
#include "proxyhdr.h"
#include "proxyparse.h"

/* The v2 signature, with version 2 / command PROXY and LOCAL. */
#define SIG	"\r\n\r\n\0\r\nQUIT\n"
#define SIGLEN	12

/* Format the address and port of ${ss} as "ADDR PORT" into ${s}. */
static const char *
fmt(const struct sockaddr_storage * ss, char * s, size_t slen)
{
	const struct sockaddr_in * sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 * sin6 = (const struct sockaddr_in6 *)ss;
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(s, slen, "%s %u", a, ntohs(sin->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		snprintf(s, slen, "%s %u", a, ntohs(sin6->sin6_port));
	} else {
		snprintf(s, slen, "family %d", ss->ss_family);
	}
	return (s);
}

/*
 * ${buf} (${len} bytes) holds a valid header of ${hlen} bytes (then perhaps
 * client bytes): every cut before ${hlen} needs more; the whole is OK with
 * ${hlen}, ${version}, ${kind}, and for TCP "SRC SPORT" / "DST DPORT".
 */
static void
expect_ok(const void * buf, size_t len, size_t hlen, int version, int kind,
    const char * src, const char * dst)
{
	struct proxyparse_hdr h;
	char s[80], d[80];
	size_t k;
	int rc;

	for (k = 0; k < hlen; k++) {
		rc = proxyparse_parse(buf, k, &h);
		cr_assert_eq(rc, PROXYPARSE_NEED_MORE, "%.*s: cut at %zu of "
		    "%zu: verdict %d, expected NEED_MORE", (int)hlen,
		    (const char *)buf, k, hlen, rc);
	}
	memset(&h, 0, sizeof(h));
	rc = proxyparse_parse(buf, len, &h);
	cr_assert_eq(rc, PROXYPARSE_OK, "%.*s: verdict %d, expected OK",
	    (int)hlen, (const char *)buf, rc);
	cr_expect_eq(h.len, hlen, "length %zu, expected %zu", h.len, hlen);
	cr_expect_eq(h.version, version);
	cr_expect_eq(h.kind, kind, "kind %d, expected %d", h.kind, kind);
	if (kind != PROXYPARSE_TCP)
		return;
	cr_expect_str_eq(fmt(&h.src, s, sizeof(s)), src);
	cr_expect_str_eq(fmt(&h.dst, d, sizeof(d)), dst);
}

/* A v1 line ${line}, then "GET /...": OK as ${kind}, addresses. */
static void
expect_v1(const char * line, int kind, const char * src, const char * dst)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%sGET / HTTP/1.1\r\nHost: x\r\n\r\n", line);
	expect_ok(buf, strlen(buf), strlen(line), 1, kind, src, dst);
}

/* ${len} bytes of ${buf} are INVALID (and so is anything after them). */
static void
expect_invalid(const void * buf, size_t len, const char * what)
{
	struct proxyparse_hdr h;
	uint8_t more[PROXYPARSE_MAX + 64];
	int rc;

	memset(&h, 0x5a, sizeof(h));
	rc = proxyparse_parse(buf, len, &h);
	cr_expect_eq(rc, PROXYPARSE_INVALID, "%s: verdict %d, expected "
	    "INVALID", what, rc);
	cr_expect_eq(((uint8_t *)&h)[0], 0x5a, "%s: header written", what);
	if (len + 64 > sizeof(more))
		return;
	memcpy(more, buf, len);
	memset(&more[len], 'A', 64);
	rc = proxyparse_parse(more, len + 64, &h);
	cr_expect_eq(rc, PROXYPARSE_INVALID, "%s + 64 bytes: verdict %d, "
	    "expected INVALID", what, rc);
}

/* A v1 line that must be refused. */
static void
expect_v1_bad(const char * line)
{

	expect_invalid(line, strlen(line), line);
}

Test(proxyparse_v1, spec_examples)
{

	/* The spec's example before an HTTP request. */
	expect_v1("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
	    PROXYPARSE_TCP, "192.168.0.1 56324", "192.168.0.11 443");
	/* The longest lines the receiver must support. */
	expect_v1("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n",
	    PROXYPARSE_TCP, "255.255.255.255 65535", "255.255.255.255 65535");
	expect_v1("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
	    PROXYPARSE_TCP, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535");
	/* UNKNOWN, short and worst case: valid, no address. */
	expect_v1("PROXY UNKNOWN\r\n", PROXYPARSE_OTHER, NULL, NULL);
	expect_v1("PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
	    PROXYPARSE_OTHER, NULL, NULL);
}

Test(proxyparse_v1, forms)
{

	expect_v1("PROXY TCP4 0.0.0.0 10.0.0.1 0 1\r\n", PROXYPARSE_TCP,
	    "0.0.0.0 0", "10.0.0.1 1");
	expect_v1("PROXY TCP6 2001:db8::1 ::1 51234 443\r\n", PROXYPARSE_TCP,
	    "2001:db8::1 51234", "::1 443");
	expect_v1("PROXY TCP6 2001:DB8:0:0:0:0:0:A :: 1 2\r\n",
	    PROXYPARSE_TCP, "2001:db8::a 1", ":: 2");
	/* inet_ntop's form of a v4-mapped address, as senders write it. */
	expect_v1("PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n", PROXYPARSE_TCP,
	    "::ffff:192.0.2.1 1", "::1 2");
}

Test(proxyparse_v1, refused)
{
	char line[200];

	expect_v1_bad("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
	expect_v1_bad("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n");
	expect_v1_bad("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n");
	expect_v1_bad("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n");
	expect_v1_bad("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n");
	expect_v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n");
	expect_v1_bad("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n");
	expect_v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n");
	expect_v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n");
	expect_v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8\r\n");
	expect_v1_bad("PROXY TCP4\r\n");
	expect_v1_bad("PROXY TCP4 \r\n");
	expect_v1_bad("PROXY\r\n");
	/* Leading zeros: octal confusion. */
	expect_v1_bad("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n");
	expect_v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n");
	expect_v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n");
	/* Out of range. */
	expect_v1_bad("PROXY TCP4 256.2.3.4 5.6.7.8 1 2\r\n");
	expect_v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n");
	expect_v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 100000\r\n");
	expect_v1_bad("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n");
	expect_v1_bad("PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n");
	/* The family must match the addresses. */
	expect_v1_bad("PROXY TCP4 ::1 ::1 1 2\r\n");
	expect_v1_bad("PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n");
	expect_v1_bad("PROXY TCP4 1.2.3.4 ::1 1 2\r\n");
	/* IPv6: two "::", too many groups, a group too long. */
	expect_v1_bad("PROXY TCP6 1::2::3 ::1 1 2\r\n");
	expect_v1_bad("PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n");
	expect_v1_bad("PROXY TCP6 12345::1 ::1 1 2\r\n");
	expect_v1_bad("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n");
	/* Line ends: a lone LF, a lone CR, LF CR. */
	expect_v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n");
	expect_v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX");
	expect_v1_bad("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n\r");
	expect_v1_bad("PROXY UNKNOWN\n");
	expect_v1_bad("PROXY UNKNOWN\r\r\n");
	/* Not a header at all: an HTTP request, a TLS ClientHello, a knock. */
	expect_v1_bad("GET / HTTP/1.1\r\n\r\n");
	expect_invalid("\x16\x03\x01\x02\x00\x01", 6, "ClientHello");
	expect_v1_bad("PROXZ");
	expect_v1_bad("PX");
	expect_v1_bad("PROXY X");
	expect_v1_bad("PROXY TCP4 1.2.3.4 g");
	/* No CRLF within 107 bytes: UNKNOWN with 108. */
	snprintf(line, sizeof(line), "PROXY UNKNOWN %s", "x");
	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(&line[106], "\r\n", 2);
	expect_invalid(line, 108, "UNKNOWN, CRLF at 107-108");
	memcpy(&line[105], "\r\n", 2);
	expect_ok(line, 108, 107, 1, PROXYPARSE_OTHER, NULL, NULL);
	line[105] = 'x';
	expect_invalid(line, 107, "UNKNOWN, CR at 107");
}

Test(proxyparse_v1, waits)
{
	struct proxyparse_hdr h;

	/* A valid beginning without its CRLF needs more, up to 106 bytes. */
	cr_expect_eq(proxyparse_parse((const uint8_t *)"", 0, &h),
	    PROXYPARSE_NEED_MORE);
	cr_expect_eq(proxyparse_parse((const uint8_t *)"P", 1, &h),
	    PROXYPARSE_NEED_MORE);
	cr_expect_eq(proxyparse_parse((const uint8_t *)"PROXY TCP", 9, &h),
	    PROXYPARSE_NEED_MORE);
	cr_expect_eq(proxyparse_parse((const uint8_t *)"PROXY UNKNOWN xyz",
	    17, &h), PROXYPARSE_NEED_MORE);
	cr_expect_eq(proxyparse_parse((const uint8_t *)
	    "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", 31, &h), PROXYPARSE_NEED_MORE);
}

/* The spec's IPv4 block: 192.0.2.1:56324 -> 192.0.2.11:443. */
static const uint8_t a4[12] = { 192, 0, 2, 1, 192, 0, 2, 11, 0xdc, 0x04,
	0x01, 0xbb };

/* 2001:db8::1 port 51234 -> 2001:db8::2 port 443. */
static const uint8_t a6[36] = {
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
	0xc8, 0x22, 0x01, 0xbb };

Test(proxyparse_v2, tcp)
{
	uint8_t buf[PROXYPARSE_MAX + 64], blk[PROXYPARSE_MAX];
	size_t n;

	n = h_proxy_v2(buf, 0x21, 0x11, 12, a4, 12);
	memcpy(&buf[n], "GET /", 5);
	expect_ok(buf, n + 5, 28, 2, PROXYPARSE_TCP, "192.0.2.1 56324",
	    "192.0.2.11 443");
	n = h_proxy_v2(buf, 0x21, 0x21, 36, a6, 36);
	expect_ok(buf, n, 52, 2, PROXYPARSE_TCP, "2001:db8::1 51234",
	    "2001:db8::2 443");
	/* TLVs after the addresses are skipped, up to the longest header. */
	memset(blk, 0, sizeof(blk));
	memcpy(blk, a4, 12);
	memcpy(&blk[12], "\x04\x00\x03xyz", 6);
	n = h_proxy_v2(buf, 0x21, 0x11, 18, blk, 18);
	expect_ok(buf, n, 34, 2, PROXYPARSE_TCP, "192.0.2.1 56324",
	    "192.0.2.11 443");
	n = h_proxy_v2(buf, 0x21, 0x11, PROXYPARSE_MAX - 16, blk,
	    PROXYPARSE_MAX - 16);
	expect_ok(buf, n, PROXYPARSE_MAX, 2, PROXYPARSE_TCP,
	    "192.0.2.1 56324", "192.0.2.11 443");
}

/* A v2 header (${vc}, ${fam}, the ${alen} bytes of ${a}) with no client. */
static void
v2_noclient(uint8_t vc, uint8_t fam, const void * a, size_t alen, int kind)
{
	uint8_t buf[PROXYPARSE_MAX + 64];
	size_t n;

	n = h_proxy_v2(buf, vc, fam, (uint16_t)alen, a, alen);
	cr_assert_eq(n, 16 + alen);
	expect_ok(buf, n, n, 2, kind, NULL, NULL);
}

Test(proxyparse_v2, local_and_others)
{
	uint8_t blk[PROXYPARSE_MAX];

	memset(blk, 0, sizeof(blk));
	/* LOCAL: any family, any length (addresses ignored), even 0. */
	v2_noclient(0x20, 0x00, blk, 0, PROXYPARSE_LOCAL);
	v2_noclient(0x20, 0x11, a4, 12, PROXYPARSE_LOCAL);
	v2_noclient(0x20, 0x21, blk, 0, PROXYPARSE_LOCAL);
	/* PROXY of another family or protocol: valid, no client. */
	v2_noclient(0x21, 0x00, blk, 0, PROXYPARSE_OTHER);
	v2_noclient(0x21, 0x12, a4, 12, PROXYPARSE_OTHER);
	v2_noclient(0x21, 0x22, a6, 36, PROXYPARSE_OTHER);
	v2_noclient(0x21, 0x31, blk, 216, PROXYPARSE_OTHER);
	v2_noclient(0x21, 0x32, blk, 216, PROXYPARSE_OTHER);
}

Test(proxyparse_v2, bad_lengths)
{
	uint8_t buf[PROXYPARSE_MAX + 64], blk[PROXYPARSE_MAX + 64];
	unsigned len;
	size_t n;

	memset(blk, 0, sizeof(blk));
	/* Shorter than the family's address block: refused at 16 bytes. */
	for (len = 0; len < 12; len++) {
		n = h_proxy_v2(buf, 0x21, 0x11, (uint16_t)len, blk, 0);
		expect_invalid(buf, n, "TCP4 block too short");
	}
	for (len = 0; len < 36; len++) {
		n = h_proxy_v2(buf, 0x21, 0x21, (uint16_t)len, blk, 0);
		expect_invalid(buf, n, "TCP6 block too short");
	}
	n = h_proxy_v2(buf, 0x21, 0x12, 11, blk, 0);
	expect_invalid(buf, n, "UDP4 block too short");
	n = h_proxy_v2(buf, 0x21, 0x31, 215, blk, 0);
	expect_invalid(buf, n, "UNIX block too short");
	/* Longer than any header waited for: refused at once. */
	n = h_proxy_v2(buf, 0x21, 0x11, PROXYPARSE_MAX - 15, blk, 0);
	expect_invalid(buf, n, "one byte too long");
	n = h_proxy_v2(buf, 0x20, 0x00, 0xffff, blk, 0);
	expect_invalid(buf, n, "LOCAL, 65535");
	n = h_proxy_v2(buf, 0x21, 0x21, 0x8000, blk, 0);
	expect_invalid(buf, n, "TCP6, 32768");
}

Test(proxyparse_v2, bad_fields)
{
	uint8_t buf[PROXYPARSE_MAX + 64];
	size_t n, i;

	/* Version 1 or 3 in the 13th byte; commands 2-15. */
	n = h_proxy_v2(buf, 0x11, 0x11, 12, a4, 12);
	expect_invalid(buf, n, "version 1");
	n = h_proxy_v2(buf, 0x31, 0x11, 12, a4, 12);
	expect_invalid(buf, n, "version 3");
	for (i = 2; i < 16; i++) {
		n = h_proxy_v2(buf, (uint8_t)(0x20 | i), 0x11, 12, a4, 12);
		expect_invalid(buf, n, "command");
	}
	/* Family 4-15, protocol 3-15. */
	n = h_proxy_v2(buf, 0x21, 0x41, 12, a4, 12);
	expect_invalid(buf, n, "family 4");
	n = h_proxy_v2(buf, 0x21, 0x13, 12, a4, 12);
	expect_invalid(buf, n, "protocol 3");
	n = h_proxy_v2(buf, 0x20, 0xf0, 0, a4, 0);
	expect_invalid(buf, n, "LOCAL, family 15");
	/* Each signature byte changed; and refused as soon as it is seen. */
	for (i = 0; i < SIGLEN; i++) {
		n = h_proxy_v2(buf, 0x21, 0x11, 12, a4, 12);
		buf[i] ^= 0x40;
		if (i == 0)
			buf[i] = 'X';
		expect_invalid(buf, n, "signature");
		expect_invalid(buf, i + 1, "signature, cut after it");
	}
	/* The 13th and 14th bytes are refused before the length comes. */
	n = h_proxy_v2(buf, 0x22, 0x11, 12, a4, 12);
	expect_invalid(buf, 13, "command, cut after it");
	n = h_proxy_v2(buf, 0x21, 0x51, 12, a4, 12);
	expect_invalid(buf, 14, "family, cut after it");
}

/* What proxyhdr_build() writes, proxyparse_parse() reads back. */
Test(proxyparse, reads_proxyhdr)
{
	static const char * const srcs[] = { "192.0.2.7", "2001:db8::7" };
	struct sockaddr_storage s, d;
	struct sockaddr_in * sin = (struct sockaddr_in *)&s;
	struct sockaddr_in6 * sin6 = (struct sockaddr_in6 *)&s;
	struct sockaddr_in * din = (struct sockaddr_in *)&d;
	struct sockaddr_in6 * din6 = (struct sockaddr_in6 *)&d;
	uint8_t buf[PROXYHDR_MAX];
	char want_s[80], want_d[80];
	ssize_t n;
	int v, i;

	for (v = PROXYHDR_V1; v <= PROXYHDR_V2; v++)
		for (i = 0; i < 2; i++) {
			memset(&s, 0, sizeof(s));
			memset(&d, 0, sizeof(d));
			if (i == 0) {
				sin->sin_family = din->sin_family = AF_INET;
				inet_pton(AF_INET, srcs[0], &sin->sin_addr);
				inet_pton(AF_INET, "198.51.100.1",
				    &din->sin_addr);
				sin->sin_port = htons(40000);
				din->sin_port = htons(443);
			} else {
				sin6->sin6_family = din6->sin6_family =
				    AF_INET6;
				inet_pton(AF_INET6, srcs[1], &sin6->sin6_addr);
				inet_pton(AF_INET6, "2001:db8::443",
				    &din6->sin6_addr);
				sin6->sin6_port = htons(65535);
				din6->sin6_port = htons(1);
			}
			n = proxyhdr_build(v, &s, &d, buf, sizeof(buf));
			cr_assert_gt(n, 0);
			expect_ok(buf, (size_t)n, (size_t)n, v, PROXYPARSE_TCP,
			    fmt(&s, want_s, sizeof(want_s)),
			    fmt(&d, want_d, sizeof(want_d)));
		}
}

/* ---- cidr ---- */

/* The sockaddr of the literal ${host}. */
static struct sockaddr_storage
sa(const char * host)
{
	struct sockaddr_storage ss;
	struct sockaddr_in * sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 * sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1)
		sin->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1)
		sin6->sin6_family = AF_INET6;
	else
		cr_assert_fail("not a literal: %s", host);
	return (ss);
}

/* Does ${host} fall in the one network ${net}? */
static int
in(const char * net, const char * host)
{
	struct cidr c;
	struct sockaddr_storage ss = sa(host);

	cr_assert_eq(cidr_parse(net, &c), 0, "%s refused", net);
	return (cidr_match(&c, 1, (const struct sockaddr *)&ss));
}

Test(cidr, parse)
{
	static const char * const good[] = { "192.0.2.0/24", "10.0.0.0/8",
	    "0.0.0.0/0", "192.0.2.10", "192.0.2.10/32", "::/0", "::1",
	    "2001:db8::/32", "2001:db8::1/128", "fe80::/10" };
	static const char * const bad[] = { "", "/", "192.0.2.1/24",
	    "192.0.2.0/33", "192.0.2.0/", "192.0.2.0/-1", "192.0.2.0/024",
	    "192.0.2.0/8x", "2001:db8::1/64", "2001:db8::/129", "host",
	    "192.0.2.0/24/1", "1.2.3", "01.2.3.4", "[::1]", "::1/1000",
	    "2001:db8::/32 ", " 10.0.0.0/8",
	    "1111:2222:3333:4444:5555:6666:7777:8888/128xxxxxxxxxxxxxxxxx" };
	struct cidr c;
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_expect_eq(cidr_parse(good[i], &c), 0, "%s refused", good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(cidr_parse(bad[i], &c), -1, "%s taken", bad[i]);
}

Test(cidr, match)
{
	struct cidr nets[2];
	struct sockaddr_storage ss;

	cr_expect(in("192.0.2.0/24", "192.0.2.255"));
	cr_expect(!in("192.0.2.0/24", "192.0.3.0"));
	cr_expect(in("192.0.2.10", "192.0.2.10"));
	cr_expect(!in("192.0.2.10", "192.0.2.11"));
	cr_expect(in("0.0.0.0/0", "203.0.113.9"));
	/* An IPv4 client on a dual-stack socket is v4-mapped. */
	cr_expect(in("192.0.2.0/24", "::ffff:192.0.2.1"));
	cr_expect(in("::ffff:192.0.2.0/120", "192.0.2.1"));
	/* IPv4 networks never hold IPv6 clients, nor the reverse. */
	cr_expect(!in("0.0.0.0/0", "2001:db8::1"));
	cr_expect(in("::/0", "2001:db8::1"));
	cr_expect(in("2001:db8::/33", "2001:db8:7fff::1"));
	cr_expect(!in("2001:db8::/33", "2001:db8:8000::1"));
	cr_expect(in("fe80::/10", "febf::1"));
	cr_expect(!in("fe80::/10", "fec0::1"));
	/* Several networks: any one. */
	cr_assert_eq(cidr_parse("10.0.0.0/8", &nets[0]), 0);
	cr_assert_eq(cidr_parse("::1", &nets[1]), 0);
	ss = sa("::1");
	cr_expect(cidr_match(nets, 2, (struct sockaddr *)&ss));
	cr_expect(!cidr_match(nets, 1, (struct sockaddr *)&ss));
	ss.ss_family = AF_UNIX;
	cr_expect(!cidr_match(nets, 2, (struct sockaddr *)&ss));
}
