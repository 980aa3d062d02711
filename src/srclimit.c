#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "log.h"
#include "srclimit.h"

/* One source in the table; kind SRCLIMIT_NONE marks an empty entry. */
struct srclimit_ent {
	uint64_t prefix;
	uint64_t logged;	/* Last refusal logged, ms; 0: never. */
	uint32_t count;		/* Connections held. */
	uint32_t home;		/* Its hash, masked: where it belongs. */
	uint32_t head;		/* The caller's word (srclimit_head). */
	uint8_t kind;
};

struct srclimit {
	struct srclimit_ent * ents;
	size_t mask;		/* Entries - 1; entries a power of two. */
	size_t limit;
	size_t nsources;
	uint8_t key[crypto_shorthash_KEYBYTES];
};

/* Allocate the table and draw its key. */
struct srclimit *
srclimit_init(size_t max_conns, size_t limit)
{
	struct srclimit * S;
	size_t n = 16;

	if (sodium_init() < 0) {
		log_err("cannot initialise libsodium");
		goto err0;
	}
	while (n < 2 * max_conns)
		n *= 2;
	if ((S = calloc(1, sizeof(*S))) == NULL) {
		log_errp("cannot allocate the per-source table");
		goto err0;
	}
	if ((S->ents = calloc(n, sizeof(S->ents[0]))) == NULL) {
		log_errp("cannot allocate %zu per-source entries", n);
		goto err1;
	}
	S->mask = n - 1;
	S->limit = limit;
	randombytes_buf(S->key, sizeof(S->key));

	/* Success! */
	return (S);

err1:
	free(S);
err0:
	/* Failure! */
	return (NULL);
}

/* The source of a peer address. */
void
srclimit_key(const struct sockaddr * sa, struct srclimit_key * key)
{
	const struct sockaddr_in * sin =
	    (const struct sockaddr_in *)(const void *)sa;
	const struct sockaddr_in6 * sin6 =
	    (const struct sockaddr_in6 *)(const void *)sa;
	uint32_t a4;

	memset(key, 0, sizeof(*key));
	if (sa->sa_family == AF_INET) {
		key->kind = SRCLIMIT_V4;
		key->prefix = ntohl(sin->sin_addr.s_addr);
	} else if (sa->sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		memcpy(&a4, &sin6->sin6_addr.s6_addr[12], sizeof(a4));
		key->kind = SRCLIMIT_V4;
		key->prefix = ntohl(a4);
	} else if (sa->sa_family == AF_INET6) {
		key->kind = SRCLIMIT_V6;
		memcpy(&key->prefix, sin6->sin6_addr.s6_addr, 8);
	}
}

/* Where ${key}'s probe chain starts. */
static size_t
srclimit_home(const struct srclimit * S, const struct srclimit_key * key)
{
	uint8_t in[9], out[crypto_shorthash_BYTES];
	uint64_t h;

	memcpy(in, &key->prefix, 8);
	in[8] = key->kind;
	crypto_shorthash(out, in, sizeof(in), S->key);
	memcpy(&h, out, sizeof(h));
	return ((size_t)h & S->mask);
}

/* The entry of ${key}, or the empty entry where it would go. */
static struct srclimit_ent *
srclimit_find(const struct srclimit * S, const struct srclimit_key * key)
{
	size_t i = srclimit_home(S, key);
	struct srclimit_ent * E;

	/* At most max_conns sources in 2 x max_conns entries: one is empty. */
	for (;; i = (i + 1) & S->mask) {
		E = &S->ents[i];
		if (E->kind == SRCLIMIT_NONE ||
		    (E->kind == key->kind && E->prefix == key->prefix))
			return (E);
	}
}

/* Count a connection, or refuse it at the limit. */
int
srclimit_take(struct srclimit * S, const struct srclimit_key * key,
    uint64_t now)
{
	struct srclimit_ent * E;

	if (key->kind == SRCLIMIT_NONE)
		return (SRCLIMIT_OK);
	E = srclimit_find(S, key);
	if (E->kind == SRCLIMIT_NONE) {
		E->kind = key->kind;
		E->prefix = key->prefix;
		E->home = (uint32_t)srclimit_home(S, key);
		E->count = 0;
		E->logged = 0;
		E->head = SRCLIMIT_HEAD_NONE;
		S->nsources++;
	}
	if (E->count < S->limit) {
		E->count++;
		return (SRCLIMIT_OK);
	}
	if (E->logged != 0 && now < E->logged + SRCLIMIT_LOG_MS)
		return (SRCLIMIT_REFUSED);
	/* 0 means never: a refusal at time 0 is logged as at 1 ms. */
	E->logged = (now != 0) ? now : 1;
	return (SRCLIMIT_REFUSED_LOG);
}

/* Is ${home} outside the cyclic range (${gap}, ${j}]? */
static int
srclimit_movable(size_t home, size_t gap, size_t j)
{

	if (gap <= j)
		return (home <= gap || home > j);
	return (home <= gap && home > j);
}

/*
 * Empty the entry at ${gap} and shift the entries after it back, so that
 * every probe chain stays unbroken without tombstones.
 */
static void
srclimit_remove(struct srclimit * S, size_t gap)
{
	size_t j = gap;

	for (;;) {
		j = (j + 1) & S->mask;
		if (S->ents[j].kind == SRCLIMIT_NONE)
			break;
		if (srclimit_movable(S->ents[j].home, gap, j)) {
			S->ents[gap] = S->ents[j];
			gap = j;
		}
	}
	memset(&S->ents[gap], 0, sizeof(S->ents[gap]));
	S->nsources--;
}

/* Count a connection fewer. */
void
srclimit_put(struct srclimit * S, const struct srclimit_key * key)
{
	struct srclimit_ent * E;

	if (key->kind == SRCLIMIT_NONE)
		return;
	E = srclimit_find(S, key);
	if (E->kind == SRCLIMIT_NONE || E->count == 0)
		return;
	if (--E->count == 0)
		srclimit_remove(S, (size_t)(E - S->ents));
}

/* How many connections a source holds. */
size_t
srclimit_count(const struct srclimit * S, const struct srclimit_key * key)
{
	const struct srclimit_ent * E;

	if (key->kind == SRCLIMIT_NONE)
		return (0);
	E = srclimit_find(S, key);
	return (E->kind == SRCLIMIT_NONE ? 0 : E->count);
}

/* The caller's word for a source that holds connections. */
uint32_t *
srclimit_head(struct srclimit * S, const struct srclimit_key * key)
{
	struct srclimit_ent * E;

	if (key->kind == SRCLIMIT_NONE)
		return (NULL);
	E = srclimit_find(S, key);
	return (E->kind == SRCLIMIT_NONE ? NULL : &E->head);
}

/* How many sources hold a connection. */
size_t
srclimit_sources(const struct srclimit * S)
{

	return (S->nsources);
}

/* Free the table. */
void
srclimit_free(struct srclimit * S)
{

	if (S == NULL)
		return;
	free(S->ents);
	free(S);
}
