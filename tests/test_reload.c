/*
 * Reload (SIGHUP to the --workers supervisor) and no root after start-up:
 * a session open across a reload keeps relaying, the new knock routes to
 * the hidden backend and the old one to the normal, a bad file keeps the
 * old configuration, the old worker drains, and /proc shows no process of
 * the relay with uid 0 or a capability.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buildflags.h"
#include "harness.h"

/* The relay's user when the tests run as root (the harness's default). */
#define RL_UID		65534
#define RL_GID		65534

#define OLD_KNOCK	"old-knock-1"
#define NEW_KNOCK	"new-knock-2"
#define CHUNK		16384

static struct h_backend normal, hidden;
static struct h_relay relay;
static char secret_dir[64], knock_path[96];

/* The secret directory: the relay's user's, mode 0700; the knock in it. */
static void
secrets(const char * knock)
{
	FILE * f;

	snprintf(secret_dir, sizeof(secret_dir), "/tmp/l7kk-reload-XXXXXX");
	cr_assert(mkdtemp(secret_dir) != NULL);
	snprintf(knock_path, sizeof(knock_path), "%s/knock", secret_dir);
	cr_assert((f = fopen(knock_path, "w")) != NULL);
	fputs(knock, f);
	fclose(f);
	cr_assert(chmod(knock_path, 0600) == 0);
	if (geteuid() == 0) {
		cr_assert(chown(secret_dir, RL_UID, RL_GID) == 0);
		cr_assert(chown(knock_path, RL_UID, RL_GID) == 0);
	}
}

/*
 * Write ${text} to ${path} in the secret directory, the relay's user's,
 * mode 0600 (a new file renamed over the old, as editors do).
 */
static void
put(const char * path, const char * text)
{
	char tmp[160];
	FILE * f;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	cr_assert((f = fopen(tmp, "w")) != NULL);
	fputs(text, f);
	fclose(f);
	cr_assert(chmod(tmp, 0600) == 0);
	if (geteuid() == 0)
		cr_assert(chown(tmp, RL_UID, RL_GID) == 0);
	cr_assert(rename(tmp, path) == 0);
}

/* Replace the knock file. */
static void
rotate(const char * knock)
{

	put(knock_path, knock);
}

static void
rm_secrets(void)
{

	(void)unlink(knock_path);
	(void)rmdir(secret_dir);
}

/* Greeting backends (to tell them apart), the relay with ${extra}. */
static void
start(const char * const * extra)
{

	h_relay_setup(&relay, &normal, H_GREET, &hidden, H_GREET,
	    &(struct h_relay_conf){ .extra = extra });
}

static void
stop(void)
{

	h_relay_teardown(&relay, &normal, &hidden);
	rm_secrets();
}

/* Read exactly ${len} bytes of ${fd} within 5 s; return the count. */
static size_t
recv_n(int fd, void * buf, size_t len)
{
	uint64_t end = h_now_ms() + 5000;
	size_t got = 0;
	ssize_t n;

	while (got < len && h_now_ms() < end) {
		n = recv(fd, (char *)buf + got, len - got, MSG_DONTWAIT);
		if (n > 0)
			got += (size_t)n;
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			break;
		else
			usleep(1000);
	}
	return (got);
}

/* Connect, knock with ${knock}; return the fd and which backend greeted. */
static int
dial(const char * knock, char * who, size_t len)
{
	char line[32];
	size_t n;
	int fd = h_connect(AF_INET, relay.port);

	h_send_all(fd, knock, strlen(knock));
	memset(line, 0, sizeof(line));
	/* "GREET normal\n" and "GREET hidden\n" are both 13 bytes. */
	n = recv_n(fd, line, 13);
	cr_assert_eq(n, 13, "no greeting after knock '%s' (%zu bytes); log:\n%s",
	    knock, n, relay.log);
	snprintf(who, len, "%.6s", line + 6);
	return (fd);
}

/* Send ${n} chunks of the stream of ${seed} and check the echo's hash. */
static void
echo_intact(int fd, uint64_t seed, int n)
{
	static uint8_t out[CHUNK], in[CHUNK];
	int i;

	for (i = 0; i < n; i++) {
		h_fill(out, sizeof(out), seed * 1000 + (uint64_t)i);
		h_send_all(fd, out, sizeof(out));
		cr_assert_eq(recv_n(fd, in, sizeof(in)), sizeof(in),
		    "chunk %d: echo short", i);
		cr_assert_eq(h_hash(H_HASH_INIT, in, sizeof(in)),
		    h_hash(H_HASH_INIT, out, sizeof(out)),
		    "chunk %d: echo differs", i);
	}
}

/* Which backend does ${knock} reach now? */
static void
expect_route(const char * knock, const char * want)
{
	char who[8];
	int fd = dial(knock, who, sizeof(who));

	cr_assert_str_eq(who, want, "knock '%s' went to %s, want %s; log:\n%s",
	    knock, who, want, relay.log);
	close(fd);
}

/* OLD_KNOCK in its file, the relay with one worker serving it, ready. */
static void
start_one_worker(void)
{

	secrets(OLD_KNOCK);
	start((const char *[]){ "--workers", "1", "--knock-file", knock_path,
	    NULL });
	cr_assert(h_relay_log_wait(&relay, "worker 0 ready", 5000) == 0);
}

