/*
 * Tests of src/proxyhdr.c, the PROXY protocol header (haproxy's
 * doc/proxy-protocol.txt), and of the relay that sends it.  Three parts:
 *   - exact bytes: v1 lines and v2 headers written out by hand from the
 *     spec for IPv4, IPv6, IPv4-mapped and mixed ends, the longest line,
 *     the IPv6 text form, buffer sizes, refused families and versions, and
 *     the ",proxy=" values;
 *   - real consumers: nginx (proxy_protocol listeners, the address read
 *     back from its access log) and haproxy (accept-proxy, the address read
 *     back from its answer) parse what proxyhdr_build() wrote, v1 and v2,
 *     with IPv4 and IPv6 clients, over 127.0.0.1 and ::1.  The servers are
 *     started by tests/proxy_consumer.c;
 *   - through the real, sandboxed relay (",proxy=v1|v2" on a route): the
 *     exact bytes a capture backend gets (the header, then the client's
 *     bytes; on the hidden route the bytes after the knock), IPv4 and IPv6,
 *     a wildcard listener (the destination from getsockname), and nginx and
 *     haproxy reading the client's address from the relay's header.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "proxy_consumer.h"
#include "proxyhdr.h"

/* The socket address of the literal ${host} and ${port}. */
static struct sockaddr_storage
addr(const char * host, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in * sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 * sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
	} else
		cr_assert_fail("not a literal: %s", host);
	return (ss);
}

/* Print ${len} bytes as hex into ${s} (for failure messages). */
static const char *
hex(const uint8_t * p, size_t len, char * s, size_t slen)
{
	size_t i, n = 0;

	s[0] = '\0';
	for (i = 0; i < len && n + 3 < slen; i++)
		n += (size_t)snprintf(&s[n], slen - n, "%02x", p[i]);
	return (s);
}

/* Build ${version} for ${src} -> ${dst}; expect exactly ${want}. */
static void
expect_header(int version, const char * src, uint16_t sport,
    const char * dst, uint16_t dport, const void * want, size_t wantlen)
{
	struct sockaddr_storage s = addr(src, sport), d = addr(dst, dport);
	uint8_t buf[PROXYHDR_MAX];
	char got[2 * PROXYHDR_MAX + 1], exp[2 * PROXYHDR_MAX + 1];
	ssize_t n;

	n = proxyhdr_build(version, &s, &d, buf, sizeof(buf));
	cr_assert_eq(n, (ssize_t)wantlen, "v%d %s:%u -> %s:%u: length %zd, "
	    "expected %zu", version, src, sport, dst, dport, n, wantlen);
	cr_expect_eq(memcmp(buf, want, wantlen), 0,
	    "v%d %s:%u -> %s:%u:\n got %s\nwant %s", version, src, sport, dst,
	    dport, hex(buf, wantlen, got, sizeof(got)),
	    hex(want, wantlen, exp, sizeof(exp)));
}

/* Expect the v1 line ${line} for ${src} -> ${dst}. */
static void
expect_v1(const char * src, uint16_t sport, const char * dst, uint16_t dport,
    const char * line)
{

	expect_header(PROXYHDR_V1, src, sport, dst, dport, line, strlen(line));
}

Test(proxyhdr, v1_tcp4)
{

	expect_v1("192.0.2.10", 51234, "198.51.100.1", 443,
	    "PROXY TCP4 192.0.2.10 198.51.100.1 51234 443\r\n");
	/* The spec's example. */
	expect_v1("192.168.0.1", 56324, "192.168.0.11", 443,
	    "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
	/* No leading zeros, zero itself as "0". */
	expect_v1("10.0.0.7", 0, "0.0.0.0", 9,
	    "PROXY TCP4 10.0.0.7 0.0.0.0 0 9\r\n");
	/* The spec's longest TCP4 line: 56 bytes. */
	expect_v1("255.255.255.255", 65535, "255.255.255.255", 65535,
	    "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n");
}

Test(proxyhdr, v1_tcp6)
{

	expect_v1("2001:db8::1", 51234, "2001:db8::2", 443,
	    "PROXY TCP6 2001:db8::1 2001:db8::2 51234 443\r\n");
	expect_v1("::1", 40000, "::1", 8443,
	    "PROXY TCP6 ::1 ::1 40000 8443\r\n");
}

/*
 * The longest line: two 39-character IPv6 addresses and ports 65535, 104
 * bytes, within the spec's 107 (its worst case is "PROXY UNKNOWN" with the
 * same fields, never written here), and PROXYHDR_MAX holds it.
 */
Test(proxyhdr, v1_longest_line)
{
	static const char line[] = "PROXY TCP6 "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	static const char f[] = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";

	cr_assert_eq(strlen(line), 104);
	cr_assert_leq(strlen(line), PROXYHDR_V1_MAX);
	cr_assert_gt(PROXYHDR_MAX, PROXYHDR_V1_MAX);
	expect_v1(f, 65535, f, 65535, line);
	/* No zero group to compress: every one of the 8 groups in full. */
	expect_v1("1234:5678:9abc:def0:1234:5678:9abc:def0", 65535,
	    "fedc:ba98:7654:3210:fedc:ba98:7654:3210", 65535,
	    "PROXY TCP6 1234:5678:9abc:def0:1234:5678:9abc:def0 "
	    "fedc:ba98:7654:3210:fedc:ba98:7654:3210 65535 65535\r\n");
}

/* The IPv6 text form: RFC 5952, and hexadecimal groups only. */
Test(proxyhdr, v1_ipv6_text_form)
{
	static const struct {
		const char * in, * out;
	} cases[] = {
		{ "::", "::" },
		{ "::1", "::1" },
		{ "1::", "1::" },
		{ "2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1" },
		{ "ABCD:EF01::", "abcd:ef01::" },
		/* One zero group is not compressed. */
		{ "1:0:1:1:1:1:1:1", "1:0:1:1:1:1:1:1" },
		{ "0:1:1:1:1:1:1:1", "0:1:1:1:1:1:1:1" },
		{ "1:1:1:1:1:1:1:0", "1:1:1:1:1:1:1:0" },
		/* The longest run, the first of two equal ones. */
		{ "1:0:0:1:0:0:0:1", "1:0:0:1::1" },
		{ "1:0:0:1:0:0:1:1", "1::1:0:0:1:1" },
		{ "1:0:0:0:1:0:0:0", "1::1:0:0:0" },
		{ "0:0:1:0:0:0:0:1", "0:0:1::1" },
		/* inet_ntop writes these two as "::1.2.3.4", "::ffff:0:1.2.3.4". */
		{ "::102:304", "::102:304" },
		{ "::ffff:0:102:304", "::ffff:0:102:304" },
		{ "fe80::1:2", "fe80::1:2" },
	};
	char line[PROXYHDR_MAX];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(line, sizeof(line), "PROXY TCP6 %s 2001:db8::2 1 2\r\n",
		    cases[i].out);
		expect_v1(cases[i].in, 1, "2001:db8::2", 2, line);
	}
}

