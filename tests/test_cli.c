/*
 * Command-line tests of the real binary: ../l7knockknock (or $L7KK_BIN) is
 * run for every kind of bad input, and each run must exit with the right
 * code and one line on stderr that names the bad value -- never a crash.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/mount.h>
#include <sched.h>
#include <pwd.h>
#include <sysexits.h>
#include <unistd.h>

#include "keyfile.h"
#include "knock.h"
#include "harness.h"
#include "run.h"

/* Time limit of one run of the binary. */
#define RUN_MS		5000

/* What one run printed. */
static char cli_out[16384], cli_err[16384];

/*
 * Run the binary with the NULL-terminated ${args} (argv[0] is added) and
 * return its exit code; fail the test if it crashed or hung.
 */
static int
cli_run(const char * const * args)
{
	char * argv[64];
	int status, rc, i;

	argv[0] = (char *)h_bin_relay();
	for (i = 0; args[i] != NULL; i++) {
		cr_assert_lt(i, 62);
		argv[i + 1] = (char *)args[i];
	}
	argv[i + 1] = NULL;
	cr_assert_eq(access(argv[0], X_OK), 0, "%s is not executable (make "
	    "it first, or set L7KK_BIN)", argv[0]);
	rc = run_capture(argv, RUN_MS, &status, cli_out, sizeof(cli_out),
	    cli_err, sizeof(cli_err));
	cr_assert_eq(rc, 0, "%s did not exit within %d ms; stderr: %s",
	    args[0] ? args[0] : "", RUN_MS, cli_err);
	cr_assert(WIFEXITED(status), "%s died of signal %d; stderr: %s",
	    args[0] ? args[0] : "", WIFSIGNALED(status) ? WTERMSIG(status) :
	    0, cli_err);
	return (WEXITSTATUS(status));
}

/* Join ${args} for messages. */
static const char *
cli_id(const char * const * args)
{
	static char buf[1024];
	size_t i;

	buf[0] = '\0';
	for (i = 0; args[i] != NULL && strlen(buf) < 900; i++) {
		if (i > 0)
			strcat(buf, " ");
		strncat(buf, args[i], 64);
	}
	return (buf);
}

/*
 * Check the last run: exit code ${code}, nothing on stdout, and exactly one
 * line on stderr, an error, containing each of the NULL-terminated ${want}.
 */
static void
cli_expect(const char * id, int rc, int code, const char * const * want,
    const char * err)
{
	size_t len = strlen(err), i;

	cr_expect_eq(rc, code, "'%s': exit %d, expected %d; stderr: %s", id,
	    rc, code, cli_err);
	cr_expect_str_eq(cli_out, "", "'%s': stdout", id);
	cr_expect(len > 0 && err[len - 1] == '\n' &&
	    strchr(err, '\n') == err + len - 1,
	    "'%s': expected one line on stderr, got '%s'", id, cli_err);
	cr_expect_eq(strncmp(err, "l7knockknock: error: ", 21), 0,
	    "'%s': expected an error line, got '%s'", id, cli_err);
	for (i = 0; want[i] != NULL; i++)
		cr_expect_neq(strstr(err, want[i]), NULL,
		    "'%s': stderr '%s' does not name '%s'", id, cli_err,
		    want[i]);
}

/*
 * The last line of the last run's stderr, after checking that it holds the
 * only error line.
 */
static const char *
cli_last_line(void)
{
	size_t len = strlen(cli_err);
	const char * p, * last = cli_err;
	int errors = 0;

	for (p = cli_err; p < cli_err + len; p = strchr(p, '\n') + 1) {
		if (strchr(p, '\n') == NULL)
			break;
		if (strncmp(p, "l7knockknock: error: ", 21) == 0)
			errors++;
		last = p;
	}
	cr_expect_eq(errors, 1, "expected one error line, got '%s'", cli_err);
	return (last);
}

/* A usage error and the words its line must contain. */
struct usage_case {
	const char * args[8];
	const char * want[4];
};