/* SIGHUP the supervisor and wait for the old generation to drain. */
static void
reload_and_wait(int nworkers, int gen)
{
	char want[96];

	cr_assert(kill(relay.pid, SIGHUP) == 0);
	snprintf(want, sizeof(want), "reload: %d workers of generation %d "
	    "started", nworkers, gen);
	cr_assert(h_relay_log_wait(&relay, want, 5000) == 0, "log:\n%s",
	    relay.log);
	cr_assert(h_relay_log_wait_count(&relay, "draining: no longer "
	    "accepting", nworkers * gen, 5000) == nworkers * gen, "log:\n%s",
	    relay.log);
}

Test(reload, session_survives_and_the_knock_rotates, .timeout = 60)
{
	char who[8];
	int fd;

	start_one_worker();

	/* A hidden session, relaying before the reload... */
	fd = dial(OLD_KNOCK, who, sizeof(who));
	cr_assert_str_eq(who, "hidden");
	echo_intact(fd, 1, 8);

	rotate(NEW_KNOCK);
	reload_and_wait(1, 1);

	/* ...and after it, untouched. */
	echo_intact(fd, 2, 8);

	/* New connections: the new knock is hidden, the old one normal. */
	expect_route(NEW_KNOCK, "hidden");
	expect_route(OLD_KNOCK, "normal");

	/* The old worker stays while the session lives, then exits 0. */
	usleep(200000);
	cr_assert_eq(h_relay_log_count(&relay, "of generation 0 drained"), 0,
	    "the old worker left with a session open; log:\n%s", relay.log);
	echo_intact(fd, 3, 2);
	close(fd);
	cr_assert(h_relay_log_wait(&relay, "of generation 0 drained", 5000) ==
	    0, "log:\n%s", relay.log);
	cr_assert_eq(h_relay_log_count(&relay, "a worker died"), 0);
	stop();
}

Test(reload, a_bad_knock_file_keeps_the_old_configuration, .timeout = 60)
{
	int errors;

	secrets(OLD_KNOCK);
	start((const char *[]){ "--workers", "2", "--knock-file", knock_path,
	    NULL });
	cr_assert(h_relay_log_wait(&relay, "worker 1 ready", 5000) == 0);
	cr_assert(h_relay_log_wait(&relay, "worker 0 ready", 5000) == 0);

	rotate("");			/* Empty: refused. */
	errors = h_relay_log_count(&relay, "error:");
	cr_assert(kill(relay.pid, SIGHUP) == 0);
	cr_assert(h_relay_log_wait(&relay, "reload refused: the old "
	    "configuration serves on", 5000) == 0, "log:\n%s", relay.log);
	cr_assert_eq(h_relay_log_count(&relay, "error:"), errors + 1,
	    "want one error line; log:\n%s", relay.log);
	cr_assert_eq(h_relay_log_count(&relay, "draining"), 0);
	expect_route(OLD_KNOCK, "hidden");

	/* Fixed, a reload then takes. */
	rotate(NEW_KNOCK);
	reload_and_wait(2, 1);
	expect_route(NEW_KNOCK, "hidden");
	expect_route(OLD_KNOCK, "normal");
	stop();
}

/* A secret the relay's user cannot read: warned at start, refused at reload. */
Test(reload, an_unreadable_secret_is_warned_and_refused, .timeout = 60)
{
	int errors;

	if (geteuid() != 0)
		cr_skip_test("needs root: the file must belong to another user");
	secrets(OLD_KNOCK);
	cr_assert(chown(knock_path, 0, 0) == 0);
	start((const char *[]){ "--workers", "1", "--knock-file", knock_path,
	    NULL });
	cr_assert(h_relay_log_wait(&relay, "worker 0 ready", 5000) == 0);
	cr_assert_eq(h_relay_log_count(&relay, "cannot be read by the "
	    "supervisor's user: a reload (SIGHUP) would fail"), 1, "log:\n%s",
	    relay.log);
	errors = h_relay_log_count(&relay, "error:");
	cr_assert(kill(relay.pid, SIGHUP) == 0);
	cr_assert(h_relay_log_wait(&relay, "reload refused", 5000) == 0,
	    "log:\n%s", relay.log);
	cr_assert_eq(h_relay_log_count(&relay, "error:"), errors + 1,
	    "log:\n%s", relay.log);
	expect_route(OLD_KNOCK, "hidden");
	stop();
}

Test(reload, drain_timeout_cuts_the_old_sessions, .timeout = 60)
{
	char who[8];
	int fd;

	secrets(OLD_KNOCK);
	start((const char *[]){ "--workers", "1", "--knock-file", knock_path,
	    "--drain-timeout", "1s", NULL });
	cr_assert(h_relay_log_wait(&relay, "worker 0 ready", 5000) == 0);
	fd = dial(OLD_KNOCK, who, sizeof(who));
	echo_intact(fd, 4, 1);
	reload_and_wait(1, 1);
	cr_assert(h_relay_log_wait(&relay, "drain timeout: cutting 1 "
	    "connections", 5000) == 0, "log:\n%s", relay.log);
	cr_assert(h_wait_closed(fd, 3000), "the session was not cut");
	cr_assert(h_relay_log_wait(&relay, "of generation 0 drained", 3000) ==
	    0, "log:\n%s", relay.log);
	close(fd);
	stop();
}

/*
 * The session on ${fd}, cut while the relay held bytes for it, ends with a
 * reset (not a FIN), the log names ${reason}, and one line counts the
 * bytes lost.
 */
