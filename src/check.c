/*
 * check.c: --check, the configuration checked as the service would use it,
 * without binding anything.
 */
#include <grp.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "check.h"
#include "conf.h"
#include "log.h"
#include "routes.h"
#include "sandbox.h"
#include "secretfile.h"

/* Most problems a child reports through its exit status. */
#define CHECK_MAX	100

/* Become ${uid}/${gid} for good (as root); 0 or -1 (reported). */
static int
check_become(uid_t uid, gid_t gid)
{

	if (geteuid() != 0)
		return (0);
	if (setgroups(1, &gid) || setresgid(gid, gid, gid) ||
	    setresuid(uid, uid, uid) || getuid() != uid || geteuid() != uid) {
		log_errp("check: cannot become uid %ld gid %ld", (long)uid,
		    (long)gid);
		return (-1);
	}
	return (0);
}

/* The child: as the relay's user, every secret and backend; problems. */
static size_t
check_child(const struct conf * C)
{
	static struct routes T;
	size_t bad;

	bad = routes_check(&T, C);
	if (C->config != NULL && secretfile_readable(C->config)) {
		log_errno(LOG_ERR, "configuration file '%s' cannot be read by "
		    "the relay's user: a reload (SIGHUP) would fail",
		    C->config);
		bad++;
	}
	return (bad);
}

/* Check. */
int
check_run(const struct conf * C)
{
	struct sandbox_conf SB;
	size_t bad;
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int status;

	memset(&SB, 0, sizeof(SB));
	SB.user = C->user;
	if (sandbox_user_ids(&SB, &uid, &gid))
		return (EX_CONFIG);
	if ((pid = fork()) == -1) {
		log_errp("check: fork");
		return (EX_OSERR);
	}
	if (pid == 0) {
		if (check_become(uid, gid))
			return (CHECK_MAX);
		bad = check_child(C);
		return ((int)(bad > CHECK_MAX ? CHECK_MAX : bad));
	}
	if (waitpid(pid, &status, 0) != pid) {
		log_errp("check: waitpid");
		return (EX_OSERR);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return (EX_CONFIG);

	/* Success! */
	log_info("check: the configuration is good (uid %ld)", (long)uid);
	return (0);
}
