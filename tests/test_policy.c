/*
 * The seccomp policy as data: the compiled table keeps its promises, the
 * generator refuses malformed lines, and the filter the real binary prints
 * is byte for byte the reviewed golden copy, policy/seccomp.pfc.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <seccomp.h>

#include "policy_table.h"
#include "probe.h"
#include "harness.h"
#include "run.h"

/* The relay's promise: at most this many syscalls allowed. */
#define POLICY_ALLOW_MAX	25

/* The golden command's arguments (fds 3, 4, 5: listener, epoll, signalfd). */
static char * const golden_args[] = {
	"l7knockknock", "--print-seccomp", "--listen", "127.0.0.1:0",
	"--normal", "127.0.0.1:8443", "--hidden", "127.0.0.1:22", "knock", NULL
};
#define GOLDEN_PATH	"../policy/seccomp.pfc"
#define GOLDEN_NEW	"seccomp.pfc.new"

/* Is syscall ${name} allowed (not errno, not kill) by some rule? */
static int
policy_allows(const char * name)
{

	return (probe_allows(policy_table, policy_table_len,
	    seccomp_syscall_resolve_name(name)));
}

Test(policy, every_rule_says_why)
{

	probe_rules_say_why(policy_table, policy_table_len);
}

/* The policy file as the reviewer reads it. */
#define POLICY_PATH	"../policy/seccomp.policy"

/*
 * How many distinct syscalls ${path} allows, read from the file itself
 * (first word of each rule whose action is "allow", and "allow:SANITIZE"
 * if ${sanitize}), not from the table compiled from it.
 */
static size_t
policy_file_allowed(const char * path, int sanitize)
{
	char line[1024], names[128][64], name[64], action[32];
	size_t i, n = 0;
	FILE * f;

	cr_assert_not_null(f = fopen(path, "r"), "cannot open %s", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (line[0] == '#' || sscanf(line, "%63s %31s", name,
		    action) != 2 || (strcmp(action, "allow") != 0 &&
		    (!sanitize || strcmp(action, "allow:SANITIZE") != 0)))
			continue;
		for (i = 0; i < n && strcmp(names[i], name) != 0; i++)
			;
		if (i == n) {
			cr_assert_lt(n, 128);
			strcpy(names[n++], name);
		}
	}
	fclose(f);
	return (n);
}

/* How many distinct syscalls the compiled table allows. */
static size_t
policy_table_allowed(void)
{
	size_t i, j, n = 0;

	for (i = 0; i < policy_table_len; i++) {
		if (policy_table[i].action != POLICY_ALLOW)
			continue;
		for (j = 0; j < i; j++)
			if (policy_table[j].nr == policy_table[i].nr &&
			    policy_table[j].action == POLICY_ALLOW)
				break;
		n += (j == i);
	}
	return (n);
}

/*
 * The table is the file's rules (in a SANITIZE=1 build, its allow:SANITIZE
 * ones too); the bound is that of a release build.
 */
Test(policy, allowed_count_is_the_policy_files_and_at_most_25)
{
	size_t n = policy_table_allowed(), release;
	int sanitize = 0;

#if defined(SANITIZE) && SANITIZE
	sanitize = 1;
#endif
	cr_assert_eq(n, policy_file_allowed(POLICY_PATH, sanitize),
	    "the table allows %zu syscalls, the policy file %zu", n,
	    policy_file_allowed(POLICY_PATH, sanitize));
	release = policy_file_allowed(POLICY_PATH, 0);
	cr_assert(release <= POLICY_ALLOW_MAX, "%zu syscalls allowed",
	    release);
}

/*
 * Every "N syscalls allowed" the documents quote (across line breaks) is
 * ${n}; return how many quotes ${path} has (a missing file has none).
 */
static size_t
policy_doc_quotes(const char * path, size_t n)
{
	static char text[1 << 20];
	size_t len = 0, quotes = 0, i, j;
	unsigned long q;
	char * p;
	FILE * f;
	int c, space = 0;

	if ((f = fopen(path, "r")) == NULL)
		return (0);
	/* Read it with every run of white space made one space. */
	while ((c = getc(f)) != EOF && len < sizeof(text) - 1) {
		if (c == ' ' || c == '\n' || c == '\t') {
			space = 1;
			continue;
		}
		if (space && len > 0)
			text[len++] = ' ';
		space = 0;
		text[len++] = (char)c;
	}
	text[len] = '\0';
	fclose(f);
	for (p = text; (p = strstr(p, " syscalls allowed")) != NULL; p++) {
		for (i = (size_t)(p - text); i > 0 && text[i - 1] >= '0' &&
		    text[i - 1] <= '9'; i--)
			;
		if (i == (size_t)(p - text))
			continue;
		q = strtoul(&text[i], NULL, 10);
		j = (size_t)q;
		cr_expect_eq(j, n, "%s quotes %lu syscalls allowed; "
		    "policy/seccomp.policy allows %zu", path, q, n);
		quotes++;
	}
	return (quotes);
}