static void
expect_cut_with_a_reset(int fd, const char * reason)
{
	int end;

	end = h_wait_end(fd, 3000);
	cr_assert_eq(end, ECONNRESET, "the cut session got %s, not a reset; "
	    "log:\n%s", end == -1 ? "nothing" : end == 0 ? "a FIN" :
	    strerror(end), relay.log);
	cr_assert(h_relay_log_wait(&relay, reason, 3000) == 0, "log:\n%s",
	    relay.log);
	cr_assert_eq(h_relay_log_count(&relay, "bytes lost ("), 1, "log:\n%s",
	    relay.log);
}

/* A reload cutting a download whose client stopped reading. */
struct held_cut {
	int hidden;		/* The download is on the hidden route. */
	const char * timer;	/* --drain-timeout or --drain-grace. */
	const char * cutting;	/* The worker's line when the timer fires. */
	const char * reason;	/* The session's close reason. */
};

/*
 * An 8 MiB download on the route ${H->hidden} names (the other backend
 * greets), through 16 KiB buffers in a namespace of the test's own: the
 * client reads a little, then nothing, so the way fills up and stands.
 * Reload with ${H->timer} 1s: the worker logs ${H->cutting}, and the
 * session is cut with a reset (expect_cut_with_a_reset).
 */
static void
held_session_cut(const struct held_cut * H)
{
	struct h_backend * down = H->hidden ? &hidden : &normal;
	struct h_backend * other = H->hidden ? &normal : &hidden;
	char buf[1000];
	int fd;

	if (h_small_buffers())
		cr_skip_test("no network namespace of our own: %s",
		    strerror(errno));
	secrets(OLD_KNOCK);
	h_backend_start(down, &(struct h_backend_conf){
	    .mode = H_SEND_OPEN, .n = 8 << 20, .seed = 3 });
	h_backend_start(other, &(struct h_backend_conf){ .mode = H_GREET,
	    .name = H->hidden ? "normal" : "hidden" });
	h_relay_start(&relay, &(struct h_relay_conf){ .normal = normal.port,
	    .hidden = hidden.port, .extra = (const char *[]){ "--workers",
	    "1", "--knock-file", knock_path, H->timer, "1s", NULL } });
	cr_assert(h_relay_log_wait(&relay, "worker 0 ready", 5000) == 0);
	fd = h_connect(AF_INET, relay.port);
	/* The knock, or as long as it and not it (the normal route at once). */
	h_send_all(fd, H->hidden ? OLD_KNOCK : "not-a-knock",
	    strlen(OLD_KNOCK));
	cr_assert_eq(recv_n(fd, buf, sizeof(buf)), sizeof(buf));
	usleep(500000);
	reload_and_wait(1, 1);
	cr_assert(h_relay_log_wait(&relay, H->cutting, 5000) == 0, "log:\n%s",
	    relay.log);
	expect_cut_with_a_reset(fd, H->reason);
	close(fd);
	stop();
}

/*
 * The drain timeout cuts a session that still holds bytes for its client
 * (a long download the client stopped reading; 16 KiB buffers in a
 * namespace of the test's own): the client gets a reset, not a clean FIN
 * after whatever fitted (before, the worker's exit sent FINs), and the log
 * line counts the bytes lost.
 */
Test(reload, drain_timeout_resets_a_session_holding_bytes, .timeout = 60)
{

	held_session_cut(&(struct held_cut){ .hidden = 1,
	    .timer = "--drain-timeout",
	    .cutting = "drain timeout: cutting 1 connections",
	    .reason = "closed: drain timeout" });
}

/*
 * The lowest descriptor limit that leaves process ${pid} exactly ${nfree}
 * descriptors free (below it); 0 if /proc cannot tell.
 */
static rlim_t
limit_leaving(pid_t pid, int nfree)
{
	static char used[4096];
	char dir[64];
	struct dirent * e;
	DIR * d;
	long fd;
	int l, taken = 0;

	memset(used, 0, sizeof(used));
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	if ((d = opendir(dir)) == NULL)
		return (0);
	while ((e = readdir(d)) != NULL) {
		fd = strtol(e->d_name, NULL, 10);
		if (e->d_name[0] != '.' && fd >= 0 && fd < (long)sizeof(used))
			used[fd] = 1;
	}
	closedir(d);
	for (l = 0; l < (int)sizeof(used); l++) {
		if (l - taken == nfree)
			return ((rlim_t)l);
		taken += used[l];
	}
	return (0);
}

/*
 * Set process ${pid}'s RLIMIT_NOFILE to ${rl}, as its user (root here may
 * lack CAP_SYS_RESOURCE, which another user's limits need).  Return 0 or
 * the errno.
 */
static int
set_nofile(pid_t pid, const struct rlimit * rl)
{
	pid_t c;
	int st;

	if ((c = fork()) == 0) {
		if (geteuid() == 0 && (setgid(RL_GID) || setuid(RL_UID)))
			_exit(errno);
		_exit(prlimit(pid, RLIMIT_NOFILE, rl, NULL) ? errno : 0);
	}
	if (c == -1 || waitpid(c, &st, 0) != c || !WIFEXITED(st))
		return (-1);
	return (WEXITSTATUS(st));
}

/*
 * A new worker that cannot start (the supervisor's descriptor limit,
 * lowered from outside, leaves a worker no room for its sandbox): the
 * reload fails, the old worker is never told to drain, its session
 * relays on and it still serves the old knock.
 */
