#ifndef SANDBOX_H_
#define SANDBOX_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * What the sandbox needs to know about the process it confines.  Filled in
 * by main after every listener, the epoll descriptor and the signalfd exist.
 */
/* sandbox_conf.inherited: how the supervisor was confined. */
#define SANDBOX_INHERITED_USER	1	/* Not started as root: same user. */
#define SANDBOX_INHERITED_ROOT	2	/* As root: chroot, user, no bounding
					   set; no uid or gid 0. */

struct sandbox_conf {
	const char * chroot_dir;	/* Empty root-owned directory (as root). */
	const char * user;		/* User to become: name, UID or
					   UID:GID; NULL: default. */
	const int * listen_fds;		/* The listening sockets. */
	size_t nlisten;
	int epoll_fd;			/* The event loop's epoll descriptor. */
	int signal_fd;			/* The signalfd read for SIGTERM/SIGINT. */
	int notify_fd;			/* Connected $NOTIFY_SOCKET; <= 2: none. */
	const uint16_t * connect_ports;	/* Backend ports (host order). */
	size_t nports;
	uint16_t bind_lo, bind_hi;	/* Ports backend sockets may bind;
					   0: none. */
	pid_t parent;			/* Non-zero: die when it does. */
	int inherited;			/* Forked by a confined supervisor:
					   chroot, user and bounding set are
					   the supervisor's; check them only
					   (SANDBOX_INHERITED_*; 0: no). */

	/* The --workers supervisor (sandbox_enter_supervisor()) only. */
	const int * read_dirs;		/* O_PATH directories it may read
					   files beneath (the secrets'). */
	size_t nread_dirs;
};

/**
 * sandbox_enter(conf):
 * Confine the calling process for good: chroot and drop to an unprivileged
 * user (when started as root), empty every capability set, set
 * PR_SET_DUMPABLE 0, PR_SET_NO_NEW_PRIVS 1, RLIMIT_FSIZE and RLIMIT_CORE 0,
 * PR_SET_PDEATHSIG SIGKILL if ${conf->parent} (and fail if it is gone),
 * apply Landlock (best effort by ABI) and load the seccomp allowlist from
 * policy/.  Report what was applied on stderr.  Return 0 on success, or -1
 * after reporting the layer that failed; the caller must then exit.
 */
int sandbox_enter(const struct sandbox_conf *);

/**
 * sandbox_enter_supervisor(conf):
 * Confine the --workers supervisor for good, before it forks any worker:
 * the same chroot, user, capability and process-attribute steps as
 * sandbox_enter() (no parent-death signal), Landlock allowing only the
 * reading of files beneath the ${conf->read_dirs} (TCP is not restricted,
 * so that its workers can add their own connect rules), and the seccomp
 * allowlist of policy/supervisor-seccomp.policy (which holds what the
 * workers it forks need before they load their own, narrower filter).
 * conf->listen_fds, epoll_fd and signal_fd are not used.  Return 0, or -1
 * after reporting the layer that failed; the caller must then exit.
 */
int sandbox_enter_supervisor(const struct sandbox_conf *);

/**
 * sandbox_print_supervisor_seccomp(fd):
 * Write the filter sandbox_enter_supervisor() loads, in libseccomp's
 * pseudo-filter-code, to ${fd}.  Return 0 or -1.
 */
int sandbox_print_supervisor_seccomp(int);

/**
 * sandbox_check_user(conf):
 * Check that conf->user, if not NULL, exists and may be used by
 * sandbox_enter(${conf}) (a name, a uid with a passwd entry, or UID:GID;
 * never uid or gid 0 as root; only the current user when not root); only
 * conf->user is read.  Return 0, or -1 after reporting in one line.
 */
int sandbox_check_user(const struct sandbox_conf *);

/**
 * sandbox_user_ids(conf, uid, gid):
 * Store in ${uid} and ${gid} the ids sandbox_enter(${conf}) would run as:
 * as root, conf->user (else "l7knockknock", else "nobody"; never 0); not
 * as root, the current ones.  Only conf->user is read.  Return 0, or -1
 * after reporting in one line.
 */
int sandbox_user_ids(const struct sandbox_conf *, uid_t *, gid_t *);

/**
 * sandbox_print_seccomp(conf, fd):
 * Write the seccomp filter that sandbox_enter(${conf}) would load, in
 * libseccomp's pseudo-filter-code, to ${fd}.  Return 0 or -1.
 */
int sandbox_print_seccomp(const struct sandbox_conf *, int);

#endif /* !SANDBOX_H_ */
