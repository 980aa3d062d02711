#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "probe.h"

/* End the probe child with the outcome of a call that returned ${rc}. */
void
probe_result(long rc)
{

	_exit(rc == -1 ? errno : PROBE_DONE);
}

/* Run ${attempt} in a child that entered a sandbox with ${enter}. */
int
probe_fork(void (*enter)(void), void (*attempt)(void))
{
	pid_t pid;
	int st;

	fflush(NULL);
	cr_assert((pid = fork()) != -1);
	if (pid == 0) {
		enter();
		attempt();
		_exit(PROBE_DONE);
	}
	cr_assert(waitpid(pid, &st, 0) == pid);
	return (st);
}

/* How a probe child ended. */
const char *
probe_how(int st, const char * sandbox)
{
	static char buf[96];

	if (WIFSIGNALED(st))
		snprintf(buf, sizeof(buf), "killed by signal %d", WTERMSIG(st));
	else if (WEXITSTATUS(st) == PROBE_DONE)
		snprintf(buf, sizeof(buf), "the attempt succeeded");
	else if (WEXITSTATUS(st) == PROBE_NOSANDBOX)
		snprintf(buf, sizeof(buf), "%s failed", sandbox);
	else
		snprintf(buf, sizeof(buf), "refused with errno %d (%s)",
		    WEXITSTATUS(st), strerror(WEXITSTATUS(st)));
	return (buf);
}
