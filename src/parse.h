#ifndef PARSE_H_
#define PARSE_H_

#include <stddef.h>
#include <stdint.h>

/* Longest host name accepted in HOST:PORT. */
#define PARSE_HOST_MAX	255

/* Longest duration accepted: one week, in milliseconds. */
#define PARSE_DURATION_MAX	(7ULL * 24 * 3600 * 1000)

/**
 * parse_uint(s, min, max, v):
 * Parse ${s} as a decimal number in [${min}, ${max}]: digits only, no
 * sign, no spaces.  Store it in ${v} and return 0, or return -1.
 */
int parse_uint(const char *, unsigned long long, unsigned long long,
    unsigned long long *);

/**
 * parse_port(s, allow_zero, port):
 * Parse ${s} as a TCP port, 1-65535 (0-65535 if ${allow_zero}).  Store it
 * in ${port} and return 0, or return -1.
 */
int parse_port(const char *, int, uint16_t *);

/**
 * parse_duration(s, ms):
 * Parse ${s} as a duration: "500ms", "2s", "5m", "2h" or a plain number
 * of seconds, from 1 ms to PARSE_DURATION_MAX.  Store it in ${ms} (milliseconds) and
 * return 0, or return -1.
 */
int parse_duration(const char *, uint64_t *);

/**
 * parse_hostport(s, host, hostlen, port, allow_zero):
 * Split ${s} of the form "HOST:PORT", "IPV4:PORT" or "[IPV6]:PORT" into the
 * host (brackets removed, NUL-terminated, into ${host} of ${hostlen} bytes)
 * and the port (as parse_port with ${allow_zero}).  An IPv6 address must be
 * in brackets.  Return 0, or -1 if ${s} is malformed.
 */
int parse_hostport(const char *, char *, size_t, uint16_t *, int);

/**
 * parse_numeric_host(s):
 * Return 1 if ${s} looks like a numeric IPv4 address (only digits and
 * dots, at least one digit), whether or not it is a valid one, else 0.
 * Such a host must be a dotted quad: never a name to look up.
 */
int parse_numeric_host(const char *);

#endif /* !PARSE_H_ */