/*
 * IPv4-mapped IPv6 counts as IPv4: both ends IPv4 (mapped or not) give
 * TCP4 with the plain addresses; one IPv4 end with a real IPv6 one gives
 * TCP6 with the IPv4 end mapped, in hexadecimal groups.
 */
Test(proxyhdr, v1_mapped_and_mixed)
{
	static const char tcp4[] =
	    "PROXY TCP4 192.0.2.10 198.51.100.1 51234 443\r\n";

	expect_v1("::ffff:192.0.2.10", 51234, "::ffff:198.51.100.1", 443, tcp4);
	expect_v1("::ffff:192.0.2.10", 51234, "198.51.100.1", 443, tcp4);
	expect_v1("192.0.2.10", 51234, "::ffff:198.51.100.1", 443, tcp4);
	expect_v1("192.0.2.10", 51234, "2001:db8::2", 443,
	    "PROXY TCP6 ::ffff:c000:20a 2001:db8::2 51234 443\r\n");
	expect_v1("::ffff:192.0.2.10", 51234, "2001:db8::2", 443,
	    "PROXY TCP6 ::ffff:c000:20a 2001:db8::2 51234 443\r\n");
	expect_v1("2001:db8::1", 51234, "198.51.100.1", 443,
	    "PROXY TCP6 2001:db8::1 ::ffff:c633:6401 51234 443\r\n");
}

/* The v2 signature, \x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A. */
#define SIG 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, \
	    0x54, 0x0a

Test(proxyhdr, v2_tcp4)
{
	static const uint8_t want[] = {
		SIG,
		0x21,			/* Version 2, PROXY. */
		0x11,			/* TCP over IPv4. */
		0x00, 0x0c,		/* 12 address bytes. */
		192, 0, 2, 10,		/* Source. */
		198, 51, 100, 1,	/* Destination. */
		0xc8, 0x22,		/* 51234. */
		0x01, 0xbb,		/* 443. */
	};

	cr_assert_eq(sizeof(want), PROXYHDR_V2_LEN4);
	expect_header(PROXYHDR_V2, "192.0.2.10", 51234, "198.51.100.1", 443,
	    want, sizeof(want));
	/* Mapped ends are IPv4 too. */
	expect_header(PROXYHDR_V2, "::ffff:192.0.2.10", 51234,
	    "::ffff:198.51.100.1", 443, want, sizeof(want));
	expect_header(PROXYHDR_V2, "::ffff:192.0.2.10", 51234,
	    "198.51.100.1", 443, want, sizeof(want));
}

Test(proxyhdr, v2_tcp6)
{
	static const uint8_t want[] = {
		SIG,
		0x21,			/* Version 2, PROXY. */
		0x21,			/* TCP over IPv6. */
		0x00, 0x24,		/* 36 address bytes. */
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0x01,	/* 2001:db8::1. */
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0x02,	/* 2001:db8::2. */
		0xc8, 0x22,		/* 51234. */
		0x01, 0xbb,		/* 443. */
	};
	static const uint8_t mixed[] = {
		SIG, 0x21, 0x21, 0x00, 0x24,
		0, 0, 0, 0, 0, 0, 0, 0,
		0, 0, 0xff, 0xff, 192, 0, 2, 10,	/* ::ffff:192.0.2.10. */
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
		0, 0, 0, 0, 0, 0, 0, 0x02,
		0xff, 0xff,		/* 65535. */
		0x00, 0x00,		/* 0. */
	};

	cr_assert_eq(sizeof(want), PROXYHDR_V2_LEN6);
	expect_header(PROXYHDR_V2, "2001:db8::1", 51234, "2001:db8::2", 443,
	    want, sizeof(want));
	expect_header(PROXYHDR_V2, "192.0.2.10", 65535, "2001:db8::2", 0,
	    mixed, sizeof(mixed));
}

