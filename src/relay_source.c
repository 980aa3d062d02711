/*
 * Each source's connections in the knock phase, oldest first, so that a
 * source at its --max-conns-per-source limit gives up its own oldest one
 * that has not spoken yet (relay_source_take: at accept, or when a
 * balancer's PROXY header names the source) rather than lock out everyone
 * behind its address (a NAT) because of one silent neighbour.  A circular
 * list through the slots' src_next/src_prev; its first slot lives beside
 * the source's count (srclimit_head), so every step is O(1).
 */
#include <stdint.h>

#include "relay_internal.h"
#include "srclimit.h"

/* Append ${C}, which enters KNOCK, to its source's list. */
void
relay_source_link(struct relay * R, struct conn * C)
{
	uint32_t i = relay_slot(R, C);
	uint32_t * head;
	struct conn * F;

	C->src_linked = 0;
	if (R->src == NULL || (head = srclimit_head(R->src, &C->src)) == NULL)
		return;
	if (*head == SLOT_NONE) {
		C->src_next = C->src_prev = i;
		*head = i;
	} else {
		F = &R->conns[*head];
		C->src_next = *head;
		C->src_prev = F->src_prev;
		R->conns[F->src_prev].src_next = i;
		F->src_prev = i;
	}
	C->src_linked = 1;
}

/* Take ${C}, which leaves KNOCK, off its source's list. */
void
relay_source_unlink(struct relay * R, struct conn * C)
{
	uint32_t i = relay_slot(R, C);
	uint32_t * head;

	if (!C->src_linked)
		return;
	C->src_linked = 0;
	/* Still counted: relay_close() gives the count back after this. */
	if ((head = srclimit_head(R->src, &C->src)) == NULL)
		return;
	if (C->src_next == i) {
		*head = SLOT_NONE;
		return;
	}
	R->conns[C->src_prev].src_next = C->src_next;
	R->conns[C->src_next].src_prev = C->src_prev;
	if (*head == i)
		*head = C->src_next;
}

/* The oldest connection of ${src} still in KNOCK, or NULL. */
static struct conn *
relay_source_oldest(struct relay * R, const struct srclimit_key * src)
{
	uint32_t * head;

	if ((head = srclimit_head(R->src, src)) == NULL || *head == SLOT_NONE)
		return (NULL);
	return (&R->conns[*head]);
}

/* Count a new connection of ${src}; at the limit, evict its oldest first. */
int
relay_source_take(struct relay * R, const struct srclimit_key * src)
{
	struct conn * O;

	if (R->src == NULL)
		return (SRCLIMIT_OK);
	if (srclimit_count(R->src, src) >= R->conf->max_per_source &&
	    (O = relay_source_oldest(R, src)) != NULL) {
		O->client.reset = 1;
		relay_close(R, O, "evicted in the knock phase: per-source limit",
		    0);
	}
	return (srclimit_take(R->src, src, R->now));
}
