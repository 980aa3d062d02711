/*
 * make SECCOMP_DEBUG=1: the filter traps instead of killing, and a SIGSYS
 * handler names the syscall, so a missing policy line shows up by name.
 * Never the default: the handler is code an attacker could reach.  In a
 * normal build this file only provides the kill action and an empty
 * preparation step (no handler is installed).
 */
#include <stdint.h>

#include <seccomp.h>

#include "sandbox_internal.h"

#if defined(SECCOMP_DEBUG) && SECCOMP_DEBUG

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Syscall numbers below this are named (x86_64 has about 460). */
#define DEBUG_NR_MAX	1024
#define DEBUG_NAME_MAX	32

/* Filled before the filter is loaded: the handler cannot allocate. */
static char debug_names[DEBUG_NR_MAX][DEBUG_NAME_MAX];

/* Append ${s} to ${buf} at ${*len}, truncating at ${size}. */
static void
debug_cat(char * buf, size_t * len, size_t size, const char * s)
{

	while (*s != '\0' && *len < size)
		buf[(*len)++] = *s++;
}

/* Append the decimal ${n} (async-signal-safe, unlike snprintf). */
static void
debug_num(char * buf, size_t * len, size_t size, int n)
{
	char d[16];
	size_t i = sizeof(d) - 1;
	unsigned int u = (n < 0) ? (unsigned int)-(long)n : (unsigned int)n;

	d[i] = '\0';
	do {
		d[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0 && i > 1);
	if (n < 0)
		d[--i] = '-';
	debug_cat(buf, len, size, &d[i]);
}

/* SIGSYS: name the syscall, then die by SIGSYS as a release build would. */
static void
debug_sigsys(int sig, siginfo_t * si, void * uctx)
{
	char line[160];
	size_t len = 0;
	int nr = si->si_syscall;

	(void)sig;
	(void)uctx;
	debug_cat(line, &len, sizeof(line) - 1,
	    "l7knockknock: error: seccomp: forbidden syscall ");
	if (nr >= 0 && nr < DEBUG_NR_MAX && debug_names[nr][0] != '\0')
		debug_cat(line, &len, sizeof(line) - 1, debug_names[nr]);
	else
		debug_cat(line, &len, sizeof(line) - 1, "?");
	debug_cat(line, &len, sizeof(line) - 1, " (nr ");
	debug_num(line, &len, sizeof(line) - 1, nr);
	debug_cat(line, &len, sizeof(line) - 1, ")");
	line[len++] = '\n';
	(void)!write(STDERR_FILENO, line, len);

	/*
	 * SIGSYS is blocked while this handler runs.  raise() makes syscalls
	 * the policy lacks; the kernel delivers such a trap with SIGSYS
	 * blocked by resetting it to the default action: death by SIGSYS.
	 */
	raise(SIGSYS);
	_exit(128 + SIGSYS);
}

/* Name every syscall number while we may still allocate. */
static void
debug_names_fill(void)
{
	char * name;
	int nr;

	for (nr = 0; nr < DEBUG_NR_MAX; nr++) {
		name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
		if (name == NULL)
			continue;
		strncpy(debug_names[nr], name, DEBUG_NAME_MAX - 1);
		free(name);
	}
}

/* Record the names and install the handler. */
int
sandbox_seccomp_debug_prepare(void)
{
	struct sigaction sa;
	sigset_t set;

	debug_names_fill();
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = debug_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	if (sigaction(SIGSYS, &sa, NULL) ||
	    sigprocmask(SIG_UNBLOCK, &set, NULL)) {
		log_errp("seccomp: cannot install the SIGSYS handler");
		return (-1);
	}
	log_warn("seccomp: debug build: forbidden syscalls trap and are named");
	return (0);
}

/* Trap, so the handler can name the syscall. */
uint32_t
sandbox_seccomp_debug_action(void)
{

	return (SCMP_ACT_TRAP);
}

#else /* !SECCOMP_DEBUG */

/* Nothing to prepare in a release build. */
int
sandbox_seccomp_debug_prepare(void)
{

	return (0);
}

/* Kill the whole process, never just the thread. */
uint32_t
sandbox_seccomp_debug_action(void)
{

	return (SCMP_ACT_KILL_PROCESS);
}

#endif /* !SECCOMP_DEBUG */
