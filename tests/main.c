/*
 * The main of build/test_all: Criterion's own, after giving every test a
 * time bound, so that a regression fails instead of hanging the suite
 * (a relay that never passes a half-close on leaves a test blocked in a
 * read forever).
 *
 * Criterion 2.4's --timeout cannot do this: it only lowers the bound of
 * a test or suite that has one (a test without .timeout stays unbounded),
 * so it would cut the long tests short and leave the others unbounded.
 * Here, a test with neither its own .timeout nor its suite's gets
 * MAIN_TIMEOUT_S; and in the builds that run the relay several times
 * slower (VALGRIND=1: memcheck; SANITIZE=1: ASan), every bound is
 * multiplied by MAIN_TIMEOUT_SCALE, so a bound written for the plain
 * build holds there too.
 */
#include <criterion/criterion.h>
#include <criterion/internal/ordered-set.h>

/* A test's bound when neither it nor its suite says (seconds). */
#define MAIN_TIMEOUT_S	60

/* How much slower the relay runs in this build, at most. */
#if defined(VALGRIND_BUILD)
#define MAIN_TIMEOUT_SCALE	4
#elif defined(SANITIZE)
#define MAIN_TIMEOUT_SCALE	2
#else
#define MAIN_TIMEOUT_SCALE	1
#endif

int main(int, char **);

/* Give every test of ${set} a bound, as the comment above says. */
static void
main_bound(struct criterion_test_set * set)
{
	struct criterion_suite_set * s;
	struct criterion_test * t;
	double bound;

	FOREACH_SET(s, set->suites) {
		FOREACH_SET(t, s->tests) {
			bound = t->data->timeout;
			if (bound <= 0 && s->suite.data != NULL)
				bound = s->suite.data->timeout;
			if (bound <= 0)
				bound = MAIN_TIMEOUT_S;
			t->data->timeout = bound * MAIN_TIMEOUT_SCALE;
		}
	}
}

int
main(int argc, char * argv[])
{
	struct criterion_test_set * set = criterion_initialize();
	int rc = 0;

	main_bound(set);
	if (criterion_handle_args(argc, argv, true))
		rc = !criterion_run_all_tests(set);
	criterion_finalize(set);
	return (rc);
}
