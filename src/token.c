#include <stdint.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "log.h"
#include "token.h"

/* Domain separation strings of the two HMACs (DESIGN.md). */
#define TOKEN_TIME_LABEL	"l7kk-time-v1"
#define TOKEN_TAG_LABEL		"l7kk-tag-v1"

/* Offsets in the raw token: nonce[16] || tenc[8] || tag[16]. */
#define TOKEN_OFF_TENC	16
#define TOKEN_OFF_TAG	24

/* Initialise libsodium. */
int
token_init(void)
{

	if (sodium_init() < 0) {
		log_err("cannot initialise libsodium");
		return (-1);
	}
	return (0);
}

/* Store ${x} big-endian in ${p}[0 .. 7]. */
static void
token_be64enc(uint8_t * p, uint64_t x)
{
	int i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)x;
		x >>= 8;
	}
}

/* Read 8 big-endian bytes at ${p}. */
static uint64_t
token_be64dec(const uint8_t * p)
{
	uint64_t x = 0;
	int i;

	for (i = 0; i < 8; i++)
		x = (x << 8) | p[i];
	return (x);
}

_Static_assert(sizeof(crypto_auth_hmacsha256_state) <= TOKEN_KEYSTATE,
    "TOKEN_KEYSTATE cannot hold crypto_auth_hmacsha256_state");

/* A key's HMAC state, as the HMACs below take it. */
typedef crypto_auth_hmacsha256_state token_ks;

/* Make ${K} ready for ${key}: the HMAC state after the key's pads. */
void
token_key_init(struct token_key * K, const uint8_t key[TOKEN_KEYLEN])
{

	memset(K, 0, sizeof(*K));
	crypto_auth_hmacsha256_init((token_ks *)(void *)K->st, key,
	    TOKEN_KEYLEN);
}

/*
 * HMAC-SHA256(key, label || a[alen] || b[blen]) into mac[32], from the
 * key's state ${ks} (a copy is hashed on; ${ks} stays as it is).
 */
