#ifndef SANDBOX_H_
#define SANDBOX_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * What the sandbox needs to know about the process it confines.  Filled in
 * by main after every listener, the epoll descriptor and the signalfd exist.
 */
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
	pid_t parent;			/* Non-zero: die when it does. */
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
 * sandbox_check_user(conf):
 * Check that conf->user, if not NULL, exists and may be used by
 * sandbox_enter(${conf}) (a name, a uid with a passwd entry, or UID:GID;
 * never uid or gid 0 as root; only the current user when not root); only
 * conf->user is read.  Return 0, or -1 after reporting in one line.
 */
int sandbox_check_user(const struct sandbox_conf *);

/**
 * sandbox_print_seccomp(conf, fd):
 * Write the seccomp filter that sandbox_enter(${conf}) would load, in
 * libseccomp's pseudo-filter-code, to ${fd}.  Return 0 or -1.
 */
int sandbox_print_seccomp(const struct sandbox_conf *, int);

#endif /* !SANDBOX_H_ */
