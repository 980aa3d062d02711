#ifndef PROBE_H_
#define PROBE_H_

#include <stddef.h>

/*
 * The sandbox probes' common part (tests/test_sandbox.c for a worker,
 * tests/test_supervisor.c for the supervisor, tests/test_client.c for the
 * client): a forked child enters a sandbox, tries one thing, and its wait
 * status says what happened.  The attempts every sandbox must stop are
 * here once (probe_try_*); an attempt that needs a suite's own descriptors
 * stays in that suite.
 */

/* Exit codes of a probe child besides an errno. */
#define PROBE_DONE	200	/* The attempt succeeded. */
#define PROBE_NOSANDBOX	201	/* Entering the sandbox failed. */
#define PROBE_BROKEN	202	/* A step of the attempt failed. */

/**
 * probe_result(rc):
 * In a probe child: exit with errno if ${rc} is -1, else PROBE_DONE.
 */
void probe_result(long) __attribute__((noreturn));

/**
 * probe_fork(enter, attempt):
 * Fork a child that calls ${enter} (which _exits PROBE_NOSANDBOX when the
 * sandbox cannot be entered), then ${attempt}, then exits PROBE_DONE;
 * return its wait status.  Asserts on fork and wait failures.
 */
int probe_fork(void (*)(void), void (*)(void));

/**
 * probe_how(st, sandbox):
 * Describe the wait status ${st} of a probe child whose sandbox is entered
 * by the function named ${sandbox}, for failure messages (a static
 * buffer).
 */
const char * probe_how(int, const char *);

struct policy_rule;

/**
 * probe_allows(T, n, nr):
 * Does some rule of the policy table ${T} (${n} rules) allow syscall
 * number ${nr} (POLICY_ALLOW, whatever its conditions)?  1 or 0.
 */
int probe_allows(const struct policy_rule *, size_t, int);

/**
 * probe_rules_say_why(T, n):
 * Expect every rule of ${T} (${n} rules, at least one) to give a reason
 * of 8 characters or more and to name a syscall of this architecture.
 */
void probe_rules_say_why(const struct policy_rule *, size_t);

/**
 * probe_expect_sigsys(enter, sandbox, attempt, what):
 * Run ${attempt} in a child confined by ${enter} (named ${sandbox} in
 * messages) and assert that it died by SIGSYS; ${what} names the attempt.
 */
void probe_expect_sigsys(void (*)(void), const char *, void (*)(void),
    const char *);

/**
 * probe_expect_exit(enter, sandbox, attempt, code, what):
 * As probe_expect_sigsys, but assert that the child exited ${code}: the
 * errno of the refusal, or PROBE_DONE if the attempt must succeed.
 */
void probe_expect_exit(void (*)(void), const char *, void (*)(void), int,
    const char *);

/*
 * The attempts every sandbox refuses, each ending the child through
 * probe_result():
 *   probe_try_open_passwd   open("/etc/passwd", O_RDONLY)
 *   probe_try_execve        execve("/bin/true")
 *   probe_try_fork          fork() (the child _exits 0)
 *   probe_try_clone3        clone3(NULL, 0)
 *   probe_try_ptrace        ptrace(PTRACE_TRACEME)
 *   probe_try_unix_socket   socket(AF_UNIX, SOCK_STREAM)
 *   probe_try_udp_socket    socket(AF_INET, SOCK_DGRAM, the relay's flags)
 *   probe_try_setuid        setuid(0)
 *   probe_try_mmap_exec     an anonymous mmap with PROT_EXEC
 */
void probe_try_open_passwd(void) __attribute__((noreturn));
void probe_try_execve(void) __attribute__((noreturn));
void probe_try_fork(void) __attribute__((noreturn));
void probe_try_clone3(void) __attribute__((noreturn));
void probe_try_ptrace(void) __attribute__((noreturn));
void probe_try_unix_socket(void) __attribute__((noreturn));
void probe_try_udp_socket(void) __attribute__((noreturn));
void probe_try_setuid(void) __attribute__((noreturn));
void probe_try_mmap_exec(void) __attribute__((noreturn));

#endif /* !PROBE_H_ */
