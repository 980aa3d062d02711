/*
 * Unit tests of src/srclimit.c: per-source counts in a keyed open-addressing
 * table with backward-shift deletion.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>

#include "srclimit.h"

/* The key of the IPv4 or IPv6 literal ${s}. */
static struct srclimit_key
key_of(const char * s)
{
	struct sockaddr_storage ss;
	struct sockaddr_in * sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 * sin6 = (struct sockaddr_in6 *)&ss;
	struct srclimit_key k;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
	} else {
		cr_assert(inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1, "%s", s);
		sin6->sin6_family = AF_INET6;
	}
	srclimit_key((struct sockaddr *)&ss, &k);
	return (k);
}

/* Are ${a} and ${b} the same source? */
static int
same(const char * a, const char * b)
{
	struct srclimit_key ka = key_of(a), kb = key_of(b);

	return (ka.kind == kb.kind && ka.prefix == kb.prefix);
}

Test(srclimit, sources)
{

	cr_expect(same("10.1.2.3", "::ffff:10.1.2.3"), "v4-mapped is IPv4");
	cr_expect(!same("10.1.2.3", "10.1.2.4"));
	cr_expect(same("2001:db8:1:2::1", "2001:db8:1:2:ffff::9"), "one /64");
	cr_expect(!same("2001:db8:1:2::1", "2001:db8:1:3::1"));
	cr_expect(!same("0.0.0.1", "::1"), "families apart");
	cr_expect_eq(key_of("10.1.2.3").kind, SRCLIMIT_V4);
	cr_expect_eq(key_of("::ffff:10.1.2.3").kind, SRCLIMIT_V4);
	cr_expect_eq(key_of("::1").kind, SRCLIMIT_V6);
}

Test(srclimit, limit_and_log_episodes)
{
	struct srclimit * S = srclimit_init(64, 3);
	struct srclimit_key a = key_of("192.0.2.1"), b = key_of("192.0.2.2");
	int i;

	cr_assert_not_null(S);
	for (i = 0; i < 3; i++)
		cr_expect_eq(srclimit_take(S, &a, 1000), SRCLIMIT_OK);
	cr_expect_eq(srclimit_take(S, &a, 1000), SRCLIMIT_REFUSED_LOG);
	cr_expect_eq(srclimit_take(S, &a, 1001), SRCLIMIT_REFUSED);
	cr_expect_eq(srclimit_take(S, &a, 1000 + SRCLIMIT_LOG_MS - 1),
	    SRCLIMIT_REFUSED);
	cr_expect_eq(srclimit_take(S, &a, 1000 + SRCLIMIT_LOG_MS),
	    SRCLIMIT_REFUSED_LOG, "logged again after SRCLIMIT_LOG_MS");
	/* Others are still counted. */
	cr_expect_eq(srclimit_take(S, &b, 1000), SRCLIMIT_OK);
	cr_expect_eq(srclimit_count(S, &a), 3);
	cr_expect_eq(srclimit_count(S, &b), 1);
	cr_expect_eq(srclimit_sources(S), 2);
	/* One fewer: one more may come. */
	srclimit_put(S, &a);
	cr_expect_eq(srclimit_take(S, &a, 1000), SRCLIMIT_OK);
	/* Emptied, the source leaves; its next episode is logged at once. */
	for (i = 0; i < 3; i++)
		srclimit_put(S, &a);
	cr_expect_eq(srclimit_count(S, &a), 0);
	cr_expect_eq(srclimit_sources(S), 1);
	for (i = 0; i < 3; i++)
		cr_expect_eq(srclimit_take(S, &a, 2000), SRCLIMIT_OK);
	cr_expect_eq(srclimit_take(S, &a, 2000), SRCLIMIT_REFUSED_LOG);
	srclimit_free(S);
}

