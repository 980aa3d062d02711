/*
 * Tests of src/resp.c, the Redis serialization protocol (RESP2 and RESP3
 * replies, RESP arrays of bulk strings for commands), from the protocol's
 * specification: every reply type, nulls of both versions, errors and
 * their text, pipelined replies cut at every byte, aggregates, attributes,
 * every malformed line the parser must refuse, and exact command bytes.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "resp.h"

/* Parse all of ${s} as one reply: return the result, fill ${R}, ${used}. */
static int
parse1(const char * s, struct resp_reply * R, size_t * used)
{
	struct resp_parser P;

	resp_parse_init(&P);
	return (resp_parse(&P, (const uint8_t *)s, strlen(s), used, R));
}

/* ${s} is one complete reply of ${kind}, every byte used. */
static void
one(const char * s, int kind, const char * msg)
{
	struct resp_reply R;
	size_t used = 0;

	cr_assert_eq(parse1(s, &R, &used), RESP_DONE, "%s", s);
	cr_assert_eq(used, strlen(s), "%s", s);
	cr_assert_eq(R.kind, kind, "%s: kind %d", s, R.kind);
	if (msg != NULL)
		cr_assert_str_eq(R.msg, msg);
}

Test(resp, kinds)
{

	one("+OK\r\n", RESP_OK, "OK");
	one("$-1\r\n", RESP_NULL, "");
	one("*-1\r\n", RESP_NULL, "");
	one("_\r\n", RESP_NULL, "");
	one("-ERR unknown command\r\n", RESP_ERROR, "ERR unknown command");
	one("-WRONGPASS invalid username-password pair\r\n", RESP_ERROR,
	    "WRONGPASS invalid username-password pair");
	one("!21\r\nSYNTAX invalid syntax\r\n", RESP_ERROR,
	    "SYNTAX invalid syntax");
	/* Only the simple string OK is OK. */
	one("$2\r\nOK\r\n", RESP_OTHER, NULL);
	one("+OKAY\r\n", RESP_OTHER, "OKAY");
	one("+ok\r\n", RESP_OTHER, "ok");
	one("+\r\n", RESP_OTHER, "");
	one(":1000\r\n", RESP_OTHER, NULL);
	one(":-1\r\n", RESP_OTHER, NULL);
	one(":+5\r\n", RESP_OTHER, NULL);
	one("$0\r\n\r\n", RESP_OTHER, NULL);
	one("$5\r\nhe\rlo\r\n", RESP_OTHER, NULL);
	one(",1.23\r\n", RESP_OTHER, NULL);
	one(",inf\r\n", RESP_OTHER, NULL);
	one("#t\r\n", RESP_OTHER, NULL);
	one("(3492890328409238509324850943850943825024385\r\n", RESP_OTHER,
	    NULL);
	one("=15\r\ntxt:Some string\r\n", RESP_OTHER, NULL);
	one("*0\r\n", RESP_OTHER, NULL);
	one("*2\r\n$5\r\nhello\r\n$5\r\nworld\r\n", RESP_OTHER, NULL);
	one("*3\r\n:1\r\n*2\r\n+a\r\n-b\r\n$-1\r\n", RESP_OTHER, NULL);
	one("%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n", RESP_OTHER, NULL);
	one("~2\r\n+a\r\n_\r\n", RESP_OTHER, NULL);
	one(">2\r\n+message\r\n+x\r\n", RESP_OTHER, NULL);
	/* An error inside an array is not the reply's kind. */
	one("*1\r\n-ERR x\r\n", RESP_OTHER, NULL);
	one("*1\r\n+OK\r\n", RESP_OTHER, NULL);
}

Test(resp, long_text_shortened)
{
	char s[300], want[RESP_MSG_MAX + 1];

	memset(s, 0, sizeof(s));
	s[0] = '-';
	memset(s + 1, 'E', 200);
	memcpy(s + 201, "\r\n", 2);
	memset(want, 'E', RESP_MSG_MAX);
	want[RESP_MSG_MAX] = '\0';
	one(s, RESP_ERROR, want);
	/* 200 bytes beginning "OK" are not OK. */
	s[0] = '+';
	memcpy(s + 1, "OK", 2);
	one(s, RESP_OTHER, NULL);
}

Test(resp, attribute_skipped)
{

	one("|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.19\r\n$1\r\nb\r\n"
	    ",0.01\r\n+OK\r\n", RESP_OK, "OK");
	one("|0\r\n_\r\n", RESP_NULL, "");
	/* An attribute inside an array is not one of its elements. */
	one("*1\r\n|1\r\n+a\r\n+b\r\n:3\r\n", RESP_OTHER, NULL);
}

