#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "proxyhdr.h"

/* Room for the longest IPv6 text form (8 groups of 4, 7 colons) and NUL. */
#define ADDR6_STRMAX	40

/* One end of the connection, as the header carries it. */
struct end {
	uint8_t a[16];		/* IPv6, or IPv4-mapped IPv6 for IPv4. */
	uint16_t port;		/* Host order. */
	int v4;			/* IPv4, or IPv4-mapped IPv6. */
};

/* The prefix of an IPv4-mapped IPv6 address. */
static const uint8_t mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* Load the end ${E} from the socket address ${ss}; 0, or -1 if no family. */
static int
end_load(const struct sockaddr_storage * ss, struct end * E)
{
	const struct sockaddr_in * sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 * sin6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET) {
		memcpy(E->a, mapped, sizeof(mapped));
		memcpy(&E->a[12], &sin->sin_addr, 4);
		E->port = ntohs(sin->sin_port);
		E->v4 = 1;
	} else if (ss->ss_family == AF_INET6) {
		memcpy(E->a, &sin6->sin6_addr, 16);
		E->port = ntohs(sin6->sin6_port);
		E->v4 = (memcmp(E->a, mapped, sizeof(mapped)) == 0);
	} else
		return (-1);
	return (0);
}

/* Write the 16-bit ${w} in lower-case hex without leading zeros at ${p}. */
static size_t
hex16(char * p, unsigned w)
{
	static const char digits[] = "0123456789abcdef";
	size_t n = 0;
	int shift;

	shift = 12;
	while (shift > 0 && (w >> shift) == 0)
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		p[n++] = digits[(w >> shift) & 0xf];
	return (n);
}

/* Find the longest run of two or more zero groups (the first on a tie). */
static void
zero_run(const unsigned w[8], int * best, int * bestlen)
{
	int i, start = 0, run = 0;

	*best = -1;
	*bestlen = 0;
	for (i = 0; i < 8; i++) {
		if (w[i] != 0) {
			run = 0;
			continue;
		}
		if (run++ == 0)
			start = i;
		if (run > *bestlen && run >= 2) {
			*best = start;
			*bestlen = run;
		}
	}
}

/* Write the IPv6 address ${a} in the RFC 5952 form into ${s}. */
static void
format6(const uint8_t a[16], char s[ADDR6_STRMAX])
{
	unsigned w[8];
	size_t n = 0, j;
	int i, best, bestlen;

	for (j = 0; j < 8; j++)
		w[j] = ((unsigned)a[2 * j] << 8) | a[2 * j + 1];
	zero_run(w, &best, &bestlen);
	for (i = 0; i < 8; i++) {
		if (best >= 0 && i >= best && i < best + bestlen) {
			if (i == best)
				s[n++] = ':';
			continue;
		}
		if (i != 0)
			s[n++] = ':';
		n += hex16(&s[n], w[i]);
	}
	if (best >= 0 && best + bestlen == 8)
		s[n++] = ':';
	s[n] = '\0';
}

/* Write the v1 line for ${S} -> ${D} into ${h}; return its length or -1. */
static ssize_t
build_v1(const struct end * S, const struct end * D, int v4,
    uint8_t h[PROXYHDR_MAX])
{
	char line[PROXYHDR_MAX], sa[ADDR6_STRMAX], da[ADDR6_STRMAX];
	const uint8_t * s = &S->a[12], * d = &D->a[12];
	int n;

	if (v4) {
		n = snprintf(line, sizeof(line),
		    "PROXY TCP4 %u.%u.%u.%u %u.%u.%u.%u %u %u\r\n",
		    s[0], s[1], s[2], s[3], d[0], d[1], d[2], d[3],
		    S->port, D->port);
	} else {
		format6(S->a, sa);
		format6(D->a, da);
		n = snprintf(line, sizeof(line), "PROXY TCP6 %s %s %u %u\r\n",
		    sa, da, S->port, D->port);
	}
	if (n < 0 || n > PROXYHDR_V1_MAX)
		return (-1);
	memcpy(h, line, (size_t)n);
	return (n);
}

/* Write the v2 header for ${S} -> ${D} into ${h}; return its length. */
static ssize_t
build_v2(const struct end * S, const struct end * D, int v4,
    uint8_t h[PROXYHDR_MAX])
{
	size_t alen = v4 ? 4 : 16, n = 16;

	memcpy(h, PROXYHDR_V2_SIG, PROXYHDR_V2_SIGLEN);
	h[12] = 0x21;			/* Version 2, command PROXY. */
	h[13] = v4 ? 0x11 : 0x21;	/* TCP over IPv4 or IPv6. */
	h[14] = 0;			/* Address length, big-endian. */
	h[15] = (uint8_t)(2 * alen + 4);
	memcpy(&h[n], v4 ? &S->a[12] : S->a, alen);
	n += alen;
	memcpy(&h[n], v4 ? &D->a[12] : D->a, alen);
	n += alen;
	h[n++] = (uint8_t)(S->port >> 8);
	h[n++] = (uint8_t)(S->port & 0xff);
	h[n++] = (uint8_t)(D->port >> 8);
	h[n++] = (uint8_t)(D->port & 0xff);
	return ((ssize_t)n);
}

/* Build the PROXY protocol header of a TCP connection. */
ssize_t
proxyhdr_build(int version, const struct sockaddr_storage * src,
    const struct sockaddr_storage * dst, uint8_t * buf, size_t buflen)
{
	uint8_t h[PROXYHDR_MAX];
	struct end S, D;
	ssize_t n;
	int v4;

	if (end_load(src, &S) || end_load(dst, &D))
		goto err0;
	v4 = S.v4 && D.v4;
	if (version == PROXYHDR_V1)
		n = build_v1(&S, &D, v4, h);
	else if (version == PROXYHDR_V2)
		n = build_v2(&S, &D, v4, h);
	else
		goto err0;
	if (n < 0 || (size_t)n > buflen)
		goto err0;
	memcpy(buf, h, (size_t)n);

	/* Success! */
	return (n);

err0:
	/* Failure! */
	return (-1);
}

/* Parse the value of a backend's ",proxy=" option. */
int
proxyhdr_parse_version(const char * s)
{

	if (s == NULL)
		return (-1);
	if (strcmp(s, "off") == 0)
		return (PROXYHDR_OFF);
	if (strcmp(s, "v1") == 0)
		return (PROXYHDR_V1);
	if (strcmp(s, "v2") == 0)
		return (PROXYHDR_V2);
	return (-1);
}
