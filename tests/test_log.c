/*
 * The log: its unit functions in this process (stderr redirected), and the
 * real binary with a stderr nobody reads, a journal socket, --log-time,
 * SIGHUP and an accept pause.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "log.h"
#include "run.h"

#define KNOCK	"open-sesame"

/* RFC 3339 UTC with milliseconds, then the program name. */
#define TIME_RE	"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}" \
		"\\.[0-9]{3}Z l7knockknock: "

/* Read what is in ${fd} now (up to ${max} - 1 bytes), NUL-terminated. */
static size_t
drain(int fd, char * buf, size_t max, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = 0;
	ssize_t n;

	while (len + 1 < max && poll(&pfd, 1, ms) == 1) {
		if ((n = read(fd, buf + len, max - 1 - len)) <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return (len);
}

/* Make ${fd} (a pipe's write end) this process's non-blocking stderr. */
static void
stderr_to(int fd)
{

	cr_assert(dup2(fd, STDERR_FILENO) == STDERR_FILENO);
}

/* Is [p, nl) one whole line: the name once, at the start? */
static int
line_whole(const char * p, const char * nl)
{

	return (strncmp(p, "l7knockknock: ", 14) == 0 &&
	    memmem(p + 1, (size_t)(nl - p - 1), "l7knockknock", 12) == NULL);
}

/* ---------------------------------------------------------------- */
/* Unit tests. */

Test(log, format_time_matches_gmtime)
{
	static const int64_t when[] = {
		0, 59, 86399, 86400, 951782400, 951868799, 1709164800,
		1796116535, 4107542399LL, 4107542400LL, 253402300799LL,
		-1, -86400, -86401
	};
	char got[32], want[32];
	struct tm tm;
	size_t i, n;
	time_t t;
	int64_t s;

	for (i = 0; i < sizeof(when) / sizeof(when[0]); i++) {
		t = (time_t)when[i];
		cr_assert(gmtime_r(&t, &tm) != NULL);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S", &tm);
		strcat(want, ".042Z");
		n = log_format_time(got, sizeof(got), when[i], 42);
		cr_assert_str_eq(got, want, "%lld", (long long)when[i]);
		cr_assert_eq(n, strlen(want));
	}

	/* Every day for 400 years (a whole Gregorian cycle), at noon. */
	for (s = 946728000LL; s < 946728000LL + 146097LL * 86400; s += 86400) {
		t = (time_t)s;
		gmtime_r(&t, &tm);
		strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%S.999Z", &tm);
		log_format_time(got, sizeof(got), s, 999);
		cr_assert_str_eq(got, want);
	}
	cr_assert_eq(log_format_time(got, 24, 0, 0), 0, "no room, no text");
	cr_assert(log_format_time(got, 25, 0, 0) == 24);
	cr_assert_str_eq(got, "1970-01-01T00:00:00.000Z");
}

Test(log, rate_limits_and_counts)
{
	struct run_redirect rd;
	struct log_rate r;
	char out[4096];
	uint64_t t;

	memset(&r, 0, sizeof(r));
	cr_assert(run_redirect_begin(&rd, STDERR_FILENO) == 0);
	/* Every 100 ms for 10 s, as an accept pause does, then once more. */
	for (t = 1000; t < 1000 + LOG_RATE_MS; t += 100)
		log_rate(&r, t, LOG_WARN, "paused %d", 7);
	log_rate(&r, 1000 + LOG_RATE_MS, LOG_WARN, "paused %d", 8);
	errno = EMFILE;
	log_rate_errno(&r, 1000 + LOG_RATE_MS + 1, LOG_ERR, "accept");
	log_rate_errno(&r, 1000 + 2 * LOG_RATE_MS, LOG_ERR, "accept");
	cr_assert(run_redirect_end(&rd, out, sizeof(out)) >= 0);
	cr_assert_str_eq(out,
	    "l7knockknock: warning: paused 7\n"
	    "l7knockknock: warning: paused 8 (99 more suppressed)\n"
	    "l7knockknock: error: accept: Too many open files"
	    " (1 more suppressed)\n");
}

Test(log, rate_respects_level)
{
	struct run_redirect rd;
	struct log_rate r;
	char out[256];

	memset(&r, 0, sizeof(r));
	log_setlevel(LOG_ERR);
	cr_assert(run_redirect_begin(&rd, STDERR_FILENO) == 0);
	log_rate(&r, 5, LOG_WARN, "hidden");
	cr_assert(run_redirect_end(&rd, out, sizeof(out)) >= 0);
	cr_assert_str_eq(out, "");
	cr_assert_eq(r.suppressed, 0, "a hidden level is not counted");
}

Test(log, full_pipe_drops_and_counts)
{
	char buf[1 << 17];
	int p[2], i;

	cr_assert(pipe2(p, O_NONBLOCK) == 0);
	stderr_to(p[1]);
	for (i = 0; i < 5000; i++)
		log_info("line %d of a log that nobody reads for now", i);
	cr_assert(log_dropped() > 0, "a full pipe drops lines");
	cr_assert(drain(p[0], buf, sizeof(buf), 0) > 0);
	log_info("after");
	drain(p[0], buf, sizeof(buf), 100);
	dup2(p[0], STDERR_FILENO);	/* Criterion's stderr is gone anyway. */
	cr_assert(strstr(buf, " log lines dropped\n") != NULL, "%s", buf);
	cr_assert(strstr(buf, "lines dropped\nl7knockknock: after\n") != NULL,
	    "the count comes right before the next line: %s", buf);
	cr_assert_eq(log_dropped(), 0);
	cr_assert(strncmp(buf, "l7knockknock: warning: ", 23) == 0, "%s", buf);
	cr_assert(atoi(buf + 23) > 1000, "%s", buf);
}

Test(log, reopen_leaves_the_other_holder_blocking)
{
	int p[2], fl;
	char buf[256];

	cr_assert(pipe(p) == 0);
	stderr_to(p[1]);
	log_open(0);
	fl = fcntl(STDERR_FILENO, F_GETFL);
	cr_assert(fl & O_NONBLOCK, "the log's own stderr does not block");
	fl = fcntl(p[1], F_GETFL);
	cr_assert(!(fl & O_NONBLOCK), "the other holder still blocks");
	log_warn("through the new description");
	drain(p[0], buf, sizeof(buf), 100);
	cr_assert_str_eq(buf, "l7knockknock: warning: through the new "
	    "description\n");
}

/* Make a socket pair; ${sv}[1] is stderr; set JOURNAL_STREAM to it or not. */
static void
journal_setup(int sv[2], int match)
{
	struct stat st;
	char env[64];

	cr_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	cr_assert(fstat(sv[1], &st) == 0);
	snprintf(env, sizeof(env), "%llu:%llu",
	    (unsigned long long)st.st_dev,
	    (unsigned long long)st.st_ino + (match ? 0 : 1));
	cr_assert(setenv("JOURNAL_STREAM", env, 1) == 0);
}

Test(log, journal_priorities)
{
	char buf[1024];
	int sv[2];

	journal_setup(sv, 1);
	stderr_to(sv[1]);
	log_open(1);		/* --log-time is not used in the journal. */
	log_setlevel(LOG_DEBUG);
	log_err("e");
	log_warn("w");
	log_info("i");
	log_debug("d");
	drain(sv[0], buf, sizeof(buf), 100);
	cr_assert_str_eq(buf, "<3>error: e\n<4>warning: w\n<6>i\n<7>debug: d\n");
}

Test(log, journal_stream_of_another_file_is_ignored)
{
	char buf[1024];
	int sv[2];

	journal_setup(sv, 0);
	stderr_to(sv[1]);
	log_open(0);
	log_info("i");
	drain(sv[0], buf, sizeof(buf), 100);
	cr_assert_str_eq(buf, "l7knockknock: i\n");
}

Test(log, full_socket_drops_whole_lines)
{
	static char buf[1 << 20];
	int sv[2], i, sz = 4096;
	char * p, * nl;

	cr_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	stderr_to(sv[1]);
	log_open(0);
	for (i = 0; i < 3000; i++)
		log_info("line %d of a journal that is stuck", i);
	cr_assert(log_dropped() > 0);
	drain(sv[0], buf, sizeof(buf), 50);
	log_info("after");
	drain(sv[0], buf + strlen(buf), sizeof(buf) - strlen(buf), 100);
	cr_assert(strstr(buf, " log lines dropped\nl7knockknock: after\n"),
	    "%s", buf);
	/* Every line is whole. */
	for (p = buf; (nl = strchr(p, '\n')) != NULL; p = nl + 1)
		cr_assert(line_whole(p, nl), "%.80s", p);
	cr_assert_eq(*p, '\0');
}

/* A terminal takes part of a line when nearly full: the rest goes next. */
Test(log, full_terminal_keeps_lines_whole)
{
	static char buf[1 << 20];
	struct termios tio;
	int m, sl, i, n = 0;
	char * p, * nl;

	cr_assert((m = posix_openpt(O_RDWR | O_NOCTTY)) != -1);
	cr_assert(grantpt(m) == 0 && unlockpt(m) == 0);
	cr_assert((sl = open(ptsname(m), O_RDWR | O_NOCTTY)) != -1);
	cr_assert(tcgetattr(sl, &tio) == 0);
	cfmakeraw(&tio);
	cr_assert(tcsetattr(sl, TCSANOW, &tio) == 0);
	stderr_to(sl);
	log_open(0);
	cr_assert(fcntl(STDERR_FILENO, F_GETFL) & O_NONBLOCK);
	cr_assert(!(fcntl(sl, F_GETFL) & O_NONBLOCK));
	for (i = 0; i < 4000; i++)
		log_info("line %d %.*s", i, i % 97, "................................"
		    "................................................................"
		    "..........");
	cr_assert(log_dropped() > 0, "a terminal nobody reads fills up");
	n = (int)drain(m, buf, sizeof(buf), 50);
	log_info("after");
	drain(m, buf + n, sizeof(buf) - (size_t)n, 200);
	cr_assert(strstr(buf, " log lines dropped\nl7knockknock: after\n"),
	    "%.300s", buf);
	for (p = buf; (nl = strchr(p, '\n')) != NULL; p = nl + 1)
		cr_assert(line_whole(p, nl), "cut: %.80s", p);
	cr_assert_eq(*p, '\0');
}

Test(log, worker_number)
{

	cr_assert_eq(log_worker(), 0);
	log_setworker(3);
	cr_assert_eq(log_worker(), 3);
}

/* ---------------------------------------------------------------- */
/* The real binary with a stderr of the test's making. */

static struct h_backend normal, hidden;

/* A relay started with ${errfd} as its stderr. */
struct spawned {
	pid_t pid;
	uint16_t port;
};

/* Start the relay with stderr ${errfd}; ${readfd} gives its first lines. */
static void
spawn(struct spawned * S, int errfd, int readfd, const char * const * extra,
    char * log, size_t logmax)
{
	struct h_argv A;
	const char * p;
	size_t len = 0;
	uint64_t end;

	h_backend_start(&normal, &(struct h_backend_conf){ .family = AF_INET,
	    .mode = H_ECHO, .name = "normal" });
	h_backend_start(&hidden, &(struct h_backend_conf){ .family = AF_INET,
	    .mode = H_ECHO, .name = "hidden" });
	if (geteuid() == 0)
		(void)mkdir("/var/empty", 0755);
	h_relay_argv(&(struct h_relay_conf){ .family = AF_INET,
	    .normal = normal.port, .hidden = hidden.port, .extra = extra,
	    .knock = KNOCK }, &A);
	fflush(NULL);
	cr_assert((S->pid = fork()) != -1);
	if (S->pid == 0) {
		dup2(errfd, STDERR_FILENO);
		close_range(3, ~0U, 0);
		execv(A.v[0], (char * const *)A.v);
		_exit(127);
	}

	/* The start-up lines, up to "ready". */
	end = h_now_ms() + 5000;
	log[0] = '\0';
	while (strstr(log, "ready\n") == NULL && h_now_ms() < end)
		len += drain(readfd, log + len, logmax - len, 100);
	if (strstr(log, "ready\n") == NULL) {
		kill(S->pid, SIGKILL);
		waitpid(S->pid, NULL, 0);
		cr_assert_fail("relay did not start: %s", log);
	}
	cr_assert((p = strstr(log, "listening on 127.0.0.1:")) != NULL);
	S->port = (uint16_t)atoi(p + 23);
}

/* Send SIGTERM; return the wait status, or -1 if not gone in ${ms}. */
static int
stop(struct spawned * S, int ms)
{
	uint64_t end = h_now_ms() + (uint64_t)ms;
	int st;

	kill(S->pid, SIGTERM);
	do {
		if (waitpid(S->pid, &st, WNOHANG) == S->pid)
			return (st);
		usleep(2000);
	} while (h_now_ms() < end);
	kill(S->pid, SIGKILL);
	waitpid(S->pid, &st, 0);
	return (-1);
}

/* A normal-route request, longer than the knock (no knock timeout). */
#define PING	"ping, not a knock\n"
#define PLEN	(sizeof(PING) - 1)

/* One normal-route connection: PING echoed back; 1 if served. */
static int
serve_one(uint16_t port)
{
	char buf[PLEN];
	int fd = h_connect(AF_INET, port);
	size_t got;

	h_send_all(fd, PING, PLEN);
	got = h_recv(fd, buf, PLEN, 3000);
	close(fd);
	return (got == PLEN && memcmp(buf, PING, PLEN) == 0);
}

/* Serve ${n} connections one after another; how many were served. */
static unsigned
serve_many(uint16_t port, unsigned n, uint64_t end)
{
	unsigned i;

	for (i = 0; i < n && h_now_ms() < end; i++)
		if (!serve_one(port))
			break;
	return (i);
}

/*
 * ${n} connections, each served, while nobody reads ${rfd}; once drained,
 * the log counts the lines dropped; then, full again, SIGTERM is obeyed
 * at once.
 */
static void
flood(int wfd, int rfd, unsigned n)
{
	static char log[1 << 20];
	struct spawned S;
	uint64_t t0, end = h_now_ms() + 60000;
	unsigned i;
	size_t len;
	int st;
	char * p;

	spawn(&S, wfd, rfd, NULL, log, sizeof(log));
	if ((i = serve_many(S.port, n, end)) < n)
		stop(&S, 100);
	cr_assert_eq(i, n, "only %u of %u connections served", i, n);

	/* Drained, the next line that fits is preceded by the count. */
	len = drain(rfd, log, sizeof(log), 100);
	cr_assert(serve_one(S.port));
	drain(rfd, log + len, sizeof(log) - len, 200);
	p = strstr(log, " log lines dropped\n");
	if (p == NULL)
		stop(&S, 100);
	cr_assert(p != NULL, "no dropped count in:\n%.2000s", log);
	while (p > log && p[-1] >= '0' && p[-1] <= '9')
		p--;
	cr_assert(atoi(p) > 0);

	/* Full again: SIGTERM at once, though its line cannot be written. */
	if ((i = serve_many(S.port, 300, end)) < 300)
		stop(&S, 100);
	cr_assert_eq(i, 300, "only %u of 300 connections served", i);
	t0 = h_now_ms();
	st = stop(&S, 1000);
	cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "SIGTERM: status %d", st);
	cr_assert(h_now_ms() - t0 < 1000);
	h_backend_stop(&normal);
	h_backend_stop(&hidden);
}

Test(log, unread_pipe_never_stops_the_relay, .timeout = 90)
{
	int p[2], fl;

	cr_assert(pipe2(p, O_CLOEXEC) == 0);
	/* A small pipe fills after a few dozen connections. */
	(void)fcntl(p[1], F_SETPIPE_SZ, 4096);
	flood(p[1], p[0], 3000);

	/* The relay reopened its own: the test's end still blocks. */
	fl = fcntl(p[1], F_GETFL);
	cr_assert(fl != -1 && !(fl & O_NONBLOCK), "flags %x", fl);
}

Test(log, unread_socket_never_stops_the_relay, .timeout = 90)
{
	int sv[2], sz = 4096, fl;

	cr_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	(void)setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	flood(sv[1], sv[0], 3000);
	fl = fcntl(sv[1], F_GETFL);
	cr_assert(fl != -1 && !(fl & O_NONBLOCK), "flags %x", fl);
}

Test(log, journal_prefixes_from_the_binary, .timeout = 30)
{
	static char log[1 << 16];
	struct spawned S;
	int sv[2], st;
	char * line, * save;

	journal_setup(sv, 1);
	spawn(&S, sv[1], sv[0], (const char *[]){ "--log-time", NULL },
	    log, sizeof(log));
	cr_assert(serve_one(S.port));
	st = stop(&S, 3000);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	h_backend_stop(&normal);
	h_backend_stop(&hidden);
	drain(sv[0], log + strlen(log), sizeof(log) - strlen(log), 200);
	cr_assert(strstr(log, "<6>ready\n") != NULL, "%s", log);
	cr_assert(strstr(log, "<6>received SIGTERM: exiting\n") != NULL);
	for (line = strtok_r(log, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		cr_assert(line[0] == '<' && strchr("3467", line[1]) &&
		    line[2] == '>', "not a journal line: %s", line);
}

/*
 * Start-up errors, option errors first among them, go to the journal at
 * priority err: systemd files an unprefixed line at its default, info,
 * where `journalctl -p err` never shows it.
 */
Test(log, option_error_is_a_journal_error, .timeout = 30)
{
	char buf[1024];
	const char * b = getenv("L7KK_BIN");
	char * const argv[] = { (char *)(b ? b : "../l7knockknock"),
	    (char *)"--frobnicate", (char *)KNOCK, NULL };
	int sv[2], st;
	pid_t pid;

	journal_setup(sv, 1);
	fflush(NULL);
	cr_assert((pid = fork()) != -1);
	if (pid == 0) {
		dup2(sv[1], STDERR_FILENO);
		close_range(3, ~0U, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	close(sv[1]);
	cr_assert(waitpid(pid, &st, 0) == pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 64, "status %d", st);
	drain(sv[0], buf, sizeof(buf), 1000);
	close(sv[0]);
	cr_assert(strncmp(buf, "<3>error: ", 10) == 0,
	    "not at priority err (3): %s", buf);
	cr_assert(strstr(buf, "unknown option") != NULL, "%s", buf);
}

Test(log, log_time_prefix, .timeout = 30)
{
	static struct h_relay P;
	struct h_backend B;
	char n[64], * line, * save, * log;
	regex_t re;
	time_t t;
	struct tm tm;
	char today[16];
	int st;

	h_backend_start(&B, &(struct h_backend_conf){ .family = AF_INET,
	    .mode = H_ECHO, .name = "normal" });
	snprintf(n, sizeof(n), "127.0.0.1:%u", B.port);
	unsetenv("JOURNAL_STREAM");
	h_relay_start(&P, &(struct h_relay_conf){ .family = AF_INET,
	    .normal = B.port, .hidden = B.port, .knock = KNOCK,
	    .extra = (const char *[]){ "--log-time", NULL } });
	cr_assert(serve_one(P.port));
	st = h_relay_stop(&P, SIGTERM, 3000);
	h_backend_stop(&B);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);

	cr_assert(regcomp(&re, TIME_RE, REG_EXTENDED | REG_NOSUB) == 0);
	t = time(NULL);
	gmtime_r(&t, &tm);
	strftime(today, sizeof(today), "%Y-%m-%dT", &tm);
	log = strdup(P.log);
	cr_assert(strstr(log, "Z l7knockknock: received SIGTERM") != NULL);
	for (line = strtok_r(log, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		/* Valgrind's own lines, under make check VALGRIND=1. */
		if (strncmp(line, "--", 2) == 0 || strncmp(line, "==", 2) == 0)
			continue;
		cr_assert(regexec(&re, line, 0, NULL, 0) == 0,
		    "no RFC 3339 time: %s", line);
		cr_assert(strncmp(line, today, strlen(today)) == 0 ||
		    tm.tm_hour == 0, "not today (UTC): %s", line);
	}
	regfree(&re);
	free(log);
}

/* SIGHUP to ${args}' relay: ${line} logged, still serving. */
static void
sighup(const char * const * args, const char * line)
{
	static struct h_relay P;
	const char * argv[16];
	struct h_backend B;
	char n[64];
	size_t i = 0;
	int st;

	h_backend_start(&B, &(struct h_backend_conf){ .family = AF_INET,
	    .mode = H_ECHO, .name = "normal" });
	snprintf(n, sizeof(n), "127.0.0.1:%u", B.port);
	while (*args != NULL)
		argv[i++] = *args++;
	argv[i] = NULL;
	h_relay_start(&P, &(struct h_relay_conf){ .family = AF_INET,
	    .normal = B.port, .hidden = B.port, .knock = KNOCK,
	    .extra = argv });
	cr_assert(serve_one(P.port));
	cr_assert(kill(P.pid, SIGHUP) == 0);
	cr_assert(h_relay_log_wait(&P, line, 3000) == 0, "%s", P.log);
	usleep(100000);
	cr_assert(waitpid(P.pid, &st, WNOHANG) == 0, "the relay ended");
	for (i = 0; i < 10; i++)
		cr_assert(serve_one(P.port), "not served after SIGHUP");
	st = h_relay_stop(&P, SIGTERM, 3000);
	h_backend_stop(&B);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d: %s", st,
	    P.log);
}

/*
 * The knock on the command line: nothing to re-read, said, served on
 * (with or without --workers); tests/test_reload.c reloads knock files.
 */
Test(log, sighup_with_a_command_line_knock_is_logged, .timeout = 30)
{

	sighup((const char *[]){ NULL }, "received SIGHUP: nothing to "
	    "re-read (the knock is given on the command line); serving on\n");
}

Test(log, sighup_with_a_command_line_knock_is_logged_with_workers,
    .timeout = 30)
{

	sighup((const char *[]){ "--workers", "2", NULL }, "received SIGHUP: "
	    "nothing to re-read (the knock is given on the command line); "
	    "serving on\n");
}

Test(log, accept_pause_is_rate_limited, .timeout = 30)
{
	static struct h_relay P;
	struct h_backend B;
	char n[64];
	int fds[48];
	size_t i;
	int st, lines;

	if (getenv("L7KK_VALGRIND") != NULL)
		cr_skip_test("valgrind reserves descriptors");
	h_backend_start(&B, &(struct h_backend_conf){ .family = AF_INET,
	    .mode = H_ECHO, .name = "normal" });
	snprintf(n, sizeof(n), "127.0.0.1:%u", B.port);
	h_relay_start(&P, &(struct h_relay_conf){ .family = AF_INET,
	    .normal = B.port, .hidden = B.port, .knock = KNOCK, .nofile = 32,
	    .extra = (const char *[]){ "--max-conns-per-source", "0",
	    "--max-conns", "100", "-k", "20s",
	    NULL } });

	/* Silent clients until the relay runs out of descriptors. */
	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		fds[i] = h_connect(AF_INET, P.port);
	cr_assert(h_relay_log_wait(&P, "accept: pausing for", 3000) == 0, "%s",
	    P.log);
	usleep(2000000);	/* 20 pauses of 100 ms. */
	lines = h_relay_log_count(&P, "accept: pausing for");
	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		close(fds[i]);
	st = h_relay_stop(&P, SIGTERM, 3000);
	h_backend_stop(&B);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_assert_eq(lines, 1, "%d pause lines in 2 s:\n%s", lines, P.log);
}

/* Wait until ${s} occurs ${n} times in ${P}'s log; 0, or -1 after ${ms}. */
static int
log_wait_count(struct h_relay * P, const char * s, int n, int ms)
{
	uint64_t end = h_now_ms() + (uint64_t)ms;

	while (h_relay_log_count(P, s) < n)
		if (h_now_ms() > end)
			return (-1);
		else
			usleep(5000);
	return (0);
}

/* Send ${fd} past the knock phase: a non-knock request, echoed. */
static void
slot_relayed(int fd)
{
	static const char req[] = "GET / HTTP/1.0\r\nHost: x\r\n\r\n";
	char buf[sizeof(req)];

	h_send_all(fd, req, sizeof(req) - 1);
	cr_assert_eq(h_recv(fd, buf, sizeof(req) - 1, 3000), sizeof(req) - 1,
	    "not relayed");
}

Test(log, slots_full_is_rate_limited, .timeout = 60)
{
	static struct h_relay P;
	struct h_backend B;
	char n[64];
	int fds[21];
	int i, st, lines;

	h_backend_start(&B, &(struct h_backend_conf){ .family = AF_INET,
	    .mode = H_ECHO, .name = "normal" });
	snprintf(n, sizeof(n), "127.0.0.1:%u", B.port);
	h_relay_start(&P, &(struct h_relay_conf){ .family = AF_INET,
	    .normal = B.port, .hidden = B.port, .knock = KNOCK,
	    .extra = (const char *[]){ "--max-conns", "1", "-k", "20s",
	    "-v", NULL } });	/* -v: the "accepted" lines. */

	/*
	 * 20 times: the one slot taken by a relayed connection (one still
	 * waiting for its knock would be evicted), another client waits,
	 * one frees.
	 */
	fds[0] = h_connect(AF_INET, P.port);
	cr_assert(log_wait_count(&P, "accepted from", 1, 3000) == 0);
	slot_relayed(fds[0]);
	for (i = 1; i < 21; i++) {
		fds[i] = h_connect(AF_INET, P.port);
		usleep(20000);
		close(fds[i - 1]);
		cr_assert(log_wait_count(&P, "accepted from", i + 1, 3000) == 0,
		    "%s", P.log);
		slot_relayed(fds[i]);
	}
	close(fds[20]);
	lines = h_relay_log_count(&P, "connection slots in use");
	st = h_relay_stop(&P, SIGTERM, 3000);
	h_backend_stop(&B);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_assert_eq(lines, 1, "%d slots-full lines:\n%s", lines, P.log);
}