/* A buffer one byte short is refused untouched; the exact size is enough. */
Test(proxyhdr, buffer_sizes)
{
	static const struct {
		int version;
		const char * src, * dst;
		size_t len;
	} cases[] = {
		{ PROXYHDR_V1, "192.0.2.10", "198.51.100.1", 46 },
		{ PROXYHDR_V1, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 104 },
		{ PROXYHDR_V2, "192.0.2.10", "198.51.100.1", 28 },
		{ PROXYHDR_V2, "2001:db8::1", "2001:db8::2", 52 },
	};
	struct sockaddr_storage s, d;
	uint8_t buf[PROXYHDR_MAX + 1];
	size_t i, j;
	ssize_t n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = addr(cases[i].src, 51234);
		d = addr(cases[i].dst, 443);
		if (cases[i].len == 104) {
			s = addr(cases[i].src, 65535);
			d = addr(cases[i].dst, 65535);
		}
		memset(buf, 0xa5, sizeof(buf));
		n = proxyhdr_build(cases[i].version, &s, &d, buf,
		    cases[i].len - 1);
		cr_expect_eq(n, -1, "case %zu: %zu bytes accepted", i,
		    cases[i].len - 1);
		for (j = 0; j < sizeof(buf); j++)
			cr_assert_eq(buf[j], 0xa5, "case %zu: byte %zu written "
			    "on failure", i, j);
		cr_expect_eq(proxyhdr_build(cases[i].version, &s, &d, buf, 0),
		    -1, "case %zu: 0 bytes", i);
		n = proxyhdr_build(cases[i].version, &s, &d, buf,
		    cases[i].len);
		cr_expect_eq(n, (ssize_t)cases[i].len, "case %zu: %zd", i, n);
		/* Nothing past the header, not even a NUL. */
		cr_expect_eq(buf[cases[i].len], 0xa5, "case %zu: byte past "
		    "the header written", i);
	}
}

/* Families other than AF_INET and AF_INET6, and other versions, refused. */
Test(proxyhdr, refused)
{
	struct sockaddr_storage v4 = addr("192.0.2.10", 1);
	struct sockaddr_storage v6 = addr("2001:db8::1", 1);
	struct sockaddr_storage un, unspec;
	static const int versions[] = { -1, 0, 3, 0x21, 'v' };
	uint8_t buf[PROXYHDR_MAX];
	size_t i;

	memset(&un, 0, sizeof(un));
	un.ss_family = AF_UNIX;
	memset(&unspec, 0, sizeof(unspec));
	unspec.ss_family = AF_UNSPEC;
	for (i = 1; i <= 2; i++) {
		cr_expect_eq(proxyhdr_build((int)i, &un, &v4, buf, sizeof(buf)),
		    -1, "v%zu AF_UNIX source", i);
		cr_expect_eq(proxyhdr_build((int)i, &v6, &un, buf, sizeof(buf)),
		    -1, "v%zu AF_UNIX destination", i);
		cr_expect_eq(proxyhdr_build((int)i, &unspec, &unspec, buf,
		    sizeof(buf)), -1, "v%zu AF_UNSPEC", i);
		cr_expect_eq(proxyhdr_build((int)i, &v4, &v4, buf, sizeof(buf)),
		    i == 1 ? 38 : 28, "v%zu IPv4 is accepted", i);
	}
	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		cr_expect_eq(proxyhdr_build(versions[i], &v4, &v6, buf,
		    sizeof(buf)), -1, "version %d", versions[i]);
}

Test(proxyhdr, parse_version)
{
	static const struct {
		const char * s;
		int v;
	} cases[] = {
		{ "off", PROXYHDR_OFF }, { "v1", PROXYHDR_V1 },
		{ "v2", PROXYHDR_V2 },
		{ "", -1 }, { "1", -1 }, { "2", -1 }, { "V1", -1 },
		{ "v3", -1 }, { "v0", -1 }, { "v1 ", -1 }, { " v1", -1 },
		{ "v12", -1 }, { "on", -1 }, { "OFF", -1 }, { "v", -1 },
		{ "v2\n", -1 },
	};
	size_t i;

	cr_expect_eq(PROXYHDR_OFF, 0);
	cr_expect_eq(PROXYHDR_V1, 1);
	cr_expect_eq(PROXYHDR_V2, 2);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_expect_eq(proxyhdr_parse_version(cases[i].s), cases[i].v,
		    "\"%s\"", cases[i].s);
	cr_expect_eq(proxyhdr_parse_version(NULL), -1);
}

/* ---- Real consumers: nginx and haproxy parse what proxyhdr_build wrote. */

/* A connection the header describes, and the listener it is sent over. */
struct pp_case {
	const char * src;
	uint16_t sport;
	const char * dst;
	uint16_t dport;
	int via;		/* AF_INET: 127.0.0.1, AF_INET6: [::1]. */
};

