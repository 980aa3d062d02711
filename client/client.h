#ifndef CLIENT_H_
#define CLIENT_H_

/*
 * l7knockknock-client: connect to a relay, send the knock (a static knock
 * or a fresh token) and then either relay stdin and stdout (ssh's
 * ProxyCommand) or hand the socket to ssh (ProxyUseFdpass).  One header
 * for the pieces, split by verb: client_dial.c, client_relay.c,
 * client_fdpass.c, client_sandbox.c; client/main.c maps results to
 * sysexits codes.
 */

#include <stddef.h>
#include <stdint.h>

struct addrinfo;
struct knock;

/*
 * The connected socket is moved to this descriptor before the sandbox, so
 * that the seccomp policy (policy/client-seccomp.policy) can name it.
 */
#define CLIENT_SOCK_FD		3

/* The first bytes of stdin join the knock if they arrive this soon. */
#define CLIENT_COALESCE_MS	200

/* Failures, as main needs to tell them apart (sysexits 68, 69, 71). */
#define CLIENT_ERR_NOHOST	-1	/* The name does not resolve. */
#define CLIENT_ERR_PEER		-2	/* Unreachable, refused, timed out. */
#define CLIENT_ERR_SYS		-3	/* A local system error. */
#define CLIENT_ERR_LOST		-4	/* Reset (or failed) after the knock. */

/* The command line. */
struct client_conf {
	const char * host;		/* HOST, as given. */
	uint16_t port;			/* PORT. */
	const char * key_file;		/* --key-file, or NULL. */
	const char * knock_file;	/* --knock-file, or NULL. */
	int fdpass;			/* --fdpass. */
	int family;			/* AF_UNSPEC, or -4/-6. */
	uint64_t connect_ms;		/* --connect-timeout, per address. */
	int gen_key;			/* --gen-key. */
	int print_seccomp;		/* --print-seccomp. */
	int loglevel;			/* LOG_*: -v, -q. */
	int help, version;		/* -h, -V. */
};

/**
 * client_conf_parse(C, argc, argv):
 * Fill ${C} from the command line ${argv} of ${argc} words.  Return 0, 1
 * if -h or -V was given (nothing else is checked), or -1 after reporting
 * the usage error in one line.
 */
int client_conf_parse(struct client_conf *, int, char **);

/**
 * client_conf_usage(fd):
 * Write the usage text to ${fd}.
 */
void client_conf_usage(int);

/**
 * client_resolve(host, port, family, res):
 * Resolve ${host} (a name, an IPv4 address, or an IPv6 address with or
 * without brackets) and ${port} to TCP addresses of ${family} (AF_UNSPEC,
 * AF_INET or AF_INET6) in ${res}, to be freed with freeaddrinfo().
 * Return 0, CLIENT_ERR_NOHOST if the name has no such address, or
 * CLIENT_ERR_SYS; either failure is reported.
 */
int client_resolve(const char *, uint16_t, int, struct addrinfo **);

/**
 * client_dial(ai, host, timeout_ms):
 * Connect to each address of the list ${ai} in turn, each with a
 * non-blocking connect bounded by ${timeout_ms}, until one succeeds.
 * Return the connected non-blocking TCP socket (TCP_NODELAY,
 * close-on-exec), or CLIENT_ERR_PEER if no address could be reached
 * (reported once, naming ${host} and the last error) or CLIENT_ERR_SYS.
 */
int client_dial(const struct addrinfo *, const char *, uint64_t);

/**
 * client_relay(secret):
 * Relay between stdin/stdout and the socket at CLIENT_SOCK_FD until both
 * directions end: stdin's EOF becomes shutdown(SHUT_WR) on the socket, the
 * socket's EOF closes stdout, and a reset ends both.  If ${secret} is not
 * NULL it is sent first, in one write together with whatever stdin gives
 * within CLIENT_COALESCE_MS, and wiped (both ${secret} and the buffer) once
 * written.  Makes only the syscalls policy/client-seccomp.policy allows;
 * no heap.  Return 0 when both directions ended in order (EOFs), or
 * CLIENT_ERR_LOST if the socket was reset or failed on the way (reported
 * once: a truncated session must not look like a complete one), or
 * CLIENT_ERR_PEER if the secret could not be sent (reported).
 */
int client_relay(struct knock *);

/**
 * client_send_all(buf, len):
 * Write the ${len} bytes at ${buf} to the non-blocking socket at
 * CLIENT_SOCK_FD, polling while it is full.  Return 0, or -1 (errno set,
 * nothing reported).
 */
int client_send_all(const void *, size_t);

/**
 * client_fdpass(secret):
 * Send ${secret} (if not NULL) on the socket at CLIENT_SOCK_FD, wipe it,
 * then hand the socket to the process at the other end of stdout, a UNIX
 * socket, with one byte of data and SCM_RIGHTS (ssh's ProxyUseFdpass).
 * Return 0, CLIENT_ERR_PEER if the secret could not be sent, or
 * CLIENT_ERR_SYS if the socket could not be passed (reported).
 */
int client_fdpass(struct knock *);

/**
 * client_fdpass_check():
 * Return 0 if stdout is a socket that client_fdpass() can use, or -1
 * after reporting that --fdpass needs one.
 */
int client_fdpass_check(void);

/**
 * client_sandbox_enter():
 * Confine the process for good: PR_SET_DUMPABLE 0, RLIMIT_CORE 0,
 * PR_SET_NO_NEW_PRIVS 1 and the seccomp allowlist compiled from
 * policy/client-seccomp.policy (kill the process by default and on a
 * foreign architecture).  Return 0, or -1 after reporting the step that
 * failed; the caller must then exit.
 */
int client_sandbox_enter(void);

/**
 * client_sandbox_print(fd):
 * Write the seccomp filter client_sandbox_enter() loads, in libseccomp's
 * pseudo filter code, to ${fd}.  Return 0 or -1.
 */
int client_sandbox_print(int);

#endif /* !CLIENT_H_ */
