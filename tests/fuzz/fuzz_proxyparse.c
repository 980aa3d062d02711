/*
 * libFuzzer harness for proxyparse_parse() (src/proxyparse.c): the reader
 * of incoming PROXY headers (--accept-proxy).  The input is the bytes a
 * balancer's connection begins with.
 *
 * Checked:
 *   - the verdict is NEED_MORE, INVALID or OK, and the header struct is
 *     untouched unless OK;
 *   - OK: the length is at most the input's and PROXYPARSE_MAX; a v1 line
 *     ("P...") is 15-107 bytes, ends with its only CR and LF; a v2 header
 *     ("\r...") is 16 + its length field, and TCP addresses and ports are
 *     the bytes of its address block (a reference written here from the
 *     spec); TCP addresses are of one family, that of "TCP4"/"TCP6" in v1,
 *     and a v1 line proxyhdr_build() writes for them reads back the same;
 *   - the verdict is a property of the header alone: the header cut to its
 *     exact length (a heap block of that size) gives the same result, and
 *     one byte less gives NEED_MORE;
 *   - NEED_MORE: any shorter beginning is NEED_MORE too, and the input is
 *     shorter than PROXYPARSE_MAX (a header is never waited for past it);
 *   - INVALID: the input followed by more bytes stays INVALID.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proxyhdr.h"
#include "proxyparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Parse a copy of the first ${n} bytes of ${d} in a block of exactly n. */
static int
parse_copy(const uint8_t * d, size_t n, struct proxyparse_hdr * h)
{
	uint8_t * b = malloc(n + 1);
	int rc;

	if (b == NULL)
		abort();
	memcpy(b, d, n);
	rc = proxyparse_parse(n ? b : NULL, n, h);
	free(b);
	return (rc);
}

