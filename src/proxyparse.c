#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "proxyparse.h"

/* v2: the signature, the fixed part's length. */
static const uint8_t proxyparse_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};
#define V2_FIXED	16

/* v1: what every line begins with, and the words after it. */
#define V1_PREFIX	"PROXY "
#define V1_PREFIXLEN	6
#define V1_TCP4		"TCP4 "
#define V1_TCP6		"TCP6 "
#define V1_UNKNOWN	"UNKNOWN"

/* The longest address written in a v1 line (inet_ntop's IPv6). */
#define V1_ADDR_MAX	45

/* Is ${buf} (${len} bytes) a beginning of, or all of, ${s} (${slen})? */
static int
proxyparse_prefix(const uint8_t * buf, size_t len, const void * s,
    size_t slen)
{

	return (memcmp(buf, s, len < slen ? len : slen) == 0);
}

/* The v2 address block's least length for PROXY over family byte ${fam}. */
static size_t
proxyparse_v2_min(uint8_t fam)
{

	switch (fam >> 4) {
	case 0x1:
		return ((fam & 0xf) != 0 ? 12 : 0);
	case 0x2:
		return ((fam & 0xf) != 0 ? 36 : 0);
	case 0x3:
		return ((fam & 0xf) != 0 ? 216 : 0);
	default:
		return (0);
	}
}

/* Fill ${ss} with the IPv4 or IPv6 address at ${a} (4 or 16 bytes), port. */
static void
proxyparse_sa(struct sockaddr_storage * ss, int family, const uint8_t * a,
    const uint8_t * port)
{
	struct sockaddr_in * sin = (struct sockaddr_in *)(void *)ss;
	struct sockaddr_in6 * sin6 = (struct sockaddr_in6 *)(void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a, 4);
		memcpy(&sin->sin_port, port, 2);
	} else {
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, a, 16);
		memcpy(&sin6->sin6_port, port, 2);
	}
}

/* Version 2 (${buf} begins like the signature). */
static int
proxyparse_v2(const uint8_t * buf, size_t len, struct proxyparse_hdr * hdr)
{
	size_t alen, alen_min;
	uint8_t cmd, fam;

	if (!proxyparse_prefix(buf, len, proxyparse_sig, sizeof(proxyparse_sig)))
		return (PROXYPARSE_INVALID);
	/* Version 2; command LOCAL (0) or PROXY (1). */
	if (len > 12 && (buf[12] >> 4 != 2 || (buf[12] & 0xf) > 1))
		return (PROXYPARSE_INVALID);
	/* Family UNSPEC, INET, INET6 or UNIX; protocol UNSPEC, STREAM, DGRAM. */
	if (len > 13 && (buf[13] >> 4 > 3 || (buf[13] & 0xf) > 2))
		return (PROXYPARSE_INVALID);
	if (len < V2_FIXED)
		return (PROXYPARSE_NEED_MORE);
	cmd = buf[12] & 0xf;
	fam = buf[13];
	alen = ((size_t)buf[14] << 8) | buf[15];
	if (alen > PROXYPARSE_MAX - V2_FIXED)
		return (PROXYPARSE_INVALID);
	/* LOCAL: the family and the addresses are ignored (the spec). */
	alen_min = (cmd == 0) ? 0 : proxyparse_v2_min(fam);
	if (alen < alen_min)
		return (PROXYPARSE_INVALID);
	if (len < V2_FIXED + alen)
		return (PROXYPARSE_NEED_MORE);

	hdr->len = V2_FIXED + alen;
	hdr->version = 2;
	if (cmd == 0) {
		hdr->kind = PROXYPARSE_LOCAL;
	} else if (fam == 0x11) {
		hdr->kind = PROXYPARSE_TCP;
		proxyparse_sa(&hdr->src, AF_INET, &buf[16], &buf[24]);
		proxyparse_sa(&hdr->dst, AF_INET, &buf[20], &buf[26]);
	} else if (fam == 0x21) {
		hdr->kind = PROXYPARSE_TCP;
		proxyparse_sa(&hdr->src, AF_INET6, &buf[16], &buf[48]);
		proxyparse_sa(&hdr->dst, AF_INET6, &buf[32], &buf[50]);
	} else {
		hdr->kind = PROXYPARSE_OTHER;
	}
	return (PROXYPARSE_OK);
}

/* A v1 port: 0-65535 in decimal without leading zeros.  0 or -1. */
static int
proxyparse_port(const char * s, size_t len, uint8_t port[2])
{
	unsigned long v = 0;
	size_t i;

	if (len == 0 || len > 5 || (len > 1 && s[0] == '0'))
		return (-1);
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return (-1);
	port[0] = (uint8_t)(v >> 8);
	port[1] = (uint8_t)v;
	return (0);
}

/* A v1 address of ${family}, ${len} bytes at ${s}, into ${a}.  0 or -1. */
static int
proxyparse_addr(const char * s, size_t len, int family, uint8_t a[16])
{
	char str[V1_ADDR_MAX + 1];

	if (len == 0 || len > V1_ADDR_MAX)
		return (-1);
	memcpy(str, s, len);
	str[len] = '\0';
	return (inet_pton(family, str, a) == 1 ? 0 : -1);
}

/*
 * The four fields of a TCP4/TCP6 line, ${len} bytes at ${s} (without the
 * CRLF): "SRC DST SPORT DPORT", single spaces.  0 or -1.
 */
