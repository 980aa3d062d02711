#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "run.h"

/* An output being captured. */
struct run_sink {
	int fd;			/* Read end, or -1 at EOF. */
	char * buf;		/* NULL: discard. */
	size_t size;
	size_t len;
};

/* Monotonic milliseconds. */
static int64_t
run_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Start ${argv} with stdout and stderr on new pipes; return the pid or -1. */
static pid_t
run_spawn(char * const * argv, int * outfd, int * errfd)
{
	int po[2], pe[2], devnull;
	pid_t pid;

	if (pipe2(po, O_CLOEXEC))
		goto err0;
	if (pipe2(pe, O_CLOEXEC))
		goto err1;
	fflush(NULL);
	if ((pid = fork()) == -1)
		goto err2;
	if (pid == 0) {
		/* Child: dup2 clears close-on-exec on 0, 1 and 2. */
		if ((devnull = open("/dev/null", O_RDONLY)) == -1 ||
		    dup2(devnull, 0) == -1 || dup2(po[1], 1) == -1 ||
		    dup2(pe[1], 2) == -1)
			_exit(126);
		signal(SIGPIPE, SIG_DFL);
		execv(argv[0], argv);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	*outfd = po[0];
	*errfd = pe[0];

	/* Success! */
	return (pid);

err2:
	close(pe[0]);
	close(pe[1]);
err1:
	close(po[0]);
	close(po[1]);
err0:
	/* Failure! */
	return (-1);
}

/* Read what is available on ${S}; mark EOF. */
static void
run_drain(struct run_sink * S)
{
	char scratch[4096];
	ssize_t n;
	size_t room;

	room = (S->buf != NULL && S->len + 1 < S->size) ?
	    S->size - 1 - S->len : 0;
	if (room > 0)
		n = read(S->fd, S->buf + S->len, room);
	else
		n = read(S->fd, scratch, sizeof(scratch));
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		close(S->fd);
		S->fd = -1;
		return;
	}
	if (room > 0) {
		S->len += (size_t)n;
		S->buf[S->len] = '\0';
	}
}

/* Wait for ${pid} until ${deadline}; return 0 (reaped) or -1 (still up). */
static int
run_reap(pid_t pid, int64_t deadline, int * status)
{
	pid_t r;

	for (;;) {
		if ((r = waitpid(pid, status, WNOHANG)) == pid)
			return (0);
		if (r == -1 && errno != EINTR)
			return (0);
		if (run_now() >= deadline)
			return (-1);
		poll(NULL, 0, 5);
	}
}

/* Run, capture, and act once ${until} appears on stderr. */
int
run_capture_until(char * const * argv, int timeout_ms, const char * until,
    void (* fn)(pid_t, void *), void * cookie, int * status, char * out,
    size_t outlen, char * err, size_t errlen)
{
	/* Our own copy of stderr for the ${until} search, always kept. */
	static char errcopy[1 << 16];
	struct run_sink S[2];
	struct pollfd pfd[2];
	int64_t deadline = run_now() + timeout_ms;
	int64_t left;
	int seen = (until == NULL), i, n, killed = 0;
	pid_t pid;

	*status = -1;
	if (out != NULL && outlen > 0)
		out[0] = '\0';
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	errcopy[0] = '\0';
	S[0] = (struct run_sink){ -1, out, outlen, 0 };
	S[1] = (struct run_sink){ -1, errcopy, sizeof(errcopy), 0 };
	if ((pid = run_spawn(argv, &S[0].fd, &S[1].fd)) == -1)
		return (-1);

	while (S[0].fd != -1 || S[1].fd != -1) {
		if ((left = deadline - run_now()) <= 0)
			break;
		for (i = 0; i < 2; i++) {
			pfd[i].fd = S[i].fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
		}
		if ((n = poll(pfd, 2, (int)left)) == -1 && errno != EINTR)
			break;
		for (i = 0; n > 0 && i < 2; i++)
			if (pfd[i].revents != 0)
				run_drain(&S[i]);
		if (!seen && strstr(errcopy, until) != NULL) {
			seen = 1;
			if (fn != NULL)
				fn(pid, cookie);
			else
				kill(pid, SIGTERM);
		}
	}
	if (run_reap(pid, deadline, status)) {
		killed = 1;
		kill(pid, SIGKILL);
		run_reap(pid, run_now() + 5000, status);
	}
	for (i = 0; i < 2; i++)
		if (S[i].fd != -1)
			close(S[i].fd);
	if (err != NULL && errlen > 0) {
		n = (int)(S[1].len < errlen - 1 ? S[1].len : errlen - 1);
		memcpy(err, errcopy, (size_t)n);
		err[n] = '\0';
	}
	if (killed)
		return (-1);
	return (seen ? 0 : 1);
}

/* Run and capture. */
int
run_capture(char * const * argv, int timeout_ms, int * status, char * out,
    size_t outlen, char * err, size_t errlen)
{

	return (run_capture_until(argv, timeout_ms, NULL, NULL, NULL, status,
	    out, outlen, err, errlen));
}

/* Point ${fd} at an unlinked temporary file. */
int
run_redirect_begin(struct run_redirect * R, int fd)
{
	char tmpl[] = "/tmp/l7kk-capture-XXXXXX";

	fflush(NULL);
	R->fd = fd;
	if ((R->tmp = mkstemp(tmpl)) == -1)
		goto err0;
	unlink(tmpl);
	if ((R->saved = dup(fd)) == -1)
		goto err1;
	if (dup2(R->tmp, fd) == -1)
		goto err2;

	/* Success! */
	return (0);

err2:
	close(R->saved);
err1:
	close(R->tmp);
err0:
	/* Failure! */
	return (-1);
}

/* Restore ${R}->fd and return what was written. */
ssize_t
run_redirect_end(struct run_redirect * R, char * buf, size_t len)
{
	ssize_t n = -1;

	fflush(NULL);
	if (dup2(R->saved, R->fd) == -1)
		goto done;
	if (lseek(R->tmp, 0, SEEK_SET) != 0)
		goto done;
	if ((n = read(R->tmp, buf, len - 1)) < 0)
		n = -1;
	buf[n > 0 ? n : 0] = '\0';
done:
	close(R->saved);
	close(R->tmp);
	return (n);
}
