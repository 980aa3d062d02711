/*
 * Unit tests of src/knockset.c: the decision between several routes.  The
 * property that matters most, as for one knock: below the longest knock
 * (and not final), the verdict is KNOCK_WAIT unless a complete knock
 * matched, whatever the bytes are; so a partial match changes nothing.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "knock.h"
#include "knockset.h"
#include "token.h"

#define NOW	1800000000ULL		/* Unix time of the tests. */
#define WINDOW	30

/* A set with the static knocks ${k0} and ${k1} (NUL-terminated). */
static void
two_knocks(struct knockset * S, const char * k0, const char * k1)
{
	struct knock k;

	knockset_init(S, WINDOW, NOW - 100);
	cr_assert_eq(knock_set(&k, k0, strlen(k0)), 0);
	cr_assert_eq(knockset_add_knock(S, &k), 0);
	cr_assert_eq(knock_set(&k, k1, strlen(k1)), 0);
	cr_assert_eq(knockset_add_knock(S, &k), 1);
}

/* Decide on the NUL-terminated ${s}. */
static struct knockset_verdict
decide(const struct knockset * S, const char * s, size_t len, int final)
{
	struct knockset_verdict v;

	knockset_decide(S, (const uint8_t *)s, len, final, NOW, &v);
	return (v);
}

Test(knockset, add_refuses_duplicates_and_prefixes)
{
	struct knockset S;
	struct knock k;
	uint8_t key[TOKEN_KEYLEN];
	int i;

	knockset_init(&S, WINDOW, NOW);
	cr_assert_eq(knock_set(&k, "open-sesame", 11), 0);
	cr_expect_eq(knockset_add_knock(&S, &k), 0);
	cr_expect_eq(knockset_add_knock(&S, &k), KNOCKSET_EDUP);
	cr_assert_eq(knock_set(&k, "open", 4), 0);
	cr_expect_eq(knockset_add_knock(&S, &k), KNOCKSET_EPREFIX,
	    "a knock that is a prefix of another");
	cr_assert_eq(knock_set(&k, "open-sesame-please", 18), 0);
	cr_expect_eq(knockset_add_knock(&S, &k), KNOCKSET_EPREFIX,
	    "a knock that another is a prefix of");
	cr_assert_eq(knock_set(&k, "close", 5), 0);
	cr_expect_eq(knockset_add_knock(&S, &k), 1);

	memset(key, 7, sizeof(key));
	cr_expect_eq(knockset_add_key(&S, key), 2);
	cr_expect_eq(knockset_add_key(&S, key), KNOCKSET_EDUP);
	key[31] ^= 1;
	cr_expect_eq(knockset_add_key(&S, key), 3);
	cr_expect_eq(knockset_maxlen(&S), TOKEN_LEN);

	for (i = 4; i < KNOCKSET_MAX; i++) {
		key[0] = (uint8_t)(0x80 + i);
		cr_expect_eq(knockset_add_key(&S, key), i);
	}
	key[0] = 0xff;
	cr_expect_eq(knockset_add_key(&S, key), -1, "a full set");
	cr_assert_eq(knock_set(&k, "zzz", 3), 0);
	cr_expect_eq(knockset_add_knock(&S, &k), -1, "a full set");
}