static const struct usage_case usage_cases[] = {
	{ { "-x", "k" }, { "unknown option", "not shown", "'--'" } },
	{ { "--bogus", "k" }, { "unknown option", "not shown" } },
	{ { "--listen-port", "1", "k" }, { "unknown option" } },
	{ { "--listen", "127.0.0.1:7", "--listen", "127.0.0.1:7", "--workers",
	    "2", "k" }, { "'127.0.0.1:7'", "twice" } },
	{ { "--normal", "256.1.1.1:80", "k" }, { "'256.1.1.1:80'",
	    "--normal", "0-255" } },
	{ { "--user", "no-such-user-l7kk", "k" }, { "no-such-user-l7kk" } },
	{ { "-p", "70000", "k" }, { "'70000'", "-p/--listenPort",
	    "1-65535" } },
	{ { "--listenPort", "0", "k" }, { "'0'", "-p/--listenPort" } },
	{ { "-n", "abc", "k" }, { "'abc'", "-n/--normalPort", "1-65535" } },
	{ { "-s", "0", "k" }, { "'0'", "-s/--hiddenPort", "1-65535" } },
	{ { "--hiddenPort", "-1", "k" }, { "not shown", "-s/--hiddenPort" } },
	{ { "--listen", "127.0.0.1", "k" }, { "'127.0.0.1'", "--listen",
	    "PORT" } },
	{ { "--listen", "::1:443", "k" }, { "'::1:443'", "--listen",
	    "[IPV6]:PORT" } },
	{ { "--listen", "localhost:443", "k" }, { "'localhost:443'",
	    "--listen" } },
	{ { "--listen", "127.0.0.1:99999", "k" }, { "'127.0.0.1:99999'" } },
	{ { "--normal", "127.0.0.1", "k" }, { "'127.0.0.1'", "--normal",
	    "HOST:PORT" } },
	{ { "--normal", "::1:80", "k" }, { "'::1:80'", "--normal" } },
	{ { "--hidden", "host:0", "k" }, { "'host:0'", "--hidden" } },
	{ { "-k", "5x", "k" }, { "'5x'", "-k/--knockTimeout", "500ms" } },
	{ { "-o", "0", "k" }, { "'0'", "-o/--proxyTimeout", "duration" } },
	{ { "--connect-timeout", "1.5s", "k" }, { "'1.5s'",
	    "--connect-timeout" } },
	{ { "-o", "604801", "k" }, { "'604801'", "7 days" } },
	{ { "--max-conns", "0", "k" }, { "'0'", "--max-conns" } },
	{ { "--accept-proxy", "10.0.0.1/8", "k" }, { "'10.0.0.1/8'",
	    "--accept-proxy", "ADDR/BITS" } },
	{ { "--accept-proxy", "192.0.2.0/33", "k" }, { "'192.0.2.0/33'",
	    "--accept-proxy" } },
	{ { "--accept-proxy", "balancer", "k" }, { "'balancer'",
	    "--accept-proxy" } },
	{ { "a", "b" }, { "extra argument after KNOCK" } },
	{ { "k", "--knock-file", "/nonexistent" }, { "two knocks",
	    "/nonexistent" } },
	{ { NULL }, { "no knock given", "--knock-file" } },
	{ { "-v" }, { "no knock given" } },
	{ { "" }, { "0 bytes", "1 to 256" } },
	{ { "-v", "-q", "k" }, { "'-v'", "'-q'" } },
	{ { "-p", "1", "--listen", "127.0.0.1:1", "k" }, { "-p/--listenPort",
	    "--listen" } },
	{ { "-n", "1", "--normal", "127.0.0.1:1", "k" }, { "--normal" } },
	{ { "k", "-p" }, { "'-p'", "needs a value" } },
	{ { "k", "--normal" }, { "'--normal'", "needs a value" } },
	{ { "--knock-file" }, { "'--knock-file'", "needs a value" } },
};

Test(cli, usage_errors_exit_64_with_one_line, .timeout = 120)
{
	size_t i;
	int rc;

	for (i = 0; i < sizeof(usage_cases) / sizeof(usage_cases[0]); i++) {
		const struct usage_case * c = &usage_cases[i];
		char id[1024];

		strcpy(id, cli_id(c->args));
		rc = cli_run(c->args);
		cli_expect(id, rc, EX_USAGE, c->want, cli_err);
	}
}

Test(cli, knock_of_257_bytes_exits_64, .timeout = 30)
{
	char knock[KNOCK_MAX + 2];
	const char * args[] = { knock, NULL };
	static const char * const want[] = { "257 bytes", "1 to 256", NULL };
	int rc;

	memset(knock, 'Q', KNOCK_MAX + 1);
	knock[KNOCK_MAX + 1] = '\0';
	rc = cli_run(args);
	cli_expect("257-byte knock", rc, EX_USAGE, want, cli_err);
	cr_expect_null(strstr(cli_err, "QQQQ"), "the knock was logged");
}

/* A private directory for knock files. */
static char cli_dir[64];
static char cli_file[128];

static void
cli_dir_make(void)
{

	strcpy(cli_dir, "/tmp/l7kk-cli-XXXXXX");
	cr_assert_neq(mkdtemp(cli_dir), NULL);
	snprintf(cli_file, sizeof(cli_file), "%s/knock", cli_dir);
}

