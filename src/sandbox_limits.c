#include <signal.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "log.h"
#include "sandbox.h"
#include "sandbox_internal.h"

/* Set a limit of 0 on ${res}, named ${name}. */
static int
limits_zero(int res, const char * name)
{
	struct rlimit rl = { 0, 0 };

	if (setrlimit(res, &rl)) {
		log_errp("setrlimit %s 0", name);
		return (-1);
	}
	return (0);
}

/*
 * RLIMIT_FSIZE 0 would make every log line kill the relay (SIGXFSZ) when
 * stderr is a regular file, e.g. "2>>relay.log"; then the limit is left
 * alone.  No file can be opened in the sandbox anyway, so the limit only
 * guards the descriptors the relay was started with.
 */
static int
limits_fsize(void)
{
	struct stat sb;

	if (fstat(STDERR_FILENO, &sb) == 0 && S_ISREG(sb.st_mode)) {
		log_info("limits: stderr is a file: RLIMIT_FSIZE left as is");
		return (0);
	}
	if (limits_zero(RLIMIT_FSIZE, "RLIMIT_FSIZE"))
		return (-1);
	log_debug("limits: RLIMIT_FSIZE 0");
	return (0);
}

/*
 * A worker dies with its supervisor: set after the user switch, which
 * clears the death signal; if the supervisor went first, fail now.
 */
static int
limits_parent(pid_t parent)
{

	if (parent == 0)
		return (0);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)) {
		log_errp("prctl (parent death signal)");
		return (-1);
	}
	if (getppid() != parent) {
		log_err("the supervisor (pid %d) is gone", (int)parent);
		return (-1);
	}
	return (0);
}

/* No core, no ptrace by the same user, no gaining privileges, no files. */
int
sandbox_limits_apply(const struct sandbox_conf * conf)
{

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		log_errp("prctl (dumpable, no_new_privs)");
		return (-1);
	}
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0 ||
	    prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
		log_err("prctl: dumpable or no_new_privs did not take");
		return (-1);
	}
	if (limits_fsize() ||
	    limits_zero(RLIMIT_CORE, "RLIMIT_CORE") ||
	    limits_parent(conf->parent))
		return (-1);
	log_debug("limits: not dumpable, no new privileges, no core files");
	return (0);
}
