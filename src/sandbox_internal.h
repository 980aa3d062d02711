#ifndef SANDBOX_INTERNAL_H_
#define SANDBOX_INTERNAL_H_

/*
 * The layers of the sandbox, one file each; only src/sandbox*.c include
 * this.  Each layer has a "prepare" step, run while the file system and
 * the heap may still be used, and an "apply" step that only makes
 * syscalls.  sandbox.c calls them in order.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sandbox_conf;

/* Which process a layer confines. */
#define SANDBOX_RELAY		0	/* A relay process (a worker). */
#define SANDBOX_SUPERVISOR	1	/* The --workers supervisor. */

/* Privileges (sandbox_priv.c). */
struct sandbox_priv {
	int root;		/* Started as root: chroot and switch user. */
	int bounded;		/* The bounding set must be empty (root, or
				   inherited from a supervisor started as
				   root). */
	int inherited;		/* conf->inherited: check, change nothing. */
	int dirfd;		/* The verified chroot directory, or -1. */
	const char * dir;	/* Its name, for logs. */
	uid_t uid;		/* The ids to run as. */
	gid_t gid;
	char user[64];		/* The user's name, for logs. */
};

/**
 * sandbox_priv_prepare(conf, P):
 * Fill ${P}: when running as root, find the user to become (conf->user,
 * else "l7knockknock", else "nobody"; never uid or gid 0) and open and
 * check conf->chroot_dir (a directory, owned by root, not writable by
 * group or others, empty).  When not root, keep the current user; when
 * conf->inherited, only record the current ids (no user look-up: a
 * supervisor's chroot has no passwd file).  Return
 * 0, or -1 after reporting; on success ${P} must be given to
 * sandbox_priv_drop() or sandbox_priv_cleanup().
 */
int sandbox_priv_prepare(const struct sandbox_conf *, struct sandbox_priv *);

/**
 * sandbox_priv_check(conf):
 * Look up conf->user as sandbox_priv_prepare(${conf}) would, without
 * opening anything, so that a bad --user is found before any socket is
 * bound (nothing to check if it is NULL).  Return 0, or -1 after
 * reporting in one line.
 */
int sandbox_priv_check(const struct sandbox_conf *);

/**
 * sandbox_priv_ids(conf, uid, gid):
 * Store in ${uid} and ${gid} the ids sandbox_enter(${conf}) would run as
 * (as root: conf->user or the default user; else the current ids).
 * Return 0, or -1 after reporting in one line.
 */
int sandbox_priv_ids(const struct sandbox_conf *, uid_t *, gid_t *);

/**
 * sandbox_priv_drop(P):
 * As root: chroot into ${P}->dirfd, drop every supplementary group, set
 * the real, effective and saved gid and uid to ${P}'s, and verify all of
 * it (including that uid 0 cannot be regained).  Not as root: make the
 * real and saved ids equal to the effective ones.  Close ${P}->dirfd.
 * Return 0, or -1 after reporting.
 */
int sandbox_priv_drop(struct sandbox_priv *);

/**
 * sandbox_priv_cleanup(P):
 * Release what sandbox_priv_prepare() holds, on an error path.
 */
void sandbox_priv_cleanup(struct sandbox_priv *);

/* Capabilities (sandbox_caps.c). */

/**
 * sandbox_caps_bound(root):
 * If ${root}, empty the capability bounding set (this needs CAP_SETPCAP,
 * so it runs before the user changes).  Return 0, or -1 after reporting.
 */
int sandbox_caps_bound(int);

/**
 * sandbox_caps_drop(root):
 * Empty the effective, permitted, inheritable and ambient sets, then read
 * the state back from the kernel and refuse (-1, reported) if any of them
 * or, if ${root}, the bounding set still holds a capability.
 */
int sandbox_caps_drop(int);

/* Process attributes (sandbox_limits.c). */

/**
 * sandbox_limits_apply():
 * Set PR_SET_DUMPABLE 0, PR_SET_NO_NEW_PRIVS 1, RLIMIT_FSIZE 0 and
 * RLIMIT_CORE 0, and read the two flags back; if ${conf->parent}, die by
 * SIGKILL with it (fail if it is already gone).  Return 0, or -1 after
 * reporting.
 */
