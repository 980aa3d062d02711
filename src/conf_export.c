/*
 * conf_export.c: the options handed to the modules that use them, each
 * into that module's own configuration (struct relay_conf, struct
 * sandbox_conf).  An option that a module needs is copied here, once.
 */
#include <string.h>

#include "conf.h"
#include "relay.h"
#include "sandbox.h"

/* The relay's timeouts, backend source ports and balancers. */
void
conf_relay_conf(const struct conf * C, struct relay_conf * R)
{

	R->knock_ms = C->knock_ms;
	R->connect_ms = C->connect_ms;
	R->fin_ms = C->fin_ms;
	R->drain_ms = C->drain_ms;
	R->drain_grace_ms = C->drain_grace_ms;
	R->bind_lo = C->bind_lo;
	R->bind_hi = C->bind_hi;
	R->accept_proxy = C->accept_proxy;
	R->naccept_proxy = C->naccept_proxy;
}

/* The sandbox's root, user and backend source ports. */
void
conf_sandbox_conf(const struct conf * C, struct sandbox_conf * SB)
{

	SB->chroot_dir = C->chroot_dir;
	SB->user = C->user;
	SB->bind_lo = C->bind_lo;
	SB->bind_hi = C->bind_hi;
}
