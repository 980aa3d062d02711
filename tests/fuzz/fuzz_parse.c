/*
 * libFuzzer harness for the number parsers of src/parse.c: parse_uint(),
 * parse_port() and parse_duration(), each checked against a small reference
 * written from its contract in src/parse.h.
 *
 * The input, cut at its first NUL, is the string handed to every parser (in
 * a heap block of exactly its size, so AddressSanitizer sees any read past
 * the NUL).  Its first 8 bytes also make a number for the round trips.
 *
 * Checked:
 *   - parse_uint accepts exactly the non-empty all-digit strings whose value
 *     lies in [min, max] (leading zeros allowed), for several bounds;
 *   - parse_port accepts exactly the decimal strings 1..65535 (0..65535 with
 *     allow_zero): no sign, no space, nothing else;
 *   - parse_duration accepts exactly DIGITS, DIGITSs, DIGITSms, DIGITSm
 *     and DIGITSh with a value of 1 ms .. PARSE_DURATION_MAX, and stores
 *     milliseconds;
 *   - "Nms" and "Ns" round-trip for every N (refused iff out of range),
 *     and the reference takes "Nm" and "Nh" as well;
 *   - a refusal leaves the output untouched.
 *
 * parse_duration reads at most 23 digits (a stack buffer of 24): a longer
 * run of digits is refused even when it is only leading zeros.  That limit
 * is not in the header; the reference encodes it (see README.md).
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

/* The longest run of digits parse_duration() reads. */
#define DURATION_DIGITS_MAX	23

/* Bounds parse_uint() is checked with. */
static const struct {
	unsigned long long min, max;
} bounds[] = {
	{ 0, UINT64_MAX }, { 1, 65535 }, { 0, 65535 }, { 0, 0 }, { 0, 10 },
	{ 1, 1000000 }, { 1, 64 }, { 7, 7 }, { 1, PARSE_DURATION_MAX },
	{ UINT64_MAX, UINT64_MAX }, { 100, 99 },
};

/*
 * Reference: value of the all-digit string s (non-empty), saturated at
 * UINT64_MAX with *over set when it does not fit; -1 if s is not digits.
 */
static int
ref_digits(const char * s, size_t n, unsigned long long * v, int * over)
{
	unsigned __int128 x = 0;
	size_t i;

	*over = 0;
	if (n == 0)
		return (-1);
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return (-1);
		x = x * 10 + (unsigned)(s[i] - '0');
		if (x > UINT64_MAX) {
			*over = 1;
			x = (unsigned __int128)UINT64_MAX + 1;
		}
	}
	*v = *over ? UINT64_MAX : (unsigned long long)x;
	return (0);
}

/* Reference parse_uint. */
static int
ref_uint(const char * s, unsigned long long min, unsigned long long max,
    unsigned long long * v)
{
	unsigned long long x;
	int over;

	if (ref_digits(s, strlen(s), &x, &over) || over || x < min || x > max)
		return (-1);
	*v = x;
	return (0);
}

/* Reference parse_duration: N, Nms, Ns, Nm, Nh. */
static int
ref_duration(const char * s, uint64_t * ms)
{
	size_t n = strspn(s, "0123456789");
	unsigned long long x, scale;
	int over;

	if (strcmp(s + n, "ms") == 0)
		scale = 1;
	else if (strcmp(s + n, "s") == 0 || s[n] == '\0')
		scale = 1000;
	else if (strcmp(s + n, "m") == 0)
		scale = 60 * 1000ULL;
	else if (strcmp(s + n, "h") == 0)
		scale = 3600 * 1000ULL;
	else
		return (-1);
	if (n > DURATION_DIGITS_MAX || ref_digits(s, n, &x, &over) || over)
		return (-1);
	if (x == 0 || x > PARSE_DURATION_MAX / scale)
		return (-1);
	*ms = x * scale;
	return (0);
}

/* parse_uint against the reference for every bound pair. */
static void
check_uint(const char * s)
{
	unsigned long long v, rv;
	size_t i;
	int rc, rrc;

	for (i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++) {
		v = rv = 0xdeadbeefULL;
		rc = parse_uint(s, bounds[i].min, bounds[i].max, &v);
		rrc = ref_uint(s, bounds[i].min, bounds[i].max, &rv);
		if (rc != rrc || v != rv)
			abort();
	}
}

/* parse_port against parse_uint's reference with 1..65535 / 0..65535. */
static void
check_port(const char * s)
{
	unsigned long long rv;
	uint16_t port;
	int allow, rc, rrc;

	for (allow = 0; allow < 2; allow++) {
		port = 0xbeef;
		rv = 0xbeef;
		rc = parse_port(s, allow, &port);
		rrc = ref_uint(s, allow ? 0 : 1, 65535, &rv);
		if (rc != rrc || (unsigned long long)port != rv)
			abort();
		/* Every accepted string is digits only. */
		if (rc == 0 && strspn(s, "0123456789") != strlen(s))
			abort();
	}
}

/* parse_duration against the reference. */
static void
check_duration(const char * s)
{
	uint64_t ms = 0xdeadbeef, rms = 0xdeadbeef;
	int rc, rrc;

	rc = parse_duration(s, &ms);
	rrc = ref_duration(s, &rms);
	if (rc != rrc || ms != rms)
		abort();
	if (rc == 0 && (ms < 1 || ms > PARSE_DURATION_MAX))
		abort();
}

/* "Nms" and "Ns" (and "N") round-trip for the number ${x}. */
static void
check_roundtrip(unsigned long long x)
{
	char buf[32];
	uint64_t ms;
	int ok;

	snprintf(buf, sizeof(buf), "%llums", x);
	ms = 0;
	ok = (x >= 1 && x <= PARSE_DURATION_MAX);
	if ((parse_duration(buf, &ms) == 0) != ok || (ok && ms != x))
		abort();

	ok = (x >= 1 && x <= PARSE_DURATION_MAX / 1000);
	snprintf(buf, sizeof(buf), "%llus", x);
	ms = 0;
	if ((parse_duration(buf, &ms) == 0) != ok || (ok && ms != x * 1000))
		abort();
	snprintf(buf, sizeof(buf), "%llu", x);
	ms = 0;
	if ((parse_duration(buf, &ms) == 0) != ok || (ok && ms != x * 1000))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t * d, size_t n)
{
	const uint8_t * nul = memchr(d, '\0', n);
	size_t len = nul ? (size_t)(nul - d) : n;
	unsigned long long x = 0;
	char * s;
	size_t i;

	if ((s = malloc(len + 1)) == NULL)
		abort();
	memcpy(s, d, len);
	s[len] = '\0';

	check_uint(s);
	check_port(s);
	check_duration(s);

	/* Round trips: near the limits and anywhere in between. */
	for (i = 0; i < 8 && i < n; i++)
		x = (x << 8) | d[i];
	check_roundtrip(x);
	check_roundtrip(x % (PARSE_DURATION_MAX + 2));
	check_roundtrip(x % (PARSE_DURATION_MAX / 1000 + 2));
	check_roundtrip(x % 100000);

	free(s);
	return (0);
}