Test(srclimit, uncounted_family)
{
	struct srclimit * S = srclimit_init(4, 1);
	struct sockaddr sa = { .sa_family = AF_UNIX };
	struct srclimit_key k;
	int i;

	cr_assert_not_null(S);
	srclimit_key(&sa, &k);
	cr_expect_eq(k.kind, SRCLIMIT_NONE);
	for (i = 0; i < 10; i++)
		cr_expect_eq(srclimit_take(S, &k, 0), SRCLIMIT_OK);
	srclimit_put(S, &k);
	cr_expect_eq(srclimit_sources(S), 0);
	srclimit_free(S);
}

/* The key of source number ${i}: 10.x.y.z, or a /64 of 2001:db8::/32. */
static struct srclimit_key
key_n(uint32_t i)
{
	struct srclimit_key k;

	memset(&k, 0, sizeof(k));
	if (i % 2 == 0) {
		k.kind = SRCLIMIT_V4;
		k.prefix = 0x0a000000U + i;
	} else {
		k.kind = SRCLIMIT_V6;
		k.prefix = 0x20010db800000000ULL + i;
	}
	return (k);
}

/*
 * Fill the table to its design load (max_conns sources, one connection
 * each), then remove and re-add in a scrambled order many times: every
 * source is always found with its count (so deletion kept every probe
 * chain whole), and the table ends empty.
 */
Test(srclimit, churn_keeps_every_chain)
{
	enum { N = 1000, ROUNDS = 20 };
	static uint8_t held[N];
	struct srclimit * S = srclimit_init(N, 2);
	struct srclimit_key k;
	uint32_t i, j, r;
	size_t n = 0;

	cr_assert_not_null(S);
	memset(held, 0, sizeof(held));
	for (r = 0; r < ROUNDS; r++) {
		for (j = 0; j < N; j++) {
			i = (j * 7919 + r * 104729) % N;
			k = key_n(i);
			if (held[i] > 0 && (r + j) % 3 != 0) {
				srclimit_put(S, &k);
				held[i]--;
				n--;
			} else if (held[i] == 0 || (held[i] < 2 && n < N)) {
				cr_assert_eq(srclimit_take(S, &k, r),
				    SRCLIMIT_OK);
				held[i]++;
				n++;
			}
		}
		for (i = 0; i < N; i++) {
			k = key_n(i);
			cr_assert_eq(srclimit_count(S, &k), held[i],
			    "round %u source %u", r, i);
		}
	}
	for (i = 0; i < N; i++) {
		k = key_n(i);
		while (held[i] > 0) {
			srclimit_put(S, &k);
			held[i]--;
		}
	}
	cr_expect_eq(srclimit_sources(S), 0);
	srclimit_free(S);
}

/*
 * The caller's word beside each count (srclimit_head): SRCLIMIT_HEAD_NONE
 * for a new source, kept as written while the source holds connections,
 * even when other sources leave and entries shift; gone with the source.
 */
Test(srclimit, head_word_follows_its_source)
{
	enum { N = 200 };
	struct srclimit * S = srclimit_init(N, 2);
	struct srclimit_key k;
	uint32_t i, * h;

	cr_assert_not_null(S);
	k = key_n(0);
	cr_expect_null(srclimit_head(S, &k), "no word for an absent source");
	for (i = 0; i < N; i++) {
		k = key_n(i);
		cr_assert_eq(srclimit_take(S, &k, 0), SRCLIMIT_OK);
		cr_assert_not_null(h = srclimit_head(S, &k));
		cr_expect_eq(*h, SRCLIMIT_HEAD_NONE);
		*h = i * 3;
	}
	/* Every other source leaves: the rest keep their words. */
	for (i = 0; i < N; i += 2) {
		k = key_n(i);
		srclimit_put(S, &k);
		cr_expect_null(srclimit_head(S, &k));
	}
	for (i = 1; i < N; i += 2) {
		k = key_n(i);
		cr_assert_not_null(h = srclimit_head(S, &k));
		cr_expect_eq(*h, i * 3, "source %u", i);
	}
	/* A source that comes back starts afresh. */
	k = key_n(0);
	cr_assert_eq(srclimit_take(S, &k, 0), SRCLIMIT_OK);
	cr_expect_eq(*srclimit_head(S, &k), SRCLIMIT_HEAD_NONE);
	srclimit_free(S);
}