static void
cli_dir_remove(void)
{

	unlink(cli_file);
	rmdir(cli_dir);
}

/* Write the knock file ${cli_file} with ${len} bytes and ${mode}. */
static void
cli_knockfile(const void * buf, size_t len, mode_t mode)
{
	int fd;

	unlink(cli_file);
	cr_assert_neq(fd = open(cli_file, O_WRONLY | O_CREAT | O_EXCL, 0600),
	    -1);
	cr_assert_eq(write(fd, buf, len), (ssize_t)len);
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
}

Test(cli, missing_knock_file_exits_66, .timeout = 30, .init = cli_dir_make,
    .fini = cli_dir_remove)
{
	const char * args[] = { "--knock-file", cli_file, NULL };
	const char * want[] = { cli_file, "No such file", NULL };

	cli_expect("missing knock file", cli_run(args), EX_NOINPUT,
	    want, cli_err);
}

Test(cli, directory_knock_file_exits_66, .timeout = 30,
    .init = cli_dir_make, .fini = cli_dir_remove)
{
	const char * args[] = { "--knock-file", cli_dir, NULL };
	const char * want[] = { cli_dir, "not a regular file", NULL };

	cli_expect("directory knock file", cli_run(args), EX_NOINPUT,
	    want, cli_err);
}

Test(cli, empty_knock_file_exits_66, .timeout = 30, .init = cli_dir_make,
    .fini = cli_dir_remove)
{
	const char * args[] = { "--knock-file", cli_file, NULL };
	const char * want[] = { cli_file, "empty", NULL };

	cli_knockfile("", 0, 0600);
	cli_expect("empty knock file", cli_run(args), EX_NOINPUT,
	    want, cli_err);
	cli_knockfile("\n", 1, 0600);
	cli_expect("newline-only knock file", cli_run(args), EX_NOINPUT,
	    want, cli_err);
}

Test(cli, too_long_knock_file_exits_66, .timeout = 30,
    .init = cli_dir_make, .fini = cli_dir_remove)
{
	const char * args[] = { "--knock-file", cli_file, NULL };
	const char * want[] = { cli_file, "too long", "256", NULL };
	char buf[KNOCK_MAX + 2];

	memset(buf, 'L', sizeof(buf));
	/* 257 bytes and a newline. */
	buf[sizeof(buf) - 1] = '\n';
	cli_knockfile(buf, sizeof(buf), 0600);
	cli_expect("too-long knock file", cli_run(args), EX_NOINPUT,
	    want, cli_err);
	cr_expect_null(strstr(cli_err, "LLLL"), "the knock was logged");
}

/* chroot(2) needs its directory when the binary starts as root. */
static void
cli_var_empty(void)
{

	if (geteuid() == 0 && mkdir("/var/empty", 0755) && errno != EEXIST)
		cr_log_warn("mkdir /var/empty: %s", strerror(errno));
}

/*
 * Run the relay with --normal 127.0.0.1:1, --hidden 127.0.0.1:2 and
 * --knock-file cli_file until it is ready; it must then exit 0 on SIGTERM.
 */
static void
cli_knockfile_ready(void)
{
	struct h_argv A;
	int status, rc;

	h_relay_argv(&(struct h_relay_conf){ .normal = 1, .hidden = 2,
	    .extra = (const char *[]){ "--knock-file", cli_file, NULL } }, &A);
	rc = run_capture_until((char * const *)A.v, 10000, "ready", NULL,
	    NULL, &status, cli_out, sizeof(cli_out), cli_err,
	    sizeof(cli_err));
	cr_assert_eq(rc, 0, "never became ready (rc %d); stderr: %s", rc,
	    cli_err);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "SIGTERM must exit 0: status 0x%x; stderr: %s", status, cli_err);
}

Test(cli, group_readable_knock_file_warns_and_starts, .timeout = 30,
    .init = cli_dir_make, .fini = cli_dir_remove)
{
	char want[512];

	cli_var_empty();
	cli_knockfile("sesame\n", 7, 0644);
	cli_knockfile_ready();
	snprintf(want, sizeof(want), "l7knockknock: warning: knock file '%s' "
	    "is accessible by group or others (mode 0644): chmod 600 it\n",
	    cli_file);
	cr_expect_neq(strstr(cli_err, want), NULL, "no warning in: %s",
	    cli_err);
	cr_expect_null(strstr(cli_err, "sesame"), "the knock was logged");
	cr_expect_neq(strstr(cli_err, "knock of 6 bytes"), NULL, "%s", cli_err);
}

