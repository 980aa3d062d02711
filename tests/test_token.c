/*
 * Unit tests of src/token.c: minting and checking one-time knocks, every
 * refusal, and tokens made by an independent implementation (Python's
 * hmac, hashlib and base64, from the format in DESIGN.md).
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "token.h"

#define W	30			/* The window of these tests. */
#define NOW	1700000000ULL		/* A fixed "now". */
#define START	(NOW - 100)		/* The relay started 100 s ago. */

static uint8_t keys[3][TOKEN_KEYLEN];
static const uint8_t nonce[TOKEN_NONCELEN] = {
	0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
	0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff
};

/* Initialise libsodium and three distinct keys. */
static void
tk_init(void)
{
	size_t i, j;

	cr_assert_eq(token_init(), 0);
	for (i = 0; i < 3; i++)
		for (j = 0; j < TOKEN_KEYLEN; j++)
			keys[i][j] = (uint8_t)(i * 101 + j * 7 + 1);
}

/* Check ${tok} against the first ${nkeys} keys at NOW; return the verdict. */
static int
tk_check(const char * tok, size_t nkeys, struct token_result * r)
{

	(void)token_check((const uint8_t (*)[TOKEN_KEYLEN])keys, nkeys,
	    (const uint8_t *)tok, NOW, W, START, r);
	return (r->verdict);
}

/* A token for ${t} under key ${k}, NUL-terminated in ${out}. */
static void
tk_mint(int k, uint64_t t, char out[TOKEN_LEN + 1])
{

	token_mint(keys[k], t, nonce, out);
	out[TOKEN_LEN] = '\0';
}

Test(token, round_trip, .init = tk_init)
{
	struct token_result r;
	char tok[TOKEN_LEN + 1];
	size_t i;

	tk_mint(0, NOW, tok);
	for (i = 0; i < TOKEN_LEN; i++)
		cr_assert(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
		    "qrstuvwxyz0123456789-_", tok[i]) != NULL && tok[i] != 0,
		    "character %zu of '%s' is not base64url", i, tok);
	cr_expect_eq(tk_check(tok, 1, &r), TOKEN_OK);
	cr_expect_eq(r.key, 0);
	cr_expect_eq(r.t, NOW);
	cr_expect_eq(r.expiry, NOW + W);

	/* With three keys, the one that made it is found. */
	tk_mint(2, NOW - 5, tok);
	cr_expect_eq(token_check((const uint8_t (*)[TOKEN_KEYLEN])keys, 3,
	    (const uint8_t *)tok, NOW, W, START, &r), 2);
	cr_expect_eq(r.verdict, TOKEN_OK);
	cr_expect_eq(r.t, NOW - 5);
}

Test(token, nonce_and_time_hidden, .init = tk_init)
{
	char a[TOKEN_LEN + 1], b[TOKEN_LEN + 1];

	/* The first 21 characters are the nonce's (16 bytes = 21.3 chars). */
	tk_mint(0, NOW, a);
	tk_mint(0, NOW + 1, b);
	cr_expect_arr_eq(a, b, 21);
	cr_expect(memcmp(a + 22, b + 22, TOKEN_LEN - 22) != 0);
	/* A different key gives a different tenc and tag. */
	tk_mint(1, NOW, b);
	cr_expect(memcmp(a + 22, b + 22, 10) != 0);
}

Test(token, mint_now_is_fresh, .init = tk_init)
{
	struct token_result r;
	char a[TOKEN_LEN + 1], b[TOKEN_LEN + 1];
	uint64_t now = (uint64_t)time(NULL);

	token_mint_now(keys[1], a);
	token_mint_now(keys[1], b);
	a[TOKEN_LEN] = b[TOKEN_LEN] = '\0';
	cr_expect(memcmp(a, b, TOKEN_LEN) != 0, "two nonces equal");
	cr_expect_eq(token_check((const uint8_t (*)[TOKEN_KEYLEN])keys, 3,
	    (const uint8_t *)a, now, W, now - 10, &r), 1);
	cr_expect_eq(r.verdict, TOKEN_OK);
	cr_expect(r.t >= now && r.t <= now + 2);
}

/* One flipped bit anywhere in the raw token: not accepted. */
Test(token, every_bit_flipped, .init = tk_init)
{
	static const char * b64 =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	struct token_result r;
	char tok[TOKEN_LEN + 1], bad[TOKEN_LEN + 1];
	size_t i;
	int bit, v, okbits;

	tk_mint(0, NOW, tok);
	for (i = 0; i < TOKEN_LEN; i++) {
		v = (int)(strchr(b64, tok[i]) - b64);
		/* 320 bits: the last character carries 2, the others 6. */
		okbits = (i == TOKEN_LEN - 1) ? 2 : 6;
		for (bit = 0; bit < 6; bit++) {
			memcpy(bad, tok, sizeof(bad));
			bad[i] = b64[v ^ (1 << bit)];
			tk_check(bad, 3, &r);
			if (bit >= 6 - okbits)
				cr_expect_eq(r.verdict, TOKEN_BADTAG,
				    "char %zu bit %d: verdict %d", i, bit,
				    r.verdict);
			else
				/* A non-zero padding bit: not base64. */
				cr_expect_eq(r.verdict, TOKEN_NOTOKEN,
				    "char %zu bit %d: verdict %d", i, bit,
				    r.verdict);
			cr_expect_eq(r.key, -1);
		}
	}
}

