/*
 * l7knockknock: relay every connection to the normal backend, except one
 * whose first bytes are a route's knock, which goes to that hidden route.
 *
 * main does the start-up order: parse and validate (conf) -> libsodium,
 * every route's knock or key, the replay cache (routes) -> resolve the
 * backends (routes) -> bind the listeners (resources) -> epoll, signalfd,
 * connection slots (resources, relay) -> sandbox_enter() -> relay_run().
 * Nothing after sandbox_enter() touches the file system.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"
#include "genkey.h"
#include "knock.h"
#include "log.h"
#include "notify.h"
#include "relay.h"
#include "resources.h"
#include "routes.h"
#include "sandbox.h"
#include "secretfile.h"
#include "workers.h"

/* The process's state, made before the sandbox. */
struct setup {
	struct conf confs[2];		/* In force and the next (a reload). */
	struct conf * conf;		/* The one in force. */
	int argc;			/* The command line, for a reload. */
	char ** argv;
	struct routes routes;		/* Knocks, keys, backends. */
	struct resources res;		/* Descriptors. */
	struct relay * relay;		/* Kept until exit, never freed: free()
					   could unmap, which seccomp kills. */
	pid_t supervisor;		/* --workers: the supervisor, else 0. */
	int inherited;			/* --workers: how the supervisor was
					   confined (SANDBOX_INHERITED_*). */
	struct relay_conf rconf;
};

/* Fill in the relay's and the sandbox's view of the set-up. */
static void
main_confs(struct setup * S, struct sandbox_conf * SB)
{

	memset(SB, 0, sizeof(*SB));
	conf_relay_conf(S->conf, &S->rconf);
	conf_sandbox_conf(S->conf, SB);
	routes_relay_conf(&S->routes, S->conf, &S->rconf);
	resources_confs(&S->res, S->conf, &S->rconf, SB);
	SB->connect_ports = S->routes.ports;
	SB->nports = S->routes.nports;
	SB->parent = S->supervisor;
	SB->inherited = S->inherited;
}

/* Overwrite every knock and key. */
static void
main_wipe(struct setup * S)
{

	knock_wipe(&S->conf->knock);
	routes_wipe(&S->routes);
}

/* Once confined: say so, to the log and the supervisor (which says "ready"). */
static void
main_ready(size_t w, int ready)
{

	log_info("worker %zu ready", w);
	if (ready != -1) {
		if (write(ready, "", 1) != 1)
			log_errp("cannot tell the supervisor 'ready'");
		(void)close(ready);
	}
}

/*
 * One relay process, worker ${w} (its listeners' row; ${id} names its
 * connections): epoll, signalfd, slots, the sandbox, the loop; once
 * confined, one byte into ${ready} if not -1 (a worker tells its
 * supervisor it is up).  Return its exit status.
 */
static int
main_relay(struct setup * S, size_t w, unsigned id, int ready)
{
	struct sandbox_conf SB;
	struct relay * R;
	int rc;

	log_setworker(id);
	if (S->supervisor != 0) {
		/* Only the supervisor reads secrets and notifies. */
		secretfile_release();
		if (S->res.notify_fd != -1)
			close(S->res.notify_fd);
		S->res.notify_fd = -1;
	}
	if ((rc = resources_descriptors(&S->res, w)) != 0)
		return (rc);
	resources_limits(&S->res, S->conf, &S->rconf);
	main_confs(S, &SB);
	if ((R = S->relay = relay_init(&S->rconf)) == NULL)
		return (EX_OSERR);
	if (w == 0)
		routes_summary(&S->routes, S->conf, &S->rconf);

	/* One call: from here on the process can only relay. */
	if (sandbox_enter(&SB))		/* Reported there, in one line. */
		return (EX_OSERR);
	main_ready(w, ready);

	rc = relay_run(R);
	main_wipe(S);		/* A worker ends here (workers_run exits). */
	return (rc ? 1 : 0);
}

/*
 * --print-seccomp: the filter of one relay process with these listeners.
 * No knock, no backend: the filter depends on the descriptors only.
 */
static int
main_print_seccomp(struct setup * S)
{
	struct sandbox_conf SB;
	int rc;

	if (S->conf->print_seccomp == CONF_PRINT_SUPERVISOR)
		return (sandbox_print_supervisor_seccomp(STDOUT_FILENO) ?
		    EX_OSERR : 0);
	S->conf->workers = 1;
	if (resources_listen(&S->res, S->conf))
		return (EX_UNAVAILABLE);
	if ((rc = resources_descriptors(&S->res, 0)) != 0)
		return (rc);
	main_confs(S, &SB);
	return (sandbox_print_seccomp(&SB, STDOUT_FILENO) ? EX_OSERR : 0);
}

/* Validate --user now: an unknown one is a usage error, found before bind. */
static int
main_check_user(const struct setup * S)
{
	struct sandbox_conf SB;

	memset(&SB, 0, sizeof(SB));
	SB.user = S->conf->user;
	return (sandbox_check_user(&SB));
}

/* workers_run() callback. */
static int
main_worker(void * cookie, size_t w, unsigned id, int ready)
{

	return (main_relay(cookie, w, id, ready));
}

/* workers_run() callback, once the first workers are up. */
static void
main_up(void * cookie)
{
	struct setup * S = cookie;

	log_info("ready");
	notify_send(S->res.notify_fd, "READY=1");
}

