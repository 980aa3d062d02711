/*
 * libFuzzer harness for proxyhdr_build() (src/proxyhdr.c): the PROXY
 * protocol header sent to backends.  A builder, not a parser, but every
 * header it writes is parsed back here by a small reader written from
 * haproxy's doc/proxy-protocol.txt and compared with the addresses given.
 *
 * Input (missing bytes are 0): [0] version (0-3: 0 and 3 must be refused),
 * [1] and [2] the source and destination kind (0 AF_INET, 1 AF_INET6,
 * 2 IPv4-mapped AF_INET6, 3 AF_UNIX, 4 AF_UNSPEC), [3] a mask of the IPv6
 * groups forced to zero (so "::" runs of every shape occur), [4..5] the
 * buffer size (0-511), then the source address (16 bytes) and port (2),
 * the destination address and port.
 *
 * Checked:
 *   - -1 exactly when the version or a family is refused or the buffer is
 *     smaller than the header; then the buffer (a heap block of exactly
 *     its size, prefilled) is untouched;
 *   - v1: "PROXY TCP4 " when both ends are IPv4 or IPv4-mapped, else
 *     "PROXY TCP6 "; four fields separated by single spaces; CRLF at the
 *     end only; at most 107 bytes; IPv4 as four decimal numbers without
 *     leading zeros; IPv6 in lower-case hex groups and colons only, no
 *     group with a leading zero, at most one "::", and equal to inet_ntop's
 *     whenever inet_ntop writes no dotted quad; both addresses parse back
 *     (inet_pton) to the ones given (IPv4 ends mapped in TCP6); ports in
 *     decimal without leading zeros, equal to the ones given;
 *   - v2: byte for byte the header rebuilt here (signature, 0x21, 0x11 or
 *     0x21, length 12 or 36, addresses, ports big-endian);
 *   - proxyhdr_parse_version() of the whole input as a string (cut at its
 *     first NUL, in a heap block of exactly its size): 0, 1, 2 for exactly
 *     "off", "v1", "v2", else -1.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proxyhdr.h"

/* The fields the input gives, decoded. */
struct input {
	int version, skind, dkind;
	unsigned zmask;
	size_t buflen;
	uint8_t sa[16], da[16];
	uint16_t sport, dport;
};

static const uint8_t mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* Byte ${i} of the input, 0 past its end. */
static uint8_t
at(const uint8_t * d, size_t n, size_t i)
{

	return (i < n ? d[i] : 0);
}

/* Decode the input. */
static void
decode(const uint8_t * d, size_t n, struct input * I)
{
	size_t i;

	I->version = at(d, n, 0) % 4;
	I->skind = at(d, n, 1) % 5;
	I->dkind = at(d, n, 2) % 5;
	I->zmask = at(d, n, 3);
	I->buflen = (((size_t)at(d, n, 4) << 8) | at(d, n, 5)) % 512;
	for (i = 0; i < 16; i++) {
		I->sa[i] = at(d, n, 6 + i);
		I->da[i] = at(d, n, 24 + i);
	}
	I->sport = (uint16_t)((at(d, n, 22) << 8) | at(d, n, 23));
	I->dport = (uint16_t)((at(d, n, 40) << 8) | at(d, n, 41));
	for (i = 0; i < 8; i++)
		if (I->zmask & (1U << i)) {
			I->sa[2 * i] = I->sa[2 * i + 1] = 0;
			I->da[2 * i] = I->da[2 * i + 1] = 0;
		}
}

/*
 * The socket address of ${kind} from ${a} and ${port}; store the address
 * as 16 bytes (IPv4 mapped) in ${a16}.
 */
static void
make_addr(int kind, const uint8_t a[16], uint16_t port,
    struct sockaddr_storage * ss, uint8_t a16[16])
{
	struct sockaddr_in * sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 * sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	memcpy(a16, a, 16);
	if (kind == 0) {
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, &a[12], 4);
		sin->sin_port = htons(port);
		memcpy(a16, mapped, 12);
	} else if (kind == 1 || kind == 2) {
		if (kind == 2)
			memcpy(a16, mapped, 12);
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, a16, 16);
		sin6->sin6_port = htons(port);
	} else
		ss->ss_family = (kind == 3) ? AF_UNIX : AF_UNSPEC;
}

/* A decimal field without leading zeros; its value, or -1. */
static long
decimal(const char * s, size_t len, long max)
{
	long v = 0;
	size_t i;

	if (len == 0 || len > 5 || (len > 1 && s[0] == '0'))
		return (-1);
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (s[i] - '0');
	}
	return (v <= max ? v : -1);
}

/* Check an IPv4 field ${s} (NUL-terminated) equals ${a}. */
static void
check_v4(const char * s, const uint8_t a[4])
{
	const char * p = s, * dot;
	uint8_t got[4];
	int i;

	for (i = 0; i < 4; i++) {
		dot = (i < 3) ? strchr(p, '.') : p + strlen(p);
		if (dot == NULL || decimal(p, (size_t)(dot - p), 255) < 0)
			abort();
		p = dot + 1;
	}
	if (inet_pton(AF_INET, s, got) != 1 || memcmp(got, a, 4) != 0)
		abort();
}

