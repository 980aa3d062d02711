/*
 * Only in `make SANITIZE=1` builds.  LeakSanitizer checks for leaks at exit
 * from a tracer thread (clone, ptrace), which the sandbox forbids, so it is
 * turned off here; leaks are checked under valgrind (`make test
 * VALGRIND=1`) instead.  AddressSanitizer and UBSan stay on.
 */
#ifdef SANITIZE
const char * __asan_default_options(void);

const char *
__asan_default_options(void)
{

	return ("detect_leaks=0");
}
#else
typedef int sanitize_unused;	/* ISO C wants a declaration. */
#endif
