/*
 * The running daemon is confined: read its state from /proc, as an admin
 * verifying an instance would.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buildflags.h"
#include "harness.h"

TestSuite(confined, .disabled = SANDBOX_TESTS_DISABLED);

static struct h_backend normal, hidden;
static struct h_relay relay;

static void
start(const char * user, uid_t uid, gid_t gid)
{

	h_relay_setup(&relay, &normal, H_ECHO, &hidden, H_ECHO,
	    &(struct h_relay_conf){ .extra = user != NULL ?
	    (const char *[]){ "--user", user, NULL } : NULL, .knock = "knock",
	    .uid = uid, .gid = gid });
}

static void
stop(void)
{

	h_relay_teardown(&relay, &normal, &hidden);
}

/* The value after "${key}:" in /proc/PID/status, into ${val}. */
static void
status_field(pid_t pid, const char * key, char * val, size_t len)
{

	val[0] = '\0';
	cr_assert(h_proc_status(pid, key, val, len) == 0 &&
	    (val[0] != '\0' || strcmp(key, "Groups") == 0),
	    "no %s in /proc/%d/status", key, (int)pid);
}

/* Seccomp, NoNewPrivs and the capability sets (CapBnd if ${bounding}). */
static void
check_confined(pid_t pid, int bounding)
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
		if (!bounding && strcmp(caps[i], "CapBnd") == 0)
			continue;
		status_field(pid, caps[i], v, sizeof(v));
		cr_assert_str_eq(v, "0000000000000000", "%s: %s", caps[i], v);
	}
}

/* The relay still relays once confined. */
static void
check_relays(void)
{
	char buf[8];
	int fd = h_connect(AF_INET, relay.port);

	h_send_all(fd, "knockhi", 7);
	shutdown(fd, SHUT_WR);
	cr_assert_eq(h_recv(fd, buf, sizeof(buf), 3000), 2);
	close(fd);
}

Test(confined, as_root_drops_everything, .timeout = 20)
{
	char v[256], path[64], root[256];
	ssize_t n;
	uid_t r, e, s, fs;

	if (geteuid() != 0)
		cr_skip_test("needs root");
	start(NULL, 0, 0);
	check_relays();
	check_confined(relay.pid, 1);		/* The supervisor, */
	check_confined(h_relay_worker(&relay), 1);	/* its worker. */
	cr_assert(h_relay_worker(&relay) != relay.pid, "no worker");

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
	cr_assert_eq(h_relay_fd_others(&relay), 0,
	    "a descriptor other than a socket, pipe or anon inode is open");
	stop();
}

Test(confined, as_unprivileged_user_still_confined, .timeout = 20)
{
	struct passwd * pw;
	char v[64];

	/*
	 * Started as nobody (not root), it keeps that user, skips the
	 * chroot, and still shows seccomp, NoNewPrivs and no capabilities.
	 */
	if (geteuid() != 0)
		cr_skip_test("needs root to become nobody");
	cr_assert((pw = getpwnam("nobody")) != NULL);
	start(NULL, pw->pw_uid, pw->pw_gid);
	check_relays();
	/*
	 * Dropping the bounding set needs CAP_SETPCAP, which an unprivileged
	 * user lacks; with no permitted capabilities and no_new_privs it can
	 * never gain one, so the bounding set is not checked here.
	 */
	check_confined(relay.pid, 0);
	status_field(relay.pid, "Uid", v, sizeof(v));
	cr_assert(strncmp(v, "65534", 5) == 0, "Uid: %s", v);
	stop();
}

/*
 * The wrapper a container runtime is: a seccomp filter that answers the
 * Landlock calls with EPERM (Debian 12's systemd-nspawn does), then the
 * relay.  Runs in the forked child, before the exec.
 */
static void
landlock_eperm(void)
{
	static const int calls[] = { SCMP_SYS(landlock_create_ruleset),
	    SCMP_SYS(landlock_add_rule), SCMP_SYS(landlock_restrict_self) };
	scmp_filter_ctx ctx;
	size_t i;

	if ((ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL)
		_exit(124);
	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), calls[i], 0))
			_exit(124);
	if (seccomp_load(ctx))
		_exit(124);
	seccomp_release(ctx);
}

/*
 * Landlock refused with EPERM: a warning naming why, once per start (the
 * supervisor says it; its worker only at debug level), and every other
 * layer.
 */
Test(confined, landlock_refused_with_eperm_is_a_warning, .timeout = 20)
{

	h_backend_start(&normal, &(struct h_backend_conf){ .mode = H_ECHO });
	h_backend_start(&hidden, &(struct h_backend_conf){ .mode = H_ECHO });
	h_relay_start(&relay, &(struct h_relay_conf){ .normal = normal.port,
	    .hidden = hidden.port, .knock = "knock",
	    .pre_exec = landlock_eperm });
	check_relays();
	cr_assert(h_relay_log_count(&relay, "warning: landlock: refused with "
	    "EPERM, most likely by a container's seccomp filter") == 1,
	    "%s", relay.log);
	cr_assert(h_relay_log_count(&relay, "landlock: ABI") == 0);
	check_confined(relay.pid, geteuid() == 0);
	stop();
}
