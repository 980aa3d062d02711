/*
 * The --workers supervisor's sandbox probe: a forked child confines itself
 * as the supervisor does (sandbox_enter_supervisor: chroot, user, no
 * capability, Landlock reading only the secret files' directory, the
 * seccomp allowlist of policy/supervisor-seccomp.policy) and tries ONE
 * thing.  What a reload needs must work; what the supervisor never needs
 * must kill it by SIGSYS or be refused.  The child reports a refusal
 * through its exit code (the errno), success as PROBE_DONE.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <seccomp.h>

#include "buildflags.h"
#include "harness.h"
#include "log.h"
#include "policy_table.h"
#include "probe.h"
#include "sandbox.h"
#include "secretfile.h"


/* What the test made before forking; the child inherits it. */
static struct {
	char dir[64];		/* The secret directory (held). */
	char secret[96];	/* A secret file in it. */
	char other[64];		/* A sibling directory (not held). */
	char otherfile[96];
	int lfd;		/* A listening socket. */
	uint16_t lport;
} P;

/* A file ${path} holding "x", owned by the relay's user when root. */
static void
sv_file(const char * path)
{
	int fd;

	cr_assert((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) != -1);
	cr_assert(write(fd, "x", 1) == 1);
	close(fd);
	if (geteuid() == 0)
		cr_assert(chown(path, 65534, 65534) == 0);
}

/* Criterion .init: the directories, a listener, /var/empty. */
static void
sv_setup(void)
{

	if (geteuid() == 0 && mkdir("/var/empty", 0755) == -1)
		cr_assert(errno == EEXIST);
	snprintf(P.dir, sizeof(P.dir), "/tmp/l7kk-sv-XXXXXX");
	cr_assert(mkdtemp(P.dir) != NULL);
	snprintf(P.other, sizeof(P.other), "/tmp/l7kk-sv-XXXXXX");
	cr_assert(mkdtemp(P.other) != NULL);
	if (geteuid() == 0)
		cr_assert(chown(P.dir, 65534, 65534) == 0 &&
		    chown(P.other, 65534, 65534) == 0);
	snprintf(P.secret, sizeof(P.secret), "%s/knock", P.dir);
	snprintf(P.otherfile, sizeof(P.otherfile), "%s/knock", P.other);
	sv_file(P.secret);
	sv_file(P.otherfile);
	P.lfd = h_listen(AF_INET, 16, &P.lport);
}

/* Criterion .fini. */
static void
sv_teardown(void)
{

	(void)unlink(P.secret);
	(void)unlink(P.otherfile);
	(void)rmdir(P.dir);
	(void)rmdir(P.other);
	close(P.lfd);
}

TestSuite(supervisor, .init = sv_setup, .fini = sv_teardown, .timeout = 30,
    .disabled = SANDBOX_TESTS_DISABLED);

/* In the child: hold the secret's directory, confine as the supervisor. */
static void
sv_enter(void)
{
	struct sandbox_conf conf;
	int dirs[SECRETFILE_DIRS_MAX];

	memset(&conf, 0, sizeof(conf));
	conf.chroot_dir = "/var/empty";
	if (secretfile_hold(P.secret))
		_exit(PROBE_NOSANDBOX);
	conf.read_dirs = dirs;
	conf.nread_dirs = secretfile_dirs(dirs, SECRETFILE_DIRS_MAX);
	log_setlevel(LOG_ERR);
	if (sandbox_enter_supervisor(&conf))
		_exit(PROBE_NOSANDBOX);
}

/* The attempt must kill the confined child by SIGSYS. */
static void
expect_sigsys(void (*attempt)(void), const char * what)
{

	probe_expect_sigsys(sv_enter, "sandbox_enter_supervisor", attempt,
	    what);
}

/* The confined child must exit ${code} (an errno, or PROBE_DONE). */
static void
expect_exit(void (*attempt)(void), int code, const char * what)
{

	probe_expect_exit(sv_enter, "sandbox_enter_supervisor", attempt, code,
	    what);
}

/* The attempts. */
static void
try_read_secret(void)
{
	uint8_t buf[16];

	probe_result(secretfile_read(P.secret, "knock file", buf, sizeof(buf)) ==
	    1 ? 0 : -1);
}