Test(reload, a_new_worker_that_cannot_start_keeps_the_old_generation,
    .timeout = 60)
{
	struct rlimit rl;
	char who[8];
	int fd;

	start_one_worker();
	fd = dial(OLD_KNOCK, who, sizeof(who));
	cr_assert_str_eq(who, "hidden");
	echo_intact(fd, 7, 4);

	/* Room for the ready pipe and the knock file; none for a worker. */
	rotate(NEW_KNOCK);
	rl.rlim_cur = rl.rlim_max = limit_leaving(relay.pid, 3);
	cr_assert(rl.rlim_cur > 0);
	cr_assert_eq(set_nofile(relay.pid, &rl), 0, "prlimit failed");
	cr_assert(kill(relay.pid, SIGHUP) == 0);
	cr_assert(h_relay_log_wait(&relay, "reload failed: a new worker died "
	    "before it was ready; the old configuration serves on", 15000) ==
	    0, "log:\n%s", relay.log);

	/* The old generation: not draining, its session intact, serving. */
	echo_intact(fd, 8, 4);
	cr_assert_eq(h_relay_log_count(&relay, "draining"), 0, "log:\n%s",
	    relay.log);
	cr_assert_eq(h_relay_log_count(&relay, "a worker died"), 0);
	expect_route(OLD_KNOCK, "hidden");
	expect_route(NEW_KNOCK, "normal");
	echo_intact(fd, 9, 2);
	close(fd);
	cr_assert(kill(relay.pid, 0) == 0, "the supervisor is gone");
	stop();
}

/*
 * A plain relay (no --workers) reloads too: the session open across the
 * reload keeps relaying, the new knock is hidden, the old one normal.
 */
Test(reload, sighup_without_workers_reloads, .timeout = 60)
{
	char who[8];
	int fd;

	secrets(OLD_KNOCK);
	start((const char *[]){ "--knock-file", knock_path, NULL });
	fd = dial(OLD_KNOCK, who, sizeof(who));
	cr_assert_str_eq(who, "hidden");
	echo_intact(fd, 20, 4);
	rotate(NEW_KNOCK);
	reload_and_wait(1, 1);
	echo_intact(fd, 21, 4);
	expect_route(NEW_KNOCK, "hidden");
	expect_route(OLD_KNOCK, "normal");
	cr_assert(h_relay_alive(&relay));
	close(fd);
	cr_assert(h_relay_log_wait(&relay, "of generation 0 drained", 5000) ==
	    0, "log:\n%s", relay.log);
	cr_assert_eq(h_relay_log_count(&relay, "a worker died"), 0);
	stop();
}

/* Has ${pid} gone from /proc (reaped by the supervisor) within ${ms}? */
static int
gone_within(pid_t pid, int ms)
{
	uint64_t end = h_now_ms() + (uint64_t)ms;

	while (kill(pid, 0) == 0 && h_now_ms() < end)
		usleep(10000);
	return (kill(pid, 0) == -1 && errno == ESRCH);
}

/*
 * The public cannot keep an old generation: after a reload, an idle
 * normal-route session on the old worker is closed after --drain-grace,
 * while a hidden-route one outlives the grace (--drain-timeout is never
 * here); the old worker leaves once the hidden one ends.
 */
Test(reload, drain_grace_closes_normal_sessions_not_hidden, .timeout = 60)
{
	char who[8], buf[16];
	pid_t old;
	int fh, fn;

	secrets(OLD_KNOCK);
	start((const char *[]){ "--knock-file", knock_path, "--drain-grace",
	    "2s", NULL });
	old = h_relay_worker(&relay);
	cr_assert(old != relay.pid, "no worker");
	fh = dial(OLD_KNOCK, who, sizeof(who));
	cr_assert_str_eq(who, "hidden");
	fn = dial("not-a-knock", who, sizeof(who));
	cr_assert_str_eq(who, "normal");
	/* The normal backend got the would-be knock too: its echo. */
	cr_assert_eq(recv_n(fn, buf, 11), 11);
	cr_assert(memcmp(buf, "not-a-knock", 11) == 0);
	rotate(NEW_KNOCK);
	reload_and_wait(1, 1);

	/* Within the grace, both relay. */
	echo_intact(fn, 30, 1);
	echo_intact(fh, 31, 1);

	/* Past it, the normal one is closed, logged; the hidden one lives. */
	cr_assert(h_wait_closed(fn, 10000), "the normal session was not "
	    "closed; log:\n%s", relay.log);
	cr_assert(h_relay_log_wait(&relay, "drain grace: closed 1 "
	    "normal-route connections, 1 left", 3000) == 0, "log:\n%s",
	    relay.log);
	cr_assert(h_relay_log_count(&relay, "closed: drain grace") == 1,
	    "log:\n%s", relay.log);
	usleep(500000);
	echo_intact(fh, 32, 4);
	cr_assert(kill(old, 0) == 0, "the old worker left with a hidden "
	    "session open");
	cr_assert_eq(h_relay_log_count(&relay, "of generation 0 drained"), 0);

	/* The hidden one ends: so does the old worker. */
	close(fh);
	cr_assert(h_relay_log_wait(&relay, "of generation 0 drained", 5000) ==
	    0, "log:\n%s", relay.log);
	cr_assert(gone_within(old, 5000), "old worker %d still in /proc",
	    (int)old);
	close(fn);
	stop();
}

/*
 * The drain grace cuts a normal-route session that still holds bytes for
 * its client (a download the client stopped reading; 16 KiB buffers in a
 * namespace of the test's own) as the drain timeout does: a reset, not a
 * FIN after whatever fitted, and the log line counts the bytes lost.
 */
