#include <stdint.h>
#include <string.h>

#include "knock.h"
#include "knockset.h"
#include "token.h"

/* Make ${S} an empty set. */
void
knockset_init(struct knockset * S, uint64_t window_s, uint64_t start_s)
{

	memset(S, 0, sizeof(*S));
	S->window_s = window_s;
	S->start_s = start_s;
}

/* Is one of ${a} and ${b} a prefix of the other (or are they equal)? */
static int
knockset_overlap(const struct knock * a, const struct knock * b)
{
	size_t len = (a->len < b->len) ? a->len : b->len;

	return (memcmp(a->buf, b->buf, len) == 0);
}

/* Add a route with a static knock. */
int
knockset_add_knock(struct knockset * S, const struct knock * k)
{
	size_t i;

	if (S->n == KNOCKSET_MAX)
		return (-1);
	for (i = 0; i < S->n; i++) {
		if (S->r[i].token || !knockset_overlap(&S->r[i].knock, k))
			continue;
		return ((S->r[i].knock.len == k->len) ? KNOCKSET_EDUP :
		    KNOCKSET_EPREFIX);
	}
	S->r[S->n].token = 0;
	S->r[S->n].knock = *k;
	return ((int)S->n++);
}

/* Add a route whose knock is a token. */
int
knockset_add_key(struct knockset * S, const uint8_t * key)
{
	size_t i;

	if (S->n == KNOCKSET_MAX)
		return (-1);
	for (i = 0; i < S->nkeys; i++) {
		if (memcmp(S->keys[i], key, TOKEN_KEYLEN) == 0)
			return (KNOCKSET_EDUP);
	}
	memcpy(S->keys[S->nkeys], key, TOKEN_KEYLEN);
	token_key_init(&S->ready[S->nkeys], key);
	S->keyroute[S->nkeys++] = S->n;
	S->r[S->n].token = 1;
	return ((int)S->n++);
}

/* The length of route ${i}'s knock. */
static size_t
knockset_len(const struct knockset * S, size_t i)
{

	return (S->r[i].token ? TOKEN_LEN : S->r[i].knock.len);
}

/* Return the longest knock. */
size_t
knockset_maxlen(const struct knockset * S)
{
	size_t i, max = 0;

	for (i = 0; i < S->n; i++) {
		if (knockset_len(S, i) > max)
			max = knockset_len(S, i);
	}
	return (max);
}

/* Record a match of route ${i} in ${v} unless an earlier one is there. */
static void
knockset_match(const struct knockset * S, size_t i, int why,
    struct knockset_verdict * v)
{

	if (v->verdict == KNOCK_HIDDEN)
		return;
	v->verdict = KNOCK_HIDDEN;
	v->why = why;
	v->route = i;
	v->consume = knockset_len(S, i);
}

/*
 * Check the first TOKEN_LEN bytes of ${buf} against every key: the HMACs
 * of every key run whatever the bytes are (token_check).  A valid tag
 * outside the time rules is remembered in ${v} as the reason of a NORMAL.
 */
static void
knockset_token(const struct knockset * S, const uint8_t * buf,
    uint64_t now_s, struct knockset_verdict * v)
{
	struct token_result res;

	(void)token_check_ready(S->ready, S->nkeys, buf, now_s, S->window_s,
	    S->start_s, &res);
	switch (res.verdict) {
	case TOKEN_OK:
		knockset_match(S, S->keyroute[res.key], KNOCKSET_TOKEN, v);
		memcpy(v->tag, res.tag, sizeof(v->tag));
		v->expiry_s = res.expiry;
		break;
	case TOKEN_EXPIRED:
		v->why = KNOCKSET_EXPIRED;
		break;
	case TOKEN_EARLY:
		v->why = KNOCKSET_EARLY;
		break;
	default:
		break;
	}
	explicit_bzero(&res, sizeof(res));
}

/* Decide the route of a connection from its first bytes. */
void
knockset_decide(const struct knockset * S, const uint8_t * buf, size_t len,
    int final, uint64_t now_s, struct knockset_verdict * v)
{
	size_t i;

	memset(v, 0, sizeof(*v));
	v->verdict = KNOCK_WAIT;

	/*
	 * Every complete knock, all of them: no early exit.  Tokens first, so
	 * that a reason they give stays unless a static knock matches.
	 */
	if (S->nkeys > 0 && len >= TOKEN_LEN)
		knockset_token(S, buf, now_s, v);
	for (i = 0; i < S->n; i++) {
		if (S->r[i].token || S->r[i].knock.len > len)
			continue;
		if (knock_decide(&S->r[i].knock, buf, len, 0) == KNOCK_HIDDEN)
			knockset_match(S, i, KNOCKSET_KNOCK, v);
	}
	if (v->verdict == KNOCK_HIDDEN)
		return;

	/* No match: wait for the next length, or give up. */
	if (len >= knockset_maxlen(S)) {
		v->verdict = KNOCK_NORMAL;
		if (v->why == 0)
			v->why = KNOCKSET_MISMATCH;
	} else if (final) {
		v->verdict = KNOCK_NORMAL;
		if (v->why == 0)
			v->why = KNOCKSET_SHORT;
	} else {
		v->why = 0;
	}
}

/* Overwrite every knock and key. */
void
knockset_wipe(struct knockset * S)
{
	size_t i;

	for (i = 0; i < KNOCKSET_MAX; i++) {
		knock_wipe(&S->r[i].knock);
		S->r[i].token = 0;
	}
	explicit_bzero(S->keys, sizeof(S->keys));
	explicit_bzero(S->ready, sizeof(S->ready));
	S->n = 0;
	S->nkeys = 0;
}
