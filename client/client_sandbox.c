/*
 * The client's confinement, once it is connected and holds its secret:
 * not dumpable, no core files, no new privileges, and the seccomp
 * allowlist of policy/client-seccomp.policy.  The filter is compiled to
 * static memory before it is loaded (src/seccompbpf.c, shared with the
 * relay), so nothing is freed once it is active.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <seccomp.h>

#include "client.h"
#include "client_policy.h"
#include "log.h"
#include "seccompbpf.h"

/* The compiled filter, and its length in instructions. */
static struct sock_filter client_prog[BPF_MAXINSNS];
static size_t client_prog_len;

/* Add rule ${r}. */
static int
client_sandbox_rule(scmp_filter_ctx ctx, const struct policy_rule * r)
{
	struct scmp_arg_cmp cmp[POLICY_ARGS_MAX];
	uint32_t action;
	size_t i;
	int rc;

	for (i = 0; i < r->nargs; i++) {
		cmp[i].arg = r->args[i].arg;
		if (r->args[i].op == POLICY_OP_LE) {
			cmp[i].op = SCMP_CMP_LE;
			cmp[i].datum_a = r->args[i].value;
			cmp[i].datum_b = 0;
		} else if (r->args[i].mask == ~(uint64_t)0) {
			cmp[i].op = SCMP_CMP_EQ;
			cmp[i].datum_a = r->args[i].value;
			cmp[i].datum_b = 0;
		} else {
			cmp[i].op = SCMP_CMP_MASKED_EQ;
			cmp[i].datum_a = r->args[i].mask;
			cmp[i].datum_b = r->args[i].value;
		}
	}
	action = (r->action == POLICY_ERRNO) ?
	    SCMP_ACT_ERRNO((uint32_t)r->err) : SCMP_ACT_ALLOW;
	if ((rc = seccomp_rule_add_exact_array(ctx, action, r->nr,
	    (unsigned int)r->nargs, cmp)) != 0) {
		errno = -rc;
		log_errp("seccomp: cannot add the rule for %s", r->name);
		return (-1);
	}
	return (0);
}

/* The filter: kill by default and on a foreign ABI, then the rules. */
static scmp_filter_ctx
client_sandbox_build(void)
{
	scmp_filter_ctx ctx;
	size_t i;
	int rc;

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL) {
		log_err("seccomp: cannot create a filter");
		goto err0;
	}
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) != 0) {
		errno = -rc;
		log_errp("seccomp: cannot set the bad-architecture action");
		goto err1;
	}
	for (i = 0; i < client_policy_table_len; i++)
		if (client_sandbox_rule(ctx, &client_policy_table[i]))
			goto err1;

	/* Success! */
	return (ctx);

err1:
	seccomp_release(ctx);
err0:
	/* Failure! */
	return (NULL);
}


/* Not dumpable, no core files, no new privileges. */
static int
client_sandbox_limits(void)
{
	struct rlimit rl = { 0, 0 };

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) {
		log_errp("prctl(PR_SET_DUMPABLE)");
		return (-1);
	}
	if (setrlimit(RLIMIT_CORE, &rl)) {
		log_errp("setrlimit(RLIMIT_CORE)");
		return (-1);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		log_errp("prctl(PR_SET_NO_NEW_PRIVS)");
		return (-1);
	}
	return (0);
}

/* Confine the client. */
int
client_sandbox_enter(void)
{
	struct sock_fprog fprog;
	scmp_filter_ctx ctx;

	if ((ctx = client_sandbox_build()) == NULL)
		goto err0;
	if (seccompbpf_compile(ctx, client_prog, BPF_MAXINSNS,
	    &client_prog_len))
		goto err1;
	seccomp_release(ctx);
	if (client_sandbox_limits())
		goto err0;
	fprog.len = (unsigned short)client_prog_len;
	fprog.filter = client_prog;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &fprog) != 0) {
		log_errp("seccomp: cannot load the filter");
		goto err0;
	}

	/* Success! */
	return (0);

err1:
	seccomp_release(ctx);
err0:
	/* Failure! */
	return (-1);
}

/* Print the filter as pseudo filter code. */
int
client_sandbox_print(int fd)
{
	scmp_filter_ctx ctx;

	if ((ctx = client_sandbox_build()) == NULL)
		goto err0;
	if (seccompbpf_print(ctx, fd))
		goto err1;
	seccomp_release(ctx);

	/* Success! */
	return (0);

err1:
	seccomp_release(ctx);
err0:
	/* Failure! */
	return (-1);
}
