/*
 * The fail2ban filter (contrib/fail2ban/filter.d/l7knockknock.conf), run by
 * Debian's fail2ban-regex on tests/data/fail2ban.log: exactly the hostile
 * clients' addresses come out (replayed or expired tokens, the per-source
 * limit), in order; ordinary normal-route lines never do.  The same for
 * tests/data/fail2ban-journal.log: the lines as fail2ban's systemd backend
 * presents the journal's ("HOST l7knockknock[PID]: conn ..."), which is
 * what the packaged jail reads.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "run.h"

#define F2B_BIN		"/usr/bin/fail2ban-regex"

/* Run fail2ban-regex on ${log}: the addresses must be ${want}. */
static void
f2b_expect(const char * log, const char * want)
{
	char * argv[] = { F2B_BIN, "--out", "ip", (char *)log,
	    "../contrib/fail2ban/filter.d/l7knockknock.conf", NULL };
	char out[4096], err[4096];
	int st;

	cr_assert(access(F2B_BIN, X_OK) == 0, "%s missing (Debian's fail2ban)",
	    F2B_BIN);
	cr_assert(run_capture(argv, 50000, &st, out, sizeof(out), err,
	    sizeof(err)) == 0, "fail2ban-regex timed out");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", err);
	cr_assert_str_eq(out, want, "%s matched:\n%s", log, out);
}

Test(fail2ban, filter_matches_exactly_the_hostile_addresses, .timeout = 60)
{

	f2b_expect("../tests/data/fail2ban.log",
	    "192.0.2.10\n2001:db8::1\n192.0.2.11\n198.51.100.7\n"
	    "2001:db8::2\n203.0.113.5\n192.0.2.55\n192.0.2.56\n");
}

Test(fail2ban, filter_matches_the_journal_backends_lines, .timeout = 60)
{

	f2b_expect("../tests/data/fail2ban-journal.log",
	    "192.0.2.10\n2001:db8::1\n192.0.2.11\n198.51.100.7\n"
	    "203.0.113.9\n");
}

/* The jail reads the journal and bans with what Debian 12 has. */
Test(fail2ban, jail_reads_the_journal_and_bans_with_nftables)
{
	char jail[2048];
	FILE * f;
	size_t n;

	cr_assert_not_null(f = fopen("../contrib/fail2ban/jail.d/"
	    "l7knockknock.conf", "r"));
	n = fread(jail, 1, sizeof(jail) - 1, f);
	fclose(f);
	jail[n] = '\0';
	cr_assert(strstr(jail, "\nbackend   = systemd\n") != NULL, "%s", jail);
	cr_assert(strstr(jail, "\nbanaction = nftables-multiport\n") != NULL,
	    "%s", jail);
	cr_assert(access("/etc/fail2ban/action.d/nftables-multiport.conf",
	    R_OK) == 0, "fail2ban has no nftables-multiport action here");
}