Test(knockset, each_route_at_its_own_length)
{
	struct knockset S;
	struct knockset_verdict v;

	two_knocks(&S, "abc", "1234567");
	v = decide(&S, "abcXYZ", 3, 0);
	cr_expect_eq(v.verdict, KNOCK_HIDDEN);
	cr_expect_eq(v.route, 0);
	cr_expect_eq(v.consume, 3);
	cr_expect_eq(v.why, KNOCKSET_KNOCK);
	v = decide(&S, "1234567rest", 11, 0);
	cr_expect_eq(v.verdict, KNOCK_HIDDEN);
	cr_expect_eq(v.route, 1);
	cr_expect_eq(v.consume, 7);

	/* The short knock does not match: wait for the long one. */
	v = decide(&S, "abd", 3, 0);
	cr_expect_eq(v.verdict, KNOCK_WAIT);
	v = decide(&S, "abd4567", 7, 0);
	cr_expect_eq(v.verdict, KNOCK_NORMAL);
	cr_expect_eq(v.why, KNOCKSET_MISMATCH);
	v = decide(&S, "abd45", 5, 1);
	cr_expect_eq(v.verdict, KNOCK_NORMAL);
	cr_expect_eq(v.why, KNOCKSET_SHORT);
	v = decide(&S, "", 0, 1);
	cr_expect_eq(v.verdict, KNOCK_NORMAL);
	cr_expect_eq(v.why, KNOCKSET_SHORT);

	/* Final, but a complete knock is there: it routes. */
	v = decide(&S, "abc", 3, 1);
	cr_expect_eq(v.verdict, KNOCK_HIDDEN);
	cr_expect_eq(v.route, 0);
}

/*
 * Below the longest knock, not final: WAIT for every prefix of the long
 * knock ${longk} with any one byte changed by ${flip}, and for every prefix
 * of it unchanged, as long as the short knock ${shortk} is not complete.
 */
static void
partial_check(const char * shortk, const char * longk,
    uint8_t (*flip)(uint8_t))
{
	struct knockset S;
	struct knockset_verdict v;
	char buf[32];
	size_t len, pos;

	two_knocks(&S, shortk, longk);
	for (len = 0; len < strlen(longk); len++) {
		for (pos = 0; pos <= len; pos++) {
			memcpy(buf, longk, strlen(longk) + 1);
			if (pos < len)
				buf[pos] = (char)flip((uint8_t)buf[pos]);
			v = decide(&S, buf, len, 0);
			cr_expect_eq(v.verdict, KNOCK_WAIT,
			    "%zu bytes, byte %zu changed: expected WAIT", len,
			    pos);
			v = decide(&S, buf, len, 1);
			cr_expect_eq(v.verdict, KNOCK_NORMAL);
		}
		memcpy(buf, shortk, 3);
		v = decide(&S, buf, len < 3 ? len : 3, 0);
		cr_expect_eq(v.verdict, KNOCK_WAIT, "a prefix of the short knock");
	}
}

/* Any other byte. */
static uint8_t
flip_any(uint8_t c)
{

	return (c ^ 0x20);
}

/* Another base64url byte. */
static uint8_t
flip_b64url(uint8_t c)
{

	return ((c == 'A') ? 'B' : 'A');
}

/* A partial match of either knock never decides. */
Test(knockset, partial_matches_never_decide)
{

	/* A knock with a space: every byte can still be a knock's. */
	partial_check("zy w", "0123456789abcdef", flip_any);
	/* All base64url: a partial match with a base64url byte changed. */
	partial_check("zyxw", "0123456789abcdef", flip_b64url);
}

Test(knockset, wipe_zeroes)
{
	struct knockset S, zero;
	uint8_t key[TOKEN_KEYLEN];

	two_knocks(&S, "abc", "defgh");
	memset(key, 0x5a, sizeof(key));
	cr_assert_eq(knockset_add_key(&S, key), 2);
	knockset_wipe(&S);
	memset(&zero, 0, sizeof(zero));
	cr_expect_eq(S.n, 0);
	cr_expect_arr_eq(S.r, zero.r, sizeof(S.r), "knocks left");
	cr_expect_arr_eq(S.keys, zero.keys, sizeof(S.keys), "keys left");
}

/* A set of two token routes (keys 1.. and 2..) and a static knock. */
static void
tokens_and_knock(struct knockset * S, uint8_t keys[2][TOKEN_KEYLEN])
{
	struct knock k;

	knockset_init(S, WINDOW, NOW - 100);
	memset(keys[0], 1, TOKEN_KEYLEN);
	memset(keys[1], 2, TOKEN_KEYLEN);
	cr_assert_eq(knock_set(&k, "short", 5), 0);
	cr_assert_eq(knockset_add_knock(S, &k), 0);
	cr_assert_eq(knockset_add_key(S, keys[0]), 1);
	cr_assert_eq(knockset_add_key(S, keys[1]), 2);
}