Test(token, other_key, .init = tk_init)
{
	struct token_result r;
	char tok[TOKEN_LEN + 1];

	tk_mint(2, NOW, tok);
	cr_expect_eq(tk_check(tok, 2, &r), TOKEN_BADTAG);
	cr_expect_eq(r.key, -1);
	cr_expect_eq(tk_check(tok, 0, &r), TOKEN_BADTAG);
}

Test(token, window_edges, .init = tk_init)
{
	static const struct {
		int64_t dt;
		int verdict;
	} cases[] = {
		{ 0, TOKEN_OK }, { W, TOKEN_OK }, { -W, TOKEN_OK },
		{ W + 1, TOKEN_EXPIRED }, { -(W + 1), TOKEN_EXPIRED },
		{ 100000, TOKEN_EXPIRED }, { -100000, TOKEN_EXPIRED },
	};
	struct token_result r;
	char tok[TOKEN_LEN + 1];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tk_mint(1, (uint64_t)((int64_t)NOW + cases[i].dt), tok);
		cr_expect_eq(tk_check(tok, 3, &r), cases[i].verdict,
		    "t = now %+lld: verdict %d", (long long)cases[i].dt,
		    r.verdict);
		cr_expect_eq(r.key, 1, "an expired token still names its key");
	}

	/* Times far from now, without overflow. */
	tk_mint(0, UINT64_MAX, tok);
	cr_expect_eq(tk_check(tok, 1, &r), TOKEN_EXPIRED);
	cr_expect_eq(r.expiry, UINT64_MAX);
	tk_mint(0, 0, tok);
	cr_expect_eq(tk_check(tok, 1, &r), TOKEN_EXPIRED);
}

Test(token, early_before_start, .init = tk_init)
{
	struct token_result r;
	char tok[TOKEN_LEN + 1];

	/* Started at NOW - 10: t = start - 1 is fine, start - 2 is not. */
	tk_mint(0, NOW - 11, tok);
	token_check((const uint8_t (*)[TOKEN_KEYLEN])keys, 1,
	    (const uint8_t *)tok, NOW, W, NOW - 10, &r);
	cr_expect_eq(r.verdict, TOKEN_OK);
	tk_mint(0, NOW - 12, tok);
	token_check((const uint8_t (*)[TOKEN_KEYLEN])keys, 1,
	    (const uint8_t *)tok, NOW, W, NOW - 10, &r);
	cr_expect_eq(r.verdict, TOKEN_EARLY);
	cr_expect_eq(r.key, 0);
	/* Expired takes precedence over early. */
	tk_mint(0, NOW - W - 1, tok);
	token_check((const uint8_t (*)[TOKEN_KEYLEN])keys, 1,
	    (const uint8_t *)tok, NOW, W, NOW, &r);
	cr_expect_eq(r.verdict, TOKEN_EXPIRED);
}

/* 53 or 55 characters, invalid characters, padding: not a token. */
Test(token, not_a_token, .init = tk_init)
{
	static const char bytes[] = "+/=. \n\r\t*\x80\xff";
	struct token_result r;
	char tok[TOKEN_LEN + 2], bad[TOKEN_LEN + 2];
	size_t i, j;

	tk_mint(0, NOW, tok);
	tok[TOKEN_LEN] = 'A';
	tok[TOKEN_LEN + 1] = '\0';
	/* 53 characters and a NUL, 53 and '=', 53 and a space. */
	memcpy(bad, tok, sizeof(bad));
	bad[TOKEN_LEN - 1] = '\0';
	cr_expect_eq(tk_check(bad, 1, &r), TOKEN_NOTOKEN);
	bad[TOKEN_LEN - 1] = '=';
	cr_expect_eq(tk_check(bad, 1, &r), TOKEN_NOTOKEN);
	bad[TOKEN_LEN - 1] = ' ';
	cr_expect_eq(tk_check(bad, 1, &r), TOKEN_NOTOKEN);
	/* 53 characters + one of the next token: shifted, so no tag. */
	memmove(bad + 1, tok, TOKEN_LEN - 1);
	bad[0] = 'A';
	cr_expect_neq(tk_check(bad, 1, &r), TOKEN_OK);
	/* 55 characters: the relay checks 54 of them (the 55th is data). */
	cr_expect_eq(tk_check(tok, 1, &r), TOKEN_OK);
	/* Every invalid byte at every position. */
	for (i = 0; i < TOKEN_LEN; i++)
		for (j = 0; j < sizeof(bytes) - 1; j++) {
			memcpy(bad, tok, sizeof(bad));
			bad[i] = bytes[j];
			cr_expect_eq(tk_check(bad, 1, &r), TOKEN_NOTOKEN,
			    "byte 0x%02x at %zu", (unsigned)(uint8_t)bytes[j],
			    i);
			cr_expect_eq(r.key, -1);
		}
	/* The standard alphabet's 62 and 63 are not base64url. */
	memcpy(bad, tok, sizeof(bad));
	bad[3] = '+';
	cr_expect_eq(tk_check(bad, 1, &r), TOKEN_NOTOKEN);
}

