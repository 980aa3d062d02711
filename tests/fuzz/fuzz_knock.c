/*
 * libFuzzer harness for src/knock.c: knock_set() and knock_decide() fed the
 * first bytes of a connection in arbitrary segments.
 *
 * Input layout (every field optional; missing bytes read as 0):
 *   [0]     knock length - 1 (so 1 .. 256)
 *   [1]     flags: bit 0 the stream starts with the knock itself (so the
 *           hidden route is reachable), bit 1 flip one byte of that copy,
 *           bit 2 the last call is final, bit 3 knock_set() is also tried
 *           with a length of 0 or above KNOCK_MAX
 *   [2]     position of the flipped byte (modulo the knock length)
 *   [3]     number of segments - 1 (so 1 .. 16)
 *   [4..]   one length byte per segment
 *   then    the knock bytes, then the rest of the stream.
 *
 * The prefix of the stream grows segment by segment (a segment of 0 bytes is
 * a wakeup with nothing new); after each one knock_decide() must agree with
 * a plain memcmp() reference:
 *   - WAIT whenever len < knock length and not final (whatever the bytes);
 *   - NORMAL when len < knock length and final;
 *   - otherwise HIDDEN iff the first knock-length bytes equal the knock;
 *   - the verdict never depends on bytes past the knock length, nor on the
 *     bytes of k->buf past k->len;
 *   - once decided, a longer prefix keeps the same verdict.
 * The prefix is handed over in a heap block of exactly len bytes so that
 * AddressSanitizer catches any read past it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "knock.h"

#define NSEG_MAX	16
#define STREAM_MAX	(2 * KNOCK_MAX + 64)

/* Byte ${i} of the input, or 0 past its end. */
static uint8_t
in_byte(const uint8_t * d, size_t n, size_t i)
{

	return ((i < n) ? d[i] : 0);
}

/* The reference: what knock_decide() must return. */
static int
ref_decide(const uint8_t * kb, size_t klen, const uint8_t * buf, size_t len,
    int final)
{

	if (len < klen)
		return (final ? KNOCK_NORMAL : KNOCK_WAIT);
	return (memcmp(buf, kb, klen) == 0 ? KNOCK_HIDDEN : KNOCK_NORMAL);
}

/* knock_decide() on an exact-size heap copy of buf[0 .. len). */
static int
decide_exact(const struct knock * k, const uint8_t * buf, size_t len,
    int final)
{
	uint8_t * copy;
	int v;

	/* malloc(0) may return NULL; one byte is then enough and unused. */
	if ((copy = malloc(len ? len : 1)) == NULL)
		abort();
	memcpy(copy, buf, len);
	v = knock_decide(k, len ? copy : NULL, len, final);
	free(copy);
	return (v);
}

/* Check every property at one prefix length. */
static void
check_prefix(const struct knock * k, const struct knock * kdirty,
    const uint8_t * kb, size_t klen, const uint8_t * stream, size_t len,
    int final)
{
	uint8_t other[STREAM_MAX];
	size_t i;
	int v, ref;

	v = decide_exact(k, stream, len, final);
	ref = ref_decide(kb, klen, stream, len, final);
	if (v != ref)
		abort();

	/* The same knock with garbage past k->len decides the same. */
	if (decide_exact(kdirty, stream, len, final) != v)
		abort();

	/* Bytes past the knock length never matter. */
	if (len > klen) {
		memcpy(other, stream, len);
		for (i = klen; i < len; i++)
			other[i] = (uint8_t)~other[i];
		if (decide_exact(k, other, len, final) != v)
			abort();
	}

	/* Below the knock length nothing but final matters. */
	if (len < klen && len > 0) {
		memcpy(other, stream, len);
		other[len - 1] ^= 0x5a;
		if (decide_exact(k, other, len, final) != v)
			abort();
	}
}

/* knock_set() refuses 0 and anything above KNOCK_MAX, and leaves k alone. */
static void
check_set_bounds(const uint8_t * d, size_t n)
{
	static const uint8_t big[KNOCK_MAX + 1];
	struct knock k;
	size_t bad = KNOCK_MAX + 1 + in_byte(d, n, 2);

	memset(&k, 0xa5, sizeof(k));
	if (knock_set(&k, big, 0) != -1)
		abort();
	if (knock_set(&k, big, bad < sizeof(big) ? bad : sizeof(big)) != -1)
		abort();
	if (knock_set(&k, big, SIZE_MAX) != -1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t * d, size_t n)
{
	uint8_t kb[KNOCK_MAX];
	uint8_t stream[STREAM_MAX];
	struct knock k, kdirty;
	size_t klen = (size_t)in_byte(d, n, 0) + 1;
	uint8_t flags = in_byte(d, n, 1);
	size_t flip = in_byte(d, n, 2) % klen;
	size_t nseg = (size_t)(in_byte(d, n, 3) % NSEG_MAX) + 1;
	size_t seg[NSEG_MAX];
	size_t i, pos = 4, slen = 0, len, nrest;
	int final = (flags & 4) != 0;
	int v, prev = KNOCK_WAIT;

	for (i = 0; i < nseg; i++)
		seg[i] = in_byte(d, n, pos++);
	for (i = 0; i < klen; i++)
		kb[i] = in_byte(d, n, pos++);

	/* The stream: maybe the knock itself (maybe one byte off), then data. */
	if (flags & 1) {
		memcpy(stream, kb, klen);
		if (flags & 2)
			stream[flip] ^= (uint8_t)(1 + (in_byte(d, n, 2) >> 1));
		slen = klen;
	}
	nrest = (pos < n) ? n - pos : 0;
	if (nrest > sizeof(stream) - slen)
		nrest = sizeof(stream) - slen;
	if (nrest > 0)
		memcpy(stream + slen, d + pos, nrest);
	slen += nrest;

	/* Two copies of the knock: one clean, one with garbage past len. */
	memset(&k, 0, sizeof(k));
	if (knock_set(&k, kb, klen) != 0 || k.len != klen ||
	    memcmp(k.buf, kb, klen) != 0)
		abort();
	memset(&kdirty, 0, sizeof(kdirty));
	for (i = 0; i < KNOCK_MAX; i++)
		kdirty.buf[i] = (uint8_t)~in_byte(d, n, n - 1 - i % (n ? n : 1));
	if (knock_set(&kdirty, kb, klen) != 0)
		abort();

	/* Grow the prefix segment by segment; final only on the last call. */
	len = 0;
	check_prefix(&k, &kdirty, kb, klen, stream, 0, 0);
	for (i = 0; i < nseg; i++) {
		len += seg[i];
		if (len > slen)
			len = slen;
		check_prefix(&k, &kdirty, kb, klen, stream, len, 0);
		v = decide_exact(&k, stream, len, 0);
		if (prev != KNOCK_WAIT && v != prev)
			abort();
		prev = v;
	}
	if (final)
		check_prefix(&k, &kdirty, kb, klen, stream, len, 1);
	/* The whole stream, in one piece, decides as the reference says. */
	check_prefix(&k, &kdirty, kb, klen, stream, slen, final);

	if (flags & 8)
		check_set_bounds(d, n);

	/* knock_wipe() leaves nothing behind. */
	knock_wipe(&k);
	if (k.len != 0)
		abort();
	for (i = 0; i < KNOCK_MAX; i++)
		if (k.buf[i] != 0)
			abort();
	return (0);
}
