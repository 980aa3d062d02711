/*
 * The test's side of one-time tokens: a random key in a file, and tokens
 * minted by an independent implementation (a few lines of Python written
 * from DESIGN.md's text), never by token.c.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

/* A fresh random key in a mode-0600 file of its own. */
void
h_key_make(struct h_key * K)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t raw[33] = { 0 };
	char text[46];
	size_t i, j;
	int fd;

	h_fill(raw, 32, (uint64_t)h_now_ms() ^ ((uint64_t)getpid() << 20) ^
	    (uint64_t)(uintptr_t)K);
	for (i = 0; i < 32; i++)
		sprintf(K->hex + 2 * i, "%02x", raw[i]);
	/* Standard base64, 44 characters with one '=', by hand: 11 groups. */
	for (i = 0, j = 0; i < 33; i += 3) {
		uint32_t v = ((uint32_t)raw[i] << 16) |
		    ((uint32_t)raw[i + 1] << 8) | raw[i + 2];

		text[j++] = b64[(v >> 18) & 63];
		text[j++] = b64[(v >> 12) & 63];
		text[j++] = b64[(v >> 6) & 63];
		text[j++] = b64[v & 63];
	}
	text[43] = '=';
	text[44] = '\n';
	snprintf(K->path, sizeof(K->path), "/tmp/l7kk-key-XXXXXX");
	cr_assert((fd = mkstemp(K->path)) != -1);
	cr_assert_eq(write(fd, text, 45), 45);
	cr_assert_eq(fchmod(fd, 0600), 0);
	close(fd);
}

void
h_mint_hex(const char * key, long long t, const char * nonce, int flip,
    char out[H_TLEN + 1])
{
	static const char * prog =
	    "import hmac, hashlib, base64, sys, os, time\n"
	    "k = bytes.fromhex(sys.argv[1])\n"
	    "t = int(sys.argv[2])\n"
	    "t = int(time.time()) if t < 0 else t\n"
	    "flip = int(sys.argv[3])\n"
	    "n = bytes.fromhex(sys.argv[4]) if len(sys.argv) > 4 "
	    "else os.urandom(16)\n"
	    "tb = t.to_bytes(8, \"big\")\n"
	    "pad = hmac.new(k, b\"l7kk-time-v1\" + n, hashlib.sha256)"
	    ".digest()[:8]\n"
	    "tenc = bytes(a ^ b for a, b in zip(tb, pad))\n"
	    "tag = hmac.new(k, b\"l7kk-tag-v1\" + n + tb, hashlib.sha256)"
	    ".digest()[:16]\n"
	    "raw = bytearray(n + tenc + tag)\n"
	    "if flip >= 0: raw[flip // 8] ^= 1 << (flip % 8)\n"
	    "print(base64.urlsafe_b64encode(bytes(raw)).decode()"
	    ".rstrip(\"=\"))\n";
	char cmd[1024], line[128];
	FILE * f;

	snprintf(cmd, sizeof(cmd), "python3 -c '%s' %s %lld %d %s", prog, key,
	    t, flip, (nonce != NULL) ? nonce : "");
	cr_assert_not_null(f = popen(cmd, "r"), "popen python3");
	cr_assert_not_null(fgets(line, sizeof(line), f), "no output");
	cr_assert_eq(pclose(f), 0, "python3 failed");
	cr_assert_eq(strlen(line), H_TLEN + 1, "line '%s'", line);
	cr_assert_eq(line[H_TLEN], '\n');
	memcpy(out, line, H_TLEN);
	out[H_TLEN] = '\0';
}

void
h_mint(const struct h_key * K, long long t, int flip, char out[H_TLEN + 1])
{

	h_mint_hex(K->hex, t, NULL, flip, out);
}

