/*
 * Unit tests of src/parse.c: numbers, ports, durations and HOST:PORT, each
 * table-driven with the bad inputs next to the good ones.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "parse.h"

/* A parse_uint() case: input, bounds, expected result and value. */
struct uint_case {
	const char * s;
	unsigned long long min, max;
	int rc;
	unsigned long long v;
};

static const struct uint_case uint_cases[] = {
	{ "0",			0, 10,		0, 0 },
	{ "10",			0, 10,		0, 10 },
	{ "11",			0, 10,		-1, 0 },
	{ "5",			6, 10,		-1, 0 },
	{ "6",			6, 10,		0, 6 },
	{ "007",		0, 10,		0, 7 },
	{ "",			0, 10,		-1, 0 },
	{ "-1",			0, 10,		-1, 0 },
	{ "+1",			0, 10,		-1, 0 },
	{ " 1",			0, 10,		-1, 0 },
	{ "1 ",			0, 10,		-1, 0 },
	{ "1x",			0, 10,		-1, 0 },
	{ "0x1",		0, 100,		-1, 0 },
	{ "1e2",		0, 1000,	-1, 0 },
	{ "1.0",		0, 10,		-1, 0 },
	{ "3",			0, 3,		0, 3 },
	/* The full range of unsigned long long, and one more. */
	{ "18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX },
	{ "18446744073709551616", 0, UINT64_MAX, -1, 0 },
	{ "99999999999999999999999", 0, UINT64_MAX, -1, 0 },
	{ "1000000",		1, 1000000,	0, 1000000 },
	{ "1000001",		1, 1000000,	-1, 0 },
};

Test(parse, uint_table)
{
	size_t i;

	for (i = 0; i < sizeof(uint_cases) / sizeof(uint_cases[0]); i++) {
		const struct uint_case * c = &uint_cases[i];
		unsigned long long v = 12345;
		int rc = parse_uint(c->s, c->min, c->max, &v);

		cr_expect_eq(rc, c->rc, "parse_uint(\"%s\", %llu, %llu) = %d, "
		    "expected %d", c->s, c->min, c->max, rc, c->rc);
		if (c->rc == 0 && rc == 0)
			cr_expect_eq(v, c->v, "parse_uint(\"%s\") gave %llu, "
			    "expected %llu", c->s, v, c->v);
		if (c->rc != 0)
			cr_expect_eq(v, 12345, "parse_uint(\"%s\") failed but "
			    "wrote its output", c->s);
	}
}

/*
 * A bound below 10: the overflow check computes max - digit, which must not
 * wrap when the digit is larger than max.
 */
static const struct uint_case uint_small_max_cases[] = {
	{ "5",			0, 3,		-1, 0 },
	{ "9",			0, 0,		-1, 0 },
	{ "4",			1, 3,		-1, 0 },
	{ "0",			0, 0,		0, 0 },
	{ "2",			1, 2,		0, 2 },
};

Test(parse, uint_digit_above_small_max)
{
	size_t i;

	for (i = 0; i < sizeof(uint_small_max_cases) /
	    sizeof(uint_small_max_cases[0]); i++) {
		const struct uint_case * c = &uint_small_max_cases[i];
		unsigned long long v = 12345;
		int rc = parse_uint(c->s, c->min, c->max, &v);

		cr_expect_eq(rc, c->rc, "parse_uint(\"%s\", %llu, %llu) = %d "
		    "(value %llu), expected %d", c->s, c->min, c->max, rc, v,
		    c->rc);
	}
}

/* A parse_port() case. */
struct port_case {
	const char * s;
	int allow_zero;
	int rc;
	uint16_t port;
};

static const struct port_case port_cases[] = {
	{ "0",		0,	-1, 0 },
	{ "0",		1,	0, 0 },
	{ "00",		1,	0, 0 },
	{ "1",		0,	0, 1 },
	{ "1",		1,	0, 1 },
	{ "443",	0,	0, 443 },
	{ "65535",	0,	0, 65535 },
	{ "65535",	1,	0, 65535 },
	{ "65536",	0,	-1, 0 },
	{ "65536",	1,	-1, 0 },
	{ "70000",	0,	-1, 0 },
	{ "",		0,	-1, 0 },
	{ "",		1,	-1, 0 },
	{ "-1",		0,	-1, 0 },
	{ "-1",		1,	-1, 0 },
	{ "+1",		0,	-1, 0 },
	{ " 1",		0,	-1, 0 },
	{ "1 ",		0,	-1, 0 },
	{ "1x",		0,	-1, 0 },
	{ "abc",	0,	-1, 0 },
	{ "0x50",	0,	-1, 0 },
	/* 2^32 + 1: must not wrap to port 1. */
	{ "4294967297",	0,	-1, 0 },
	{ "18446744073709551617", 0, -1, 0 },	/* 2^64 + 1. */
	{ "99999999999999999999999999999", 1, -1, 0 },
};

Test(parse, port_table)
{
	size_t i;

	for (i = 0; i < sizeof(port_cases) / sizeof(port_cases[0]); i++) {
		const struct port_case * c = &port_cases[i];
		uint16_t port = 4242;
		int rc = parse_port(c->s, c->allow_zero, &port);

		cr_expect_eq(rc, c->rc, "parse_port(\"%s\", %d) = %d, "
		    "expected %d", c->s, c->allow_zero, rc, c->rc);
		if (c->rc == 0 && rc == 0)
			cr_expect_eq(port, c->port, "parse_port(\"%s\") gave "
			    "%u, expected %u", c->s, port, c->port);
		if (c->rc != 0)
			cr_expect_eq(port, 4242, "parse_port(\"%s\") failed "
			    "but wrote its output", c->s);
	}
}

/* A parse_duration() case. */
struct dur_case {
	const char * s;
	int rc;
	uint64_t ms;
};

static const struct dur_case dur_cases[] = {
	{ "500ms",		0, 500 },
	{ "1ms",		0, 1 },
	{ "2s",			0, 2000 },
	{ "2",			0, 2000 },
	{ "30",			0, 30000 },
	{ "0030s",		0, 30000 },
	{ "1000ms",		0, 1000 },
	{ "0",			-1, 0 },
	{ "0s",			-1, 0 },
	{ "0ms",		-1, 0 },
	{ "1.5",		-1, 0 },
	{ "1.5s",		-1, 0 },
	{ "s",			-1, 0 },
	{ "ms",			-1, 0 },
	{ "",			-1, 0 },
	{ "7d",			-1, 0 },
	{ "1m",			0, 60000 },
	{ "1h",			0, 3600000 },
	{ "2h",			0, 7200000 },
	{ "10m",		0, 600000 },
	{ "0m",			-1, 0 },
	{ "0h",			-1, 0 },
	{ "1M",			-1, 0 },
	{ "1H",			-1, 0 },
	{ "1hm",		-1, 0 },
	{ "1mh",		-1, 0 },
	{ "1min",		-1, 0 },
	{ "2S",			-1, 0 },
	{ "2MS",		-1, 0 },
	{ "2 s",		-1, 0 },
	{ " 2",			-1, 0 },
	{ "2 ",			-1, 0 },
	{ "-2",			-1, 0 },
	{ "+2",			-1, 0 },
	{ "2sms",		-1, 0 },
	{ "2mss",		-1, 0 },
	{ "2s2",		-1, 0 },
	{ "5x",			-1, 0 },
	/* The week is the limit, in every unit. */
	{ "604800",		0, 604800000ULL },
	{ "604800s",		0, 604800000ULL },
	{ "604800000ms",	0, 604800000ULL },
	{ "10080m",		0, 604800000ULL },
	{ "168h",		0, 604800000ULL },
	{ "10081m",		-1, 0 },
	{ "169h",		-1, 0 },
	{ "604801",		-1, 0 },
	{ "604801s",		-1, 0 },
	{ "604800001ms",	-1, 0 },
	/* Values that overflow 64 bits once scaled, or at all. */
	{ "18446744073709551",	-1, 0 },	/* * 1000 wraps 2^64. */
	{ "18446744073709552s",	-1, 0 },
	{ "18446744073709551616ms", -1, 0 },
	{ "99999999999999999999999999999999", -1, 0 },
};

Test(parse, duration_table)
{
	size_t i;

	for (i = 0; i < sizeof(dur_cases) / sizeof(dur_cases[0]); i++) {
		const struct dur_case * c = &dur_cases[i];
		uint64_t ms = 777;
		int rc = parse_duration(c->s, &ms);

		cr_expect_eq(rc, c->rc, "parse_duration(\"%s\") = %d, "
		    "expected %d", c->s, rc, c->rc);
		if (c->rc == 0 && rc == 0)
			cr_expect_eq(ms, c->ms, "parse_duration(\"%s\") gave "
			    "%llu ms, expected %llu", c->s,
			    (unsigned long long)ms, (unsigned long long)c->ms);
		if (c->rc != 0)
			cr_expect_eq(ms, 777, "parse_duration(\"%s\") failed "
			    "but wrote its output", c->s);
	}
}

Test(parse, duration_max_is_a_week)
{

	cr_expect_eq(PARSE_DURATION_MAX, 604800000ULL);
}

/* A parse_hostport() case. */
struct hp_case {
	const char * s;
	int allow_zero;
	int rc;
	const char * host;
	uint16_t port;
};

static const struct hp_case hp_cases[] = {
	/* IPv4 and names. */
	{ "127.0.0.1:80",		0, 0, "127.0.0.1", 80 },
	{ "0.0.0.0:443",		0, 0, "0.0.0.0", 443 },
	{ "localhost:22",		0, 0, "localhost", 22 },
	{ "example.com:65535",		0, 0, "example.com", 65535 },
	{ "no-such-host.invalid:80",	0, 0, "no-such-host.invalid", 80 },
	{ "a:1",			0, 0, "a", 1 },
	/* IPv6 in brackets. */
	{ "[::1]:80",			0, 0, "::1", 80 },
	{ "[::]:443",			0, 0, "::", 443 },
	{ "[fe80::1%lo]:22",		0, 0, "fe80::1%lo", 22 },
	{ "[2001:db8::1]:8443",		0, 0, "2001:db8::1", 8443 },
	{ "[::ffff:127.0.0.1]:80",	0, 0, "::ffff:127.0.0.1", 80 },
	/* Port 0 only where allowed. */
	{ "127.0.0.1:0",		0, -1, NULL, 0 },
	{ "127.0.0.1:0",		1, 0, "127.0.0.1", 0 },
	{ "[::1]:0",			0, -1, NULL, 0 },
	{ "[::1]:0",			1, 0, "::1", 0 },
	{ "127.0.0.1:65536",		1, -1, NULL, 0 },
	{ "127.0.0.1:-1",		1, -1, NULL, 0 },
	{ "127.0.0.1:+1",		1, -1, NULL, 0 },
	{ "127.0.0.1:8x",		1, -1, NULL, 0 },
	{ "127.0.0.1: 80",		1, -1, NULL, 0 },
	/* Bare IPv6 needs brackets. */
	{ "::1:80",			1, -1, NULL, 0 },
	{ "::1",			1, -1, NULL, 0 },
	{ "2001:db8::1:80",		1, -1, NULL, 0 },
	{ "fe80::1:22",			1, -1, NULL, 0 },
	/* Missing port or host. */
	{ "127.0.0.1",			1, -1, NULL, 0 },
	{ "127.0.0.1:",			1, -1, NULL, 0 },
	{ "localhost",			1, -1, NULL, 0 },
	{ "[::1]",			1, -1, NULL, 0 },
	{ "[::1]:",			1, -1, NULL, 0 },
	{ "[::1]80",			1, -1, NULL, 0 },
	{ "[::1] :80",			1, -1, NULL, 0 },
	{ ":80",			1, -1, NULL, 0 },
	{ "[]:80",			1, -1, NULL, 0 },
	{ ":",				1, -1, NULL, 0 },
	{ "",				1, -1, NULL, 0 },
	/* Broken brackets. */
	{ "[::1:80",			1, -1, NULL, 0 },
	{ "::1]:80",			1, -1, NULL, 0 },
	{ "[[::1]]:80",			1, -1, NULL, 0 },
	{ "[127.0.0.1]:80",		1, -1, NULL, 0 },
	{ "[localhost]:80",		1, -1, NULL, 0 },
	{ "host]:80",			1, -1, NULL, 0 },
	{ "ho[st:80",			1, -1, NULL, 0 },
	/* Two ports. */
	{ "127.0.0.1:80:81",		1, -1, NULL, 0 },
	{ "[::1]:80:81",		1, -1, NULL, 0 },
};

Test(parse, hostport_table)
{
	size_t i;

	for (i = 0; i < sizeof(hp_cases) / sizeof(hp_cases[0]); i++) {
		const struct hp_case * c = &hp_cases[i];
		char host[PARSE_HOST_MAX + 1];
		uint16_t port = 4242;
		int rc;

		memset(host, 'Z', sizeof(host));
		host[sizeof(host) - 1] = '\0';
		rc = parse_hostport(c->s, host, sizeof(host), &port,
		    c->allow_zero);
		cr_expect_eq(rc, c->rc, "parse_hostport(\"%s\", %d) = %d, "
		    "expected %d", c->s, c->allow_zero, rc, c->rc);
		if (c->rc != 0 || rc != 0)
			continue;
		cr_expect_str_eq(host, c->host, "parse_hostport(\"%s\") host "
		    "'%s', expected '%s'", c->s, host, c->host);
		cr_expect_eq(port, c->port, "parse_hostport(\"%s\") port %u, "
		    "expected %u", c->s, port, c->port);
	}
}

/* The host length limits: PARSE_HOST_MAX, and the caller's buffer. */
Test(parse, hostport_host_length)
{
	char s[PARSE_HOST_MAX + 16];
	char host[PARSE_HOST_MAX + 2];
	char small[8];
	uint16_t port;

	/* PARSE_HOST_MAX bytes of name: accepted. */
	memset(s, 'a', PARSE_HOST_MAX);
	strcpy(s + PARSE_HOST_MAX, ":80");
	cr_expect_eq(parse_hostport(s, host, sizeof(host), &port, 0), 0);
	cr_expect_eq(strlen(host), PARSE_HOST_MAX);
	cr_expect_eq(port, 80);

	/* One more: refused, even with room in the buffer. */
	memset(s, 'a', PARSE_HOST_MAX + 1);
	strcpy(s + PARSE_HOST_MAX + 1, ":80");
	cr_expect_eq(parse_hostport(s, host, sizeof(host), &port, 0), -1);

	/* A host that does not fit the caller's buffer: refused, no overrun. */
	memset(small, 'Q', sizeof(small));
	cr_expect_eq(parse_hostport("abcdefgh:80", small, 8, &port, 0), -1);
	cr_expect_eq(parse_hostport("abcdefg:80", small, 8, &port, 0), 0);
	cr_expect_str_eq(small, "abcdefg");
	cr_expect_eq(parse_hostport("[::1:2:33]:80", small, 8, &port, 0), -1);
	cr_expect_eq(parse_hostport("[::1:2:3]:80", small, 8, &port, 0), 0);
	cr_expect_str_eq(small, "::1:2:3");
}

/* parse_numeric_host(): what must be a dotted quad, never a name. */
Test(parse, numeric_host_table)
{
	static const struct {
		const char * s;
		int rc;
	} cases[] = {
		{ "256.1.1.1", 1 }, { "1.2.3.4", 1 }, { "10.1", 1 },
		{ "2130706433", 1 }, { "1.2.3.4.5", 1 }, { "1..2", 1 },
		{ "...", 0 }, { "", 0 }, { "localhost", 0 }, { "1.2.3.x", 0 },
		{ "::1", 0 }, { "0x7f.1", 0 }, { "a1.example", 0 },
		{ "1e3", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_expect_eq(parse_numeric_host(cases[i].s), cases[i].rc,
		    "parse_numeric_host(\"%s\")", cases[i].s);
}
