#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "relay_internal.h"
#include "store.h"

/*
 * Slack (s) on a claim's life in the store past the token's expiry, for
 * relays whose clocks differ a little: the key outlives every moment any
 * relay could still accept the token.
 */
#define RELAY_STORE_SLACK_S	2

/* Start the store client. */
int
relay_store_init(struct relay * R)
{
	const struct relay_conf * conf = R->conf;
	struct store_conf sc;

	if (conf->store == NULL)
		return (0);
	sc.addr = conf->store;
	sc.password = conf->store_password;
	sc.password_len = conf->store_password_len;
	sc.pending = conf->max_conns;
	sc.epoll_fd = conf->epoll_fd;
	sc.ev_data = EV_DATA(EV_STORE, 0, 0);
	if ((R->store = store_init(&sc, R->now)) == NULL)
		return (-1);
	return (0);
}

/* The store's answer for the connection ${slot}/${gen}: route it. */
static void
relay_store_reply(void * cookie, uint32_t slot, uint32_t gen, int result)
{
	struct relay * R = cookie;
	struct conn * C = &R->conns[slot];

	/* Closed and reused meanwhile: the answer is nobody's now. */
	if (C->state != CONN_STORE || C->gen != gen)
		return;
	switch (result) {
	case STORE_FRESH:
		relay_knock_route(R, C, C->claim, C->consume);
		return;
	case STORE_USED:
		C->why = "token used on another relay";
		break;
	default:
		C->why = "replay store failed";
		break;
	}
	relay_knock_route(R, C, &R->normal, 0);
}

/* Claim a token the local cache accepted; wait in STORE for the answer. */
const struct relay_backend *
relay_store_claim(struct relay * R, struct conn * C, const uint8_t * tag,
    uint64_t expiry, const struct relay_backend * hidden, size_t consume)
{
	uint64_t ttl_s;

	if (R->store == NULL)
		return (hidden);
	ttl_s = ((expiry > R->now_s) ? expiry - R->now_s : 0) +
	    RELAY_STORE_SLACK_S;
	if (store_claim(R->store, tag, ttl_s * 1000, relay_slot(R, C), C->gen,
	    R->now)) {
		C->why = "replay store down";
		return (&R->normal);
	}
	C->claim = hidden;
	C->consume = consume;
	relay_enter(R, C, CONN_STORE);
	return (NULL);
}

/* The store's socket is ready. */
void
relay_store_event(struct relay * R, uint32_t events)
{

	if (R->store != NULL)
		store_event(R->store, events, R->now, relay_store_reply, R);
}

/* A claim waited too long: give the store up for now. */
void
relay_store_expired(struct relay * R, struct conn * C)
{

	store_fail(R->store, "no answer in time", R->now, relay_store_reply,
	    R);
	/*
	 * Not in the ring (it cannot be): route it all the same.  No slot is
	 * reused meanwhile (nothing is accepted), so still STORE means ${C}.
	 */
	if (C->state == CONN_STORE)
		relay_store_reply(R, relay_slot(R, C), C->gen, STORE_FAILED);
}

/* Reconnect when due. */
void
relay_store_tick(struct relay * R)
{

	if (R->store != NULL)
		store_tick(R->store, R->now);
}

/* Wake up for the next reconnect. */
int
relay_store_wait(const struct relay * R, int wait)
{

	return ((R->store != NULL) ? store_wait(R->store, R->now, wait) :
	    wait);
}