Test(reload, drain_grace_resets_a_normal_session_holding_bytes,
    .timeout = 60)
{

	held_session_cut(&(struct held_cut){ .hidden = 0,
	    .timer = "--drain-grace",
	    .cutting = "drain grace: closed 1 normal-route connections",
	    .reason = "closed: drain grace" });
}

/*
 * Connection ids stay unique across reloads: two connections in each of
 * three generations, six distinct "conn W.N" in the log (a new worker
 * does not start again at "conn 1.1").
 */
Test(reload, connection_ids_are_unique_across_reloads, .timeout = 60)
{
	char ids[6][32], * log, * p, * line;
	int g, i, j, n = 0;

	secrets(OLD_KNOCK);
	start((const char *[]){ "--knock-file", knock_path, NULL });
	for (g = 0; g < 3; g++) {
		if (g > 0)
			reload_and_wait(1, g);
		for (i = 0; i < 2; i++)
			expect_route(OLD_KNOCK, "hidden");
	}
	cr_assert(h_relay_log_wait_count(&relay, " closed: ", 6, 5000) == 6,
	    "log:\n%s", relay.log);
	pthread_mutex_lock(&relay.mtx);
	log = strdup(relay.log);
	pthread_mutex_unlock(&relay.mtx);
	cr_assert(log != NULL);
	for (p = log; n < 6 && (line = strstr(p, "conn ")) != NULL; p = line + 1)
		if (strstr(line, " routed to ") != NULL &&
		    strstr(line, " routed to ") < strchr(line, '\n'))
			cr_assert(sscanf(line, "conn %31s", ids[n++]) == 1);
	cr_assert_eq(n, 6, "%d routed lines; log:\n%s", n, log);
	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			cr_assert(strcmp(ids[i], ids[j]) != 0, "conn %s twice; "
			    "log:\n%s", ids[i], log);
	cr_assert(strstr(log, "conn 3.1 routed to hidden") != NULL,
	    "log:\n%s", log);
	free(log);
	stop();
}

/*
 * SIGUSR1 to the relay (its supervisor) is a graceful stop, as it was
 * for a single process: no new connection, the open session relays to
 * its end, then exit 0.
 */
Test(reload, sigusr1_drains_then_exits_0, .timeout = 60)
{
	char who[8];
	int fd, st;

	secrets(OLD_KNOCK);
	start((const char *[]){ "--knock-file", knock_path, NULL });
	fd = dial(OLD_KNOCK, who, sizeof(who));
	cr_assert_str_eq(who, "hidden");
	cr_assert(kill(relay.pid, SIGUSR1) == 0);
	cr_assert(h_relay_log_wait(&relay, "draining: no longer accepting",
	    5000) == 0, "log:\n%s", relay.log);
	echo_intact(fd, 40, 4);
	cr_assert(h_relay_alive(&relay));
	close(fd);
	st = h_relay_stop(&relay, 0, 5000);
	cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "status %#x; log:\n%s", st, relay.log);
	cr_assert(strstr(relay.log, "drained: exiting") != NULL, "log:\n%s",
	    relay.log);
	h_backend_stop(&normal);
	h_backend_stop(&hidden);
	rm_secrets();
}

/* ---- no root, no capability, in any process of the relay ---- */

/* The relay's processes: ${relay.pid} and its children, into ${pids}. */
static int
relay_pids(pid_t * pids, int max)
{
	int n;

	pids[0] = relay.pid;
	n = h_proc_children(relay.pid, pids + 1, max - 1);
	return (1 + (n > 0 ? n : 0));
}

/* ${pid}: no id 0 in Uid:/Gid: (all four), every capability set 0. */
static void
check_unprivileged(pid_t pid)
{
	static const char * caps[] = { "CapInh", "CapPrm", "CapEff", "CapBnd",
	    "CapAmb" };
	unsigned long id[4];
	char v[256];
	size_t i, k;

	for (k = 0; k < 2; k++) {
		cr_assert(h_proc_status(pid, k == 0 ? "Uid" : "Gid", v,
		    sizeof(v)) == 0);
		cr_assert_eq(sscanf(v, "%lu %lu %lu %lu", &id[0], &id[1],
		    &id[2], &id[3]), 4, "%s: %s", k == 0 ? "Uid" : "Gid", v);
		for (i = 0; i < 4; i++)
			cr_assert(id[i] != 0, "pid %d: %s:%s", (int)pid,
			    k == 0 ? "Uid" : "Gid", v);
	}
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		cr_assert(h_proc_status(pid, caps[i], v, sizeof(v)) == 0);
		cr_assert_str_eq(v + strspn(v, " \t"), "0000000000000000",
		    "pid %d: %s:%s", (int)pid, caps[i], v);
	}
	cr_assert(h_proc_status(pid, "Seccomp", v, sizeof(v)) == 0);
	cr_assert_str_eq(v + strspn(v, " \t"), "2", "pid %d: Seccomp:%s",
	    (int)pid, v);
	cr_assert(h_proc_status(pid, "NoNewPrivs", v, sizeof(v)) == 0);
	cr_assert_str_eq(v + strspn(v, " \t"), "1", "pid %d: NoNewPrivs:%s",
	    (int)pid, v);
}