/* Check an IPv6 field ${s} (NUL-terminated) equals ${a}. */
static void
check_v6(const char * s, const uint8_t a[16])
{
	char ntop[INET6_ADDRSTRLEN];
	uint8_t got[16];
	const char * p;
	size_t glen = 0;

	if (strlen(s) > 39 || strspn(s, "0123456789abcdef:") != strlen(s))
		abort();
	if ((p = strstr(s, "::")) != NULL && strstr(p + 1, "::") != NULL)
		abort();
	for (p = s; ; p++) {
		if (*p == ':' || *p == '\0') {
			if (glen > 4 || (glen > 1 && p[-(long)glen] == '0'))
				abort();
			glen = 0;
			if (*p == '\0')
				break;
		} else
			glen++;
	}
	if (inet_pton(AF_INET6, s, got) != 1 || memcmp(got, a, 16) != 0)
		abort();
	if (inet_ntop(AF_INET6, a, ntop, sizeof(ntop)) == NULL)
		abort();
	if (strchr(ntop, '.') == NULL && strcmp(ntop, s) != 0)
		abort();
}

/* Parse the v1 line ${h} of ${n} bytes; check it against ${I}. */
static void
check_v1(const uint8_t * h, size_t n, int v4, const uint8_t s16[16],
    const uint8_t d16[16], const struct input * I)
{
	char line[PROXYHDR_MAX + 1], * f[4], * p;
	int i;

	if (n > PROXYHDR_V1_MAX || n < 2 || h[n - 2] != '\r' || h[n - 1] != '\n')
		abort();
	if (memchr(h, '\r', n - 2) || memchr(h, '\n', n - 2) ||
	    memchr(h, '\0', n))
		abort();
	memcpy(line, h, n - 2);
	line[n - 2] = '\0';
	if (strncmp(line, v4 ? "PROXY TCP4 " : "PROXY TCP6 ", 11) != 0)
		abort();
	p = &line[11];
	for (i = 0; i < 4; i++) {
		f[i] = p;
		p = (i < 3) ? strchr(p, ' ') : p + strlen(p);
		if (p == NULL || p == f[i])
			abort();
		if (i < 3)
			*p++ = '\0';
	}
	if (v4) {
		check_v4(f[0], &s16[12]);
		check_v4(f[1], &d16[12]);
	} else {
		check_v6(f[0], s16);
		check_v6(f[1], d16);
	}
	if (decimal(f[2], strlen(f[2]), 65535) != I->sport ||
	    decimal(f[3], strlen(f[3]), 65535) != I->dport)
		abort();
}

/* Rebuild the v2 header into ${w}; return its length. */
static size_t
expect_v2(int v4, const uint8_t s16[16], const uint8_t d16[16],
    const struct input * I, uint8_t * w)
{
	size_t alen = v4 ? 4 : 16, n = 16;

	memcpy(w, "\x0d\x0a\x0d\x0a\x00\x0d\x0a\x51\x55\x49\x54\x0a", 12);
	w[12] = 0x21;
	w[13] = v4 ? 0x11 : 0x21;
	w[14] = 0;
	w[15] = v4 ? 12 : 36;
	memcpy(&w[n], v4 ? &s16[12] : s16, alen);
	n += alen;
	memcpy(&w[n], v4 ? &d16[12] : d16, alen);
	n += alen;
	w[n++] = (uint8_t)(I->sport >> 8);
	w[n++] = (uint8_t)I->sport;
	w[n++] = (uint8_t)(I->dport >> 8);
	w[n++] = (uint8_t)I->dport;
	return (n);
}

/* The input as a string: proxyhdr_parse_version() against strcmp. */
static void
check_parse(const uint8_t * d, size_t n)
{
	const uint8_t * nul = memchr(d, '\0', n);
	size_t len = nul ? (size_t)(nul - d) : n;
	char * s;
	int want = -1;

	if ((s = malloc(len + 1)) == NULL)
		abort();
	memcpy(s, d, len);
	s[len] = '\0';
	if (strcmp(s, "off") == 0)
		want = 0;
	else if (strcmp(s, "v1") == 0)
		want = 1;
	else if (strcmp(s, "v2") == 0)
		want = 2;
	if (proxyhdr_parse_version(s) != want)
		abort();
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t * d, size_t n)
{
	struct sockaddr_storage src, dst;
	uint8_t s16[16], d16[16], want[PROXYHDR_MAX], * buf, ref[PROXYHDR_MAX];
	struct input I;
	size_t i, wantlen = 0;
	ssize_t rc, rref;
	int v4, ok;

	decode(d, n, &I);
	make_addr(I.skind, I.sa, I.sport, &src, s16);
	make_addr(I.dkind, I.da, I.dport, &dst, d16);
	if ((buf = malloc(I.buflen ? I.buflen : 1)) == NULL)
		abort();
	memset(buf, 0xa5, I.buflen);

	rc = proxyhdr_build(I.version, &src, &dst, buf, I.buflen);

	ok = (I.version == 1 || I.version == 2) && I.skind <= 2 && I.dkind <= 2;
	v4 = (memcmp(s16, mapped, 12) == 0) && (memcmp(d16, mapped, 12) == 0);
	if (ok && I.version == 2)
		wantlen = expect_v2(v4, s16, d16, &I, want);
	if (ok && I.version == 1) {
		/* The line from a buffer always big enough, parsed back. */
		if ((rref = proxyhdr_build(1, &src, &dst, ref, sizeof(ref))) < 0)
			abort();
		wantlen = (size_t)rref;
		check_v1(ref, wantlen, v4, s16, d16, &I);
	}
	if (!ok || I.buflen < wantlen) {
		if (rc != -1)
			abort();
		for (i = 0; i < I.buflen; i++)
			if (buf[i] != 0xa5)
				abort();
	} else {
		if (rc != (ssize_t)wantlen)
			abort();
		if (I.version == 2 && memcmp(buf, want, wantlen) != 0)
			abort();
		if (I.version == 1 && memcmp(buf, ref, wantlen) != 0)
			abort();
	}
	free(buf);
	check_parse(d, n);
	return (0);
}