static const struct pp_case pp_cases[] = {
	{ "192.0.2.10", 51234, "198.51.100.1", 443, AF_INET },
	{ "2001:db8::1", 51234, "2001:db8::2", 443, AF_INET6 },
	/* The header, not the connection, gives the family. */
	{ "192.0.2.10", 51234, "198.51.100.1", 443, AF_INET6 },
	{ "2001:db8::1", 51234, "2001:db8::2", 443, AF_INET },
	/* Mapped ends become TCP4; a mixed pair TCP6 with the IPv4 mapped. */
	{ "::ffff:192.0.2.10", 51234, "::ffff:198.51.100.1", 443, AF_INET },
	{ "192.0.2.10", 51234, "2001:db8::2", 443, AF_INET6 },
	/* The longest line, the extreme ports. */
	{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
	  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, AF_INET6 },
	{ "255.255.255.255", 1, "0.0.0.0", 65535, AF_INET },
};
#define NPP_CASES	(sizeof(pp_cases) / sizeof(pp_cases[0]))

/* The address ${s} as 16 bytes, IPv4 as IPv4-mapped IPv6. */
static void
header_form(const char * s, uint8_t a[16])
{
	struct sockaddr_storage ss = addr(s, 0);
	static const uint8_t map[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	memcpy(a, map, 12);
	if (ss.ss_family == AF_INET)
		memcpy(&a[12], &((struct sockaddr_in *)&ss)->sin_addr, 4);
	else
		memcpy(a, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
}

/* Is ${s} an IPv4 or IPv4-mapped address? */
static int
is_v4(const char * s)
{
	uint8_t a[16];
	static const uint8_t map[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	header_form(s, a);
	return (memcmp(a, map, 12) == 0);
}

/*
 * Check the consumer's "SRC SPORT DST DPORT" ${got} against case ${c}:
 * the addresses parsed back (inet_pton) equal what the header carried,
 * of the family the header had (TCP4: dotted quads), and the ports.
 */
static void
expect_parsed(const char * who, int version, const struct pp_case * c,
    const char * got)
{
	char sa[64], da[64];
	unsigned sp, dp;
	uint8_t ws[16], wd[16], gs[16], gd[16];
	int v4 = is_v4(c->src) && is_v4(c->dst);
	int fam = v4 ? AF_INET : AF_INET6;

	if (sscanf(got, "%63s %u %63s %u", sa, &sp, da, &dp) != 4) {
		cr_expect_fail("%s v%d %s -> %s: unreadable \"%s\"", who,
		    version, c->src, c->dst, got);
		return;
	}
	header_form(c->src, ws);
	header_form(c->dst, wd);
	memcpy(gs, ws, 12);
	memcpy(gd, wd, 12);
	cr_expect_eq(inet_pton(fam, sa, v4 ? &gs[12] : gs), 1,
	    "%s v%d: source \"%s\" is not %s", who, version, sa,
	    v4 ? "IPv4" : "IPv6");
	cr_expect_eq(inet_pton(fam, da, v4 ? &gd[12] : gd), 1,
	    "%s v%d: destination \"%s\" is not %s", who, version, da,
	    v4 ? "IPv4" : "IPv6");
	cr_expect(memcmp(gs, ws, 16) == 0 && memcmp(gd, wd, 16) == 0,
	    "%s v%d: parsed \"%s\", header was %s -> %s", who, version, got,
	    c->src, c->dst);
	cr_expect(sp == c->sport && dp == c->dport, "%s v%d: parsed ports "
	    "%u %u, header had %u %u", who, version, sp, dp, c->sport,
	    c->dport);
}

/* Send case ${c} as ${version} to the consumer ${P}: what it parsed. */
static int
send_case(const struct proxy_consumer * P, int version,
    const struct pp_case * c, int nth, char * got, size_t gotlen)
{
	struct sockaddr_storage s = addr(c->src, c->sport);
	struct sockaddr_storage d = addr(c->dst, c->dport);
	uint8_t hdr[PROXYHDR_MAX];
	char resp[1024];
	const char * body;
	ssize_t n;

	n = proxyhdr_build(version, &s, &d, hdr, sizeof(hdr));
	cr_assert_gt(n, 0);
	if (proxy_http_get(c->via, c->via == AF_INET ? P->port4 : P->port6,
	    hdr, (size_t)n, resp, sizeof(resp), 5000) < 0)
		return (-1);
	if ((body = proxy_http_body(resp)) == NULL) {
		cr_log_error("no 200 answer: \"%s\"", resp);
		return (-1);
	}
	if (P->kind == PROXY_NGINX)
		return (proxy_nginx_log_line(P, nth, got, gotlen, 3000));
	snprintf(got, gotlen, "%s", body);
	return (0);
}

/* Every case as ${version} through the consumer ${kind}. */
static void
consumer_cases(int kind, int version)
{
	const char * who = (kind == PROXY_NGINX) ? "nginx" : "haproxy";
	struct proxy_consumer P;
	char got[256];
	size_t i;

	if (!proxy_have(kind))
		cr_skip_test("%s is not installed", who);
	cr_assert_eq(kind == PROXY_NGINX ? proxy_nginx_start(&P) :
	    proxy_haproxy_start(&P), 0, "%s did not start", who);
	for (i = 0; i < NPP_CASES; i++) {
		if (send_case(&P, version, &pp_cases[i], (int)i + 1, got,
		    sizeof(got)) != 0) {
			cr_expect_fail("%s v%d %s -> %s over %s: no answer or "
			    "no log line", who, version, pp_cases[i].src,
			    pp_cases[i].dst,
			    pp_cases[i].via == AF_INET ? "127.0.0.1" : "::1");
			break;
		}
		expect_parsed(who, version, &pp_cases[i], got);
	}
	proxy_consumer_stop(&P);
}

Test(proxyhdr_nginx, v1, .timeout = 60)
{

	consumer_cases(PROXY_NGINX, PROXYHDR_V1);
}

Test(proxyhdr_nginx, v2, .timeout = 60)
{

	consumer_cases(PROXY_NGINX, PROXYHDR_V2);
}

Test(proxyhdr_haproxy, v1, .timeout = 60)
{

	consumer_cases(PROXY_HAPROXY, PROXYHDR_V1);
}

Test(proxyhdr_haproxy, v2, .timeout = 60)
{

	consumer_cases(PROXY_HAPROXY, PROXYHDR_V2);
}

/*
 * The consumers are strict, so the tests above can fail: no header, or a
 * header one byte off, and neither answers 200 (nginx logs no address
 * either).  A v1 family that does not match the addresses is refused by
 * haproxy only: nginx 1.22 takes "TCP4" with IPv6 addresses as they are.
 */
static const struct {
	const char * what;
	const char * bytes;
	size_t len;
	int haproxy_only;
} bad_headers[] = {
	{ "no header", "", 0, 0 },
	{ "v1 TCP5", "PROXY TCP5 192.0.2.10 198.51.100.1 51234 443\r\n", 46,
	  0 },
	{ "v1 LF only", "PROXY TCP4 192.0.2.10 198.51.100.1 51234 443\n", 45,
	  0 },
	{ "v1 TCP4 with IPv6",
	  "PROXY TCP4 2001:db8::1 2001:db8::2 51234 443\r\n", 46, 1 },
	{ "v2 version 3", "\r\n\r\n\0\r\nQUIT\n\x31\x11\x00\x0c"
	  "\xc0\x00\x02\x0a\xc6\x33\x64\x01\xc8\x22\x01\xbb", 28, 0 },
	{ "v2 signature", "\r\n\r\n\0\r\nQUIT\r\x21\x11\x00\x0c"
	  "\xc0\x00\x02\x0a\xc6\x33\x64\x01\xc8\x22\x01\xbb", 28, 0 },
};

/* Every bad header to the consumer ${kind}: refused. */
static void
consumer_refuses(int kind)
{
	const char * who = (kind == PROXY_NGINX) ? "nginx" : "haproxy";
	struct proxy_consumer P;
	char resp[1024], line[256];
	size_t i;

	if (!proxy_have(kind))
		cr_skip_test("%s is not installed", who);
	cr_assert_eq(kind == PROXY_NGINX ? proxy_nginx_start(&P) :
	    proxy_haproxy_start(&P), 0, "%s did not start", who);
	for (i = 0; i < sizeof(bad_headers) / sizeof(bad_headers[0]); i++) {
		if (bad_headers[i].haproxy_only && kind != PROXY_HAPROXY)
			continue;
		(void)proxy_http_get(AF_INET, P.port4, bad_headers[i].bytes,
		    bad_headers[i].len, resp, sizeof(resp), 5000);
		cr_expect_null(proxy_http_body(resp), "%s answered 200 to %s",
		    who, bad_headers[i].what);
	}
	if (kind == PROXY_NGINX)
		cr_expect_eq(proxy_nginx_log_line(&P, 1, line, sizeof(line),
		    200), -1, "nginx logged \"%s\"", line);
	proxy_consumer_stop(&P);
}

Test(proxyhdr_nginx, refuses_bad_headers, .timeout = 60)
{

	consumer_refuses(PROXY_NGINX);
}

Test(proxyhdr_haproxy, refuses_bad_headers, .timeout = 60)
{

	consumer_refuses(PROXY_HAPROXY);
}

/* ================= through the relay ================= */

#define PR_KNOCK	"open-sesame"
#define PR_KLEN		(sizeof(PR_KNOCK) - 1)

static struct h_backend pr_normal, pr_hidden;
static struct h_relay pr_relay;

/* "127.0.0.1:PORT" or "[::1]:PORT" (${family}), then ${opt}, into ${buf}. */
static const char *
pr_addr(char * buf, size_t len, int family, uint16_t port, const char * opt)
{

	snprintf(buf, len, family == AF_INET6 ? "[::1]:%u%s" :
	    "127.0.0.1:%u%s", port, opt);
	return (buf);
}

/* The ",proxy=vN" option for ${version} (PROXYHDR_OFF: none). */
static const char *
pr_opt(int version)
{

	return (version == PROXYHDR_V1 ? ",proxy=v1" :
	    version == PROXYHDR_V2 ? ",proxy=v2" : "");
}

/*
 * Start a relay on ${family}'s loopback (and on ${listen2} too, unless
 * NULL) with --normal ${n} and --hidden ${h} as given.
 */
static void
pr_relay_start(int family, const char * n, const char * h,
    const char * listen2)
{
	static const char * extra[8];
	size_t i = 0;

	extra[i++] = "--normal";
	extra[i++] = n;
	extra[i++] = "--hidden";
	extra[i++] = h;
	if (listen2 != NULL) {
		extra[i++] = "--listen";
		extra[i++] = listen2;
	}
	extra[i] = NULL;
	h_relay_start(&pr_relay, &(struct h_relay_conf){ .family = family,
	    .extra = extra, .knock = PR_KNOCK });
}

/* The port of the relay's listener logged as "listening on ${prefix}PORT". */
static uint16_t
pr_listen_port(const char * prefix)
{
	char want[64];
	const char * p;

	snprintf(want, sizeof(want), "listening on %s", prefix);
	cr_assert(h_relay_log_wait(&pr_relay, want, 3000) == 0, "no \"%s\"; "
	    "log:\n%s", want, pr_relay.log);
	pthread_mutex_lock(&pr_relay.mtx);
	p = strstr(pr_relay.log, want) + strlen(want);
	pthread_mutex_unlock(&pr_relay.mtx);
	return ((uint16_t)strtoul(p, NULL, 10));
}

/* The local port of the socket ${fd}. */
static uint16_t
pr_local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	cr_assert(getsockname(fd, (struct sockaddr *)&ss, &len) == 0);
	if (ss.ss_family == AF_INET)
		return (ntohs(((struct sockaddr_in *)&ss)->sin_port));
	return (ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
}

/*
 * The header, written out from the spec, for a TCP connection from
 * loopback (${family}) port ${sport} to loopback port ${dport}, into
 * ${out} (PROXYHDR_MAX bytes); its length.
 */
static size_t
pr_expected(int version, int family, uint16_t sport, uint16_t dport,
    uint8_t * out)
{
	const char * lo = (family == AF_INET) ? "127.0.0.1" : "::1";
	size_t alen = (family == AF_INET) ? 12 : 36, i;
	uint8_t * p = out + 16;

	if (version == PROXYHDR_V1)
		return ((size_t)snprintf((char *)out, PROXYHDR_MAX,
		    "PROXY %s %s %s %u %u\r\n", family == AF_INET ? "TCP4" :
		    "TCP6", lo, lo, sport, dport));
	memcpy(out, "\r\n\r\n\0\r\nQUIT\n", 12);
	out[12] = 0x21;				/* Version 2, PROXY. */
	out[13] = (family == AF_INET) ? 0x11 : 0x21;	/* TCP over v4/v6. */
	out[14] = 0;
	out[15] = (uint8_t)alen;
	for (i = 0; i < 2; i++) {
		if (family == AF_INET) {
			memcpy(p, "\x7f\0\0\x01", 4);
			p += 4;
		} else {
			memset(p, 0, 15);
			p[15] = 1;
			p += 16;
		}
	}
	*p++ = (uint8_t)(sport >> 8);
	*p++ = (uint8_t)sport;
	*p++ = (uint8_t)(dport >> 8);
	*p++ = (uint8_t)dport;
	return (16 + alen);
}

/*
 * A client connects to ${port} (${family}), sends the knock if ${hidden}
 * and a message, and half-closes; the backend of that route must have got
 * exactly the header of ${version} for this connection (destination port
 * ${port}) and then the message, once, and the client the echo of both.
 */
static void
pr_exact(int family, int hidden, int version, uint16_t port)
{
	static const char knocked[] = PR_KNOCK "SSH-2.0-client\r\n";
	static const char plain[] = "GET / HTTP/1.0\r\n\r\n";
	const char * msg = hidden ? knocked : plain;
	size_t len = hidden ? sizeof(knocked) - 1 : sizeof(plain) - 1;
	const char * payload = hidden ? msg + PR_KLEN : msg;
	size_t plen = hidden ? len - PR_KLEN : len;
	struct h_backend * B = hidden ? &pr_hidden : &pr_normal;
	uint8_t want[PROXYHDR_MAX + 64], got[512];
	size_t wlen, n;
	int fd;

	fd = h_connect(family, port);
	wlen = pr_expected(version, family, pr_local_port(fd), port, want);
	memcpy(want + wlen, payload, plen);
	wlen += plen;
	h_send_all(fd, msg, len);
	cr_assert(shutdown(fd, SHUT_WR) == 0);
	n = h_recv(fd, got, sizeof(got), 5000);
	close(fd);
	cr_assert(h_backend_wait_done(B, 1, 3000) == 0, "the backend saw no "
	    "EOF; log:\n%s", pr_relay.log);
	pthread_mutex_lock(&B->mtx);
	cr_assert(B->last.len == wlen && B->last.headlen == wlen &&
	    memcmp(B->last.head, want, wlen) == 0, "the %s backend got %llu "
	    "bytes \"%.*s\", want %zu: \"%.*s\"", hidden ? "hidden" : "normal",
	    (unsigned long long)B->last.len, (int)B->last.headlen,
	    B->last.head, wlen, (int)wlen, want);
	pthread_mutex_unlock(&B->mtx);
	cr_assert(n == wlen && memcmp(got, want, wlen) == 0, "the client got "
	    "%zu bytes of the echo, want %zu", n, wlen);
	cr_assert_eq((hidden ? &pr_normal : &pr_hidden)->conns, 0);
}

/* Through the hidden route without a header: the bytes after the knock. */
static void
pr_exact_plain_hidden(void)
{
	static const char msg[] = PR_KNOCK "plain";
	char got[64];
	size_t n;
	int fd;

	fd = h_connect(AF_INET, pr_relay.port);
	h_send_all(fd, msg, sizeof(msg) - 1);
	cr_assert(shutdown(fd, SHUT_WR) == 0);
	n = h_recv(fd, got, sizeof(got), 5000);
	close(fd);
	cr_assert(n == 5 && memcmp(got, "plain", 5) == 0, "the hidden route "
	    "without proxy= sent %zu bytes \"%.*s\"", n, (int)n, got);
	cr_assert(h_backend_wait_done(&pr_hidden, 1, 3000) == 0);
	cr_assert(pr_hidden.last.len == 5 && memcmp(pr_hidden.last.head,
	    "plain", 5) == 0);
}

/* Echo backends on ${family}; the route under test with proxy=v${version}. */
static void
pr_exact_case(int family, int hidden, int version)
{
	char n[64], h[64];

	h_backend_start(&pr_normal, &(struct h_backend_conf){ .family = family,
	    .mode = H_ECHO });
	h_backend_start(&pr_hidden, &(struct h_backend_conf){ .family = family,
	    .mode = H_ECHO });
	pr_relay_start(family, pr_addr(n, sizeof(n), family, pr_normal.port,
	    pr_opt(hidden ? PROXYHDR_OFF : version)), pr_addr(h, sizeof(h),
	    family, pr_hidden.port, pr_opt(hidden ? version : PROXYHDR_OFF)),
	    NULL);
	pr_exact(family, hidden, version, pr_relay.port);
	h_relay_down(&pr_relay);
	h_backend_stop(&pr_normal);
	h_backend_stop(&pr_hidden);
}

Test(proxy_relay, v1_normal_ipv4_exact_bytes, .timeout = 30)
{

	pr_exact_case(AF_INET, 0, PROXYHDR_V1);
}

Test(proxy_relay, v2_normal_ipv4_exact_bytes, .timeout = 30)
{

	pr_exact_case(AF_INET, 0, PROXYHDR_V2);
}

Test(proxy_relay, v1_hidden_after_the_knock_exact_bytes, .timeout = 30)
{

	pr_exact_case(AF_INET, 1, PROXYHDR_V1);
}

Test(proxy_relay, v2_hidden_after_the_knock_exact_bytes, .timeout = 30)
{

	pr_exact_case(AF_INET, 1, PROXYHDR_V2);
}

Test(proxy_relay, v1_normal_ipv6_exact_bytes, .timeout = 30)
{

	pr_exact_case(AF_INET6, 0, PROXYHDR_V1);
}

Test(proxy_relay, v2_hidden_ipv6_exact_bytes, .timeout = 30)
{

	pr_exact_case(AF_INET6, 1, PROXYHDR_V2);
}

Test(proxy_relay, wildcard_listener_destination_from_getsockname,
    .timeout = 30)
{
	char n[64], h[64];
	uint16_t port;

	/* A second listener on 0.0.0.0: the address comes from the socket. */
	h_backend_start(&pr_normal, &(struct h_backend_conf){ .mode = H_ECHO });
	h_backend_start(&pr_hidden, &(struct h_backend_conf){ .mode = H_ECHO });
	pr_relay_start(AF_INET, pr_addr(n, sizeof(n), AF_INET, pr_normal.port,
	    ",proxy=v2"), pr_addr(h, sizeof(h), AF_INET, pr_hidden.port, ""),
	    "0.0.0.0:0");
	port = pr_listen_port("0.0.0.0:");
	pr_exact(AF_INET, 0, PROXYHDR_V2, port);
	h_relay_down(&pr_relay);
	h_backend_stop(&pr_normal);
	h_backend_stop(&pr_hidden);
}

Test(proxy_relay, v1_on_a_route_after_its_knock, .timeout = 30)
{
	static const char knock2[] = "second-knock";
	static const char payload[] = "SSH-2.0-client\r\n";
	char kf[] = "/tmp/l7kk-proxy-knock-XXXXXX", n[64], h[64], r[128];
	struct h_backend route;
	uint8_t want[PROXYHDR_MAX + 64], got[512];
	size_t wlen, len;
	int fd;

	/* A --route with a knock file and proxy=v1; the others without. */
	cr_assert((fd = mkstemp(kf)) != -1);
	cr_assert(write(fd, knock2, sizeof(knock2) - 1) ==
	    (ssize_t)sizeof(knock2) - 1);
	close(fd);
	h_backend_start(&pr_normal, &(struct h_backend_conf){ .mode = H_ECHO });
	h_backend_start(&pr_hidden, &(struct h_backend_conf){ .mode = H_ECHO });
	h_backend_start(&route, &(struct h_backend_conf){ .mode = H_ECHO });
	snprintf(r, sizeof(r), "127.0.0.1:%u,knock-file=%s,name=web,proxy=v1",
	    route.port, kf);
	h_relay_start(&pr_relay, &(struct h_relay_conf){ .extra = (const char
	    *[]){ "--normal", pr_addr(n, sizeof(n), AF_INET, pr_normal.port,
	    ""), "--hidden", pr_addr(h, sizeof(h), AF_INET, pr_hidden.port, ""),
	    "--route", r, NULL }, .knock = PR_KNOCK });
	unlink(kf);

	fd = h_connect(AF_INET, pr_relay.port);
	wlen = pr_expected(PROXYHDR_V1, AF_INET, pr_local_port(fd),
	    pr_relay.port, want);
	memcpy(want + wlen, payload, sizeof(payload) - 1);
	wlen += sizeof(payload) - 1;
	h_send_all(fd, knock2, sizeof(knock2) - 1);
	h_send_all(fd, payload, sizeof(payload) - 1);
	cr_assert(shutdown(fd, SHUT_WR) == 0);
	len = h_recv(fd, got, sizeof(got), 5000);
	close(fd);
	cr_assert(h_backend_wait_done(&route, 1, 3000) == 0, "the route's "
	    "backend saw no EOF; log:\n%s", pr_relay.log);
	cr_assert(route.last.len == wlen && memcmp(route.last.head, want,
	    wlen) == 0, "the route's backend got \"%.*s\", want \"%.*s\"",
	    (int)route.last.headlen, route.last.head, (int)wlen, want);
	cr_assert(len == wlen && memcmp(got, want, wlen) == 0);
	cr_assert_eq(pr_normal.conns + pr_hidden.conns, 0);

	/* The hidden route has no header: its backend gets the bytes only. */
	pr_exact_plain_hidden();
	h_relay_down(&pr_relay);
	h_backend_stop(&route);
	h_backend_stop(&pr_normal);
	h_backend_stop(&pr_hidden);
}

/*
 * A real consumer ${kind} behind the relay's normal route with
 * proxy=v${version}, a client of ${family}: the consumer must parse the
 * client's address and port and the relay's listener from the header.
 */
static void
pr_consumer(int kind, int version, int family)
{
	const char * who = (kind == PROXY_NGINX) ? "nginx" : "haproxy";
	const char * lo = (family == AF_INET) ? "127.0.0.1" : "::1";
	struct proxy_consumer P;
	char n[64], h[64], resp[1024], got[256], sa[64], da[64], from[96];
	const char * body;
	unsigned sp, dp;

	if (!proxy_have(kind))
		cr_skip_test("%s is not installed", who);
	cr_assert_eq(kind == PROXY_NGINX ? proxy_nginx_start(&P) :
	    proxy_haproxy_start(&P), 0, "%s did not start", who);
	h_backend_start(&pr_hidden, &(struct h_backend_conf){ .family = family,
	    .mode = H_ECHO });
	pr_relay_start(family, pr_addr(n, sizeof(n), family, family == AF_INET ?
	    P.port4 : P.port6, pr_opt(version)), pr_addr(h, sizeof(h), family,
	    pr_hidden.port, ""), NULL);
	cr_assert_gt(proxy_http_get(family, pr_relay.port, NULL, 0, resp,
	    sizeof(resp), 5000), 0, "no answer through the relay");
	cr_assert_not_null(body = proxy_http_body(resp), "%s did not answer "
	    "200 through the relay: \"%s\"; log:\n%s", who, resp,
	    pr_relay.log);
	if (kind == PROXY_NGINX)
		cr_assert_eq(proxy_nginx_log_line(&P, 1, got, sizeof(got), 3000),
		    0, "nginx logged nothing");
	else
		snprintf(got, sizeof(got), "%s", body);
	cr_assert_eq(sscanf(got, "%63s %u %63s %u", sa, &sp, da, &dp), 4,
	    "%s: unreadable \"%s\"", who, got);
	cr_assert(strcmp(sa, lo) == 0 && strcmp(da, lo) == 0 &&
	    dp == pr_relay.port, "%s parsed \"%s\", want %s PORT %s %u", who,
	    got, lo, lo, pr_relay.port);
	/* The source port is the client's, as the relay logged it. */
	snprintf(from, sizeof(from), family == AF_INET ? "from %s:%u " :
	    "from [%s]:%u ", lo, sp);
	cr_assert(h_relay_log_wait(&pr_relay, from, 3000) == 0, "%s parsed "
	    "source port %u, the relay logged another; log:\n%s", who, sp,
	    pr_relay.log);
	h_relay_down(&pr_relay);
	h_backend_stop(&pr_hidden);
	proxy_consumer_stop(&P);
}

Test(proxy_relay, nginx_v1_ipv4, .timeout = 60)
{

	pr_consumer(PROXY_NGINX, PROXYHDR_V1, AF_INET);
}

Test(proxy_relay, nginx_v1_ipv6, .timeout = 60)
{

	pr_consumer(PROXY_NGINX, PROXYHDR_V1, AF_INET6);
}

Test(proxy_relay, nginx_v2_ipv4, .timeout = 60)
{

	pr_consumer(PROXY_NGINX, PROXYHDR_V2, AF_INET);
}

Test(proxy_relay, nginx_v2_ipv6, .timeout = 60)
{

	pr_consumer(PROXY_NGINX, PROXYHDR_V2, AF_INET6);
}

Test(proxy_relay, haproxy_v1_ipv4, .timeout = 60)
{

	pr_consumer(PROXY_HAPROXY, PROXYHDR_V1, AF_INET);
}

Test(proxy_relay, haproxy_v2_ipv6, .timeout = 60)
{

	pr_consumer(PROXY_HAPROXY, PROXYHDR_V2, AF_INET6);
}