/* The stream of pipelined replies used below and what it holds. */
static const char stream[] = "+OK\r\n$-1\r\n-ERR bad\r\n_\r\n:7\r\n"
    "*2\r\n$3\r\nabc\r\n+OK\r\n+OK\r\n";
static const int kinds[] = { RESP_OK, RESP_NULL, RESP_ERROR, RESP_NULL,
    RESP_OTHER, RESP_OTHER, RESP_OK };

/* Feed ${stream} in pieces of ${step} bytes; check every reply. */
static void
pieces(size_t step)
{
	struct resp_parser P;
	struct resp_reply R;
	size_t off = 0, end, used, k = 0, n = strlen(stream);
	int rc;

	resp_parse_init(&P);
	while (off < n) {
		end = (off + step < n) ? off + step : n;
		while (off < end) {
			rc = resp_parse(&P, (const uint8_t *)stream + off,
			    end - off, &used, &R);
			cr_assert_neq(rc, RESP_BAD);
			cr_assert(used > 0 && used <= end - off);
			off += used;
			if (rc == RESP_DONE) {
				cr_assert_lt(k, sizeof(kinds) / sizeof(kinds[0]));
				cr_assert_eq(R.kind, kinds[k], "reply %zu, step "
				    "%zu", k, step);
				k++;
			}
		}
	}
	cr_assert_eq(k, sizeof(kinds) / sizeof(kinds[0]), "step %zu", step);
}

Test(resp, pipelined_every_cut)
{
	size_t step;

	for (step = 1; step <= sizeof(stream); step++)
		pieces(step);
}

Test(resp, incomplete_is_more)
{
	struct resp_reply R;
	size_t used = 0, i;
	const char * s = "*2\r\n$3\r\nabc\r\n-ERR x\r\n";
	char buf[64];

	for (i = 0; i < strlen(s); i++) {
		memcpy(buf, s, i);
		buf[i] = '\0';
		cr_assert_eq(parse1(buf, &R, &used), RESP_MORE, "%zu", i);
		cr_assert_eq(used, i);
	}
}

/* ${s} must be refused. */
static void
bad(const char * s, size_t len)
{
	struct resp_parser P;
	struct resp_reply R;
	size_t used;

	resp_parse_init(&P);
	cr_assert_eq(resp_parse(&P, (const uint8_t *)s, len, &used, &R),
	    RESP_BAD, "%.*s", (int)len, s);
}

#define BAD(s)	bad((s), sizeof(s) - 1)

Test(resp, malformed)
{
	char deep[64];
	size_t i;

	BAD("?");
	BAD("OK\r\n");
	BAD("\r\n");
	BAD("+O\nK\r\n");
	BAD("+OK\rX");
	BAD("+OK\n");
	BAD("_x\r\n");
	BAD(":\r\n");
	BAD(":-\r\n");
	BAD(":1x\r\n");
	BAD(":--1\r\n");
	BAD(":99999999999999999999\r\n");
	/* Twenty digits are a number; the twenty-first is one too many. */
	one(":00000000000000000001\r\n", RESP_OTHER, NULL);
	BAD(":000000000000000000001\r\n");
	BAD("$000000000000000000000\r\n");
	BAD("$\r\n");
	BAD("$-2\r\n");
	BAD("$+3\r\nabc\r\n");
	BAD("$536870913\r\n");
	BAD("$3\r\nabcd\r\n");
	BAD("$3\r\nabc\rX");
	BAD("!-1\r\n");
	BAD("%-1\r\n");
	BAD("*-2\r\n");
	BAD("*1x\r\n");
	BAD("*1\r\n?");
	BAD("$1\0\r\n");
	/* Nine nested arrays: deeper than RESP_DEPTH_MAX. */
	for (i = 0; i <= RESP_DEPTH_MAX; i++)
		memcpy(deep + 4 * i, "*1\r\n", 4);
	bad(deep, 4 * (RESP_DEPTH_MAX + 1));
	/* Eight are fine. */
	memcpy(deep + 4 * RESP_DEPTH_MAX, ":1\r\n", 4);
	one("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n",
	    RESP_OTHER, NULL);
}

/*
 * A reply is at most RESP_REPLY_MAX bytes, fed at once or in pieces: an
 * endless line or a huge value is refused once past it, so a server
 * streaming one cannot hold the reader.  Up to it, all is well.
 */
