/*
 * The --workers supervisor: it forks the workers, passes SIGTERM/SIGINT
 * on, treats a serving worker's death as fatal, and on SIGHUP starts a new
 * generation of workers on the same listeners (through the caller's
 * reload callback) and tells the old generation to drain (SIGUSR1).  It
 * never touches a client byte.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "workers.h"

/* One worker process. */
struct workers_slot {
	pid_t pid;		/* 0: a free slot. */
	size_t index;		/* Its listeners' row (0 .. n-1). */
	unsigned gen;		/* Its generation (reloads before it). */
	int draining;		/* Told to drain: its exit is expected. */
};

/* The supervisor's state. */
struct workers {
	struct workers_slot w[WORKERS_SLOTS];
	size_t n;		/* Workers per generation. */
	size_t left;		/* Slots in use. */
	unsigned gen;		/* The serving generation. */
	int stopping;
	int failed;
	int (*work)(void *, size_t);
	void (*forked)(void *);
	int (*reload)(void *);
	void * cookie;
};

/* Send ${sig} to every worker. */
static void
workers_kill(const struct workers * W, int sig)
{
	size_t i;

	for (i = 0; i < WORKERS_SLOTS; i++)
		if (W->w[i].pid > 0)
			(void)kill(W->w[i].pid, sig);
}

/* Log how worker ${S} ended with wait status ${st}, at ${level}. */
static void
workers_log_end(const struct workers_slot * S, int st, int level)
{

	if (WIFSIGNALED(st))
		log_msg(level, "worker %zu (pid %d) killed by signal %d",
		    S->index, (int)S->pid, WTERMSIG(st));
	else
		log_msg(level, "worker %zu (pid %d) exited with status %d",
		    S->index, (int)S->pid, WEXITSTATUS(st));
}

/*
 * Worker ${S} ended with ${st}: a draining worker's end is expected (a
 * failure is a warning), so is any end once stopping with status 0;
 * anything else is a failure.  Return 1 on a failure.
 */
static int
workers_ended(struct workers * W, struct workers_slot * S, int st)
{
	int clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	int failed = 0;

	if (S->draining && clean)
		log_info("worker %zu (pid %d) of generation %u drained",
		    S->index, (int)S->pid, S->gen);
	else if (S->draining)
		workers_log_end(S, st, LOG_WARN);
	else if (!(clean && W->stopping)) {
		workers_log_end(S, st, LOG_ERR);
		failed = 1;
	}
	S->pid = 0;
	W->left--;
	return (failed);
}

/* Reap exited workers; return 1 if a serving one failed. */
static int
workers_reap(struct workers * W)
{
	int st, failed = 0;
	pid_t pid;
	size_t i;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (i = 0; i < WORKERS_SLOTS && W->w[i].pid != pid; i++)
			;
		if (i < WORKERS_SLOTS)
			failed |= workers_ended(W, &W->w[i], st);
	}
	return (failed);
}

/* Free slots. */
static size_t
workers_free(const struct workers * W)
{

	return (WORKERS_SLOTS - W->left);
}

/*
 * Start generation ${gen}: ${W}->n workers.  Return 0, or -1 after
 * reporting (the ones started are then told to stop, as draining).
 */
static int
workers_fork(struct workers * W, unsigned gen)
{
	size_t i, j = 0, started = 0;
	pid_t pid;

	for (i = 0; i < W->n; i++) {
		while (j < WORKERS_SLOTS && W->w[j].pid != 0)
			j++;
		if (j == WORKERS_SLOTS) {
			log_err("cannot start worker %zu: no free slot", i);
			break;
		}
		if ((pid = fork()) == -1) {
			log_errp("cannot start worker %zu", i);
			break;
		}
		if (pid == 0)
			_exit(W->work(W->cookie, i));	/* The worker ends here. */
		W->w[j] = (struct workers_slot){ pid, i, gen, 0 };
		W->left++;
		started++;
	}
	if (W->forked != NULL)
		W->forked(W->cookie);
	if (started == W->n)
		return (0);
	for (j = 0; j < WORKERS_SLOTS; j++) {
		if (W->w[j].pid > 0 && W->w[j].gen == gen) {
			W->w[j].draining = 1;
			(void)kill(W->w[j].pid, SIGTERM);
		}
	}
	return (-1);
}

/* Tell every worker of a generation before ${gen} to drain. */
static size_t
workers_drain(struct workers * W, unsigned gen)
{
	size_t i, n = 0;

	for (i = 0; i < WORKERS_SLOTS; i++) {
		if (W->w[i].pid > 0 && W->w[i].gen < gen && !W->w[i].draining) {
			W->w[i].draining = 1;
			(void)kill(W->w[i].pid, SIGUSR1);
			n++;
		}
	}
	return (n);
}

/* SIGHUP: new secrets, a new generation, the old one drains. */
static void
workers_reload(struct workers * W)
{
	size_t old;

	if (W->stopping)
		return;
	if (workers_free(W) < W->n) {
		log_err("reload refused: %zu old workers are still draining "
		    "(--drain-timeout ends them)", W->left - W->n);
		return;
	}
	log_info("received SIGHUP: reloading the knock and key files");
	if (W->reload(W->cookie)) {
		log_warn("reload refused: the old configuration serves on");
		return;
	}
	if (workers_fork(W, W->gen + 1)) {
		log_err("reload failed: the old workers serve on");
		return;
	}
	W->gen++;
	old = workers_drain(W, W->gen);
	log_info("reload: %zu workers of generation %u started, %zu old ones "
	    "draining", W->n, W->gen, old);
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
	sigaddset(set, SIGUSR1);	/* Only blocked: for the workers. */
	if (sigprocmask(SIG_BLOCK, set, NULL)) {
		log_errp("cannot set up signal handling");
		return (-1);
	}
	sigdelset(set, SIGUSR1);
	return (0);
}

/* Act on signal ${sig}. */
static void
workers_signal(struct workers * W, int sig)
{

	switch (sig) {
	case SIGHUP:
		if (W->reload == NULL)
			log_info("received SIGHUP: no reload here, ignored");
		else
			workers_reload(W);
		break;
	case SIGTERM:
	case SIGINT:
		W->stopping = 1;
		workers_kill(W, SIGTERM);
		break;
	default:
		if (workers_reap(W)) {
			W->failed = 1;
			if (!W->stopping) {
				/* Never run on at reduced capacity. */
				log_err("a worker died: stopping the others");
				W->stopping = 1;
				workers_kill(W, SIGTERM);
			}
		}
	}
}

/* Fork and supervise the workers. */
int
workers_run(size_t n, int (*work)(void *, size_t), void (*forked)(void *),
    int (*reload)(void *), void * cookie)
{
	static struct workers W;
	sigset_t set;
	int sig;

	if (n == 0 || n > WORKERS_MAX) {
		log_err("cannot start %zu workers: 1 to %d", n, WORKERS_MAX);
		return (1);
	}
	if (workers_signals(&set))
		return (1);
	W = (struct workers){ .n = n, .work = work, .forked = forked,
	    .reload = reload, .cookie = cookie };
	if (workers_fork(&W, 0)) {
		W.failed = W.stopping = 1;
		workers_kill(&W, SIGTERM);
	}

	while (W.left > 0) {
		if ((sig = sigwaitinfo(&set, NULL)) == -1) {
			if (errno == EINTR)
				continue;
			log_errp("sigwaitinfo");
			workers_kill(&W, SIGKILL);
			return (1);
		}
		workers_signal(&W, sig);
	}
	return ((W.failed || !W.stopping) ? 1 : 0);
}
