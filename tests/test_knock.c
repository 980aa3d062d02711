/*
 * Unit tests of src/knock.c: the knock decision.  The property that matters
 * most: below the knock's length (and not final) the verdict is KNOCK_WAIT
 * whatever the bytes are, so the moment of the decision tells a prober
 * nothing about the knock.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "knock.h"

/* Knock lengths every property is checked at. */
static const size_t knock_lens[] = { 1, 2, 3, 7, 16, 64, 255, 256 };
#define NLENS	(sizeof(knock_lens) / sizeof(knock_lens[0]))

/* A small deterministic generator (xorshift64*), so failures reproduce. */
static uint64_t
rng_next(uint64_t * s)
{

	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return (*s * 2685821657736338717ULL);
}

/* Fill ${buf} with ${len} pseudo-random bytes. */
static void
rng_fill(uint64_t * s, uint8_t * buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(rng_next(s) >> 32);
}

/* Make a knock of ${len} bytes that includes NUL and high bytes. */
static void
make_knock(struct knock * k, size_t len, uint64_t seed)
{
	uint8_t buf[KNOCK_MAX];

	rng_fill(&seed, buf, len);
	if (len > 2)
		buf[len / 2] = 0;
	cr_assert_eq(knock_set(k, buf, len), 0, "knock_set(%zu)", len);
}

Test(knock, set_bounds)
{
	static const struct {
		size_t len;
		int rc;
	} cases[] = {
		{ 0, -1 }, { 1, 0 }, { 2, 0 }, { 255, 0 }, { 256, 0 },
		{ 257, -1 }, { 1000, -1 }, { SIZE_MAX, -1 },
	};
	uint8_t src[1024];
	struct knock k;
	size_t i;

	memset(src, 'K', sizeof(src));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&k, 0, sizeof(k));
		cr_expect_eq(knock_set(&k, src, cases[i].len), cases[i].rc,
		    "knock_set(len %zu)", cases[i].len);
		if (cases[i].rc == 0) {
			cr_expect_eq(k.len, cases[i].len);
			cr_expect_arr_eq(k.buf, src, cases[i].len);
		}
	}
	cr_expect_eq(KNOCK_MAX, 256);
}

Test(knock, set_keeps_binary_bytes)
{
	static const uint8_t bin[] = { 0x00, 0xff, '\n', 0x00, 0x80, '\r' };
	struct knock k;

	cr_assert_eq(knock_set(&k, bin, sizeof(bin)), 0);
	cr_expect_eq(k.len, sizeof(bin));
	cr_expect_arr_eq(k.buf, bin, sizeof(bin));
	cr_expect_eq(knock_decide(&k, bin, sizeof(bin), 0), KNOCK_HIDDEN);
}

Test(knock, wipe_zeroes)
{
	struct knock k;
	uint8_t zero[KNOCK_MAX];
	size_t i;

	memset(zero, 0, sizeof(zero));
	for (i = 0; i < NLENS; i++) {
		make_knock(&k, knock_lens[i], 99 + i);
		memset(k.buf + k.len, 0xAA, sizeof(k.buf) - k.len);
		knock_wipe(&k);
		cr_expect_eq(k.len, 0, "len after knock_wipe");
		cr_expect_arr_eq(k.buf, zero, sizeof(k.buf),
		    "bytes left after knock_wipe of a %zu-byte knock",
		    knock_lens[i]);
	}
}

/*
 * For every knock length and every prefix length below it: WAIT, whether the
 * prefix is right, wrong in its first byte, wrong in its last byte, or
 * random; and NORMAL for each of them once the client can send no more.
 */