Test(cli, private_knock_file_starts_without_warning, .timeout = 30,
    .init = cli_dir_make, .fini = cli_dir_remove)
{

	cli_var_empty();
	cli_knockfile("sesame\r\n", 8, 0600);
	cli_knockfile_ready();
	cr_expect_null(strstr(cli_err, "warning: knock file"), "%s", cli_err);
	cr_expect_neq(strstr(cli_err, "knock of 6 bytes"), NULL, "%s", cli_err);
}

Test(cli, unresolvable_host_exits_68, .timeout = 30)
{
	static const char * const normal[] = { "--normal",
	    "no-such-host.invalid:80", "k", NULL };
	static const char * const hidden[] = { "--hidden",
	    "no-such-host.invalid:22", "k", NULL };
	static const char * const want[] = { "'no-such-host.invalid'",
	    "resolve", NULL };

	cli_expect("--normal", cli_run(normal), EX_NOHOST, want, cli_err);
	cli_expect("--hidden", cli_run(hidden), EX_NOHOST, want, cli_err);
}

/* Listen on ${family} loopback, any port; return the socket and port. */
static int
cli_occupy(int family, uint16_t * port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in * sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 * sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	if ((fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 1) ||
	    getsockname(fd, (struct sockaddr *)&ss, &len)) {
		close(fd);
		return (-1);
	}
	*port = ntohs(family == AF_INET ? sin->sin_port : sin6->sin6_port);
	return (fd);
}

Test(cli, address_in_use_exits_69, .timeout = 30)
{
	char addr[64], msg[64], pstr[16];
	const char * args[] = { "--listen", addr, "k", NULL };
	const char * second[] = { "--listen", "127.0.0.1:0", "--listen",
	    addr, "k", NULL };
	const char * dash_p[] = { "-p", pstr, "k", NULL };
	const char * want[] = { msg, "in use", NULL };
	uint16_t port;
	int fd;

	cr_assert_neq(fd = cli_occupy(AF_INET, &port), -1);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)port);
	snprintf(msg, sizeof(msg), "127.0.0.1:%u", (unsigned)port);
	cli_expect("--listen in use", cli_run(args), EX_UNAVAILABLE,
	    want, cli_err);

	/*
	 * The first listener is up (and may say so) when the second fails:
	 * the error must still be the one and last error line.
	 */
	cr_expect_eq(cli_run(second), EX_UNAVAILABLE, "second: %s", cli_err);
	cli_expect("second --listen in use", EX_UNAVAILABLE, EX_UNAVAILABLE,
	    want, cli_last_line());

	/* -p PORT is 0.0.0.0:PORT, which overlaps 127.0.0.1:PORT. */
	snprintf(pstr, sizeof(pstr), "%u", (unsigned)port);
	snprintf(msg, sizeof(msg), "0.0.0.0:%u", (unsigned)port);
	cli_expect("-p in use", cli_run(dash_p), EX_UNAVAILABLE, want, cli_err);
	close(fd);
}

Test(cli, ipv6_address_in_use_exits_69, .timeout = 30)
{
	char addr[64], msg[64];
	const char * args[] = { "--listen", addr, "k", NULL };
	const char * want[] = { msg, "in use", NULL };
	uint16_t port;
	int fd;

	if ((fd = cli_occupy(AF_INET6, &port)) == -1)
		cr_skip_test("no IPv6 loopback here");
	snprintf(addr, sizeof(addr), "[::1]:%u", (unsigned)port);
	snprintf(msg, sizeof(msg), "[::1]:%u", (unsigned)port);
	cli_expect("[::1] in use", cli_run(args), EX_UNAVAILABLE,
	    want, cli_err);
	close(fd);
}

/* --help, -?, --version: exit 0, the text on stdout, nothing on stderr. */
Test(cli, help_and_version_exit_0_on_stdout, .timeout = 30)
{
	static const struct {
		const char * args[4];
		const char * want;
	} cases[] = {
		{ { "--help" }, "usage: l7knockknock" },
		{ { "-?" }, "usage: l7knockknock" },
		{ { "-v", "-?" }, "usage: l7knockknock" },
		{ { "--version" }, "l7knockknock " VERSION "\n" },
		{ { "-V" }, "l7knockknock " VERSION "\n" },
	};
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char id[256];

		strcpy(id, cli_id(cases[i].args));
		rc = cli_run(cases[i].args);
		cr_expect_eq(rc, 0, "'%s': exit %d; stderr: %s", id, rc,
		    cli_err);
		cr_expect_str_eq(cli_err, "", "'%s': stderr", id);
		cr_expect_eq(strncmp(cli_out, cases[i].want,
		    strlen(cases[i].want)), 0, "'%s': stdout '%.80s'", id,
		    cli_out);
	}
}

