#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "policy_table.h"
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

/* Is ${nr} allowed by a rule of ${T}? */
int
probe_allows(const struct policy_rule * T, size_t n, int nr)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (T[i].nr == nr && T[i].action == POLICY_ALLOW)
			return (1);
	return (0);
}

/* Each rule of ${T} has its reason and a syscall number. */
void
probe_rules_say_why(const struct policy_rule * T, size_t n)
{
	size_t i;

	cr_assert(n > 0);
	for (i = 0; i < n; i++) {
		cr_expect(T[i].reason != NULL && strlen(T[i].reason) >= 8,
		    "rule %zu (%s) has no reason", i, T[i].name);
		cr_expect(T[i].nr >= 0, "%s is not a syscall here", T[i].name);
	}
}

/* Assert that ${attempt} under ${enter} dies by SIGSYS. */
void
probe_expect_sigsys(void (*enter)(void), const char * sandbox,
    void (*attempt)(void), const char * what)
{
	int st = probe_fork(enter, attempt);

	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
	    "%s: want death by SIGSYS, got: %s", what, probe_how(st, sandbox));
}

/* Assert that ${attempt} under ${enter} exits ${code}. */
void
probe_expect_exit(void (*enter)(void), const char * sandbox,
    void (*attempt)(void), int code, const char * what)
{
	int st = probe_fork(enter, attempt);

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == code,
	    "%s: want exit %d (%s), got: %s", what, code,
	    code == PROBE_DONE ? "done" : strerror(code),
	    probe_how(st, sandbox));
}

/* Read a file no sandbox lets in. */
void
probe_try_open_passwd(void)
{

	probe_result(open("/etc/passwd", O_RDONLY));
}

/* Run another program. */
void
probe_try_execve(void)
{
	char * const argv[] = { "/bin/true", NULL };
	char * const envp[] = { NULL };

	probe_result(execve("/bin/true", argv, envp));
}

/* Make a process. */
void
probe_try_fork(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	probe_result(pid);
}

/* Make a process by clone3 (which seccomp cannot inspect). */
void
probe_try_clone3(void)
{

	probe_result(syscall(SYS_clone3, NULL, 0));
}

/* Be traced. */
void
probe_try_ptrace(void)
{

	probe_result(ptrace(PTRACE_TRACEME, 0, NULL, NULL));
}

/* A UNIX socket. */
void
probe_try_unix_socket(void)
{

	probe_result(socket(AF_UNIX, SOCK_STREAM, 0));
}

/* A UDP socket, with the flags the relay's TCP sockets carry. */
void
probe_try_udp_socket(void)
{

	probe_result(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    IPPROTO_UDP));
}

/* Become root. */
void
probe_try_setuid(void)
{

	probe_result(setuid(0));
}

/* Executable memory. */
void
probe_try_mmap_exec(void)
{
	void * p = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	probe_result(p == MAP_FAILED ? -1 : 0);
}
