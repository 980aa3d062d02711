#ifndef BUILDFLAGS_H_
#define BUILDFLAGS_H_

/*
 * VALGRIND_BUILD (make VALGRIND=1) does not load seccomp, because
 * valgrind cannot run it: the suites that test the sandbox itself are
 * disabled in that build; the relay's suites run under valgrind.
 */
#ifdef VALGRIND_BUILD
#define SANDBOX_TESTS_DISABLED	1
#else
#define SANDBOX_TESTS_DISABLED	0
#endif

#endif /* !BUILDFLAGS_H_ */