static void
try_open_other_dir(void)
{

	char rel[256];
	int dir;

	/* Beside the held directory: out through its own descriptor. */
	if (secretfile_dirs(&dir, 1) != 1)
		_exit(PROBE_BROKEN);
	snprintf(rel, sizeof(rel), "../%s/knock", P.other + strlen("/tmp/"));
	probe_result(openat(dir, rel, O_RDONLY | O_CLOEXEC));
}

static void
try_open_other_path(void)
{

	/* By its full path: the chroot has nothing. */
	probe_result(open(P.otherfile, O_RDONLY | O_CLOEXEC));
}

static void
try_open_write(void)
{

	probe_result(open(P.secret, O_WRONLY | O_CLOEXEC));
}

static void
try_accept(void)
{

	/* accept(2) itself, and accept4 without the workers' flags. */
	probe_result(syscall(SYS_accept, P.lfd, NULL, NULL));
}

static void
try_accept4_blocking(void)
{

	probe_result(accept4(P.lfd, NULL, NULL, 0));
}

static void
try_connect_unix_len(void)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	probe_result(connect(P.lfd, (struct sockaddr *)&ss, 110));
}

/*
 * bind is allowed with an IP address length, for a worker's
 * --backend-ports (whose own filter keeps it off the listeners and whose
 * Landlock allows only those ports); any other length kills.
 */
static void
try_bind(void)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	probe_result(bind(P.lfd, (struct sockaddr *)&ss, 110));
}

static void
try_listen(void)
{

	probe_result(listen(P.lfd, 1));
}

static void
try_kill_hup(void)
{

	probe_result(kill(getppid(), SIGHUP));
}

static void
try_clone_newuser(void)
{

	probe_result(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0));
}

static void
try_fork(void)
{
	pid_t pid = fork();
	int i, st;

	if (pid == 0)
		_exit(0);
	if (pid == -1)
		_exit(PROBE_BROKEN);
	/* Reaped as the supervisor does: WNOHANG (no sleep call allowed). */
	for (i = 0; i < 100000000 && waitpid(pid, &st, WNOHANG) != pid; i++)
		;
	probe_result(i < 100000000 ? 0 : -1);
}

static void
try_wait_blocking(void)
{
	int st;

	/* The supervisor only reaps with WNOHANG. */
	probe_result(waitpid(-1, &st, 0));
}

/* kill(-1): every process the user may signal. */
static void
try_kill_everyone(void)
{

	probe_result(kill(-1, SIGTERM));
}

/* A process group (a negative pid). */
static void
try_kill_group(void)
{

	probe_result(kill(-getpid(), SIGUSR1));
}

/* The same -1, its upper 32 bits clear: the kernel reads it as -1 too. */
static void
try_kill_everyone_32(void)
{

	probe_result(syscall(SYS_kill, 0xffffffffUL, SIGTERM));
}

/* The tests. */
Test(supervisor, reads_a_secret_file_beneath_its_directory)
{

	expect_exit(try_read_secret, PROBE_DONE, "read the secret file");
}

Test(supervisor, cannot_open_a_file_outside_its_directories)
{

	/* Landlock refuses what the held descriptor could reach. */
	expect_exit(try_open_other_dir, EACCES, "openat ../other/knock");
	expect_exit(try_open_other_path, ENOENT, "open by full path");
}

Test(supervisor, opening_for_writing_kills)
{

	expect_sigsys(try_open_write, "open a secret file for writing");
}

Test(supervisor, execve_kills)
{

	expect_sigsys(probe_try_execve, "execve");
}

Test(supervisor, ptrace_kills)
{

	expect_sigsys(probe_try_ptrace, "ptrace");
}

Test(supervisor, unix_and_udp_sockets_kill)
{

	expect_sigsys(probe_try_unix_socket, "socket(AF_UNIX)");
	expect_sigsys(probe_try_udp_socket, "socket(UDP)");
}

Test(supervisor, accept_kills)
{

	expect_sigsys(try_accept, "accept");
	expect_sigsys(try_accept4_blocking, "accept4 without the flags");
}

Test(supervisor, connect_with_another_address_length_kills)
{

	expect_sigsys(try_connect_unix_len, "connect, sockaddr_un length");
}