Test(policy, the_docs_quote_the_policy_files_syscall_count)
{
	size_t n = policy_file_allowed(POLICY_PATH, 0), quotes = 0;

	quotes += policy_doc_quotes("../DESIGN.md", n);
	quotes += policy_doc_quotes("../README.md", n);
	quotes += policy_doc_quotes("../l7knockknock.8", n);
	cr_expect_gt(quotes, 0, "no document quotes the syscall count");
}

Test(policy, dangerous_syscalls_never_allowed)
{
	static const char * const never[] = {
		"execve", "execveat", "fork", "vfork", "clone", "clone3",
		/* bind: allowed off the listeners for --backend-ports, with
		 * Landlock allowing only those ports (test_sandbox probes). */
		"ptrace", "listen", "open", "openat", "openat2",
		"creat", "unlink", "rename", "chmod", "chown", "mprotect",
		"setuid", "setgid", "setresuid", "setresgid", "setgroups",
		"capset", "prctl", "seccomp", "kill", "tgkill", "socketpair",
		"sendmsg", "sendmmsg", "recvmsg", "ioctl", "mount", "chroot", "bpf",
		"process_vm_writev", "io_uring_setup", "userfaultfd",
		"memfd_create", "pidfd_open", "unshare", "setns", NULL
	};
	size_t i;

	for (i = 0; never[i] != NULL; i++)
		cr_expect(!policy_allows(never[i]), "%s is allowed", never[i]);
}

Test(policy, openat_is_refused_with_eacces)
{
	int nr = seccomp_syscall_resolve_name("openat");
	size_t i;
	int found = 0;

	for (i = 0; i < policy_table_len; i++) {
		if (policy_table[i].nr != nr)
			continue;
		found = 1;
		cr_expect(policy_table[i].action == POLICY_ERRNO &&
		    policy_table[i].err == EACCES);
	}
	cr_assert(found, "no openat rule");
}

/* Run the generator on ${text}; its exit status, its stderr in ${err}. */
static int
policy_awk(const char * text, char * err, size_t errlen)
{
	char path[] = "/tmp/l7kk-policy-XXXXXX";
	char * argv[] = { "/usr/bin/awk", "-f", "../tools/policy2c.awk", path,
	    NULL };
	int fd, st;

	cr_assert((fd = mkstemp(path)) != -1);
	cr_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	(void)run_capture(argv, 10000, &st, NULL, 0, err, errlen);
	unlink(path);
	return (st);
}

Test(policy, generator_refuses_malformed_lines, .timeout = 30)
{
	static const char * const bad[][2] = {
		{ "read allow a0==$signal_fd\n", "want: syscall action" },
		{ "read permit - because\n", "bad action" },
		{ "read allow a9==1 because\n", "a0..a5" },
		{ "read allow a0=1 because\n", "has no ==, <= or !=" },
		{ "read allow a0==$nope because\n", "unknown run-time value" },
		{ "read allow:lower - because\n", "bad build condition" },
		{ "read allow a0!=3 because\n", "!= takes $listen_fd only" },
		{ "read allow a0&1!=$listen_fd because\n", "only == takes" },
		{ "read allow a0!=$listen_fd,a1==$listen_fd because\n",
		    "one $listen_fd condition" },
		{ "# only comments\n", "no rules" },
	};
	char err[1024];
	size_t i;
	int st;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		st = policy_awk(bad[i][0], err, sizeof(err));
		cr_expect(WIFEXITED(st) && WEXITSTATUS(st) != 0,
		    "accepted: %s", bad[i][0]);
		cr_expect(strstr(err, bad[i][1]) != NULL,
		    "for %s want \"%s\" in: %s", bad[i][0], bad[i][1], err);
	}
}

