#ifndef PROXYPARSE_H_
#define PROXYPARSE_H_

/*
 * Reading an incoming PROXY protocol header, version 1 or 2 (haproxy's
 * doc/proxy-protocol.txt), as a balancer sends it before the client's
 * bytes (--accept-proxy).  A pure module like the knock matcher: bytes in,
 * a verdict, the header's length and its addresses out; no descriptors,
 * no allocation, no stdio, nothing reported.  proxyhdr.c writes headers;
 * this module only reads them.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * The longest header taken (bytes): 536, the smallest MSS a TCP peer may
 * assume, since the specification says a header is "always smaller than an
 * MSS" and is sent at once.  It holds every v1 line (107 bytes at most),
 * every v2 address block (216 bytes at most, AF_UNIX) and 304 bytes of v2
 * TLVs; a v2 header that says it is longer is refused, never waited for.
 */
#define PROXYPARSE_MAX	536

/* The spec's longest v1 line, CRLF included. */
#define PROXYPARSE_V1_MAX	107

/* Verdicts of proxyparse_parse(). */
#define PROXYPARSE_NEED_MORE	0	/* A valid beginning: wait for more. */
#define PROXYPARSE_INVALID	1	/* Not a header, or a bad one: drop. */
#define PROXYPARSE_OK		2	/* A whole, valid header. */

/* What an OK header says (struct proxyparse_hdr, kind). */
#define PROXYPARSE_TCP		1	/* v1 TCP4/TCP6, v2 PROXY 0x11/0x21:
					   src and dst are set. */
#define PROXYPARSE_LOCAL	2	/* v2 LOCAL: the sender's own
					   connection (a health check). */
#define PROXYPARSE_OTHER	3	/* v1 UNKNOWN, v2 PROXY of another
					   family or protocol (UDP, AF_UNIX,
					   UNSPEC): no usable address. */

/* A whole header. */
struct proxyparse_hdr {
	size_t len;			/* Its length in bytes. */
	int version;			/* 1 or 2. */
	int kind;			/* PROXYPARSE_TCP, _LOCAL or _OTHER. */
	struct sockaddr_storage src;	/* TCP: the client (AF_INET or */
	struct sockaddr_storage dst;	/* AF_INET6), and where it connected. */
};

/**
 * proxyparse_parse(buf, len, hdr):
 * Read the PROXY header at the start of the ${len} bytes of ${buf}.
 * Return PROXYPARSE_OK and fill ${hdr} when a whole valid header is there
 * (${hdr}->len bytes; whatever follows is the client's and is not looked
 * at); PROXYPARSE_NEED_MORE while ${buf} is a valid beginning of a header
 * that is not complete yet (${hdr} untouched); PROXYPARSE_INVALID as soon
 * as the bytes cannot begin a valid header (${hdr} untouched).
 *
 * Version 2: the 12-byte signature, version 2 with command LOCAL or PROXY,
 * a known family (UNSPEC, INET, INET6, UNIX) and protocol (UNSPEC, STREAM,
 * DGRAM), a length of at least the family's address block and at most
 * PROXYPARSE_MAX - 16; bytes past the address block (TLVs) are skipped.
 * LOCAL is PROXYPARSE_LOCAL whatever its family says; PROXY over 0x11 or
 * 0x21 is PROXYPARSE_TCP; any other PROXY is PROXYPARSE_OTHER.
 *
 * Version 1: "PROXY TCP4 " or "PROXY TCP6 ", two addresses of that family,
 * two ports, single spaces, CRLF, within PROXYPARSE_V1_MAX bytes.  IPv4 is
 * four decimal numbers 0-255 without leading zeros; IPv6 is hexadecimal
 * groups with at most one "::" (inet_pton's form, which also takes a
 * dotted IPv4 tail as senders using inet_ntop write ::ffff:a.b.c.d); ports
 * are decimal 0-65535 without leading zeros.  "PROXY UNKNOWN", then
 * anything up to the CRLF, is PROXYPARSE_OTHER.  A CR or LF that is not
 * part of the final CRLF is invalid.
 */
int proxyparse_parse(const uint8_t *, size_t, struct proxyparse_hdr *);

#endif /* !PROXYPARSE_H_ */