/* A token minted at ${t} under ${key}, with a fixed nonce. */
static void
mint(const uint8_t * key, uint64_t t, char out[TOKEN_LEN + 1])
{
	uint8_t nonce[TOKEN_NONCELEN];

	memset(nonce, 0x42, sizeof(nonce));
	token_mint(key, t, nonce, out);
	out[TOKEN_LEN] = 0;
}

Test(knockset, tokens_route_to_their_key)
{
	struct knockset S;
	struct knockset_verdict v;
	uint8_t keys[2][TOKEN_KEYLEN];
	char tok[TOKEN_LEN + 1];
	size_t len;

	cr_assert_eq(token_init(), 0);
	tokens_and_knock(&S, keys);
	mint(keys[1], NOW - 5, tok);
	for (len = 0; len < TOKEN_LEN; len++) {
		v = decide(&S, tok, len, 0);
		cr_expect_eq(v.verdict, KNOCK_WAIT, "%zu bytes of a token", len);
	}
	v = decide(&S, tok, TOKEN_LEN, 0);
	cr_expect_eq(v.verdict, KNOCK_HIDDEN);
	cr_expect_eq(v.route, 2);
	cr_expect_eq(v.consume, TOKEN_LEN);
	cr_expect_eq(v.why, KNOCKSET_TOKEN);
	cr_expect_eq(v.expiry_s, NOW - 5 + WINDOW);

	mint(keys[0], NOW + WINDOW, tok);
	v = decide(&S, tok, TOKEN_LEN, 0);
	cr_expect_eq(v.verdict, KNOCK_HIDDEN);
	cr_expect_eq(v.route, 1);

	/* The static knock still routes at its own length. */
	v = decide(&S, "shortXX", 7, 0);
	cr_expect_eq(v.verdict, KNOCK_HIDDEN);
	cr_expect_eq(v.route, 0);
	cr_expect_eq(v.why, KNOCKSET_KNOCK);
}

Test(knockset, tokens_refused_say_why)
{
	struct knockset S;
	struct knockset_verdict v;
	uint8_t keys[2][TOKEN_KEYLEN], other[TOKEN_KEYLEN];
	char tok[TOKEN_LEN + 1];

	cr_assert_eq(token_init(), 0);
	tokens_and_knock(&S, keys);
	mint(keys[0], NOW - WINDOW - 1, tok);
	v = decide(&S, tok, TOKEN_LEN, 0);
	cr_expect_eq(v.verdict, KNOCK_NORMAL);
	cr_expect_eq(v.why, KNOCKSET_EXPIRED);
	mint(keys[0], NOW + WINDOW + 1, tok);
	v = decide(&S, tok, TOKEN_LEN, 0);
	cr_expect_eq(v.why, KNOCKSET_EXPIRED);
	mint(keys[0], NOW - 102, tok);
	v = decide(&S, tok, TOKEN_LEN, 0);
	cr_expect_eq(v.verdict, KNOCK_NORMAL);
	cr_expect_eq(v.why, KNOCKSET_EXPIRED, "older than the window too");

	/* Within the window but minted before the start. */
	knockset_init(&S, 600, NOW - 10);
	cr_assert_eq(knockset_add_key(&S, keys[0]), 0);
	mint(keys[0], NOW - 12, tok);
	v = decide(&S, tok, TOKEN_LEN, 0);
	cr_expect_eq(v.verdict, KNOCK_NORMAL);
	cr_expect_eq(v.why, KNOCKSET_EARLY);
	mint(keys[0], NOW - 11, tok);
	v = decide(&S, tok, TOKEN_LEN, 0);
	cr_expect_eq(v.verdict, KNOCK_HIDDEN, "start - 1 is allowed");

	memset(other, 3, sizeof(other));
	mint(other, NOW, tok);
	v = decide(&S, tok, TOKEN_LEN, 0);
	cr_expect_eq(v.verdict, KNOCK_NORMAL);
	cr_expect_eq(v.why, KNOCKSET_MISMATCH, "another key");
	mint(keys[0], NOW, tok);
	tok[10] = (tok[10] == 'A') ? 'B' : 'A';
	v = decide(&S, tok, TOKEN_LEN, 0);
	cr_expect_eq(v.why, KNOCKSET_MISMATCH, "a changed character");
}