/* Every process of a relay started with ${extra}: ${want} of them. */
static void
check_all(const char * const * extra, int want, const char * ready)
{
	pid_t pids[16];
	int i, n;

	secrets(OLD_KNOCK);
	start(extra);
	cr_assert(h_relay_log_wait(&relay, ready, 5000) == 0);
	n = relay_pids(pids, 16);
	cr_assert_eq(n, want, "%d processes, want %d", n, want);
	for (i = 0; i < n; i++)
		check_unprivileged(pids[i]);
	expect_route(OLD_KNOCK, "hidden");
	stop();
}

Test(reload, no_root_and_no_capability_with_workers, .timeout = 30,
    .disabled = SANDBOX_TESTS_DISABLED)
{

	if (geteuid() != 0)
		cr_skip_test("needs root: the relay drops root itself");
	check_all((const char *[]){ "--workers", "2", "--knock-file",
	    knock_path, NULL }, 3, "worker 1 ready");
}

Test(reload, no_root_and_no_capability_without_workers, .timeout = 30,
    .disabled = SANDBOX_TESTS_DISABLED)
{

	if (geteuid() != 0)
		cr_skip_test("needs root: the relay drops root itself");
	check_all((const char *[]){ "--knock-file", knock_path, NULL }, 2,
	    "worker 0 ready");
}

Test(reload, no_root_and_no_capability_after_a_reload, .timeout = 30,
    .disabled = SANDBOX_TESTS_DISABLED)
{
	pid_t pids[16];
	int i, n;

	if (geteuid() != 0)
		cr_skip_test("needs root: the relay drops root itself");
	secrets(OLD_KNOCK);
	start((const char *[]){ "--workers", "2", "--knock-file", knock_path,
	    NULL });
	cr_assert(h_relay_log_wait(&relay, "worker 1 ready", 5000) == 0);
	cr_assert(h_relay_log_wait(&relay, "worker 0 ready", 5000) == 0);
	rotate(NEW_KNOCK);
	reload_and_wait(2, 1);
	cr_assert(h_relay_log_wait_count(&relay, "ready", 4, 5000) >= 4);
	cr_assert(h_relay_log_wait_count(&relay, "of generation 0 drained", 2,
	    5000) == 2,
	    "log:\n%s", relay.log);
	n = relay_pids(pids, 16);
	cr_assert_eq(n, 3, "%d processes", n);
	for (i = 0; i < n; i++)
		check_unprivileged(pids[i]);
	expect_route(NEW_KNOCK, "hidden");
	stop();
}

/* ---- the supervisor never makes a worker's calls ---- */

/* TracerPid of ${pid}, or -1. */
static long
tracer_of(pid_t pid)
{

	return (h_proc_status_num(pid, "TracerPid"));
}

/* Start strace on ${pid} (no -f: the supervisor alone) into ${out}. */
static pid_t
strace_start(pid_t pid, const char * out)
{
	char p[16];
	pid_t st;
	int i, null;

	snprintf(p, sizeof(p), "%d", (int)pid);
	fflush(NULL);
	cr_assert((st = fork()) != -1);
	if (st == 0) {
		if ((null = open("/dev/null", O_RDWR)) != -1) {
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		execlp("strace", "strace", "-qq", "-p", p, "-o", out,
		    (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 300 && tracer_of(pid) != (long)st; i++)
		usleep(10000);
	cr_assert_eq(tracer_of(pid), (long)st, "strace did not attach");
	return (st);
}

/* The syscall names of strace's ${path}, into ${names} (one per line). */
static int
strace_calls(const char * path, char (*names)[32], int max)
{
	char line[1024];
	FILE * f;
	int n = 0;
	size_t len;

	cr_assert((f = fopen(path, "r")) != NULL);
	while (n < max && fgets(line, sizeof(line), f) != NULL) {
		len = strspn(line, "abcdefghijklmnopqrstuvwxyz0123456789_");
		if (len == 0 || len >= 32 || line[len] != '(')
			continue;
		memcpy(names[n], line, len);
		names[n++][len] = '\0';
	}
	fclose(f);
	return (n);
}

Test(reload, the_supervisor_never_makes_a_workers_calls, .timeout = 60,
    .disabled = SANDBOX_TESTS_DISABLED)
{
	/* Not pipe2: a reload's ready pipe is the supervisor's. */
	static const char * const workers_only[] = { "accept", "accept4",
	    "connect", "socket", "recvfrom", "sendto", "splice",
	    "epoll_wait", "epoll_ctl", "getsockname", "shutdown",
	    "setsockopt", "getsockopt", NULL };
	static char names[4096][32];
	char out[96], who[8];
	int fd, i, j, n, st, forks = 0, opens = 0;
	pid_t tr;

	if (geteuid() != 0 || system("strace -V >/dev/null 2>&1") != 0)
		cr_skip_test("needs root and strace");
	start_one_worker();
	snprintf(out, sizeof(out), "%s.strace", secret_dir);
	tr = strace_start(relay.pid, out);

	/* A session through the worker, across a reload. */
	fd = dial(OLD_KNOCK, who, sizeof(who));
	echo_intact(fd, 5, 4);
	rotate(NEW_KNOCK);
	reload_and_wait(1, 1);
	echo_intact(fd, 6, 4);
	close(fd);
	cr_assert(h_relay_log_wait(&relay, "of generation 0 drained", 5000) ==
	    0);
	expect_route(NEW_KNOCK, "hidden");

	kill(tr, SIGINT);
	cr_assert(waitpid(tr, &st, 0) == tr);
	n = strace_calls(out, names, 4096);
	(void)unlink(out);
	for (i = 0; i < n; i++) {
		for (j = 0; workers_only[j] != NULL; j++)
			cr_assert(strcmp(names[i], workers_only[j]) != 0,
			    "the supervisor called %s", names[i]);
		forks += (strcmp(names[i], "clone") == 0);
		opens += (strcmp(names[i], "openat") == 0);
	}
	/* It did reload: read the knock file, forked the new worker. */
	cr_assert(forks >= 1 && opens >= 1, "%d calls, %d clone, %d openat",
	    n, forks, opens);
	stop();
}

/* ---- a token route's key, rotated by reload ---- */

/* Write a fresh key (l7knockknock-client --gen-key) to ${path}. */
static void
gen_key(const char * path)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "umask 077; %s --gen-key > %s", h_bin_client(),
	    path);
	cr_assert(system(cmd) == 0, "%s", cmd);
}

/* Read ${len} bytes of the pipe ${fd} within 5 s; the count. */
static size_t
read_n(int fd, char * buf, size_t len)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	size_t got = 0;
	ssize_t n;

	while (got < len && poll(&pfd, 1, 5000) == 1) {
		if ((n = read(fd, buf + got, len - got)) <= 0)
			break;
		got += (size_t)n;
	}
	return (got);
}