Test(supervisor, bind_and_listen_kill)
{

	expect_sigsys(try_bind, "bind with a sockaddr_un length");
	expect_sigsys(try_listen, "listen");
}

Test(supervisor, other_signals_kill)
{

	expect_sigsys(try_kill_hup, "kill(SIGHUP)");
}

Test(supervisor, namespaces_and_clone3_kill)
{

	expect_sigsys(try_clone_newuser, "clone(CLONE_NEWUSER)");
	expect_sigsys(probe_try_clone3, "clone3");
}

Test(supervisor, setuid_and_exec_memory_kill)
{

	expect_sigsys(probe_try_setuid, "setuid(0)");
	expect_sigsys(probe_try_mmap_exec, "mmap(PROT_EXEC)");
}

Test(supervisor, blocking_wait_kills)
{

	expect_sigsys(try_wait_blocking, "waitpid without WNOHANG");
}

Test(supervisor, kill_of_every_process_or_a_group_kills)
{

	expect_sigsys(try_kill_everyone, "kill(-1)");
	expect_sigsys(try_kill_group, "kill of a process group");
	expect_sigsys(try_kill_everyone_32, "kill(0xffffffff)");
}

Test(supervisor, forks_a_worker)
{

	expect_exit(try_fork, PROBE_DONE, "fork");
}

/* ---- the policy: the supervisor's list covers its workers' ---- */

/* Is the condition ${c} also one of ${W}'s (so ${W} is no wider there)? */
static int
sv_cond_in(const struct policy_arg * c, const struct policy_rule * W)
{
	size_t i;

	for (i = 0; i < W->nargs; i++)
		if (W->args[i].arg == c->arg && W->args[i].op == c->op &&
		    W->args[i].mask == c->mask && W->args[i].kind == c->kind &&
		    W->args[i].value == c->value)
			return (1);
	return (0);
}

/*
 * Does some rule of ${T} (${n} rules) allow every call the worker's rule
 * ${W} allows: the same syscall, with conditions that are all ${W}'s too?
 */
static int
sv_covers(const struct policy_rule * T, size_t n, const struct policy_rule * W)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		if (T[i].nr != W->nr || T[i].action != POLICY_ALLOW)
			continue;
		for (j = 0; j < T[i].nargs; j++)
			if (!sv_cond_in(&T[i].args[j], W))
				break;
		if (j == T[i].nargs)
			return (1);
	}
	return (0);
}

/*
 * A worker inherits the supervisor's filter: every call the worker's own
 * policy allows must be allowed by the supervisor's too, arguments
 * included, or the worker would die on it.
 */
Test(supervisor, its_policy_covers_every_worker_syscall)
{
	size_t i;

	for (i = 0; i < policy_table_len; i++)
		if (policy_table[i].action == POLICY_ALLOW)
			cr_expect(sv_covers(supervisor_policy_table,
			    supervisor_policy_table_len, &policy_table[i]),
			    "the supervisor's policy does not cover a worker's "
			    "%s rule (%s)", policy_table[i].name,
			    policy_table[i].reason);
}

/* Calls neither the supervisor nor a worker ever needs. */
Test(supervisor, dangerous_syscalls_never_allowed)
{
	static const char * const never[] = {
		/* bind: with an IP length, for --backend-ports. */
		"execve", "execveat", "vfork", "clone3", "ptrace",
		"listen", "accept", "open", "openat2", "creat", "unlink",
		"rename", "chmod", "chown", "setuid", "setgid", "setgroups",
		"tgkill", "socketpair", "sendmsg",
		"recvmsg", "ioctl", "mount", "chroot", "bpf",
		"process_vm_writev", "process_vm_readv", "io_uring_setup",
		"userfaultfd", "memfd_create", "pidfd_open", "unshare",
		"setns", "init_module", "reboot", NULL
	};
	size_t i;
	int nr;

	for (i = 0; never[i] != NULL; i++) {
		if ((nr = seccomp_syscall_resolve_name(never[i])) < 0)
			continue;
		cr_expect(!probe_allows(supervisor_policy_table,
		    supervisor_policy_table_len, nr), "%s is allowed",
		    never[i]);
	}
}

Test(supervisor, every_rule_says_why)
{

	probe_rules_say_why(supervisor_policy_table,
	    supervisor_policy_table_len);
}