Test(knock, wait_for_every_short_prefix)
{
	struct knock k;
	uint8_t buf[KNOCK_MAX + 16];
	uint64_t seed = 0x5eed;
	size_t i, len, v;

	for (i = 0; i < NLENS; i++) {
		make_knock(&k, knock_lens[i], 1000 + i);
		for (len = 0; len < k.len; len++) {
			for (v = 0; v < 4; v++) {
				memcpy(buf, k.buf, k.len);
				if (v == 1 && len > 0)
					buf[0] ^= 0x01;
				if (v == 2 && len > 0)
					buf[len - 1] ^= 0x80;
				if (v == 3)
					rng_fill(&seed, buf, len);
				cr_expect_eq(knock_decide(&k, buf, len, 0),
				    KNOCK_WAIT, "knock of %zu, %zu bytes "
				    "(variant %zu): expected WAIT", k.len, len,
				    v);
				cr_expect_eq(knock_decide(&k, buf, len, 1),
				    KNOCK_NORMAL, "knock of %zu, %zu bytes "
				    "(variant %zu), final: expected NORMAL",
				    k.len, len, v);
			}
		}
	}
}

/* The exact knock, alone or followed by more bytes, final or not. */
Test(knock, hidden_on_exact_match_and_with_more_bytes)
{
	struct knock k;
	uint8_t buf[KNOCK_MAX + 64];
	size_t i, extra;

	for (i = 0; i < NLENS; i++) {
		make_knock(&k, knock_lens[i], 2000 + i);
		memcpy(buf, k.buf, k.len);
		memset(buf + k.len, 'x', 64);
		for (extra = 0; extra <= 64; extra += 1 + extra) {
			cr_expect_eq(knock_decide(&k, buf, k.len + extra, 0),
			    KNOCK_HIDDEN, "knock of %zu + %zu bytes",
			    k.len, extra);
			cr_expect_eq(knock_decide(&k, buf, k.len + extra, 1),
			    KNOCK_HIDDEN, "knock of %zu + %zu bytes, final",
			    k.len, extra);
		}
		/* What follows the knock may even repeat it. */
		memcpy(buf + k.len, k.buf, k.len < 64 ? k.len : 64);
		cr_expect_eq(knock_decide(&k, buf, k.len + 1, 0), KNOCK_HIDDEN);
	}
}

/* One wrong bit at any position, the last one included: NORMAL. */
Test(knock, normal_on_mismatch_at_every_position)
{
	struct knock k;
	uint8_t buf[KNOCK_MAX + 8];
	size_t i, pos;
	unsigned bit;

	for (i = 0; i < NLENS; i++) {
		make_knock(&k, knock_lens[i], 3000 + i);
		for (pos = 0; pos < k.len; pos++) {
			for (bit = 0; bit < 8; bit += 7) {
				memcpy(buf, k.buf, k.len);
				memset(buf + k.len, 0, 8);
				buf[pos] ^= (uint8_t)(1U << bit);
				cr_expect_eq(knock_decide(&k, buf, k.len, 0),
				    KNOCK_NORMAL, "knock of %zu, bit %u of "
				    "byte %zu flipped", k.len, bit, pos);
				cr_expect_eq(knock_decide(&k, buf, k.len + 8,
				    1), KNOCK_NORMAL, "knock of %zu + 8, bit "
				    "%u of byte %zu flipped, final", k.len,
				    bit, pos);
			}
		}
	}
}

/* The knock somewhere other than at the start is not a knock. */
Test(knock, normal_when_knock_is_not_at_the_start)
{
	struct knock k;
	uint8_t buf[KNOCK_MAX + 1];

	cr_assert_eq(knock_set(&k, "open sesame", 11), 0);
	memcpy(buf, " open sesame", 12);
	cr_expect_eq(knock_decide(&k, buf, 12, 0), KNOCK_NORMAL);
	cr_expect_eq(knock_decide(&k, buf, 11, 0), KNOCK_NORMAL);
	cr_expect_eq(knock_decide(&k, (const uint8_t *)"open sesam", 10, 0),
	    KNOCK_WAIT);
	cr_expect_eq(knock_decide(&k, (const uint8_t *)"open sesam", 10, 1),
	    KNOCK_NORMAL);
	cr_expect_eq(knock_decide(&k, (const uint8_t *)"", 0, 0), KNOCK_WAIT);
	cr_expect_eq(knock_decide(&k, (const uint8_t *)"", 0, 1), KNOCK_NORMAL);
	cr_expect_eq(knock_decide(&k, (const uint8_t *)"OPEN SESAME", 11, 0),
	    KNOCK_NORMAL);
}

