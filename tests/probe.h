#ifndef PROBE_H_
#define PROBE_H_

/*
 * The sandbox probes' common part (tests/test_sandbox.c for a worker,
 * tests/test_supervisor.c for the supervisor): a forked child enters a
 * sandbox, tries one thing, and its wait status says what happened.
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

#endif /* !PROBE_H_ */