/* Hex of ${len} bytes at ${p} into ${out}. */
static void
tk_hex(const uint8_t * p, size_t len, char * out)
{
	size_t i;

	for (i = 0; i < len; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

Test(token, independent_implementation_same_bytes, .init = tk_init)
{
	char kh[2 * TOKEN_KEYLEN + 1], nh[2 * TOKEN_NONCELEN + 1];
	char py[TOKEN_LEN + 1], c[TOKEN_LEN + 1];
	struct token_result r;
	int k;

	tk_hex(nonce, TOKEN_NONCELEN, nh);
	for (k = 0; k < 3; k++) {
		tk_hex(keys[k], TOKEN_KEYLEN, kh);
		h_mint_hex(kh, (long long)(NOW - (uint64_t)k), nh, -1, py);
		tk_mint(k, NOW - (uint64_t)k, c);
		cr_expect_str_eq(py, c, "key %d: python and C differ", k);
		cr_expect_eq(tk_check(py, 3, &r), TOKEN_OK);
		cr_expect_eq(r.key, k);
		cr_expect_eq(r.t, NOW - (uint64_t)k);
	}
}

Test(token, independent_implementation_fresh, .init = tk_init)
{
	char kh[2 * TOKEN_KEYLEN + 1], py[TOKEN_LEN + 1];
	struct token_result r;
	uint64_t now;

	/* Python's own nonce and clock. */
	tk_hex(keys[1], TOKEN_KEYLEN, kh);
	h_mint_hex(kh, -1, NULL, -1, py);
	now = (uint64_t)time(NULL);
	cr_expect_eq(token_check((const uint8_t (*)[TOKEN_KEYLEN])keys, 3,
	    (const uint8_t *)py, now, W, now - 10, &r), 1);
	cr_expect_eq(r.verdict, TOKEN_OK);
}

/* token_check_ready (keys made ready once) says what token_check says. */
Test(token, ready_keys_give_the_same_results, .init = tk_init)
{
	static const uint64_t times[] = { NOW, NOW - W, NOW + W + 1,
	    START - 2, 0 };
	struct token_key ready[3];
	struct token_result a, b;
	uint8_t other[TOKEN_KEYLEN];
	char tok[TOKEN_LEN + 1];
	size_t i, n, k, nk;

	for (i = 0; i < 3; i++)
		token_key_init(&ready[i], keys[i]);
	memset(other, 0x5a, sizeof(other));
	for (k = 0; k < 5; k++) {
		for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
			if (k < 3)
				tk_mint((int)k, times[i], tok);
			else
				token_mint(other, times[i], nonce, tok);
			if (k == 4)
				tok[7] = (tok[7] == 'A') ? 'B' : 'A';
			for (nk = 1; nk <= 3; nk++) {
				n = (size_t)token_check((const uint8_t (*)
				    [TOKEN_KEYLEN])keys, nk, (uint8_t *)tok,
				    NOW, W, START, &a);
				cr_assert_eq((size_t)token_check_ready(ready,
				    nk, (uint8_t *)tok, NOW, W, START, &b), n);
				cr_assert_eq(a.verdict, b.verdict,
				    "key %zu time %zu keys %zu", k, i, nk);
				cr_assert_eq(a.key, b.key);
				cr_assert_eq(a.t, b.t);
				cr_assert_eq(a.expiry, b.expiry);
				cr_assert_eq(memcmp(a.tag, b.tag,
				    sizeof(a.tag)), 0);
			}
		}
	}
	/* A token under each key is found by its ready key. */
	tk_mint(2, NOW, tok);
	cr_assert_eq(token_check_ready(ready, 3, (uint8_t *)tok, NOW, W,
	    START, &b), 2);
	cr_assert_eq(b.verdict, TOKEN_OK);
	explicit_bzero(ready, sizeof(ready));
}

/* Exactly the 64 characters of RFC 4648 section 5, in any position. */
Test(token, b64url_is_the_rfc4648_url_alphabet)
{
	static const char alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	uint8_t buf[3] = { 'a', 'b', 'c' };
	unsigned c, n = 0;

	for (c = 0; c < 256; c++) {
		buf[1] = (uint8_t)c;
		if (token_b64url(buf, sizeof(buf))) {
			n++;
			cr_expect_neq(strchr(alpha, (int)c), NULL, "%#x", c);
		}
	}
	cr_expect_eq(n, 64);
	cr_expect_eq(token_b64url(buf, 0), 1, "no bytes");
	cr_expect_eq(token_b64url((const uint8_t *)"a=", 2), 0, "padding");
}
