/*
 * The fail2ban filter (contrib/fail2ban/filter.d/l7knockknock.conf), run by
 * Debian's fail2ban-regex on tests/data/fail2ban.log: exactly the hostile
 * clients' addresses come out (replayed or expired tokens, the per-source
 * limit), in order; ordinary normal-route lines never do.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "run.h"

#define F2B_BIN		"/usr/bin/fail2ban-regex"

Test(fail2ban, filter_matches_exactly_the_hostile_addresses, .timeout = 60)
{
	static const char want[] =
	    "192.0.2.10\n2001:db8::1\n192.0.2.11\n198.51.100.7\n"
	    "2001:db8::2\n203.0.113.5\n192.0.2.55\n192.0.2.56\n";
	char * argv[] = { F2B_BIN, "--out", "ip", "../tests/data/fail2ban.log",
	    "../contrib/fail2ban/filter.d/l7knockknock.conf", NULL };
	char out[4096], err[4096];
	int st;

	cr_assert(access(F2B_BIN, X_OK) == 0, "%s missing (Debian's fail2ban)",
	    F2B_BIN);
	cr_assert(run_capture(argv, 50000, &st, out, sizeof(out), err,
	    sizeof(err)) == 0, "fail2ban-regex timed out");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", err);
	cr_assert_str_eq(out, want, "matched:\n%s", out);
}