/* The shortest and the longest knock, by hand. */
Test(knock, one_byte_and_256_byte_knocks)
{
	struct knock k;
	uint8_t buf[KNOCK_MAX + 1];

	cr_assert_eq(knock_set(&k, "Z", 1), 0);
	cr_expect_eq(knock_decide(&k, (const uint8_t *)"", 0, 0), KNOCK_WAIT);
	cr_expect_eq(knock_decide(&k, (const uint8_t *)"Z", 1, 0),
	    KNOCK_HIDDEN);
	cr_expect_eq(knock_decide(&k, (const uint8_t *)"Zzz", 3, 0),
	    KNOCK_HIDDEN);
	cr_expect_eq(knock_decide(&k, (const uint8_t *)"z", 1, 0),
	    KNOCK_NORMAL);
	cr_expect_eq(knock_decide(&k, (const uint8_t *)"\0", 1, 0),
	    KNOCK_NORMAL);

	memset(buf, 0xA5, sizeof(buf));
	cr_assert_eq(knock_set(&k, buf, 256), 0);
	cr_expect_eq(knock_decide(&k, buf, 255, 0), KNOCK_WAIT);
	cr_expect_eq(knock_decide(&k, buf, 255, 1), KNOCK_NORMAL);
	cr_expect_eq(knock_decide(&k, buf, 256, 0), KNOCK_HIDDEN);
	cr_expect_eq(knock_decide(&k, buf, 257, 0), KNOCK_HIDDEN);
	buf[255] = 0xA4;
	cr_expect_eq(knock_decide(&k, buf, 256, 0), KNOCK_NORMAL);
}

/*
 * Feed ${msg} (${len} bytes) in random segments, as the relay would
 * accumulate them, and check that the verdict is WAIT exactly while fewer
 * than the knock's length have arrived, then ${want} at every later step.
 */
static void
feed_segments(const struct knock * k, const uint8_t * msg, size_t len,
    int want, uint64_t * seed, size_t round)
{
	size_t have = 0, seg, maxseg;
	int v;

	/* Segments of 1 byte up to the knock's length and a bit. */
	maxseg = 1 + rng_next(seed) % (k->len + 8);
	while (have < len) {
		seg = 1 + rng_next(seed) % maxseg;
		if (seg > len - have)
			seg = len - have;
		have += seg;
		v = knock_decide(k, msg, have, 0);
		if (have < k->len)
			cr_assert_eq(v, KNOCK_WAIT, "round %zu: knock of %zu, "
			    "%zu bytes so far: %d, expected WAIT", round,
			    k->len, have, v);
		else
			cr_assert_eq(v, want, "round %zu: knock of %zu, %zu "
			    "bytes so far: %d, expected %d", round, k->len,
			    have, v, want);
	}
}

Test(knock, arbitrary_segmentation_property)
{
	struct knock k;
	uint8_t msg[KNOCK_MAX + 512];
	uint64_t seed = 0x0123456789abcdefULL;
	size_t round, klen, plen, pos;

	for (round = 0; round < 3000; round++) {
		klen = 1 + rng_next(&seed) % KNOCK_MAX;
		if (round % 10 == 0)
			klen = (round % 20 == 0) ? 1 : KNOCK_MAX;
		make_knock(&k, klen, round);
		plen = rng_next(&seed) % 512;

		/* The knock, then a payload. */
		memcpy(msg, k.buf, klen);
		rng_fill(&seed, msg + klen, plen);
		feed_segments(&k, msg, klen + plen, KNOCK_HIDDEN, &seed,
		    round);

		/* The same with one byte of the knock changed. */
		pos = rng_next(&seed) % klen;
		msg[pos] ^= (uint8_t)(1 + rng_next(&seed) % 255);
		feed_segments(&k, msg, klen + plen, KNOCK_NORMAL, &seed,
		    round);
	}
}
