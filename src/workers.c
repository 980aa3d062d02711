/*
 * The supervisor (always: one worker without --workers): it forks the
 * workers, says "up" once the first ones are, passes SIGTERM/SIGINT
 * on, treats a serving worker's death as fatal, and on SIGHUP starts a new
 * generation of workers on the same listeners (through the caller's
 * reload callback); once every new worker has reported ready (a byte on a
 * pipe) it tells the old generation to drain (SIGUSR1).  A new worker that
 * dies first, or is not ready in time, fails the reload: the new
 * generation is stopped and the old one serves on.  It never touches a
 * client byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
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
	unsigned ids;		/* Worker processes started so far. */
	int starting;		/* The first generation is not all up. */
	int hup;		/* SIGHUP while starting: reload once up. */
	int stopping;
	int failed;
	int status;		/* The first failed serving worker's exit
				   status, if non-zero. */
	int rfd;		/* A generation's ready pipe; -1: none
				   pending. */
	size_t ready;		/* New workers ready so far. */
	uint64_t deadline_ms;	/* Not all ready by then: the reload fails. */
	const struct workers_conf * conf;
};

/* Reasons workers_ended() gives. */
#define WORKERS_FAILED		1	/* A serving worker ended. */
#define WORKERS_NEW_FAILED	2	/* A new worker ended before ready. */

/* Milliseconds on the monotonic clock. */
static uint64_t
workers_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* Send ${sig} to every worker. */
static void
workers_kill(const struct workers * W, int sig)
{
	size_t i;

	for (i = 0; i < WORKERS_SLOTS; i++)
		if (W->w[i].pid > 0)
			(void)kill(W->w[i].pid, sig);
}

/* SIGTERM to every worker not draining (draining ones finish). */
static void
workers_kill_serving(const struct workers * W)
{
	size_t i;

	for (i = 0; i < WORKERS_SLOTS; i++)
		if (W->w[i].pid > 0 && !W->w[i].draining)
			(void)kill(W->w[i].pid, SIGTERM);
}

/* Forget a pending reload's ready pipe. */
static void
workers_unpend(struct workers * W)
{

	if (W->rfd != -1)
		(void)close(W->rfd);
	W->rfd = -1;
}

/* Is ${S} a worker of the pending reload's generation? */
static int
workers_is_new(const struct workers * W, const struct workers_slot * S)
{

	return (W->rfd != -1 && !W->starting && S->gen == W->gen + 1 &&
	    !S->draining);
}

/*
 * The pending reload failed (the caller reports why): kill its workers
 * (SIGKILL: one stuck in its start-up never reads a SIGTERM, which only
 * its relay loop takes from a signalfd), their end then expected; the old
 * generation serves on.
 */
static void
workers_abort(struct workers * W)
{
	size_t i;

	for (i = 0; i < WORKERS_SLOTS; i++) {
		if (W->w[i].pid > 0 && workers_is_new(W, &W->w[i])) {
			W->w[i].draining = 1;
			(void)kill(W->w[i].pid, SIGKILL);
		}
	}
	workers_unpend(W);
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
 * failure is a warning), so is any end once stopping with status 0; a
 * new worker's end before the reload took fails the reload; anything
 * else is a failure.  Return 0, WORKERS_FAILED or WORKERS_NEW_FAILED.
 */