static int
proxyparse_v1_fields(const char * s, size_t len, int family,
    struct proxyparse_hdr * hdr)
{
	const char * f[4];
	size_t flen[4];
	uint8_t a[2][16], p[2][2];
	size_t i, n = 0, start = 0;

	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != ' ')
			continue;
		if (n == 4)
			return (-1);
		f[n] = &s[start];
		flen[n++] = i - start;
		start = i + 1;
	}
	if (n != 4)
		return (-1);
	if (proxyparse_addr(f[0], flen[0], family, a[0]) ||
	    proxyparse_addr(f[1], flen[1], family, a[1]) ||
	    proxyparse_port(f[2], flen[2], p[0]) ||
	    proxyparse_port(f[3], flen[3], p[1]))
		return (-1);
	proxyparse_sa(&hdr->src, family, a[0], p[0]);
	proxyparse_sa(&hdr->dst, family, a[1], p[1]);
	return (0);
}

/* Can byte ${c} appear in the fields of a TCP4/TCP6 line? */
static int
proxyparse_v1_char(uint8_t c)
{

	return ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F') || c == '.' || c == ':' || c == ' ');
}

/*
 * Find the end of a v1 line in ${buf} (${len} bytes), whose fields start at
 * ${from} (characters checked there if ${tcp}): store the line's length,
 * CRLF included, in ${linelen} and return PROXYPARSE_OK, or another verdict.
 */
static int
proxyparse_v1_end(const uint8_t * buf, size_t len, size_t from, int tcp,
    size_t * linelen)
{
	size_t i;

	for (i = from; i < len && i < PROXYPARSE_V1_MAX; i++) {
		if (buf[i] == '\n')
			return (PROXYPARSE_INVALID);
		if (buf[i] == '\r')
			break;
		if (tcp && !proxyparse_v1_char(buf[i]))
			return (PROXYPARSE_INVALID);
	}
	/* No CR within the longest line; or none yet. */
	if (i >= PROXYPARSE_V1_MAX)
		return (PROXYPARSE_INVALID);
	if (i == len)
		return (PROXYPARSE_NEED_MORE);
	/* A CR: the next byte must be the LF, within the longest line. */
	if (i + 1 >= PROXYPARSE_V1_MAX)
		return (PROXYPARSE_INVALID);
	if (i + 1 == len)
		return (PROXYPARSE_NEED_MORE);
	if (buf[i + 1] != '\n')
		return (PROXYPARSE_INVALID);
	*linelen = i + 2;
	return (PROXYPARSE_OK);
}

/* Version 1 (${buf} begins with "P"). */
static int
proxyparse_v1(const uint8_t * buf, size_t len, struct proxyparse_hdr * hdr)
{
	const uint8_t * w = buf + V1_PREFIXLEN;
	size_t wlen, linelen = 0;
	int family, rc;

	if (!proxyparse_prefix(buf, len, V1_PREFIX, V1_PREFIXLEN))
		return (PROXYPARSE_INVALID);
	if (len <= V1_PREFIXLEN)
		return (PROXYPARSE_NEED_MORE);
	wlen = len - V1_PREFIXLEN;

	/* UNKNOWN: anything may follow, up to the CRLF. */
	if (proxyparse_prefix(w, wlen, V1_UNKNOWN, strlen(V1_UNKNOWN))) {
		if (wlen < strlen(V1_UNKNOWN))
			return (PROXYPARSE_NEED_MORE);
		if ((rc = proxyparse_v1_end(buf, len, V1_PREFIXLEN +
		    strlen(V1_UNKNOWN), 0, &linelen)) != PROXYPARSE_OK)
			return (rc);
		hdr->len = linelen;
		hdr->version = 1;
		hdr->kind = PROXYPARSE_OTHER;
		return (PROXYPARSE_OK);
	}
	if (proxyparse_prefix(w, wlen, V1_TCP4, strlen(V1_TCP4)))
		family = AF_INET;
	else if (proxyparse_prefix(w, wlen, V1_TCP6, strlen(V1_TCP6)))
		family = AF_INET6;
	else
		return (PROXYPARSE_INVALID);
	if (wlen <= strlen(V1_TCP4))
		return (PROXYPARSE_NEED_MORE);
	if ((rc = proxyparse_v1_end(buf, len, V1_PREFIXLEN + strlen(V1_TCP4),
	    1, &linelen)) != PROXYPARSE_OK)
		return (rc);
	if (proxyparse_v1_fields((const char *)w + strlen(V1_TCP4),
	    linelen - 2 - V1_PREFIXLEN - strlen(V1_TCP4), family, hdr))
		return (PROXYPARSE_INVALID);
	hdr->len = linelen;
	hdr->version = 1;
	hdr->kind = PROXYPARSE_TCP;
	return (PROXYPARSE_OK);
}

/* Read a PROXY header: v2 begins with CR, v1 with "P", nothing else may. */
int
proxyparse_parse(const uint8_t * buf, size_t len, struct proxyparse_hdr * hdr)
{

	if (len == 0)
		return (PROXYPARSE_NEED_MORE);
	if (buf[0] == proxyparse_sig[0])
		return (proxyparse_v2(buf, len, hdr));
	if (buf[0] == 'P')
		return (proxyparse_v1(buf, len, hdr));
	return (PROXYPARSE_INVALID);
}
