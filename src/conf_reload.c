/*
 * conf_reload.c: the options read again at a reload (SIGHUP), keeping
 * what a running relay cannot change.
 */
#include <string.h>

#include "conf.h"
#include "conf_internal.h"
#include "log.h"

/* Are the listeners of ${a} and ${b} the same? */
static int
conf_same_listeners(const struct conf * a, const struct conf * b)
{
	size_t i;

	if (a->nlisten != b->nlisten || a->listen_set != b->listen_set)
		return (0);
	for (i = 0; i < a->nlisten; i++)
		if (a->listen[i].len != b->listen[i].len ||
		    memcmp(&a->listen[i].ss, &b->listen[i].ss,
		    a->listen[i].len) != 0)
			return (0);
	return (1);
}

/* Are the strings ${a} and ${b} (either may be NULL) the same? */
static int
conf_same_str(const char * a, const char * b)
{

	if (a == NULL || b == NULL)
		return (a == b);
	return (strcmp(a, b) == 0);
}

/* Are the --replay-store of ${a} and ${b} the same? */
static int
conf_same_store(const struct conf * a, const struct conf * b)
{

	if (a->have_replay_store != b->have_replay_store)
		return (0);
	return (!a->have_replay_store ||
	    (strcmp(a->replay_store.host, b->replay_store.host) == 0 &&
	    a->replay_store.port == b->replay_store.port));
}

/* Say that ${what} changed and is kept until a restart. */
static void
conf_restart_needed(const char * what)
{

	log_warn("reload: %s changed: a restart is needed for it; the "
	    "running value is kept", what);
}

/* Keep in ${C} what a reload cannot change from ${old}; 0 or -1. */
static int
conf_keep_fixed(struct conf * C, const struct conf * old)
{

	if (!conf_same_listeners(C, old)) {
		conf_restart_needed("the listeners (--listen, -p)");
		memcpy(C->listen, old->listen, sizeof(C->listen));
		C->nlisten = old->nlisten;
		C->listen_set = old->listen_set;
	}
	if (!conf_same_str(C->user, old->user)) {
		conf_restart_needed("--user");
		C->user = old->user ? conf_keep(C, old->user) : NULL;
	}
	if (!conf_same_str(C->chroot_dir, old->chroot_dir)) {
		conf_restart_needed("--chroot");
		C->chroot_dir = conf_keep(C, old->chroot_dir);
	}
	if (C->workers != old->workers ||
	    C->workers_given != old->workers_given) {
		conf_restart_needed("--workers");
		C->workers = old->workers;
		C->workers_given = old->workers_given;
	}
	if (C->replay_n != old->replay_n) {
		conf_restart_needed("--replay-cache");
		C->replay_n = old->replay_n;
	}
	if (!conf_same_store(C, old)) {
		/* Its password file with it: it is that store's. */
		conf_restart_needed("--replay-store");
		C->replay_store = old->replay_store;
		C->have_replay_store = old->have_replay_store;
		C->store_password_file = old->store_password_file ?
		    conf_keep(C, old->store_password_file) : NULL;
		if (old->store_password_file != NULL &&
		    C->store_password_file == NULL)
			return (-1);
	}
	if (C->log_time != old->log_time) {
		conf_restart_needed("--log-time");
		C->log_time = old->log_time;
	}
	return ((old->user != NULL && C->user == NULL) ||
	    C->chroot_dir == NULL ? -1 : 0);
}

/* Parse again at a reload. */
int
conf_reload(struct conf * C, const struct conf * old, int argc, char ** argv)
{

	if (conf_parse_argv(C, old, argc, argv) != CONF_RUN)
		return (-1);
	return (conf_keep_fixed(C, old));
}