/* The address and port of ${ss} as 16 bytes (IPv4 mapped) and a port. */
static void
norm(const struct sockaddr_storage * ss, uint8_t a[16], uint16_t * port)
{
	const struct sockaddr_in * sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 * sin6 = (const struct sockaddr_in6 *)ss;

	memset(a, 0, 16);
	if (ss->ss_family == AF_INET) {
		a[10] = a[11] = 0xff;
		memcpy(&a[12], &sin->sin_addr, 4);
		*port = ntohs(sin->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		memcpy(a, &sin6->sin6_addr, 16);
		*port = ntohs(sin6->sin6_port);
	} else {
		abort();
	}
}

/* Do ${x} and ${y} name the same address and port? */
static int
same(const struct sockaddr_storage * x, const struct sockaddr_storage * y)
{
	uint8_t a[16], b[16];
	uint16_t p, q;

	norm(x, a, &p);
	norm(y, b, &q);
	return (memcmp(a, b, 16) == 0 && p == q);
}

/* The v2 reference: TCP addresses from the block, as the spec lays it. */
static void
check_v2(const uint8_t * d, const struct proxyparse_hdr * h)
{
	const struct sockaddr_in * s4 = (const struct sockaddr_in *)&h->src;
	const struct sockaddr_in * d4 = (const struct sockaddr_in *)&h->dst;
	const struct sockaddr_in6 * s6 = (const struct sockaddr_in6 *)&h->src;
	const struct sockaddr_in6 * d6 = (const struct sockaddr_in6 *)&h->dst;

	if (h->len != 16 + (((size_t)d[14] << 8) | d[15]))
		abort();
	if ((d[12] & 0xf) == 0) {
		if (h->kind != PROXYPARSE_LOCAL)
			abort();
		return;
	}
	if ((d[13] == 0x11 || d[13] == 0x21) != (h->kind == PROXYPARSE_TCP))
		abort();
	if (d[13] == 0x11 && (s4->sin_family != AF_INET ||
	    d4->sin_family != AF_INET ||
	    memcmp(&s4->sin_addr, &d[16], 4) || memcmp(&d4->sin_addr, &d[20], 4) ||
	    memcmp(&s4->sin_port, &d[24], 2) || memcmp(&d4->sin_port, &d[26], 2)))
		abort();
	if (d[13] == 0x21 && (s6->sin6_family != AF_INET6 ||
	    d6->sin6_family != AF_INET6 ||
	    memcmp(&s6->sin6_addr, &d[16], 16) ||
	    memcmp(&d6->sin6_addr, &d[32], 16) ||
	    memcmp(&s6->sin6_port, &d[48], 2) ||
	    memcmp(&d6->sin6_port, &d[50], 2)))
		abort();
}

/* The v1 checks: the line's shape; TCP read back from proxyhdr_build. */
static void
check_v1(const uint8_t * d, const struct proxyparse_hdr * h)
{
	struct proxyparse_hdr h2;
	uint8_t line[PROXYHDR_MAX];
	ssize_t n;
	size_t i;

	if (h->len < 15 || h->len > PROXYPARSE_V1_MAX ||
	    d[h->len - 2] != '\r' || d[h->len - 1] != '\n')
		abort();
	for (i = 0; i < h->len - 2; i++)
		if (d[i] == '\r' || d[i] == '\n')
			abort();
	if ((memcmp(d, "PROXY UNKNOWN", 13) == 0) !=
	    (h->kind == PROXYPARSE_OTHER))
		abort();
	if (h->kind != PROXYPARSE_TCP)
		return;
	if (h->src.ss_family != h->dst.ss_family ||
	    h->src.ss_family != (d[9] == '4' ? AF_INET : AF_INET6))
		abort();
	if ((n = proxyhdr_build(PROXYHDR_V1, &h->src, &h->dst, line,
	    sizeof(line))) < 0)
		abort();
	if (proxyparse_parse(line, (size_t)n, &h2) != PROXYPARSE_OK ||
	    h2.len != (size_t)n || h2.kind != PROXYPARSE_TCP ||
	    !same(&h->src, &h2.src) || !same(&h->dst, &h2.dst))
		abort();
}

/* An OK header: its fields, and the same verdict from its bytes alone. */
static void
check_ok(const uint8_t * d, size_t n, const struct proxyparse_hdr * h)
{
	struct proxyparse_hdr h2;

	if (h->len == 0 || h->len > n || h->len > PROXYPARSE_MAX)
		abort();
	if (h->kind != PROXYPARSE_TCP && h->kind != PROXYPARSE_LOCAL &&
	    h->kind != PROXYPARSE_OTHER)
		abort();
	if (d[0] == 'P' && h->version == 1)
		check_v1(d, h);
	else if (d[0] == '\r' && h->version == 2)
		check_v2(d, h);
	else
		abort();
	memset(&h2, 0, sizeof(h2));
	if (parse_copy(d, h->len, &h2) != PROXYPARSE_OK || h2.len != h->len ||
	    h2.kind != h->kind || h2.version != h->version)
		abort();
	if (h->kind == PROXYPARSE_TCP &&
	    (!same(&h->src, &h2.src) || !same(&h->dst, &h2.dst)))
		abort();
	if (parse_copy(d, h->len - 1, &h2) != PROXYPARSE_NEED_MORE)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t * d, size_t n)
{
	struct proxyparse_hdr h, blank;
	uint8_t * more;
	int rc;

	memset(&h, 0xa5, sizeof(h));
	memset(&blank, 0xa5, sizeof(blank));
	rc = proxyparse_parse(d, n, &h);
	switch (rc) {
	case PROXYPARSE_OK:
		check_ok(d, n, &h);
		break;
	case PROXYPARSE_NEED_MORE:
		if (memcmp(&h, &blank, sizeof(h)) != 0 || n >= PROXYPARSE_MAX)
			abort();
		if (n > 0 && parse_copy(d, n - 1, &h) != PROXYPARSE_NEED_MORE)
			abort();
		if (parse_copy(d, n / 2, &h) != PROXYPARSE_NEED_MORE)
			abort();
		break;
	case PROXYPARSE_INVALID:
		if (memcmp(&h, &blank, sizeof(h)) != 0)
			abort();
		if ((more = malloc(n + 8)) == NULL)
			abort();
		memcpy(more, d, n);
		memcpy(&more[n], "\r\n\r\nPROX", 8);
		if (proxyparse_parse(more, n + 8, &h) != PROXYPARSE_INVALID)
			abort();
		free(more);
		break;
	default:
		abort();
	}
	return (0);
}
