#ifndef PROXYHDR_H_
#define PROXYHDR_H_

/*
 * The PROXY protocol header (haproxy's doc/proxy-protocol.txt, versions 1
 * and 2) that tells a backend the client's address.  A pure module: bytes
 * out, no descriptors, no allocation, no stdio, nothing reported (the
 * caller names the connection when it reports a failure); usable inside
 * the sandbox.  Named proxyhdr_ apart from the relay's "proxy" (idle)
 * timeout.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Values of the backend option ",proxy=": no header, version 1 or 2. */
#define PROXYHDR_OFF	0
#define PROXYHDR_V1	1
#define PROXYHDR_V2	2

/*
 * Room for any header proxyhdr_build() writes.  The spec's longest v1 line
 * is 107 bytes with its CRLF ("PROXY UNKNOWN" with two full IPv6 addresses,
 * which is never sent here) and says that 108 bytes always hold a line and
 * a NUL; the longest line written here is 104 bytes (TCP6, two 39-character
 * addresses, ports 65535), and a v2 header without TLVs is 16 + 36 = 52
 * bytes.  A TLV added one day must raise this.
 */
#define PROXYHDR_MAX	108

/* The spec's longest v1 line, CRLF included. */
#define PROXYHDR_V1_MAX	107

/* v2: the signature, and the header lengths for TCP over IPv4 and IPv6. */
#define PROXYHDR_V2_SIG	"\r\n\r\n\0\r\nQUIT\n"
#define PROXYHDR_V2_SIGLEN	12
#define PROXYHDR_V2_LEN4	(16 + 12)
#define PROXYHDR_V2_LEN6	(16 + 36)

/**
 * proxyhdr_build(version, src, dst, buf, buflen):
 * Write the PROXY protocol header of ${version} (PROXYHDR_V1 or
 * PROXYHDR_V2) for a TCP connection from ${src} (the client's address and
 * port) to ${dst} (the address and port it connected to), each an AF_INET
 * or AF_INET6 address, into ${buf} of ${buflen} bytes, and return its
 * length (no NUL is written; PROXYHDR_MAX bytes are always enough).
 * Families: an IPv4-mapped IPv6 address (::ffff:a.b.c.d) counts as IPv4;
 * if both addresses are then IPv4 the header is TCP4 (v1) / 0x11 (v2) with
 * the plain IPv4 addresses, otherwise it is TCP6 / 0x21 with any IPv4
 * address written IPv4-mapped.  v1 writes IPv4 as dotted decimal and IPv6
 * in the RFC 5952 form (lower case, longest run of two or more zero groups
 * as "::"), always as hexadecimal groups: never the "::ffff:1.2.3.4" form
 * of inet_ntop, which the spec's grammar does not allow.  Return -1, with
 * ${buf} untouched, if ${version} is neither, a family is neither, or
 * ${buflen} is smaller than the header.
 */
ssize_t proxyhdr_build(int, const struct sockaddr_storage *,
    const struct sockaddr_storage *, uint8_t *, size_t);

/**
 * proxyhdr_parse_version(s):
 * Parse ${s}, the value of a backend's ",proxy=" option: "off" is
 * PROXYHDR_OFF, "v1" PROXYHDR_V1, "v2" PROXYHDR_V2 (exactly, lower case).
 * Return that, or -1 for anything else or NULL (nothing reported).
 */
int proxyhdr_parse_version(const char *);

#endif /* !PROXYHDR_H_ */
