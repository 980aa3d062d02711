/*
 * The running daemon is confined: read its state from /proc, as an admin
 * verifying an instance would.
 */
#include <criterion/criterion.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static struct backend normal, hidden;
static struct relay_proc relay;

static void
start(const char * user)
{
	static char n[32], h[32];
	const char * args[16];
	int i = 0;

	backend_start(&normal, AF_INET, BE_ECHO, "normal");
	backend_start(&hidden, AF_INET, BE_ECHO, "hidden");
	snprintf(n, sizeof(n), "127.0.0.1:%u", normal.port);
	snprintf(h, sizeof(h), "127.0.0.1:%u", hidden.port);
	args[i++] = "--listen";
	args[i++] = "127.0.0.1:0";
	args[i++] = "--normal";
	args[i++] = n;
	args[i++] = "--hidden";
	args[i++] = h;
	if (user != NULL) {
		args[i++] = "--user";
		args[i++] = user;
	}
	args[i++] = "knock";
	args[i] = NULL;
	relay_start(&relay, args);
}

static void
stop(void)
{
	int st = relay_stop(&relay, SIGTERM, 3000);

	backend_stop(&normal);
	backend_stop(&hidden);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
}

/* The value after "${key}:" in /proc/PID/status, into ${val}. */
static void
status_field(pid_t pid, const char * key, char * val, size_t len)
{
	char path[64], line[512];
	size_t klen = strlen(key);
	FILE * f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	cr_assert((f = fopen(path, "r")) != NULL);
	val[0] = '\0';
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			snprintf(val, len, "%s", line + klen + 1 +
			    strspn(line + klen + 1, " \t"));
			val[strcspn(val, "\n")] = '\0';
			break;
		}
	}
	fclose(f);
	cr_assert(val[0] != '\0' || strcmp(key, "Groups") == 0,
	    "no %s in %s", key, path);
}

/* Seccomp, NoNewPrivs and every capability set: what any start shows. */
static void
check_confined(pid_t pid)
{
	static const char * caps[] = { "CapInh", "CapPrm", "CapEff", "CapBnd",
	    "CapAmb" };
	char v[256];
	size_t i;

	status_field(pid, "Seccomp", v, sizeof(v));
	cr_assert_str_eq(v, "2", "Seccomp: %s", v);
	status_field(pid, "NoNewPrivs", v, sizeof(v));
	cr_assert_str_eq(v, "1", "NoNewPrivs: %s", v);
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		status_field(pid, caps[i], v, sizeof(v));
		cr_assert_str_eq(v, "0000000000000000", "%s: %s", caps[i], v);
	}
}

/* The relay still relays once confined. */
static void
check_relays(void)
{
	char buf[8];
	int fd = tcp_connect(AF_INET, relay.port);

	send_all(fd, "knockhi", 7);
	shutdown(fd, SHUT_WR);
	cr_assert_eq(recv_until(fd, buf, sizeof(buf), 3000), 2);
	close(fd);
}

Test(confined, as_root_drops_everything, .timeout = 20)
{
	char v[256], path[64], root[256];
	ssize_t n;
	uid_t r, e, s, fs;

	if (geteuid() != 0)
		cr_skip_test("needs root");
	start(NULL);
	check_relays();
	check_confined(relay.pid);

	/* No root uid or gid, no supplementary groups. */
	status_field(relay.pid, "Uid", v, sizeof(v));
	cr_assert(sscanf(v, "%u %u %u %u", &r, &e, &s, &fs) == 4);
	cr_assert(r != 0 && e != 0 && s != 0 && fs != 0, "Uid: %s", v);
	status_field(relay.pid, "Gid", v, sizeof(v));
	cr_assert(sscanf(v, "%u %u %u %u", &r, &e, &s, &fs) == 4);
	cr_assert(r != 0 && e != 0 && s != 0 && fs != 0, "Gid: %s", v);
	status_field(relay.pid, "Groups", v, sizeof(v));
	cr_assert_str_eq(v, "", "Groups: %s", v);

	/* Its root directory is the chroot. */
	snprintf(path, sizeof(path), "/proc/%d/root", (int)relay.pid);
	n = readlink(path, root, sizeof(root) - 1);
	cr_assert(n > 0);
	root[n] = '\0';
	cr_assert_str_eq(root, "/var/empty");

	/* Only sockets, pipes, epoll and signalfd are open. */
	cr_assert_eq(relay_fd_count(&relay), relay_fd_count_kind(&relay,
	    "socket:") + relay_fd_count_kind(&relay, "pipe:") +
	    relay_fd_count_kind(&relay, "anon_inode:"),
	    "a descriptor other than a socket, pipe or anon inode is open");
	stop();
}

Test(confined, as_unprivileged_user_still_confined, .timeout = 20)
{
	struct passwd * pw;
	pid_t pid;
	int st, pfd[2];
	char v[32];

	/*
	 * Start it as nobody (not root): it keeps that user, skips the
	 * chroot, and still shows seccomp, NoNewPrivs and no capabilities.
	 */
	if (geteuid() != 0)
		cr_skip_test("needs root to become nobody");
	cr_assert((pw = getpwnam("nobody")) != NULL);
	cr_assert(pipe(pfd) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) || setresgid(pw->pw_gid, pw->pw_gid,
		    pw->pw_gid) || setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid))
			_exit(1);
		start(NULL);
		check_relays();
		check_confined(relay.pid);
		status_field(relay.pid, "Uid", v, sizeof(v));
		stop();
		_exit(strncmp(v, "65534", 5) == 0 ? 0 : 2);
	}
	cr_assert(waitpid(pid, &st, 0) == pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "unprivileged run failed (status %d)", st);
	close(pfd[0]);
	close(pfd[1]);
}
