#ifndef CIDR_H_
#define CIDR_H_

/*
 * Networks given as CIDR ("192.0.2.0/24", "2001:db8::/32", or one address)
 * and whether an address is inside one of them.  A pure module: strings and
 * addresses in, no allocation, nothing reported.  IPv4 networks are kept
 * as IPv4-mapped IPv6 (::ffff:0:0/96 + the prefix), so that a client
 * accepted on a dual-stack socket as ::ffff:a.b.c.d matches an IPv4 network.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A network: the first ${bits} bits of ${addr} (IPv6 or IPv4-mapped). */
struct cidr {
	uint8_t addr[16];
	unsigned bits;		/* 0 .. 128. */
};

/* The longest CIDR string taken (an IPv6 address, "/128"). */
#define CIDR_STR_MAX	(45 + 4)

/**
 * cidr_parse(s, net):
 * Parse ${s}, "ADDR/BITS" or "ADDR" (a single host): ADDR an IPv4 address
 * (BITS 0-32) or an IPv6 address (BITS 0-128), BITS decimal without a
 * leading zero; no bit past the prefix may be set in ADDR (so that
 * "192.0.2.1/24" is refused rather than guessed).  Return 0 and fill
 * ${net}, or -1 (nothing reported; ${net} untouched).
 */
int cidr_parse(const char *, struct cidr *);

/**
 * cidr_match(nets, n, sa):
 * Return 1 if the address of ${sa} (AF_INET or AF_INET6) is inside one of
 * the ${n} networks ${nets}, else 0 (also for any other family).
 */
int cidr_match(const struct cidr *, size_t, const struct sockaddr *);

#endif /* !CIDR_H_ */
