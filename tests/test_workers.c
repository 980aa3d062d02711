/*
 * --workers N: N sandboxed relay processes on SO_REUSEPORT listeners under
 * one supervisor that notices a worker's death.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buildflags.h"
#include "conf.h"
#include "harness.h"
#include "run.h"
#include "workers.h"

static struct h_backend normal, hidden;
static struct h_relay relay;

static void
start_workers(const char * n)
{

	h_relay_setup(&relay, &normal, H_ECHO, &hidden, H_ECHO,
	    &(struct h_relay_conf){ .extra = (const char *[]){ "--workers", n,
	    NULL }, .knock = "knock" });
}

/* Has ${pid} ended (gone, or a zombie nobody reaped yet)? */
static int
ended(pid_t pid)
{
	char path[64], line[512], * p;
	FILE * f;
	int done = 1;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (1);
	if (fgets(line, sizeof(line), f) != NULL &&
	    (p = strrchr(line, ')')) != NULL && p[1] == ' ')
		done = (p[2] == 'Z' || p[2] == 'X');
	fclose(f);
	return (done);
}

static void
stop_backends(void)
{

	h_backend_stop(&normal);
	h_backend_stop(&hidden);
}

Test(workers, every_worker_is_sandboxed_and_serves, .timeout = 30)
{
	pid_t pids[8];
	char buf[8];
	int i, n, fd, st;

	start_workers("2");
	cr_assert(h_relay_log_wait(&relay, "worker 1 ready", 5000) == 0 &&
	    h_relay_log_wait(&relay, "worker 0 ready", 5000) == 0,
	    "log:\n%s", relay.log);
	n = h_proc_children(relay.pid, pids, 8);
	cr_assert_eq(n, 2, "%d workers", n);
	for (i = 0; i < n; i++)
		if (!SANDBOX_TESTS_DISABLED)
			cr_assert_eq(h_proc_status_num(pids[i], "Seccomp"), 2,
			    "worker %d not under seccomp", i);
	/*
	 * The supervisor is confined too, and keeps the listeners (one per
	 * worker, for the workers a reload forks) and no other socket.
	 */
	if (!SANDBOX_TESTS_DISABLED)
		cr_assert_eq(h_proc_status_num(relay.pid, "Seccomp"), 2,
		    "the supervisor is not under seccomp");
	cr_assert_eq(h_proc_fds(relay.pid, "socket:"), 2,
	    "the supervisor holds %d sockets, want its 2 listeners",
	    h_proc_fds(relay.pid, "socket:"));

	/* SO_REUSEPORT spreads 64 connections: each worker numbers its own. */
	for (i = 0; i < 64; i++) {
		fd = h_connect(AF_INET, relay.port);
		h_send_all(fd, "knockx", 6);
		shutdown(fd, SHUT_WR);
		cr_assert_eq(h_recv(fd, buf, sizeof(buf), 3000), 1);
		close(fd);
	}
	cr_assert(h_relay_log_wait(&relay, "conn 1.1 closed", 3000) == 0);
	cr_assert(h_relay_log_wait(&relay, "conn 2.1 closed", 3000) == 0,
	    "not every worker served; log:\n%s", relay.log);
	cr_assert_eq(h_relay_log_count(&relay, "conn 1.1 routed"), 1);
	cr_assert_eq(h_relay_log_count(&relay, "conn 2.1 routed"), 1);

	st = h_relay_stop(&relay, SIGTERM, 3000);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	stop_backends();
}

Test(workers, a_dead_worker_stops_the_relay_non_zero, .timeout = 30)
{
	pid_t pids[8];
	int n, st;

	start_workers("2");
	cr_assert(h_relay_log_wait(&relay, "worker 1 ready", 5000) == 0);
	cr_assert(h_relay_log_wait(&relay, "worker 0 ready", 5000) == 0);
	n = h_proc_children(relay.pid, pids, 8);
	cr_assert_eq(n, 2);
	kill(pids[1], SIGKILL);
	cr_assert(h_relay_log_wait(&relay, "killed by signal 9", 3000) == 0,
	    "log:\n%s", relay.log);
	cr_assert(h_relay_log_wait(&relay, "a worker died", 3000) == 0);

	/* The supervisor exits by itself, non-zero, so systemd restarts it. */
	st = h_relay_stop(&relay, 0, 3000);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d", st);
	stop_backends();
}