static void
token_hmac(const token_ks * ks, const char * label, const uint8_t * a,
    size_t alen, const uint8_t * b, size_t blen,
    uint8_t mac[crypto_auth_hmacsha256_BYTES])
{
	crypto_auth_hmacsha256_state st;

	memcpy(&st, ks, sizeof(st));
	crypto_auth_hmacsha256_update(&st, (const uint8_t *)label,
	    strlen(label));
	crypto_auth_hmacsha256_update(&st, a, alen);
	if (blen > 0)
		crypto_auth_hmacsha256_update(&st, b, blen);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

/* The time pad: first 8 bytes of HMAC(key, "l7kk-time-v1" || nonce). */
static uint64_t
token_pad(const token_ks * key, const uint8_t * nonce)
{
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	uint64_t pad;

	token_hmac(key, TOKEN_TIME_LABEL, nonce, TOKEN_NONCELEN, NULL, 0, mac);
	pad = token_be64dec(mac);
	sodium_memzero(mac, sizeof(mac));
	return (pad);
}

/* The tag: first 16 bytes of HMAC(key, "l7kk-tag-v1" || nonce || t). */
static void
token_tag(const token_ks * key, const uint8_t * nonce, uint64_t t,
    uint8_t tag[TOKEN_TAGLEN])
{
	uint8_t mac[crypto_auth_hmacsha256_BYTES];
	uint8_t tbuf[8];

	token_be64enc(tbuf, t);
	token_hmac(key, TOKEN_TAG_LABEL, nonce, TOKEN_NONCELEN, tbuf,
	    sizeof(tbuf), mac);
	memcpy(tag, mac, TOKEN_TAGLEN);
	sodium_memzero(mac, sizeof(mac));
}

/* Mint the token for ${t} and ${nonce} under ${key}. */
void
token_mint(const uint8_t key[TOKEN_KEYLEN], uint64_t t,
    const uint8_t nonce[TOKEN_NONCELEN], char out[TOKEN_LEN])
{
	struct token_key K;
	uint8_t raw[TOKEN_RAWLEN];
	char b64[TOKEN_LEN + 1];

	token_key_init(&K, key);
	memcpy(raw, nonce, TOKEN_NONCELEN);
	token_be64enc(raw + TOKEN_OFF_TENC, t ^
	    token_pad((const token_ks *)(const void *)K.st, nonce));
	token_tag((const token_ks *)(const void *)K.st, nonce, t,
	    raw + TOKEN_OFF_TAG);
	sodium_memzero(&K, sizeof(K));
	sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	memcpy(out, b64, TOKEN_LEN);
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(b64, sizeof(b64));
}

/* Mint a token for now with a fresh nonce. */
void
token_mint_now(const uint8_t key[TOKEN_KEYLEN], char out[TOKEN_LEN])
{
	uint8_t nonce[TOKEN_NONCELEN];
	time_t now = time(NULL);

	randombytes_buf(nonce, sizeof(nonce));
	token_mint(key, (uint64_t)(now < 0 ? 0 : now), nonce, out);
	sodium_memzero(nonce, sizeof(nonce));
}

/* Return 1 if ${lo} <= ${c} <= ${hi}, else 0, without a branch. */
static uint32_t
token_inrange(uint32_t c, uint32_t lo, uint32_t hi)
{

	return (1 ^ (((c - lo) | (hi - c)) >> 31));
}

/* Are all ${len} bytes at ${buf} base64url?  No branch, no early exit. */
int
token_b64url(const uint8_t * buf, size_t len)
{
	uint32_t bad = 0, c;
	size_t i;

	for (i = 0; i < len; i++) {
		c = buf[i];
		bad |= 1 ^ (token_inrange(c, 'A', 'Z') |
		    token_inrange(c, 'a', 'z') | token_inrange(c, '0', '9') |
		    token_inrange(c, '-', '-') | token_inrange(c, '_', '_'));
	}
	return (bad == 0);
}

/* Decode ${buf} into ${raw}; return 0 or -1 (then ${raw} is all zero). */
static int
token_decode(const uint8_t * buf, uint8_t raw[TOKEN_RAWLEN])
{
	size_t binlen = 0;
	uint32_t bad;
	int rc;

	/*
	 * libsodium 1.0.18's decoder reads the characters as (signed) char
	 * and so decodes some bytes >= 0x80 as if they were letters: without
	 * this check, a string with such a byte would be taken for a token.
	 */
	bad = !token_b64url(buf, TOKEN_LEN);
	rc = sodium_base642bin(raw, TOKEN_RAWLEN, (const char *)buf,
	    TOKEN_LEN, NULL, &binlen, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	if ((rc != 0) | (binlen != TOKEN_RAWLEN) | (bad != 0)) {
		/* Same work below, on zeros: the bytes decide nothing. */
		sodium_memzero(raw, TOKEN_RAWLEN);
		return (-1);
	}
	return (0);
}

/* Check ${raw} under one key: return 1 if the tag matches; the time in ${t}. */
static int
token_check1(const token_ks * key, const uint8_t raw[TOKEN_RAWLEN],
    uint64_t * t)
{
	uint8_t tag[TOKEN_TAGLEN];
	int eq;

	*t = token_be64dec(raw + TOKEN_OFF_TENC) ^ token_pad(key, raw);
	token_tag(key, raw, *t, tag);
	eq = (sodium_memcmp(tag, raw + TOKEN_OFF_TAG, TOKEN_TAGLEN) == 0);
	sodium_memzero(tag, sizeof(tag));
	return (eq);
}

/* The verdict on a token whose tag matched, with time ${t}. */
static int
token_when(uint64_t t, uint64_t now, uint64_t window, uint64_t start)
{
	uint64_t d = (t > now) ? t - now : now - t;

	if (d > window)
		return (TOKEN_EXPIRED);
	if (start > 0 && t < start - 1)
		return (TOKEN_EARLY);
	return (TOKEN_OK);
}

/* The keys tried so far: the first that matched, and its token's time. */
struct token_scan {
	uint8_t raw[TOKEN_RAWLEN];	/* The token, decoded. */
	int decoded;			/* It decoded. */
	int match;			/* The first key that matched, or -1. */
	uint64_t tmatch;		/* Its time. */
};

/* Start a scan of the token ${buf}. */
static void
token_scan_start(struct token_scan * S, const uint8_t * buf)
{

	S->decoded = (token_decode(buf, S->raw) == 0);
	S->match = -1;
	S->tmatch = 0;
}

/* Try key ${i}, ${K}: every key is tried, both HMACs, no early exit. */
static void
token_scan_key(struct token_scan * S, const struct token_key * K, size_t i)
{
	uint64_t t;
	int eq;

	eq = token_check1((const token_ks *)(const void *)K->st, S->raw, &t);
	if (eq & S->decoded & (S->match == -1)) {
		S->match = (int)i;
		S->tmatch = t;
	}
}

/* The verdict of the scan ${S} into ${out}; return the key that matched. */
static int
token_scan_end(struct token_scan * S, uint64_t now, uint64_t window,
    uint64_t start, struct token_result * out)
{

	memset(out, 0, sizeof(*out));
	out->key = S->match;
	memcpy(out->tag, S->raw + TOKEN_OFF_TAG, TOKEN_TAGLEN);
	if (!S->decoded)
		out->verdict = TOKEN_NOTOKEN;
	else if (S->match == -1)
		out->verdict = TOKEN_BADTAG;
	else {
		out->t = S->tmatch;
		out->expiry = (S->tmatch > UINT64_MAX - window) ? UINT64_MAX :
		    S->tmatch + window;
		out->verdict = token_when(S->tmatch, now, window, start);
	}
	sodium_memzero(S->raw, sizeof(S->raw));
	return (S->match);
}

/* Check a token against every key. */
int
token_check(const uint8_t keys[][TOKEN_KEYLEN], size_t nkeys,
    const uint8_t * buf, uint64_t now, uint64_t window, uint64_t start,
    struct token_result * out)
{
	struct token_scan S;
	struct token_key K;
	size_t i;

	token_scan_start(&S, buf);
	for (i = 0; i < nkeys; i++) {
		token_key_init(&K, keys[i]);
		token_scan_key(&S, &K, i);
	}
	sodium_memzero(&K, sizeof(K));
	return (token_scan_end(&S, now, window, start, out));
}

/* Check a token against every key made ready. */
int
token_check_ready(const struct token_key * keys, size_t nkeys,
    const uint8_t * buf, uint64_t now, uint64_t window, uint64_t start,
    struct token_result * out)
{
	struct token_scan S;
	size_t i;

	token_scan_start(&S, buf);
	for (i = 0; i < nkeys; i++)
		token_scan_key(&S, &keys[i], i);
	return (token_scan_end(&S, now, window, start, out));
}
