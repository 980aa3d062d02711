/*
 * libFuzzer harness for parse_hostport() (src/parse.c) and net_literal()
 * (src/net.c): the HOST:PORT arguments of --listen, --normal and --hidden.
 *
 * Input: [0] the size of the host buffer (0 .. 254, 255 meaning 300),
 * [1] bit 0 allow_zero, then the string (cut at its first NUL).  The
 * string and the host buffer are heap blocks of exactly their sizes, so
 * AddressSanitizer sees a read past the NUL or a write past hostlen.
 *
 * Checked against a reference written from src/parse.h:
 *   - "[H]:P" with H holding a ':' (IPv6), or "H:P" with exactly one ':';
 *     H is 1 .. PARSE_HOST_MAX bytes, shorter than hostlen, with no '['
 *     or ']'; P as parse_port(P, allow_zero); anything else is refused;
 *   - on success the host is NUL-terminated inside hostlen and equals H;
 *   - net_literal(): an accepted literal has the right family, length and
 *     port, and formats (net_format) to a string that parses back to the
 *     very same address.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "net.h"
#include "parse.h"

/* Reference parse_port: digits only, value in range. */
static int
ref_port(const char * s, int allow_zero, uint16_t * port)
{
	unsigned long v = 0;
	size_t i, n = strlen(s);

	if (n == 0)
		return (-1);
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > 65535)
			return (-1);
	}
	if (v == 0 && !allow_zero)
		return (-1);
	*port = (uint16_t)v;
	return (0);
}

/* Reference parse_hostport: host start and length, port. */
static int
ref_hostport(const char * s, size_t hostlen, int allow_zero,
    const char ** hp, size_t * hlenp, uint16_t * port)
{
	const char * h, * end, * p;
	size_t hlen, i;

	if (s[0] == '[') {
		h = s + 1;
		if ((end = strchr(h, ']')) == NULL || end[1] != ':')
			return (-1);
		hlen = (size_t)(end - h);
		p = end + 2;
		if (memchr(h, ':', hlen) == NULL)
			return (-1);
	} else {
		h = s;
		if ((end = strchr(s, ':')) == NULL || strchr(end + 1, ':'))
			return (-1);
		hlen = (size_t)(end - s);
		p = end + 1;
	}
	if (hlen == 0 || hlen > PARSE_HOST_MAX || hlen >= hostlen)
		return (-1);
	for (i = 0; i < hlen; i++)
		if (h[i] == '[' || h[i] == ']')
			return (-1);
	if (ref_port(p, allow_zero, port))
		return (-1);
	*hp = h;
	*hlenp = hlen;
	return (0);
}

/* An accepted literal: right shape, and it survives net_format and back. */
static void
check_literal(const struct net_addr * a, uint16_t port)
{
	char str[NET_ADDRSTR_MAX], host[PARSE_HOST_MAX + 1];
	struct net_addr b;
	uint16_t port2;

	if (a->ss.ss_family == AF_INET) {
		if (a->len != sizeof(struct sockaddr_in))
			abort();
	} else if (a->ss.ss_family == AF_INET6) {
		if (a->len != sizeof(struct sockaddr_in6))
			abort();
	} else
		abort();
	if (net_port((const struct sockaddr *)&a->ss) != port)
		abort();

	net_format((const struct sockaddr *)&a->ss, str, sizeof(str));
	if (parse_hostport(str, host, sizeof(host), &port2, 1) != 0 ||
	    port2 != port)
		abort();
	if (net_literal(host, port2, &b) != 0 || b.len != a->len ||
	    memcmp(&b.ss, &a->ss, a->len) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t * d, size_t n)
{
	size_t hostlen, len, rhlen = 0;
	const uint8_t * nul;
	const char * rh = NULL;
	char * s, * host;
	struct net_addr a;
	uint16_t port, rport = 0;
	int allow_zero, rc, rrc;

	if (n < 2)
		return (0);
	hostlen = (d[0] == 255) ? 300 : d[0];
	allow_zero = d[1] & 1;
	d += 2;
	n -= 2;
	nul = memchr(d, '\0', n);
	len = nul ? (size_t)(nul - d) : n;
	if ((s = malloc(len + 1)) == NULL)
		abort();
	memcpy(s, d, len);
	s[len] = '\0';
	if ((host = malloc(hostlen ? hostlen : 1)) == NULL)
		abort();

	rc = parse_hostport(s, host, hostlen, &port, allow_zero);
	rrc = ref_hostport(s, hostlen, allow_zero, &rh, &rhlen, &rport);
	if (rc != rrc)
		abort();
	if (rc == 0) {
		if (port != rport || memchr(host, '\0', hostlen) == NULL ||
		    strlen(host) != rhlen || memcmp(host, rh, rhlen) != 0)
			abort();
		if (net_literal(host, port, &a) == 0)
			check_literal(&a, port);
	}

	/* The whole string as a literal: never crashes, sane when accepted. */
	if (net_literal(s, 4242, &a) == 0)
		check_literal(&a, 4242);

	free(host);
	free(s);
	return (0);
}
