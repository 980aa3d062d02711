#ifndef TOKEN_H_
#define TOKEN_H_

#include <stddef.h>
#include <stdint.h>

/* Sizes: a key, a decoded token, a token on the wire (unpadded base64url). */
#define TOKEN_KEYLEN	32
#define TOKEN_RAWLEN	40
#define TOKEN_LEN	54

/* Parts of a decoded token: nonce[16] || tenc[8] || tag[16]. */
#define TOKEN_NONCELEN	16
#define TOKEN_TAGLEN	16

/* The longest --token-window, in seconds. */
#define TOKEN_WINDOW_MAX	600

/* Verdicts of token_check(). */
#define TOKEN_OK	0	/* Tag matches, in the window, not early. */
#define TOKEN_NOTOKEN	1	/* Not 54 valid base64url characters. */
#define TOKEN_BADTAG	2	/* Decodes, but no key's tag matches. */
#define TOKEN_EXPIRED	3	/* Tag matches; |now - t| > window. */
#define TOKEN_EARLY	4	/* Tag matches; t < start - 1. */

/*
 * A key made ready for token_check_ready(): the HMAC-SHA256 state after the
 * key's pads, so that a check need not hash them again (two of the eight
 * SHA-256 blocks of a check per key).  As secret as the key: wipe it with
 * explicit_bzero.  TOKEN_KEYSTATE bytes hold libsodium's
 * crypto_auth_hmacsha256_state (token.c checks the size).
 */
#define TOKEN_KEYSTATE	256
struct token_key {
	uint64_t st[TOKEN_KEYSTATE / sizeof(uint64_t)];
};

/* What token_check() found. */
struct token_result {
	int verdict;			/* TOKEN_OK ... TOKEN_EARLY. */
	int key;			/* Index of the matching key, or -1. */
	uint64_t t;			/* The decoded time (0 unless a key matched). */
	uint64_t expiry;		/* t + window: keep in the replay cache until. */
	uint8_t tag[TOKEN_TAGLEN];	/* The token's tag: the replay cache's key. */
};

/**
 * token_init():
 * Initialise libsodium (sodium_init); call once, before the sandbox.
 * Return 0, or -1 after reporting the failure.
 */
int token_init(void);

/**
 * token_mint(key, t, nonce, out):
 * Write the TOKEN_LEN characters (no NUL) of the token for Unix time ${t}
 * and the 16-byte ${nonce} under ${key} into ${out}.
 */
void token_mint(const uint8_t[TOKEN_KEYLEN], uint64_t,
    const uint8_t[TOKEN_NONCELEN], char[TOKEN_LEN]);

/**
 * token_mint_now(key, out):
 * As token_mint() with a fresh random nonce (randombytes_buf, which calls
 * getrandom(2)) and time(NULL).
 */
void token_mint_now(const uint8_t[TOKEN_KEYLEN], char[TOKEN_LEN]);

/**
 * token_check(keys, nkeys, buf, now, window, start, out):
 * Check the TOKEN_LEN bytes at ${buf} (the first bytes of a connection)
 * against each of the ${nkeys} keys ${keys}[0 .. nkeys - 1], at Unix time
 * ${now}, with ${window} seconds of tolerance, for a relay started at
 * ${start}.  The bytes are decoded with sodium_base642bin (URL-safe, no
 * padding, so anything but exactly 54 valid characters is not a token);
 * then, for EVERY key and whatever the decoding gave, both HMACs are
 * computed and the tag compared with sodium_memcmp, with no early exit, so
 * the work does not depend on the bytes.  Fill ${out}: the verdict, in this
 * order of precedence: TOKEN_NOTOKEN, TOKEN_BADTAG, TOKEN_EXPIRED
 * (|now - t| > window), TOKEN_EARLY (t < start - 1), TOKEN_OK; the key
 * index, t, t + window and the tag.  Return the index of the matching key
 * (whatever the time says), or -1.  The replay cache is the caller's: a
 * TOKEN_OK token is accepted only once replay_insert() says so.  Pure: no
 * system calls, no allocation; intermediate secrets are wiped.
 */
int token_check(const uint8_t[][TOKEN_KEYLEN], size_t, const uint8_t *,
    uint64_t, uint64_t, uint64_t, struct token_result *);

/**
 * token_key_init(K, key):
 * Make ${K} ready to check tokens under the TOKEN_KEYLEN-byte ${key}.
 */
void token_key_init(struct token_key *, const uint8_t[TOKEN_KEYLEN]);

/**
 * token_check_ready(keys, nkeys, buf, now, window, start, out):
 * As token_check(), with the ${nkeys} keys made ready by token_key_init:
 * the same results and the same work whatever the bytes, for less work.
 */
int token_check_ready(const struct token_key *, size_t, const uint8_t *,
    uint64_t, uint64_t, uint64_t, struct token_result *);

#endif /* !TOKEN_H_ */
