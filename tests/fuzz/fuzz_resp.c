/*
 * libFuzzer harness for src/resp.c, the RESP reply parser and command
 * encoder (the --replay-store client's protocol).
 *
 * Input: [0] a cut length (1-256), the rest a reply stream.  Checked:
 *   - the stream fed whole and fed in pieces of the cut length give the
 *     same replies (kinds and texts) in the same places, and RESP_BAD at
 *     the same byte (the parser is incremental: where reads split the
 *     stream never matters);
 *   - every call takes at least one byte and no more than it was given,
 *     and a reply's text is NUL-terminated within RESP_MSG_MAX + 1;
 *   - the stream cut into up to RESP_ARGS_MAX arguments at its 0xff bytes
 *     and encoded by resp_encode(), in a heap block of exactly the needed
 *     size, parses back as one reply of kind RESP_OTHER (an array) that
 *     takes every byte; one byte less of room refuses it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

/* Most replies compared per input. */
#define MAXREP	256

/* What one pass over the stream saw. */
struct pass {
	size_t n;			/* Replies. */
	size_t end[MAXREP];		/* Offset after each. */
	struct resp_reply r[MAXREP];
	int bad;			/* RESP_BAD came. */
	size_t badat;			/* Offset of the piece it came in. */
};

/* Parse ${d}/${n} in pieces of ${cut} bytes into ${S}. */
static void
run(const uint8_t * d, size_t n, size_t cut, struct pass * S)
{
	struct resp_parser P;
	struct resp_reply R;
	size_t off = 0, end, used;
	int rc;

	memset(S, 0, sizeof(*S));
	resp_parse_init(&P);
	while (off < n && S->n < MAXREP) {
		end = (off + cut < n) ? off + cut : n;
		rc = resp_parse(&P, d + off, end - off, &used, &R);
		if (rc == RESP_BAD) {
			S->bad = 1;
			return;
		}
		if (used == 0 || used > end - off)
			abort();
		if (memchr(R.msg, 0, sizeof(R.msg)) == NULL && rc == RESP_DONE)
			abort();
		off += used;
		if (rc == RESP_DONE) {
			S->end[S->n] = off;
			S->r[S->n++] = R;
		}
	}
}

/* Compare the whole pass with the cut one. */
static void
compare(const struct pass * A, const struct pass * B)
{
	size_t i, m = (A->n < B->n) ? A->n : B->n;

	for (i = 0; i < m; i++) {
		if (A->end[i] != B->end[i] || A->r[i].kind != B->r[i].kind ||
		    strcmp(A->r[i].msg, B->r[i].msg) != 0)
			abort();
	}
	/* A full pass stops at MAXREP replies; otherwise all must agree. */
	if (A->n < MAXREP && B->n < MAXREP &&
	    (A->n != B->n || A->bad != B->bad))
		abort();
}

/* Encode the input as arguments; parse it back. */
static void
encode(const uint8_t * d, size_t n)
{
	const uint8_t * argv[RESP_ARGS_MAX];
	size_t lens[RESP_ARGS_MAX], argc = 0, need, got, used, i;
	const uint8_t * p = d, * q;
	struct resp_parser P;
	struct resp_reply R;
	uint8_t * buf;

	/* The last argument takes the rest, 0xff bytes and all. */
	for (;;) {
		q = (argc + 1 < RESP_ARGS_MAX) ?
		    memchr(p, 0xff, (size_t)(d + n - p)) : NULL;
		argv[argc] = p;
		lens[argc] = (q == NULL) ? (size_t)(d + n - p) :
		    (size_t)(q - p);
		argc++;
		if (q == NULL)
			break;
		p = q + 1;
	}
	need = 32;
	for (i = 0; i < argc; i++)
		need += lens[i] + 32;
	if ((buf = malloc(need)) == NULL)
		abort();
	if ((got = resp_encode(buf, need, argv, lens, argc)) == 0)
		abort();
	free(buf);
	/* Exactly its size, then one byte less. */
	if ((buf = malloc(got)) == NULL)
		abort();
	if (resp_encode(buf, got, argv, lens, argc) != got)
		abort();
	resp_parse_init(&P);
	if (resp_parse(&P, buf, got, &used, &R) != RESP_DONE || used != got ||
	    R.kind != RESP_OTHER)
		abort();
	if (resp_encode(buf, got - 1, argv, lens, argc) != 0)
		abort();
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t * data, size_t size)
{
	static struct pass A, B;
	size_t cut;

	if (size < 1)
		return (0);
	cut = (size_t)data[0] + 1;
	run(data + 1, size - 1, size, &A);
	run(data + 1, size - 1, cut, &B);
	compare(&A, &B);
	encode(data + 1, size - 1);
	return (0);
}