static int
workers_ended(struct workers * W, struct workers_slot * S, int st)
{
	int clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;
	int failed = 0;

	if (workers_is_new(W, S)) {
		log_err("new worker %zu (pid %d) %s %d before it was ready",
		    S->index, (int)S->pid, WIFSIGNALED(st) ?
		    "was killed by signal" : "exited with status",
		    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		failed = WORKERS_NEW_FAILED;
	} else if (S->draining && clean)
		log_info("worker %zu (pid %d) of generation %u drained",
		    S->index, (int)S->pid, S->gen);
	else if (S->draining)
		workers_log_end(S, st, LOG_WARN);
	else if (!(clean && W->stopping)) {
		workers_log_end(S, st, LOG_ERR);
		if (W->status == 0 && WIFEXITED(st))
			W->status = WEXITSTATUS(st);
		failed = WORKERS_FAILED;
	}
	S->pid = 0;
	W->left--;
	return (failed);
}

/* Reap exited workers; return workers_ended()'s reasons, or-ed. */
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
 * Start generation ${gen}: ${W}->n workers, each given ${wfd} (closed
 * here after the forks, if not -1).  Return 0, or -1 after reporting (the
 * ones started are then told to stop, as draining).
 */
static int
workers_fork(struct workers * W, unsigned gen, int wfd)
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
		if (pid == 0) {
			if (W->rfd != -1)
				(void)close(W->rfd);
			/* It ends here. */
			_exit(W->conf->work(W->conf->cookie, i, W->ids, wfd));
		}
		W->ids++;
		W->w[j] = (struct workers_slot){ pid, i, gen, 0 };
		W->left++;
		started++;
	}
	if (wfd != -1)
		(void)close(wfd);
	if (W->conf->forked != NULL)
		W->conf->forked(W->conf->cookie);
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

/* Every new worker is ready: the new generation serves, the old drains. */
static void
workers_take(struct workers * W)
{
	size_t old;

	workers_unpend(W);
	W->gen++;
	old = workers_drain(W, W->gen);
	log_info("reload: %zu workers of generation %u started, %zu old ones "
	    "draining", W->n, W->gen, old);
}

static void workers_reload(struct workers *);

/* The first generation is up: say so (and reload if SIGHUP came). */
static void
workers_up(struct workers * W)
{

	workers_unpend(W);
	W->starting = 0;
	if (W->conf->up != NULL)
		W->conf->up(W->conf->cookie);
	if (W->hup)
		workers_reload(W);
	W->hup = 0;
}

/*
 * A generation is starting: count the ready bytes; take it (or, the
 * first, say it is up) or time a reload out.
 */
static void
workers_poll(struct workers * W)
{
	char buf[64];
	ssize_t n;

	while (W->rfd != -1 && (n = read(W->rfd, buf, sizeof(buf))) > 0)
		W->ready += (size_t)n;
	if (W->rfd == -1)
		return;
	if (W->ready >= W->n && W->starting)
		workers_up(W);
	else if (W->ready >= W->n)
		workers_take(W);
	else if (!W->starting && workers_now_ms() >= W->deadline_ms) {
		workers_abort(W);
		log_err("reload failed: %zu of %zu new workers ready within "
		    "%d s; the old configuration serves on", W->ready, W->n,
		    WORKERS_READY_S);
	}
}

/*
 * SIGHUP: new secrets, a new generation; the old one drains once every
 * new worker is ready (workers_poll).
 */
static void
workers_reload(struct workers * W)
{
	int p[2], rc;

	if (W->stopping)
		return;
	if (W->starting) {
		W->hup = 1;		/* workers_up() reloads. */
		return;
	}
	if (W->rfd != -1) {
		log_err("reload refused: the last reload's workers are still "
		    "starting");
		return;
	}
	if (workers_free(W) < W->n) {
		log_err("reload refused: %zu old workers are still draining "
		    "(hidden-route sessions: --drain-timeout ends them)",
		    W->left - W->n);
		return;
	}
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC)) {
		log_errp("reload failed: pipe2; the old configuration serves "
		    "on");
		return;
	}
	if ((rc = W->conf->reload(W->conf->cookie)) != 0) {
		(void)close(p[0]);
		(void)close(p[1]);
		if (rc < 0)
			log_warn("reload refused: the old configuration "
			    "serves on");
		return;
	}
	W->rfd = p[0];		/* Each new worker closes it. */
	W->ready = 0;
	if (workers_fork(W, W->gen + 1, p[1])) {
		workers_unpend(W);
		log_err("reload failed: the old configuration serves on");
		return;
	}
	W->deadline_ms = workers_now_ms() + (uint64_t)WORKERS_READY_S * 1000;
	log_info("reload: %zu workers of generation %u starting", W->n,
	    W->gen + 1);
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
	sigaddset(set, SIGUSR1);	/* Inherited blocked: a signalfd's. */
	if (sigprocmask(SIG_BLOCK, set, NULL)) {
		log_errp("cannot set up signal handling");
		return (-1);
	}
	return (0);
}

