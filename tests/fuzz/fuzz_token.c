/*
 * libFuzzer harness for src/token.c: token_check() on arbitrary bytes, and
 * token_mint() then token_check() on arbitrary times, nonces and flips.
 *
 * Checked against the contract in src/token.h and the format in DESIGN.md:
 *   - input byte 0 even: the next TOKEN_LEN bytes (padded with 'A' when
 *     short) are checked against three keys.  TOKEN_NOTOKEN exactly when a
 *     byte is outside the base64url alphabet or the last character's four
 *     unused bits are not zero (reference written here, not libsodium's);
 *     otherwise a matching key must re-mint exactly these characters from
 *     the decoded nonce and t, and no match means TOKEN_BADTAG; the key
 *     index is -1 unless some key matched; the verdict follows the time
 *     rules (window, start) for the matched t;
 *   - byte 0 odd: t (8 bytes), nonce (16), key (1) from the input; the
 *     minted token has 54 base64url characters and checks TOKEN_OK under
 *     that key at now = t; every character changed (to the input's next
 *     byte) gives a verdict other than TOKEN_OK, or the same token again.
 * The checked bytes are in a heap block of exactly TOKEN_LEN bytes, so
 * AddressSanitizer sees any read past them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint8_t keys[3][TOKEN_KEYLEN];

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The value of a base64url character, or -1. */
static int
ref_val(uint8_t c)
{
	const char * p;

	if (c == 0 || (p = strchr(b64url, c)) == NULL)
		return (-1);
	return ((int)(p - b64url));
}

/* Reference decoder: 54 characters to 40 bytes; 0 or -1. */
static int
ref_decode(const uint8_t * s, uint8_t raw[TOKEN_RAWLEN])
{
	uint32_t acc = 0;
	int bits = 0, v;
	size_t i, o = 0;

	for (i = 0; i < TOKEN_LEN; i++) {
		if ((v = ref_val(s[i])) < 0)
			return (-1);
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			raw[o++] = (uint8_t)(acc >> bits);
			acc &= (1U << bits) - 1;
		}
	}
	/* 324 bits for 320: the 4 left over must be zero. */
	return ((o == TOKEN_RAWLEN && acc == 0) ? 0 : -1);
}

/* Check ${tok} (a heap copy of exactly TOKEN_LEN bytes). */
static int
check(const uint8_t * tok, uint64_t now, uint64_t w, uint64_t start,
    struct token_result * r)
{
	struct token_key ready[3];
	struct token_result q;
	uint8_t * h;
	int k, i;

	if ((h = malloc(TOKEN_LEN)) == NULL)
		abort();
	memcpy(h, tok, TOKEN_LEN);
	k = token_check((const uint8_t (*)[TOKEN_KEYLEN])keys, 3, h, now, w,
	    start, r);
	/* The relay's way, with keys made ready: the same result. */
	for (i = 0; i < 3; i++)
		token_key_init(&ready[i], keys[i]);
	if (token_check_ready(ready, 3, h, now, w, start, &q) != k ||
	    memcmp(&q, r, sizeof(q)) != 0)
		abort();
	free(h);
	if (k != r->key)
		abort();
	return (k);
}

/* The verdict the time rules give for a matched ${t}. */
static int
ref_when(uint64_t t, uint64_t now, uint64_t w, uint64_t start)
{
	uint64_t d = (t > now) ? t - now : now - t;

	if (d > w)
		return (TOKEN_EXPIRED);
	if (start > 0 && t < start - 1)
		return (TOKEN_EARLY);
	return (TOKEN_OK);
}

/* Arbitrary bytes. */
static void
fuzz_bytes(const uint8_t * d, size_t n)
{
	uint8_t tok[TOKEN_LEN], raw[TOKEN_RAWLEN];
	char again[TOKEN_LEN];
	struct token_result r;
	uint64_t now = 1700000000, w = 30;
	int k, ok;

	memset(tok, 'A', sizeof(tok));
	memcpy(tok, d, n < TOKEN_LEN ? n : TOKEN_LEN);
	k = check(tok, now, w, now - 100, &r);
	ok = (ref_decode(tok, raw) == 0);
	if (!ok) {
		if (r.verdict != TOKEN_NOTOKEN || k != -1)
			abort();
		return;
	}
	if (r.verdict == TOKEN_NOTOKEN)
		abort();
	if (memcmp(r.tag, raw + 24, TOKEN_TAGLEN) != 0)
		abort();
	if (k == -1) {
		if (r.verdict != TOKEN_BADTAG)
			abort();
		return;
	}
	/* A match (no fuzzer will find one by chance, but mint may). */
	token_mint(keys[k], r.t, raw, again);
	if (memcmp(again, tok, TOKEN_LEN) != 0)
		abort();
	if (r.verdict != ref_when(r.t, now, w, now - 100))
		abort();
}

/* Minted tokens, then one character changed. */
static void
fuzz_mint(const uint8_t * d, size_t n)
{
	uint8_t nonce[TOKEN_NONCELEN], tok[TOKEN_LEN];
	struct token_result r;
	uint64_t t = 0, w;
	size_t i, pos;
	int key;

	if (n < 8 + TOKEN_NONCELEN + 1)
		return;
	for (i = 0; i < 8; i++)
		t = (t << 8) | d[i];
	memcpy(nonce, d + 8, TOKEN_NONCELEN);
	key = d[24] % 3;
	w = d[24] >> 2;
	token_mint(keys[key], t, nonce, (char *)tok);
	for (i = 0; i < TOKEN_LEN; i++)
		if (ref_val(tok[i]) < 0)
			abort();
	if (check(tok, t, w, t, &r) != key || r.verdict != TOKEN_OK ||
	    r.t != t)
		abort();
	/* Outside the window, before the start. */
	if (t < UINT64_MAX - w - 1 &&
	    (check(tok, t + w + 1, w, t, &r) != key ||
	    r.verdict != TOKEN_EXPIRED))
		abort();
	if (t < UINT64_MAX - 2 && (check(tok, t, w, t + 2, &r) != key ||
	    r.verdict != TOKEN_EARLY))
		abort();
	/* Changes: pairs (position, byte) from the rest of the input. */
	for (i = 25; i + 1 < n; i += 2) {
		uint8_t bad[TOKEN_LEN];

		pos = d[i] % TOKEN_LEN;
		memcpy(bad, tok, TOKEN_LEN);
		bad[pos] = d[i + 1];
		check(bad, t, w, t, &r);
		if (bad[pos] == tok[pos]) {
			if (r.verdict != TOKEN_OK)
				abort();
		} else if (r.verdict == TOKEN_OK)
			abort();
	}
}

int
LLVMFuzzerInitialize(int * argc, char *** argv)
{
	size_t i, j;

	(void)argc;
	(void)argv;
	if (token_init())
		abort();
	for (i = 0; i < 3; i++)
		for (j = 0; j < TOKEN_KEYLEN; j++)
			keys[i][j] = (uint8_t)(i * 31 + j * 5 + 3);
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t * d, size_t n)
{

	if (n == 0)
		return (0);
	if (d[0] & 1)
		fuzz_mint(d + 1, n - 1);
	else
		fuzz_bytes(d + 1, n - 1);
	return (0);
}