Test(workers, workers_die_with_the_supervisor, .timeout = 30)
{
	pid_t pids[8];
	uint64_t end;
	int i, n, st, left;

	start_workers("2");
	cr_assert(h_relay_log_wait(&relay, "worker 1 ready", 5000) == 0);
	cr_assert(h_relay_log_wait(&relay, "worker 0 ready", 5000) == 0);
	n = h_proc_children(relay.pid, pids, 8);
	cr_assert_eq(n, 2);

	/* No orphan serves on after its supervisor is killed. */
	kill(relay.pid, SIGKILL);
	end = h_now_ms() + 3000;
	do {
		for (i = 0, left = 0; i < n; i++)
			left += !ended(pids[i]);
		if (left > 0)
			usleep(10000);
	} while (left > 0 && h_now_ms() < end);
	/* Survivors hold the log pipe: end them before reaping. */
	for (i = 0; i < n; i++)
		if (!ended(pids[i]))
			kill(pids[i], SIGKILL);
	st = h_relay_stop(&relay, 0, 3000);
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "status %d", st);
	cr_assert_eq(left, 0, "%d workers outlived their supervisor", left);
	stop_backends();
}

/* workers_run() callbacks for the refusal test: count in the caller. */
static int workers_forked_calls;

static int
refuse_work(void * cookie, size_t w, unsigned id, int ready)
{

	(void)cookie;
	(void)w;
	(void)id;
	(void)ready;
	return (0);
}

static void
refuse_forked(void * cookie)
{

	(void)cookie;
	workers_forked_calls++;
}

static int
refuse_reload(void * cookie)
{

	(void)cookie;
	workers_forked_calls++;
	return (-1);
}

/* More than WORKERS_MAX (or 0) workers: refused, nothing forked. */
Test(workers, more_than_workers_max_is_refused, .timeout = 30)
{

	struct workers_conf WC = { WORKERS_MAX + 1, refuse_work,
	    refuse_forked, NULL, refuse_reload, NULL };

	workers_forked_calls = 0;
	cr_assert_eq(workers_run(&WC), 1);
	WC.n = 0;
	cr_assert_eq(workers_run(&WC), 1);
	cr_assert_eq(workers_forked_calls, 0, "workers were forked");
	cr_assert_eq(CONF_WORKERS_MAX, WORKERS_MAX);
}

/*
 * A worker that cannot start fails the relay's start with its own status
 * (71, as a single process did): under descriptor limits from tight to
 * roomy, one lets the supervisor fork but leaves its worker too few; that
 * run exits 71 and never says "ready" (nor would it send READY=1).
 */
Test(workers, a_worker_that_cannot_start_fails_with_its_status,
    .timeout = 60)
{
	static char err[16384];
	char lim[32];
	const char * argv[H_ARGV_MAX + 2];
	struct h_argv A;
	int n, i, st, seen = 0;

	h_relay_argv(&(struct h_relay_conf){ .normal = 9, .hidden = 9,
	    .knock = "knock" }, &A);
	argv[0] = "/usr/bin/prlimit";
	argv[1] = lim;
	for (i = 0; A.v[i] != NULL; i++)
		argv[i + 2] = A.v[i];
	argv[i + 2] = NULL;
	for (n = 5; n <= 16 && !seen; n++) {
		snprintf(lim, sizeof(lim), "--nofile=%d:%d", n, n);
		cr_assert(run_capture((char * const *)argv, 5000, &st, NULL, 0,
		    err, sizeof(err)) == 0);
		if (strstr(err, "worker 0 (pid ") == NULL)
			continue;
		seen = 1;
		cr_assert(strstr(err, "exited with status 71") != NULL, "%s",
		    err);
		cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 71,
		    "status %#x: %s", st, err);
		cr_assert(strstr(err, "l7knockknock: ready\n") == NULL, "%s",
		    err);
	}
	cr_assert(seen, "no descriptor limit from 5 to 16 made the worker "
	    "fail alone; last log:\n%s", err);
}