/* Very long bad values: still exit 64 with one (possibly cut) line. */
Test(cli, huge_values_exit_64_with_one_line, .timeout = 30)
{
	static char big[30001], host[10010], port[5001];
	const char * knock[] = { big, NULL };
	const char * normal[] = { "--normal", host, "k", NULL };
	const char * dash_p[] = { "-p", port, "k", NULL };
	static const char * const want_knock[] = { "30000 bytes", NULL };
	static const char * const want_host[] = { "--normal", "'aaaa",
	    NULL };
	static const char * const want_port[] = { "-p/--listenPort",
	    "'9999", NULL };

	memset(big, 'b', sizeof(big) - 1);
	memset(host, 'a', 10000);
	strcpy(host + 10000, ":80");
	memset(port, '9', sizeof(port) - 1);
	cli_expect("30000-byte knock", cli_run(knock), EX_USAGE, want_knock,
	    cli_err);
	cr_expect_null(strstr(cli_err, "bbbb"), "the knock was logged");
	cli_expect("10000-byte host", cli_run(normal), EX_USAGE, want_host,
	    cli_err);
	cli_expect("5000-digit port", cli_run(dash_p), EX_USAGE, want_port,
	    cli_err);
}

/* An unknown --user is a usage error found before anything is bound. */
Test(cli, unknown_user_exits_64_before_binding, .timeout = 30)
{
	char addr[64];
	const char * args[] = { "-q", "--listen", addr, "--user",
	    "no-such-user-l7kk", "k", NULL };
	const char * numeric[] = { "-q", "--listen", addr, "--user",
	    "4000000000", "k", NULL };
	static const char * const want[] = { "--user no-such-user-l7kk",
	    "no such user", NULL };
	static const char * const want_num[] = { "--user 4000000000", NULL };
	uint16_t port;
	int fd;

	/* The address is taken: binding first would exit 69. */
	cr_assert_neq(fd = cli_occupy(AF_INET, &port), -1);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", (unsigned)port);
	cli_var_empty();
	cli_expect("--user unknown", cli_run(args), EX_USAGE, want, cli_err);
	cli_expect("--user unknown uid", cli_run(numeric), EX_USAGE, want_num,
	    cli_err);
	close(fd);
}

/* --user 65534 and --user 65534:65534 are users too. */
Test(cli, numeric_user_is_accepted, .timeout = 30)
{
	char * argv[] = { (char *)h_bin_relay(), "--listen", "127.0.0.1:0",
	    "--normal", "127.0.0.1:1", "--hidden", "127.0.0.1:2", "--user",
	    NULL, "k", NULL };
	static char * const users[] = { "65534", "65534:65534" };
	char want[128];
	size_t i;
	int status, rc;

	if (geteuid() != 0)
		cr_skip_test("switching user needs root");
	if (getpwuid(65534) == NULL)
		cr_skip_test("no user with uid 65534 here");
	cli_var_empty();
	for (i = 0; i < 2; i++) {
		argv[8] = users[i];
		rc = run_capture_until(argv, 10000, "ready", NULL, NULL,
		    &status, cli_out, sizeof(cli_out), cli_err,
		    sizeof(cli_err));
		cr_expect_eq(rc, 0, "--user %s: never ready; stderr: %s",
		    users[i], cli_err);
		snprintf(want, sizeof(want), "user %s (uid 65534 gid 65534)",
		    users[i]);
		cr_expect_neq(strstr(cli_err, want), NULL, "--user %s: %s",
		    users[i], cli_err);
	}
}

Test(cli, unsafe_chroot_exits_71_with_one_line, .timeout = 30)
{
	char dir[] = "/tmp/l7kk-chroot-cli-XXXXXX", file[64];
	const char * args[] = { "-q", "--listen", "127.0.0.1:0", "--chroot",
	    dir, "k", NULL };
	const char * want[] = { dir, NULL };
	int rc, fd;

	if (geteuid() != 0)
		cr_skip_test("the chroot is used only when started as root");
	cr_assert_neq(mkdtemp(dir), NULL);

	/* Writable by others. */
	cr_assert_eq(chmod(dir, 0777), 0);
	rc = cli_run(args);
	cli_expect("--chroot writable by others", rc, 71, want, cli_err);

	/* Not empty. */
	cr_assert_eq(chmod(dir, 0755), 0);
	snprintf(file, sizeof(file), "%s/x", dir);
	cr_assert((fd = open(file, O_CREAT | O_WRONLY, 0600)) >= 0);
	close(fd);
	rc = cli_run(args);
	cli_expect("--chroot not empty", rc, 71, want, cli_err);
	unlink(file);
	rmdir(dir);
}