/*
 * Act on workers_reap()'s ${why}: a new worker's death fails the pending
 * reload; a serving worker's stops every serving worker (never run on at
 * reduced capacity) while draining ones finish their sessions.
 */
static void
workers_died(struct workers * W, int why)
{

	if ((why & WORKERS_NEW_FAILED) && W->rfd != -1) {
		workers_abort(W);
		log_err("reload failed: a new worker died before it was "
		    "ready; the old configuration serves on");
	}
	if (!(why & WORKERS_FAILED))
		return;
	W->failed = 1;
	if (W->stopping)
		return;
	log_err("a worker died: stopping the serving ones");
	W->stopping = 1;
	workers_unpend(W);
	workers_kill_serving(W);
}

/*
 * SIGUSR1: a graceful stop.  Every worker drains (a pending reload's are
 * killed: they never served), then the supervisor exits.
 */
static void
workers_drain_all(struct workers * W)
{

	if (W->stopping)
		return;
	log_info("received SIGUSR1: every worker drains, then the supervisor "
	    "exits");
	if (W->rfd != -1 && !W->starting)
		workers_abort(W);
	W->stopping = 1;
	workers_unpend(W);
	(void)workers_drain(W, W->gen + 2);
}

/* Act on signal ${sig}. */
static void
workers_signal(struct workers * W, int sig)
{

	switch (sig) {
	case SIGHUP:
		if (W->conf->reload == NULL)
			log_info("received SIGHUP: no reload here, ignored");
		else
			workers_reload(W);
		break;
	case SIGTERM:
	case SIGINT:
		W->stopping = 1;
		workers_unpend(W);
		workers_kill(W, SIGTERM);
		break;
	case SIGUSR1:
		workers_drain_all(W);
		break;
	default:
		workers_died(W, workers_reap(W));
	}
}

/*
 * Fork the first generation, with a ready pipe (workers_poll says when it
 * is up).  Return 0 or -1 (reported; the ones started are told to stop).
 */
static int
workers_start(struct workers * W)
{
	int p[2];

	if (pipe2(p, O_NONBLOCK | O_CLOEXEC)) {
		log_errp("cannot start the workers: pipe2");
		return (-1);
	}
	W->rfd = p[0];		/* Each worker closes it. */
	W->starting = 1;
	if (workers_fork(W, 0, p[1])) {
		workers_unpend(W);
		return (-1);
	}
	return (0);
}

/* Fork and supervise the workers. */
int
workers_run(const struct workers_conf * conf)
{
	static const struct timespec tick = { 0, 100L * 1000 * 1000 };
	static struct workers W;
	sigset_t set;
	int sig;

	if (conf->n == 0 || conf->n > WORKERS_MAX) {
		log_err("cannot start %zu workers: 1 to %d", conf->n,
		    WORKERS_MAX);
		return (1);
	}
	if (workers_signals(&set))
		return (1);
	W = (struct workers){ .n = conf->n, .conf = conf, .rfd = -1 };
	if (workers_start(&W)) {
		W.failed = W.stopping = 1;
		workers_kill(&W, SIGTERM);
	}

	while (W.left > 0) {
		/* While a reload is pending, wake up to read its pipe. */
		sig = sigtimedwait(&set, NULL, W.rfd == -1 ? NULL : &tick);
		if (sig == -1 && errno != EINTR && errno != EAGAIN) {
			log_errp("sigtimedwait");
			workers_kill(&W, SIGKILL);
			return (1);
		}
		if (sig != -1)
			workers_signal(&W, sig);
		workers_poll(&W);
	}
	if (!W.failed && W.stopping)
		return (0);
	return (W.status != 0 ? W.status : 1);
}
