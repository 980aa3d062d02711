/*
 * The sandbox's single entry point.  The layers, one file each, are
 * applied in this order:
 *
 *   prepare  user and chroot checks, Landlock ruleset, seccomp BPF (may
 *            read files and allocate; nothing is restricted yet)
 *   1.       capability bounding set emptied (needs CAP_SETPCAP: as root)
 *   2.       chroot, setgroups, setresgid, setresuid, verified
 *   3.       remaining capability sets emptied, verified
 *   4.       not dumpable, no new privileges, RLIMIT_FSIZE/CORE 0, dies
 *            with its parent (a --workers supervisor)
 *
 * The --workers supervisor goes through the same steps before it forks
 * any worker (sandbox_enter_supervisor), with its own Landlock rules (read
 * the secret files' directories) and its own seccomp policy; a worker it
 * forks finds chroot, user and bounding set done (conf->inherited), checks
 * them, and adds its own Landlock domain and seccomp filter on top.
 *   5.       Landlock (needs no_new_privs)
 *   6.       seccomp, last, so that every step above may still run
 */
#include <stddef.h>
#include <string.h>

#include "log.h"
#include "sandbox.h"
#include "sandbox_internal.h"

/* valgrind (3.19) cannot run seccomp(2): make VALGRIND=1 test builds only. */
#ifdef VALGRIND_BUILD
#define SANDBOX_SECCOMP	0
#else
#define SANDBOX_SECCOMP	1
#endif

/* Everything that may touch the file system or the heap, for ${who}. */
static int
sandbox_prepare(const struct sandbox_conf * conf, int who,
    struct sandbox_priv * P, struct sandbox_landlock * L,
    struct sandbox_seccomp * S)
{

	if (sandbox_priv_prepare(conf, P))
		goto err0;
	if (sandbox_landlock_prepare(conf, who, L))
		goto err1;
	if (SANDBOX_SECCOMP && sandbox_seccomp_prepare(conf, who, S))
		goto err2;

	/* Success! */
	return (0);

err2:
	sandbox_landlock_cleanup(L);
err1:
	sandbox_priv_cleanup(P);
err0:
	/* Failure! */
	return (-1);
}

/* Load the seccomp filter prepared in ${S}, last, and say so. */
static int
sandbox_load_seccomp(const struct sandbox_seccomp * S)
{

	if (!SANDBOX_SECCOMP) {
		log_warn("seccomp: NOT loaded: make VALGRIND=1 test build");
		return (0);
	}
	if (sandbox_seccomp_load(S))
		return (-1);
	log_info("seccomp: %zu syscalls allowed, %zu refused with an errno, "
	    "any other kills the process", S->nallow, S->nerrno);
	return (0);
}

/* Confine this process for good, as ${who}. */
static int
sandbox_confine(const struct sandbox_conf * conf, int who)
{
	struct sandbox_priv P;
	struct sandbox_landlock L;
	struct sandbox_seccomp S;

	if (sandbox_prepare(conf, who, &P, &L, &S))
		goto err0;
	if (sandbox_caps_bound(P.root))
		goto err2;
	if (sandbox_priv_drop(&P))
		goto err1;
	if (sandbox_caps_drop(P.root || P.bounded) ||
	    sandbox_limits_apply(conf) || sandbox_landlock_apply(&L))
		goto err1;
	if (sandbox_load_seccomp(&S))
		goto err0;

	/* Success! */
	return (0);

err2:
	sandbox_priv_cleanup(&P);
err1:
	sandbox_landlock_cleanup(&L);
err0:
	/* Failure! */
	return (-1);
}

/* Confine a relay process for good. */
int
sandbox_enter(const struct sandbox_conf * conf)
{

	return (sandbox_confine(conf, SANDBOX_RELAY));
}

/* Confine the --workers supervisor for good. */
int
sandbox_enter_supervisor(const struct sandbox_conf * conf)
{

	return (sandbox_confine(conf, SANDBOX_SUPERVISOR));
}

/* Check the user before anything is bound. */
int
sandbox_check_user(const struct sandbox_conf * conf)
{

	return (sandbox_priv_check(conf));
}

/* The ids the relay will run as. */
int
sandbox_user_ids(const struct sandbox_conf * conf, uid_t * uid, gid_t * gid)
{

	return (sandbox_priv_ids(conf, uid, gid));
}

/* Print the filter sandbox_enter(conf) would load. */
int
sandbox_print_seccomp(const struct sandbox_conf * conf, int fd)
{

	return (sandbox_seccomp_print(conf, SANDBOX_RELAY, fd));
}

/* Print the filter sandbox_enter_supervisor() would load. */
int
sandbox_print_supervisor_seccomp(int fd)
{
	struct sandbox_conf conf;

	memset(&conf, 0, sizeof(conf));
	return (sandbox_seccomp_print(&conf, SANDBOX_SUPERVISOR, fd));
}