/* A FIFO (or a symlink to one) as knock file: exit 66 at once, one line. */
Test(cli, fifo_knock_file_exits_66_without_blocking, .timeout = 30,
    .init = cli_dir_make, .fini = cli_dir_remove)
{
	char link[160];
	const char * args[] = { "--knock-file", cli_file, NULL };
	const char * largs[] = { "--knock-file", link, NULL };
	const char * want[] = { cli_file, "not a regular file", NULL };
	const char * lwant[] = { link, "not a regular file", NULL };

	cr_assert_eq(mkfifo(cli_file, 0600), 0);
	snprintf(link, sizeof(link), "%s/link", cli_dir);
	cr_assert_eq(symlink(cli_file, link), 0);
	cli_expect("FIFO knock file", cli_run(args), EX_NOINPUT, want,
	    cli_err);
	cli_expect("symlink to a FIFO", cli_run(largs), EX_NOINPUT, lwant,
	    cli_err);
	unlink(link);
}

/*
 * A knock that starts with '-' given without '--' is parsed as options:
 * refused, and no part of it is ever printed; after '--' it is the knock.
 */
Test(cli, knock_that_starts_with_dash_is_never_echoed, .timeout = 60)
{
	static const char * const knocks[] = { "-s3cretZZ", "--s3cretZZ",
	    "--s3cretZZ=x", "-Zs3cretZZ", "-vk3cretZZ", "-qp3cretZZ",
	    "--verbose=s3cretZZ", "-n3cretZZ", "-k" };
	char * argv[] = { (char *)h_bin_relay(), "--listen", "127.0.0.1:0",
	    "--normal", "127.0.0.1:1", "--hidden", "127.0.0.1:2", "--",
	    "-s3cretZZ", NULL };
	const char * args[3] = { NULL, "-s3cretZZ", NULL };
	size_t i;
	int rc, status;

	for (i = 0; i < sizeof(knocks) / sizeof(knocks[0]); i++) {
		args[0] = knocks[i];
		/* The last: "-k -s3cretZZ", a value forgotten. */
		args[1] = (i + 1 < sizeof(knocks) / sizeof(knocks[0])) ? "k" :
		    "-s3cretZZ";
		rc = cli_run(args);
		cr_expect_neq(rc, 0, "'%s' was accepted", knocks[i]);
		cr_expect_null(strstr(cli_err, "3cretZZ"),
		    "'%s': the knock was printed: %s", knocks[i], cli_err);
	}

	/* After '--' it is the knock. */
	cli_var_empty();
	rc = run_capture_until(argv, 10000, "ready", NULL, NULL, &status,
	    cli_out, sizeof(cli_out), cli_err, sizeof(cli_err));
	cr_expect_eq(rc, 0, "-- -s3cretZZ: never ready; stderr: %s", cli_err);
	cr_expect_neq(strstr(cli_err, "knock of 9 bytes"), NULL, "%s", cli_err);
	cr_expect_null(strstr(cli_err, "3cretZZ"), "%s", cli_err);
}

/*
 * Tests that change this test process's view of the file system: a mount
 * namespace of its own (Criterion runs each test in its own process), so
 * nothing outside sees it.  Root only.
 */