/* Read all of ${fd} into ${buf}; the length. */
static size_t
policy_slurp(int fd, char * buf, size_t size)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	size_t len = 0;
	ssize_t n;

	while (len < size - 1 && poll(&pfd, 1, 10000) == 1 &&
	    (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	return (len);
}

/* Run ${args} with only fds 0-2 open; its stdout in ${buf}. */
static size_t
policy_print_args(char * const * args, char * buf, size_t size)
{
	int p[2], st, null;
	size_t len;
	pid_t pid;

	cr_assert(pipe(p) == 0);
	fflush(NULL);
	cr_assert((pid = fork()) != -1);
	if (pid == 0) {
		if ((null = open("/dev/null", O_WRONLY)) == -1 ||
		    dup2(p[1], STDOUT_FILENO) == -1 ||
		    dup2(null, STDERR_FILENO) == -1 ||
		    close_range(3, ~0U, 0) == -1)
			_exit(127);
		execv(h_bin_relay(), args);
		_exit(127);
	}
	close(p[1]);
	len = policy_slurp(p[0], buf, size);
	close(p[0]);
	cr_assert(waitpid(pid, &st, 0) == pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "%s --print-seccomp failed (status %d)", h_bin_relay(), st);
	return (len);
}

/* Run the golden command; its stdout in ${buf}. */
static size_t
policy_print(char * buf, size_t size)
{

	return (policy_print_args(golden_args, buf, size));
}

/* The first line where ${a} and ${b} differ (1-based). */
static int
policy_first_diff(const char * a, const char * b)
{
	int line = 1;

	for (; *a != '\0' && *a == *b; a++, b++)
		line += (*a == '\n');
	return (line);
}

/* The filter ${args} print must be the golden file ${path} byte for byte. */
static void
policy_golden(char * const * args, const char * path, const char * new)
{
	static char want[65536], got[65536];
	size_t wlen, glen;
	FILE * f;

	cr_assert((f = fopen(path, "r")) != NULL,
	    "cannot read %s: %s", path, strerror(errno));
	wlen = fread(want, 1, sizeof(want) - 1, f);
	fclose(f);
	want[wlen] = '\0';
	glen = policy_print_args(args, got, sizeof(got));
	if (glen == wlen && memcmp(want, got, wlen) == 0)
		return;
	cr_assert((f = fopen(new, "w")) != NULL);
	fwrite(got, 1, glen, f);
	fclose(f);
	cr_assert_fail("the seccomp filter differs from %s from line %d; see: "
	    "diff -u %s build/%s; if the policy change is intended, review "
	    "it and copy build/%s over %s", path + 3,
	    policy_first_diff(want, got), path + 3, new, new, path + 3);
}

Test(policy, printed_filter_matches_golden, .timeout = 30)
{

#if (defined(SECCOMP_DEBUG) && SECCOMP_DEBUG) || \
    (defined(SANITIZE) && SANITIZE)
	cr_skip_test("the golden filter is that of a release build");
#endif
	policy_golden(golden_args, GOLDEN_PATH, GOLDEN_NEW);
}

/* The --workers supervisor's filter: policy/supervisor-seccomp.pfc. */
Test(policy, supervisor_filter_matches_golden, .timeout = 30)
{
	static char * const args[] = { "l7knockknock",
	    "--print-supervisor-seccomp", NULL };

#if (defined(SECCOMP_DEBUG) && SECCOMP_DEBUG) || \
    (defined(SANITIZE) && SANITIZE)
	cr_skip_test("the golden filter is that of a release build");
#endif
	policy_golden(args, "../policy/supervisor-seccomp.pfc",
	    "supervisor-seccomp.pfc.new");
}

/* --print-seccomp needs no knock: none given, or a knock file never read. */
Test(policy, print_seccomp_needs_no_knock, .timeout = 30)
{
	static char * const none[] = { "l7knockknock", "--print-seccomp",
	    "--listen", "127.0.0.1:0", NULL };
	static char * const file[] = { "l7knockknock", "--print-seccomp",
	    "--listen", "127.0.0.1:0", "--knock-file",
	    "/nonexistent/l7kk-knock", NULL };
	static char want[65536], got[65536];
	size_t wlen, glen;

	wlen = policy_print(want, sizeof(want));
	glen = policy_print_args(none, got, sizeof(got));
	cr_expect(glen == wlen && memcmp(want, got, wlen) == 0,
	    "without a knock the filter differs");
	glen = policy_print_args(file, got, sizeof(got));
	cr_expect(glen == wlen && memcmp(want, got, wlen) == 0,
	    "with an unread knock file the filter differs");
}
