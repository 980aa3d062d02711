#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "workers.h"

/* Send ${sig} to every worker still running. */
static void
workers_kill(const pid_t * pids, size_t n, int sig)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (pids[i] > 0)
			(void)kill(pids[i], sig);
}

/*
 * Reap exited workers; return 1 if one failed, or ended at all while not
 * ${stopping} (a worker that just goes away is a failure too).
 */
static int
workers_reap(pid_t * pids, size_t n, size_t * left, int stopping)
{
	int st, failed = 0;
	pid_t pid;
	size_t i;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (i = 0; i < n && pids[i] != pid; i++)
			;
		if (i == n)
			continue;
		pids[i] = 0;
		(*left)--;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0 && stopping)
			continue;
		failed = 1;
		if (WIFSIGNALED(st))
			log_err("worker %zu (pid %d) killed by signal %d", i,
			    (int)pid, WTERMSIG(st));
		else
			log_err("worker %zu (pid %d) exited with status %d", i,
			    (int)pid, WEXITSTATUS(st));
	}
	return (failed);
}

/* Start the workers; return how many started. */
static size_t
workers_fork(pid_t * pids, size_t n, int (*work)(void *, size_t),
    void * cookie)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if ((pids[i] = fork()) == -1) {
			log_errp("cannot start worker %zu", i);
			break;
		}
		if (pids[i] == 0)
			_exit(work(cookie, i));		/* The worker ends here. */
	}
	return (i);
}

/* Block the signals the supervisor waits for, and name them in ${set}. */
static int
workers_signals(sigset_t * set)
{

	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, set, NULL)) {
		log_errp("cannot set up signal handling");
		return (-1);
	}
	return (0);
}

/* Fork and supervise the workers. */
int
workers_run(size_t n, int (*work)(void *, size_t), void (*forked)(void *),
    void * cookie)
{
	pid_t pids[WORKERS_MAX];
	sigset_t set;
	size_t left;
	int sig, stopping = 0, failed = 0;

	if (n == 0 || n > WORKERS_MAX) {
		log_err("cannot start %zu workers: 1 to %d", n, WORKERS_MAX);
		return (1);
	}
	if (workers_signals(&set))
		return (1);
	left = workers_fork(pids, n, work, cookie);
	if (forked != NULL)
		forked(cookie);
	if (left < n) {
		workers_kill(pids, left, SIGTERM);
		failed = 1;
		stopping = 1;
		n = left;
	}

	while (left > 0) {
		if ((sig = sigwaitinfo(&set, NULL)) == -1) {
			if (errno == EINTR)
				continue;
			log_errp("sigwaitinfo");
			workers_kill(pids, n, SIGKILL);
			return (1);
		}
		if (sig == SIGHUP) {
			log_info("received SIGHUP: reload not implemented yet, "
			    "ignored");
			continue;
		}
		if (sig == SIGTERM || sig == SIGINT) {
			stopping = 1;
			workers_kill(pids, n, SIGTERM);
			continue;
		}
		if (workers_reap(pids, n, &left, stopping)) {
			failed = 1;
			if (!stopping) {
				/* Never run on at reduced capacity. */
				log_err("a worker died: stopping the others");
				stopping = 1;
				workers_kill(pids, n, SIGTERM);
			}
		}
	}
	return ((failed || !stopping) ? 1 : 0);
}