/*
 * workers_run() callback, on SIGHUP: the configuration file, if any, read
 * again into the other struct conf (conf_reload: what cannot change is
 * kept), then every route's knock or key (routes_reload) and backend
 * (routes_reresolve); the new configuration is put in force only then.
 * On a refusal no worker is forked, so the old ones serve on with the
 * old configuration.  Return 0, 1 if there is nothing to re-read (no
 * file: the knock is on the command line), or -1 (reported).
 */
static int
main_reload(void * cookie)
{
	struct setup * S = cookie;
	struct conf * next = (S->conf == &S->confs[0]) ? &S->confs[1] :
	    &S->confs[0];

	if (S->conf->config == NULL && !routes_have_files(S->conf)) {
		log_info("received SIGHUP: nothing to re-read (the knock is "
		    "given on the command line); serving on");
		return (1);
	}
	log_info("received SIGHUP: reloading");
	if (S->conf->config == NULL)
		return (routes_reload(&S->routes, S->conf));
	if (conf_reload(next, S->conf, S->argc, S->argv) != CONF_RUN)
		return (-1);
	if (routes_reload(&S->routes, next))
		return (-1);
	if (routes_reresolve(&S->routes, next, S->conf)) {
		routes_wipe(&S->routes);
		return (-1);
	}
	S->conf = next;
	log_setlevel(S->conf->loglevel);
	log_info("reload: configuration file '%s' read", S->conf->config);
	return (0);
}

/*
 * workers_run() callback, once a generation is forked: only the workers
 * need the secrets.  A knock given on the command line is kept: a reload
 * cannot read it again, and the workers it starts need it.
 */
static void
main_forked(void * cookie)
{
	struct setup * S = cookie;

	routes_wipe(&S->routes);
}

/*
 * Supervise --workers N relay processes (1 without --workers: one process
 * model, so SIGHUP reloads in every mode; DESIGN.md says why): confine
 * this process first (its workers inherit the chroot, the user and its
 * filters), then fork; "ready" once every worker is.
 */
static int
main_workers(struct setup * S)
{
	const struct workers_conf WC = { S->conf->workers, main_worker,
	    main_forked, main_up, main_reload, S };
	int dirs[SECRETFILE_DIRS_MAX];
	struct sandbox_conf SB;
	int rc;

	memset(&SB, 0, sizeof(SB));
	conf_sandbox_conf(S->conf, &SB);
	S->supervisor = getpid();
	S->inherited = (geteuid() == 0) ? SANDBOX_INHERITED_ROOT :
	    SANDBOX_INHERITED_USER;
	if (routes_hold(S->conf) || (S->conf->config != NULL &&
	    secretfile_hold(S->conf->config)))
		return (EX_NOINPUT);
	SB.read_dirs = dirs;
	SB.nread_dirs = secretfile_dirs(dirs, SECRETFILE_DIRS_MAX);
	if (sandbox_enter_supervisor(&SB))
		return (EX_OSERR);
	routes_check_readable(S->conf);
	log_info("starting %u worker%s", S->conf->workers,
	    S->conf->workers == 1 ? "" : "s");
	rc = workers_run(&WC);
	if (rc == 0)
		notify_send(S->res.notify_fd, "STOPPING=1");
	return (rc);
}

/* Bind (or take systemd's sockets), then serve.  Return the exit status. */
static int
main_serve(struct setup * S)
{
	int rc;

	if ((rc = resources_activated(&S->res, S->conf)) == -1)
		return (EX_USAGE);
	if (rc == 0 && resources_listen(&S->res, S->conf))
		return (EX_UNAVAILABLE);
	if (notify_open(&S->res.notify_fd))
		return (EX_OSERR);
	return (main_workers(S));
}

int
main(int argc, char * argv[])
{
	static struct setup S;
	int rc;

	S.conf = &S.confs[0];
	S.argc = argc;
	S.argv = argv;

	/* Descriptors 0-2 must exist, or a socket could become "stderr". */
	if (resources_stdio())
		exit(EX_OSERR);
	log_journal();		/* Option errors at their journal priority. */

	/* Parse and validate; the knock is wiped from argv here. */
	if ((rc = conf_parse(S.conf, argc, argv)) == CONF_DONE)
		exit(0);
	if (rc != CONF_RUN)
		exit(EX_USAGE);
	log_setlevel(S.conf->loglevel);
	log_open(S.conf->log_time);	/* Before the chroot: needs /proc. */
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		log_errp("cannot ignore SIGPIPE");
		exit(EX_OSERR);
	}
	if (S.conf->print_seccomp)
		exit(main_print_seccomp(&S));
	if (S.conf->gen_key != NULL)
		exit(genkey_write(S.conf->gen_key, S.conf));
	if (S.conf->check)		/* The child it forks exits here too. */
		exit(check_run(S.conf));

	/* The user to become, looked up before anything is bound. */
	if (main_check_user(&S))
		exit(EX_USAGE);

	/* Read the secrets; the replay cache before any worker is forked. */
	if ((rc = routes_load(&S.routes, S.conf)) != 0) {
		main_wipe(&S);
		exit(rc);
	}

	/* Resolve the backends, once; a name's addresses are probed. */
	if (routes_resolve(&S.routes, S.conf)) {
		main_wipe(&S);
		exit(EX_NOHOST);
	}

	/* Bind as root, before any worker exists; or take systemd's; serve. */
	rc = main_serve(&S);
	main_wipe(&S);
	exit(rc);
}