/*
 * Every knock base64url: a byte outside the alphabet decides NORMAL at
 * once, wherever it is and however much of a knock came before it; a
 * complete knock before it still routes.
 */
Test(knockset, a_byte_outside_base64url_decides_at_once)
{
	static const char http[] = "GET / HTTP/1.0\r\n\r\n";
	static const uint8_t bin[12] = { 0x16, 0x03, 0x01, 0x00, 0xa5, 0x01,
	    0x00, 0x00, 0xa1, 0x03, 0x03, 0x7f };
	struct knockset S;
	struct knockset_verdict v;
	uint8_t keys[2][TOKEN_KEYLEN];
	char tok[TOKEN_LEN + 1], buf[TOKEN_LEN + 1];
	size_t len;

	cr_assert_eq(token_init(), 0);
	tokens_and_knock(&S, keys);
	cr_expect_eq(knockset_b64url(&S), 1);
	for (len = 0; len <= 3; len++)
		cr_expect_eq(decide(&S, http, len, 0).verdict, KNOCK_WAIT,
		    "\"GET\" is base64url: %zu bytes wait", len);
	for (len = 4; len <= 18; len++) {
		v = decide(&S, http, len, 0);
		cr_expect_eq(v.verdict, KNOCK_NORMAL, "%zu bytes of HTTP", len);
		cr_expect_eq(v.why, KNOCKSET_NOTB64);
	}
	knockset_decide(&S, bin, sizeof(bin), 0, NOW, &v);
	cr_expect_eq(v.verdict, KNOCK_NORMAL, "12 bytes of binary");
	cr_expect_eq(v.why, KNOCKSET_NOTB64);

	/* Base64url only: wait, however it looks. */
	cr_expect_eq(decide(&S, "abcdefghijkl", 12, 0).verdict, KNOCK_WAIT);
	cr_expect_eq(decide(&S, "abcdefghijkl", 12, 1).why, KNOCKSET_SHORT);

	/* Any prefix of a valid token, then another byte: NORMAL at once. */
	mint(keys[0], NOW, tok);
	for (len = 0; len < TOKEN_LEN; len++) {
		memcpy(buf, tok, len);
		buf[len] = '.';
		v = decide(&S, buf, len + 1, 0);
		cr_expect_eq(v.verdict, KNOCK_NORMAL, "%zu token bytes, '.'",
		    len);
	}

	/* A complete knock first: it routes, whatever follows. */
	v = decide(&S, "short!!", 7, 0);
	cr_expect_eq(v.verdict, KNOCK_HIDDEN);
	cr_expect_eq(v.route, 0);
}

/* A static knock outside base64url: today's rule, short messages wait. */
Test(knockset, a_knock_outside_base64url_keeps_waiting)
{
	struct knockset S;
	struct knock k;
	uint8_t key[TOKEN_KEYLEN];

	knockset_init(&S, WINDOW, NOW - 100);
	memset(key, 9, sizeof(key));
	cr_assert_eq(knockset_add_key(&S, key), 0);
	cr_expect_eq(knockset_b64url(&S), 1, "tokens are base64url");
	cr_assert_eq(knock_set(&k, "open sesame", 11), 0);
	cr_assert_eq(knockset_add_knock(&S, &k), 1);
	cr_expect_eq(knockset_b64url(&S), 0, "a knock with a space");
	cr_expect_eq(decide(&S, "GET / HTTP/1.0\r\n\r\n", 18, 0).verdict,
	    KNOCK_WAIT);
	knockset_wipe(&S);
	cr_expect_eq(knockset_b64url(&S), 1, "an empty set");
}