Test(resp, longest_reply)
{
	static char buf[RESP_REPLY_MAX + 64];
	struct resp_parser P;
	struct resp_reply R;
	size_t used, off;
	int rc = RESP_MORE;

	/* A line of exactly RESP_REPLY_MAX bytes, CR LF included. */
	memset(buf, 'x', sizeof(buf));
	buf[0] = '+';
	memcpy(buf + RESP_REPLY_MAX - 2, "\r\n", 2);
	resp_parse_init(&P);
	cr_assert_eq(resp_parse(&P, (uint8_t *)buf, RESP_REPLY_MAX, &used, &R),
	    RESP_DONE);
	cr_assert_eq(used, RESP_REPLY_MAX);
	/* One byte longer, in 1,000-byte pieces: refused at that byte. */
	memcpy(buf + RESP_REPLY_MAX - 2, "xx\r\n", 4);
	resp_parse_init(&P);
	for (off = 0; off < RESP_REPLY_MAX + 2; off += 1000) {
		rc = resp_parse(&P, (uint8_t *)buf + off, 1000, &used, &R);
		if (rc != RESP_MORE)
			break;
	}
	cr_assert_eq(rc, RESP_BAD);
	cr_assert_eq(off, RESP_REPLY_MAX - RESP_REPLY_MAX % 1000);
	/* A bulk value past it, however it is cut. */
	memcpy(buf, "$100000\r\n", 9);
	resp_parse_init(&P);
	cr_assert_eq(resp_parse(&P, (uint8_t *)buf, sizeof(buf), &used, &R),
	    RESP_BAD);
	/* The parser counts each reply afresh: two of half the size pass. */
	memset(buf, 'x', sizeof(buf));
	buf[0] = '+';
	memcpy(buf + RESP_REPLY_MAX / 2 - 2, "\r\n+", 3);
	memcpy(buf + RESP_REPLY_MAX - 2, "\r\n", 2);
	resp_parse_init(&P);
	cr_assert_eq(resp_parse(&P, (uint8_t *)buf, RESP_REPLY_MAX, &used, &R),
	    RESP_DONE);
	cr_assert_eq(used, RESP_REPLY_MAX / 2);
	cr_assert_eq(resp_parse(&P, (uint8_t *)buf + used,
	    RESP_REPLY_MAX - used, &used, &R), RESP_DONE);
}

Test(resp, encode_exact)
{
	const uint8_t * argv[6] = { (const uint8_t *)"SET",
	    (const uint8_t *)"key", (const uint8_t *)"1", (const uint8_t *)"NX",
	    (const uint8_t *)"PX", (const uint8_t *)"30000" };
	size_t lens[6] = { 3, 3, 1, 2, 2, 5 };
	const char * want = "*6\r\n$3\r\nSET\r\n$3\r\nkey\r\n$1\r\n1\r\n$2\r\n"
	    "NX\r\n$2\r\nPX\r\n$5\r\n30000\r\n";
	uint8_t buf[256];
	size_t n, size;

	n = resp_encode(buf, sizeof(buf), argv, lens, 6);
	cr_assert_eq(n, strlen(want));
	cr_assert_eq(memcmp(buf, want, n), 0);
	/* Any smaller buffer refuses, and never writes past its end. */
	for (size = 0; size < n; size++) {
		memset(buf, 0xaa, sizeof(buf));
		cr_assert_eq(resp_encode(buf, size, argv, lens, 6), 0, "%zu",
		    size);
		cr_assert_eq(buf[size], 0xaa, "%zu", size);
	}
	cr_assert_eq(resp_encode(buf, sizeof(buf), argv, lens, 0), 0);
	cr_assert_eq(resp_encode(buf, sizeof(buf), argv, lens,
	    RESP_ARGS_MAX + 1), 0);
}

Test(resp, encode_binary_empty)
{
	const uint8_t bin[3] = { '\r', '\n', 0 };
	const uint8_t * argv[2] = { (const uint8_t *)"AUTH", bin };
	size_t lens[2] = { 4, 3 };
	uint8_t buf[64];
	size_t n;

	n = resp_encode(buf, sizeof(buf), argv, lens, 2);
	cr_assert_eq(n, 23);
	cr_assert_eq(memcmp(buf, "*2\r\n$4\r\nAUTH\r\n$3\r\n\r\n\0\r\n", n), 0);
	lens[1] = 0;
	n = resp_encode(buf, sizeof(buf), argv, lens, 2);
	cr_assert_eq(memcmp(buf, "*2\r\n$4\r\nAUTH\r\n$0\r\n\r\n", n), 0);
}
