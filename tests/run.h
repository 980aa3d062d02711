#ifndef RUN_H_
#define RUN_H_

/*
 * Test helpers: run a program with its output captured and a time limit,
 * and capture what this process itself writes to a descriptor.
 */

#include <stddef.h>
#include <sys/types.h>

/**
 * run_capture(argv, timeout_ms, status, out, outlen, err, errlen):
 * Run the program ${argv}[0] (a path) with the NULL-terminated ${argv},
 * stdin from /dev/null, and wait for it to exit.  Store its raw wait status
 * in ${status} (use WIFEXITED/WEXITSTATUS), its stdout in ${out} and its
 * stderr in ${err} (each NUL-terminated and cut at ${outlen} - 1 and
 * ${errlen} - 1 bytes; either buffer may be NULL to discard).  If it is still
 * running after ${timeout_ms}, kill it with SIGKILL.  Return 0 if it exited
 * by itself in time, or -1 if it was killed at the time limit or could not
 * be started (then ${status} is -1 if it never ran).
 */
int run_capture(char * const *, int, int *, char *, size_t, char *, size_t);

/**
 * run_capture_until(argv, timeout_ms, until, fn, cookie, status, out, outlen,
 *     err, errlen):
 * As run_capture, but the first time the captured stderr contains the string
 * ${until}, call ${fn}(pid, ${cookie}) with the child's pid, or if ${fn} is
 * NULL send it SIGTERM; then keep capturing until it exits or the time
 * limit.  ${until} may be NULL.  Return as run_capture, and 1 instead of 0
 * if ${until} never appeared.
 */
int run_capture_until(char * const *, int, const char *,
    void (*)(pid_t, void *), void *, int *, char *, size_t, char *, size_t);

/* What run_redirect_begin() saved. */
struct run_redirect {
	int fd;			/* The descriptor redirected. */
	int saved;		/* A copy of what it was. */
	int tmp;		/* The unlinked file it writes to now. */
};

/**
 * run_redirect_begin(R, fd):
 * Flush stdio and make this process's descriptor ${fd} (1 or 2) write to an
 * unlinked temporary file until run_redirect_end(${R}).  Return 0 or -1.
 */
int run_redirect_begin(struct run_redirect *, int);

/**
 * run_redirect_end(R, buf, len):
 * Flush stdio, restore the descriptor, and store what was written meanwhile
 * in ${buf} (NUL-terminated, cut at ${len} - 1 bytes).  Return the number of
 * bytes stored, or -1.
 */
ssize_t run_redirect_end(struct run_redirect *, char *, size_t);

#endif /* !RUN_H_ */