static void
cli_private_mounts(void)
{

	if (geteuid() != 0)
		cr_skip_test("a private mount namespace needs root");
	if (unshare(CLONE_NEWNS) != 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
		cr_skip_test("no private mount namespace here: %s",
		    strerror(errno));
}

/*
 * Run the binary with ${args}, stdout and stderr captured, and descriptor
 * 0 closed if ${close0} (else left as it is: run_capture needs /dev/null).
 */
static int
cli_run_raw(const char * const * args, int close0)
{
	char * argv[16];
	int po[2], pe[2], st, i;
	pid_t pid;
	FILE * f;
	size_t n;

	argv[0] = (char *)h_bin_relay();
	for (i = 0; args[i] != NULL && i < 14; i++)
		argv[i + 1] = (char *)args[i];
	argv[i + 1] = NULL;
	cr_assert(pipe(po) == 0 && pipe(pe) == 0);
	fflush(NULL);
	cr_assert((pid = fork()) != -1);
	if (pid == 0) {
		if (dup2(po[1], 1) == -1 || dup2(pe[1], 2) == -1)
			_exit(126);
		close_range(3, ~0U, 0);
		if (close0)
			close(0);
		execv(argv[0], argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	cr_assert(waitpid(pid, &st, 0) == pid);
	f = fdopen(po[0], "r");
	n = fread(cli_out, 1, sizeof(cli_out) - 1, f);
	cli_out[n] = '\0';
	fclose(f);
	f = fdopen(pe[0], "r");
	n = fread(cli_err, 1, sizeof(cli_err) - 1, f);
	cli_err[n] = '\0';
	fclose(f);
	cr_assert(WIFEXITED(st), "died: status 0x%x", st);
	return (WEXITSTATUS(st));
}

/*
 * Without /dev/null: --version and --help still work (descriptors 0-2 are
 * open, so /dev/null is not needed); with descriptor 0 closed it is, and
 * the refusal (exit 71) says why in one line.
 */
Test(cli, no_dev_null_version_works_and_closed_stdin_says_why,
    .timeout = 30)
{
	static const char * const version[] = { "--version", NULL };
	static const char * const help[] = { "--help", NULL };
	static const char * const run[] = { "--listen", "127.0.0.1:0", "k",
	    NULL };
	static const char * const want[] = { "descriptor 0 is closed",
	    "/dev/null", NULL };

	cli_private_mounts();
	cr_assert_eq(mount("tmpfs", "/dev", "tmpfs", 0, "size=64k"), 0,
	    "mount tmpfs on /dev: %s", strerror(errno));
	cr_assert_neq(access("/dev/null", F_OK), 0, "/dev/null is still there");

	cr_expect_eq(cli_run_raw(version, 0), 0, "--version: %s", cli_err);
	cr_expect_str_eq(cli_out, "l7knockknock " VERSION "\n");
	cr_expect_str_eq(cli_err, "");
	cr_expect_eq(cli_run_raw(help, 0), 0, "--help: %s", cli_err);
	cr_expect_neq(strstr(cli_out, "usage: l7knockknock"), NULL);

	cli_expect("fd 0 closed, no /dev/null", cli_run_raw(run, 1), EX_OSERR,
	    want, cli_err);
}

/* A hosts file that gives the name l7kk-two ::1 first, then 127.0.0.1. */
static void
cli_two_address_name(void)
{
	static const char hosts[] = "::1 l7kk-two\n127.0.0.1 l7kk-two\n"
	    "127.0.0.1 localhost\n";
	char path[] = "/tmp/l7kk-hosts-XXXXXX";
	int fd;

	cr_assert((fd = mkstemp(path)) != -1);
	cr_assert(write(fd, hosts, sizeof(hosts) - 1) ==
	    (ssize_t)(sizeof(hosts) - 1));
	close(fd);
	cr_assert_eq(mount(path, "/etc/hosts", NULL, MS_BIND, NULL), 0,
	    "bind-mount over /etc/hosts: %s", strerror(errno));
	unlink(path);
}

/*
 * --normal NAME:PORT where NAME has ::1 first and the backend listens on
 * 127.0.0.1 only: the relay tries each address at start and uses the one
 * that answers, and says so.
 */
Test(cli, backend_name_uses_the_address_that_answers, .timeout = 30)
{
	char normal[64], want[128];
	char * argv[] = { (char *)h_bin_relay(), "--listen", "127.0.0.1:0",
	    "--normal", normal, "--hidden", "127.0.0.1:2", "k", NULL };
	uint16_t port;
	int fd, status, rc, six;

	cli_private_mounts();
	cli_two_address_name();
	cli_var_empty();
	cr_assert_neq(fd = cli_occupy(AF_INET, &port), -1);
	six = cli_occupy(AF_INET6, &(uint16_t){ 0 });
	if (six == -1)
		cr_skip_test("no IPv6 loopback: the name has one address");
	close(six);
	snprintf(normal, sizeof(normal), "l7kk-two:%u", (unsigned)port);
	rc = run_capture_until(argv, 10000, "ready", NULL, NULL, &status,
	    cli_out, sizeof(cli_out), cli_err, sizeof(cli_err));
	cr_expect_eq(rc, 0, "never ready; stderr: %s", cli_err);
	snprintf(want, sizeof(want), "host 'l7kk-two' has 2 addresses: using "
	    "127.0.0.1:%u", (unsigned)port);
	cr_expect_neq(strstr(cli_err, want), NULL, "%s", cli_err);
	snprintf(want, sizeof(want), "route normal: backend 127.0.0.1:%u",
	    (unsigned)port);
	cr_expect_neq(strstr(cli_err, want), NULL, "%s", cli_err);

	/* Nobody listening at all: the first, with a warning. */
	close(fd);
	rc = run_capture_until(argv, 10000, "ready", NULL, NULL, &status,
	    cli_out, sizeof(cli_out), cli_err, sizeof(cli_err));
	cr_expect_eq(rc, 0, "never ready; stderr: %s", cli_err);
	snprintf(want, sizeof(want), "warning: host 'l7kk-two' has 2 "
	    "addresses and none accepted a connection now: using the first, "
	    "[::1]:%u", (unsigned)port);
	cr_expect_neq(strstr(cli_err, want), NULL, "%s", cli_err);
}

/* The number of error lines the last run wrote. */
static int
cli_errors(void)
{
	const char * p;
	int n = 0;

	for (p = cli_err; (p = strstr(p, "l7knockknock: error: ")) != NULL;
	    p++)
		n++;
	return (n);
}

/* --gen-key: mode 0600, the relay's user's, a key keyfile reads, once. */
Test(cli, gen_key_makes_a_private_key_never_overwritten, .timeout = 30,
    .init = cli_dir_make, .fini = cli_dir_remove)
{
	const char * args[] = { "--gen-key", cli_file, "--user", "65534:65534",
	    NULL };
	const char * mine[] = { "--gen-key", cli_file, NULL };
	const char * want[] = { cli_file, "exists", "never overwritten", NULL };
	uint8_t key[KEYFILE_KEYLEN];
	char buf[128];
	struct stat st;
	ssize_t n;
	int fd;

	cr_assert_eq(cli_run(geteuid() == 0 ? args : mine), 0, "%s", cli_err);
	cr_assert_eq(stat(cli_file, &st), 0);
	cr_expect_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);
	cr_expect_eq(st.st_uid, geteuid() == 0 ? 65534 : geteuid());
	cr_expect_eq(st.st_gid, geteuid() == 0 ? 65534 : getegid());
	cr_assert_geq(fd = open(cli_file, O_RDONLY), 0);
	n = read(fd, buf, sizeof(buf));
	close(fd);
	cr_assert_eq(n, KEYFILE_B64LEN + 1);
	cr_expect_eq(keyfile_parse(buf, (size_t)n, key), KEYFILE_OK);

	/* Never overwritten: refused, naming it, the key unchanged. */
	cli_expect("gen-key again", cli_run(mine), EX_CANTCREAT, want,
	    cli_err);
	cr_assert_geq(fd = open(cli_file, O_RDONLY), 0);
	cr_expect_eq(read(fd, buf + 64, 64), KEYFILE_B64LEN + 1);
	close(fd);
	cr_expect_eq(memcmp(buf, buf + 64, KEYFILE_B64LEN + 1), 0);
}

/* --check: 0 when good; one line per problem, non-zero, otherwise. */
Test(cli, check_reads_secrets_as_the_user_and_resolves, .timeout = 60,
    .init = cli_dir_make, .fini = cli_dir_remove)
{
	const char * gen[] = { "--gen-key", cli_file, "--user", "65534:65534",
	    NULL };
	const char * mine[] = { "--gen-key", cli_file, NULL };
	const char * ok[] = { "--check", "--key-file", cli_file, "--user",
	    "65534:65534", "--normal", "127.0.0.1:1", NULL };
	const char * bad_opt[] = { "--check", "--frobnicate", NULL };
	const char * bad_host[] = { "--check", "--key-file", cli_file,
	    "--user", "65534:65534", "--hidden", "no-such-host.invalid:22",
	    NULL };
	const char * want_host[] = { "no-such-host.invalid", NULL };
	const char * want_key[] = { cli_file, "Permission denied", NULL };

	if (geteuid() != 0) {
		ok[3] = bad_host[3] = NULL;
		cr_assert_eq(cli_run(mine), 0, "%s", cli_err);
	} else {
		cr_assert_eq(chmod(cli_dir, 0755), 0);
		cr_assert_eq(cli_run(gen), 0, "%s", cli_err);
	}
	cr_expect_eq(cli_run(ok), 0, "check: %s", cli_err);
	cr_expect_eq(cli_errors(), 0, "%s", cli_err);
	cr_expect_eq(cli_run(bad_opt), EX_USAGE);
	cr_expect_eq(cli_errors(), 1, "%s", cli_err);
	cli_expect("check, unresolvable backend", cli_run(bad_host), EX_CONFIG,
	    want_host, cli_err);
	if (geteuid() != 0)
		return;

	/* A key only root can read: refused as the relay's user. */
	cr_assert_eq(chown(cli_file, 0, 0), 0);
	cli_expect("check, key unreadable by the user", cli_run(ok), EX_CONFIG,
	    want_key, cli_err);
	cr_expect_eq(cli_run(bad_host), EX_CONFIG);
	cr_expect_eq(cli_errors(), 2, "one line per problem: %s", cli_err);
}