/* The backend a client with the key in ${key} reaches: its greeting. */
static void
expect_token_route(const char * key, const char * want)
{
	char port[16], line[32];
	int in[2], out[2], st;
	pid_t pid;
	size_t n;

	snprintf(port, sizeof(port), "%u", (unsigned)relay.port);
	cr_assert(pipe(in) == 0 && pipe(out) == 0);
	fflush(NULL);
	cr_assert((pid = fork()) != -1);
	if (pid == 0) {
		dup2(in[0], STDIN_FILENO);
		dup2(out[1], STDOUT_FILENO);
		close_range(3, ~0U, 0);
		execl(h_bin_client(), "l7knockknock-client", "-q", "--key-file",
		    key, "127.0.0.1", port, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	memset(line, 0, sizeof(line));
	n = read_n(out[0], line, 13);
	close(in[1]);
	close(out[0]);
	kill(pid, SIGTERM);
	(void)waitpid(pid, &st, 0);
	cr_assert_eq(n, 13, "no greeting for key %s; log:\n%s", key,
	    relay.log);
	cr_assert(strncmp(line + 6, want, 6) == 0, "key %s reached %.6s, "
	    "want %s; log:\n%s", key, line + 6, want, relay.log);
}

Test(reload, a_rotated_key_takes_over_at_reload, .timeout = 60)
{
	char key[128], oldkey[128], newkey[128];

	if (access(h_bin_client(), X_OK) != 0)
		cr_skip_test("no %s", h_bin_client());
	secrets(OLD_KNOCK);
	snprintf(key, sizeof(key), "%s/ssh.key", secret_dir);
	snprintf(oldkey, sizeof(oldkey), "%s/client-old.key", secret_dir);
	snprintf(newkey, sizeof(newkey), "%s/client-new.key", secret_dir);
	gen_key(key);
	if (geteuid() == 0)
		cr_assert(chown(key, RL_UID, RL_GID) == 0);
	cr_assert(link(key, oldkey) == 0);
	start((const char *[]){ "--workers", "1", "--key-file", key, NULL });
	cr_assert(h_relay_log_wait(&relay, "worker 0 ready", 5000) == 0);
	expect_token_route(oldkey, "hidden");

	/* A new key over the old file (a new inode: the client keeps its). */
	gen_key(newkey);
	cr_assert(unlink(key) == 0 && link(newkey, key) == 0);
	if (geteuid() == 0)
		cr_assert(chown(key, RL_UID, RL_GID) == 0);
	reload_and_wait(1, 1);
	expect_token_route(newkey, "hidden");
	expect_token_route(oldkey, "normal");
	(void)unlink(key);
	(void)unlink(oldkey);
	(void)unlink(newkey);
	stop();
}

/*
 * A serving worker dies while the old generation drains: the supervisor
 * stops the serving ones only; the draining worker's session relays on,
 * and once it has drained the supervisor exits 1.
 */
Test(reload, a_serving_death_spares_the_draining_workers, .timeout = 60)
{
	pid_t pids[8], old, young = 0;
	char who[8];
	int fd, i, n, st;

	start_one_worker();
	cr_assert_eq(relay_pids(pids, 8), 2);
	old = pids[1];
	fd = dial(OLD_KNOCK, who, sizeof(who));
	cr_assert_str_eq(who, "hidden");
	echo_intact(fd, 10, 2);
	rotate(NEW_KNOCK);
	reload_and_wait(1, 1);
	n = relay_pids(pids, 8);
	for (i = 1; i < n; i++)
		if (pids[i] != old)
			young = pids[i];
	cr_assert(young > 0, "no new worker");

	cr_assert(kill(young, SIGKILL) == 0);
	cr_assert(h_relay_log_wait(&relay, "a worker died: stopping the "
	    "serving ones", 5000) == 0, "log:\n%s", relay.log);
	usleep(200000);
	echo_intact(fd, 11, 4);
	cr_assert(kill(old, 0) == 0, "the draining worker was stopped");
	close(fd);
	cr_assert(h_relay_log_wait(&relay, "of generation 0 drained", 5000) ==
	    0, "log:\n%s", relay.log);
	st = h_relay_stop(&relay, 0, 5000);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d; log:\n%s",
	    st, relay.log);
	h_backend_stop(&normal);
	h_backend_stop(&hidden);
	rm_secrets();
}

/*
 * A new worker that hangs in its start-up (strace holds its seccomp()
 * call for 30 s): after WORKERS_READY_S (10 s) the reload fails, the new
 * worker is killed, and the old one serves on, not draining.
 */
Test(reload, a_new_worker_not_ready_in_time_keeps_the_old_generation,
    .timeout = 60, .disabled = SANDBOX_TESTS_DISABLED)
{
	char p[16], who[8];
	int fd, i, null, st;
	pid_t tr;

	if (geteuid() != 0 || system("strace -V >/dev/null 2>&1") != 0)
		cr_skip_test("needs root and strace");
	start_one_worker();
	fd = dial(OLD_KNOCK, who, sizeof(who));
	echo_intact(fd, 12, 2);

	snprintf(p, sizeof(p), "%d", (int)relay.pid);
	fflush(NULL);
	cr_assert((tr = fork()) != -1);
	if (tr == 0) {
		if ((null = open("/dev/null", O_RDWR)) != -1) {
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		execlp("strace", "strace", "-qq", "-f", "-p", p, "-o",
		    "/dev/null", "-e", "trace=seccomp", "-e",
		    "inject=seccomp:delay_enter=30000000", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 300 && tracer_of(relay.pid) != (long)tr; i++)
		usleep(10000);
	cr_assert_eq(tracer_of(relay.pid), (long)tr, "strace did not attach");

	rotate(NEW_KNOCK);
	cr_assert(kill(relay.pid, SIGHUP) == 0);
	cr_assert(h_relay_log_wait(&relay, "reload failed: 0 of 1 new workers "
	    "ready within 10 s; the old configuration serves on", 20000) == 0,
	    "log:\n%s", relay.log);
	kill(tr, SIGINT);
	cr_assert(waitpid(tr, &st, 0) == tr);
	echo_intact(fd, 13, 2);
	cr_assert_eq(h_relay_log_count(&relay, "draining"), 0, "log:\n%s",
	    relay.log);
	expect_route(OLD_KNOCK, "hidden");
	close(fd);
	stop();
}

/* --config: the file's path, and a second knock file beside the first. */
static char conf_path[96], knock2_path[96];

/* The configuration file: the knock file, then ${more} lines. */
static void
conf_put(const char * more)
{
	char text[1024];

	snprintf(text, sizeof(text), "# reload test\nknock-file %s\n%s",
	    knock_path, more);
	put(conf_path, text);
}

/* Secrets, the configuration file, a relay reading it. */
static void
conf_start(void)
{

	secrets(OLD_KNOCK);
	snprintf(conf_path, sizeof(conf_path), "%s/l7kk.conf", secret_dir);
	snprintf(knock2_path, sizeof(knock2_path), "%s/knock2", secret_dir);
	put(knock2_path, NEW_KNOCK);
	conf_put("");
	start((const char *[]){ "--workers", "1", "--config", conf_path,
	    NULL });
	cr_assert(h_relay_log_wait(&relay, "worker 0 ready", 5000) == 0,
	    "log:\n%s", relay.log);
}

static void
conf_stop(void)
{

	(void)unlink(conf_path);
	(void)unlink(knock2_path);
	stop();
}

/* SIGHUP reads the file again: a new route takes; --workers is kept. */
Test(reload, the_config_file_is_read_again, .timeout = 60)
{
	char line[512];

	conf_start();
	expect_route(NEW_KNOCK, "normal");
	/* The second route goes to the same hidden backend. */
	snprintf(line, sizeof(line), "route 127.0.0.1:%u,knock-file=%s,"
	    "name=two\nworkers 3\n", (unsigned)hidden.port, knock2_path);
	conf_put(line);
	reload_and_wait(1, 1);
	cr_assert_eq(h_relay_log_count(&relay, "reload: --workers changed: a "
	    "restart is needed for it; the running value is kept"), 1,
	    "log:\n%s", relay.log);
	cr_assert_eq(h_relay_log_count(&relay, "reload: configuration file"),
	    1, "log:\n%s", relay.log);
	expect_route(NEW_KNOCK, "hidden");
	expect_route(OLD_KNOCK, "hidden");
	conf_stop();
}

/* A file that does not parse is refused at err; the old knock serves on. */
Test(reload, a_broken_config_file_keeps_the_old_configuration, .timeout = 60)
{
	char want[160];
	int errors;

	conf_start();
	put(conf_path, "# broken\n\nfrobnicate 1\n");
	errors = h_relay_log_count(&relay, "error:");
	cr_assert(kill(relay.pid, SIGHUP) == 0);
	cr_assert(h_relay_log_wait(&relay, "reload refused: the old "
	    "configuration serves on", 5000) == 0, "log:\n%s", relay.log);
	snprintf(want, sizeof(want), "error: %s:3: unknown option "
	    "'frobnicate'", conf_path);
	cr_assert_eq(h_relay_log_count(&relay, want), 1, "log:\n%s",
	    relay.log);
	cr_assert_eq(h_relay_log_count(&relay, "error:"), errors + 1,
	    "log:\n%s", relay.log);
	cr_assert_eq(h_relay_log_count(&relay, "draining"), 0);
	expect_route(OLD_KNOCK, "hidden");
	expect_route(NEW_KNOCK, "normal");

	/* Mended, a reload then takes. */
	conf_put("");
	reload_and_wait(1, 1);
	expect_route(OLD_KNOCK, "hidden");
	conf_stop();
}