int sandbox_limits_apply(const struct sandbox_conf *);

/* Landlock (sandbox_landlock.c). */
struct sandbox_landlock {
	int fd;			/* Ruleset, or -1 if Landlock is missing. */
	int abi;		/* ABI applied (0: none). */
	int kernel_abi;		/* ABI the kernel offers (0: none). */
	int who;		/* SANDBOX_RELAY or SANDBOX_SUPERVISOR. */
	int bind;		/* Bind allowed to --backend-ports. */
};

/**
 * sandbox_landlock_prepare(conf, who, L):
 * Create in ${L} a ruleset for the highest ABI both we and the kernel
 * know.  SANDBOX_RELAY: no file-system access; from ABI 4 TCP connect only
 * to conf->connect_ports and bind to none; from ABI 6 abstract UNIX socket
 * and signal scoping.  SANDBOX_SUPERVISOR: only reading files beneath
 * conf->read_dirs; TCP not handled (its workers add their rules); from ABI
 * 6 abstract UNIX socket and signal scoping (its workers are in nested
 * domains, so it may still signal them).  A kernel without Landlock, or
 * Landlock refused with EPERM (a container's seccomp filter), is a warning
 * naming the likely cause (${L}->fd is -1).  Return 0, or -1 after
 * reporting.
 */
int sandbox_landlock_prepare(const struct sandbox_conf *, int,
    struct sandbox_landlock *);

/**
 * sandbox_landlock_apply(L):
 * Enforce the ruleset in ${L} on the calling process (no_new_privs must
 * be set) and close it.  Return 0, or -1 after reporting.
 */
int sandbox_landlock_apply(struct sandbox_landlock *);

/**
 * sandbox_landlock_cleanup(L):
 * Close the ruleset on an error path.
 */
void sandbox_landlock_cleanup(struct sandbox_landlock *);

/* seccomp (sandbox_seccomp.c). */
struct sandbox_seccomp {
	size_t len;		/* Instructions in the program. */
	size_t nallow;		/* Syscalls allowed. */
	size_t nerrno;		/* Syscalls refused with an errno. */
};

/**
 * sandbox_seccomp_prepare(conf, who, S):
 * Build the filter of policy/ for ${conf} (seccomp.policy for
 * SANDBOX_RELAY, supervisor-seccomp.policy for SANDBOX_SUPERVISOR) and
 * compile it to BPF in static memory, so that loading it needs no
 * allocation and libseccomp frees nothing once the filter is active.
 * Return 0, or -1 after reporting.
 */
int sandbox_seccomp_prepare(const struct sandbox_conf *, int,
    struct sandbox_seccomp *);

/**
 * sandbox_seccomp_load(S):
 * Load the program prepared in ${S}.  Return 0, or -1 after reporting.
 */
int sandbox_seccomp_load(const struct sandbox_seccomp *);

/**
 * sandbox_seccomp_print(conf, who, fd):
 * Write the filter for ${conf} and ${who} as libseccomp pseudo filter code
 * to ${fd}.  Return 0, or -1 after reporting.
 */
int sandbox_seccomp_print(const struct sandbox_conf *, int, int);

/**
 * sandbox_seccomp_debug_prepare():
 * In a SECCOMP_DEBUG build, record every syscall name of the native
 * architecture and install a SIGSYS handler that names the syscall the
 * filter trapped, then lets the process die by SIGSYS.  Otherwise do
 * nothing.  Return 0, or -1 after reporting.
 */
int sandbox_seccomp_debug_prepare(void);

/**
 * sandbox_seccomp_debug_action():
 * The filter's default action: SCMP_ACT_TRAP in a SECCOMP_DEBUG build,
 * SCMP_ACT_KILL_PROCESS otherwise.
 */
uint32_t sandbox_seccomp_debug_action(void);

#endif /* !SANDBOX_INTERNAL_H_ */
