#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "cidr.h"

/* The IPv4-mapped prefix, ::ffff:0:0/96. */
static const uint8_t cidr_mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* Parse the prefix length ${s}: 0 .. ${max}, no leading zero.  -1 if bad. */
static int
cidr_bits(const char * s, unsigned max)
{
	unsigned v = 0;
	size_t i;

	if (s[0] == '\0' || (s[0] == '0' && s[1] != '\0') || strlen(s) > 3)
		return (-1);
	for (i = 0; s[i] != '\0'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return (v <= max ? (int)v : -1);
}

/* Do ${a} and ${b} agree in their first ${bits} bits? */
static int
cidr_same(const uint8_t * a, const uint8_t * b, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;
	uint8_t mask;

	if (memcmp(a, b, whole) != 0)
		return (0);
	if (rest == 0)
		return (1);
	mask = (uint8_t)(0xff << (8 - rest));
	return ((a[whole] & mask) == (b[whole] & mask));
}

/* Are all the bits of ${a} past the first ${bits} zero? */
static int
cidr_hostzero(const uint8_t a[16], unsigned bits)
{
	static const uint8_t zero[16];
	uint8_t b[16];
	unsigned i;

	memcpy(b, a, 16);
	for (i = 0; i < bits; i++)
		b[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
	return (memcmp(b, zero, 16) == 0);
}

/* Parse "ADDR[/BITS]". */
int
cidr_parse(const char * s, struct cidr * net)
{
	char buf[CIDR_STR_MAX + 1];
	const char * slash;
	struct cidr n;
	uint8_t a4[4];
	unsigned base, max;
	int bits;

	if (strlen(s) > CIDR_STR_MAX)
		return (-1);
	strcpy(buf, s);
	if ((slash = strchr(s, '/')) != NULL)
		buf[slash - s] = '\0';
	if (inet_pton(AF_INET, buf, a4) == 1) {
		memcpy(n.addr, cidr_mapped, 12);
		memcpy(&n.addr[12], a4, 4);
		base = 96;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, n.addr) == 1) {
		base = 0;
		max = 128;
	} else {
		return (-1);
	}
	bits = (slash != NULL) ? cidr_bits(slash + 1, max) : (int)max;
	if (bits == -1)
		return (-1);
	n.bits = base + (unsigned)bits;
	if (!cidr_hostzero(n.addr, n.bits))
		return (-1);
	*net = n;
	return (0);
}

/* Is the address of ${sa} in one of the networks? */
int
cidr_match(const struct cidr * nets, size_t n, const struct sockaddr * sa)
{
	const struct sockaddr_in * sin = (const struct sockaddr_in *)(const void *)sa;
	const struct sockaddr_in6 * sin6 =
	    (const struct sockaddr_in6 *)(const void *)sa;
	uint8_t a[16];
	size_t i;

	if (sa->sa_family == AF_INET) {
		memcpy(a, cidr_mapped, 12);
		memcpy(&a[12], &sin->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		memcpy(a, &sin6->sin6_addr, 16);
	} else {
		return (0);
	}
	for (i = 0; i < n; i++)
		if (cidr_same(a, nets[i].addr, nets[i].bits))
			return (1);
	return (0);
}
