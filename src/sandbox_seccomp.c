#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>

#include <seccomp.h>

#include "log.h"
#include "policy_table.h"
#include "sandbox.h"
#include "sandbox_internal.h"

/*
 * The compiled filter.  It lives in static memory so that nothing has to be
 * allocated or freed around the load: libseccomp's own seccomp_load() frees
 * its program after the filter is active, and a free() that trims the heap
 * would need a syscall the policy does not allow.
 */
static struct sock_filter sandbox_prog[BPF_MAXINSNS];

/* The value a condition compares with, for ${conf}. */
static uint64_t
sandbox_seccomp_value(const struct sandbox_conf * conf,
    const struct policy_arg * a, int listen_fd)
{

	switch (a->kind) {
	case POLICY_VAL_EPOLL_FD:
		return ((uint64_t)conf->epoll_fd);
	case POLICY_VAL_SIGNAL_FD:
		return ((uint64_t)conf->signal_fd);
	case POLICY_VAL_LISTEN_FD:
		return ((uint64_t)listen_fd);
	case POLICY_VAL_NOTIFY_FD:
		return ((uint64_t)conf->notify_fd);
	default:
		return (a->value);
	}
}

/* Add rule ${r}, with $listen_fd standing for ${listen_fd}. */
static int
sandbox_seccomp_rule(scmp_filter_ctx ctx, const struct sandbox_conf * conf,
    const struct policy_rule * r, int listen_fd)
{
	struct scmp_arg_cmp cmp[POLICY_ARGS_MAX];
	uint32_t action;
	size_t i;
	int rc;

	for (i = 0; i < r->nargs; i++) {
		cmp[i].arg = r->args[i].arg;
		cmp[i].datum_b = sandbox_seccomp_value(conf, &r->args[i],
		    listen_fd);
		if (r->args[i].op == POLICY_OP_LE) {
			cmp[i].op = SCMP_CMP_LE;
			cmp[i].datum_a = cmp[i].datum_b;
			cmp[i].datum_b = 0;
		} else if (r->args[i].mask == ~(uint64_t)0) {
			cmp[i].op = SCMP_CMP_EQ;
			cmp[i].datum_a = cmp[i].datum_b;
			cmp[i].datum_b = 0;
		} else {
			cmp[i].op = SCMP_CMP_MASKED_EQ;
			cmp[i].datum_a = r->args[i].mask;
		}
	}
	action = (r->action == POLICY_ERRNO) ? SCMP_ACT_ERRNO((uint32_t)r->err) :
	    SCMP_ACT_ALLOW;
	if ((rc = seccomp_rule_add_exact_array(ctx, action, r->nr,
	    (unsigned int)r->nargs, cmp)) != 0) {
		errno = -rc;
		log_errp("seccomp: cannot add the rule for %s", r->name);
		return (-1);
	}
	return (0);
}

/* Does rule ${r} compare with $listen_fd? */
static int
sandbox_seccomp_per_listener(const struct policy_rule * r)
{
	size_t i;

	for (i = 0; i < r->nargs; i++)
		if (r->args[i].kind == POLICY_VAL_LISTEN_FD)
			return (1);
	return (0);
}

/* Does rule ${r} compare with $notify_fd while ${conf} has none? */
static int
sandbox_seccomp_no_notify(const struct sandbox_conf * conf,
    const struct policy_rule * r)
{
	size_t i;

	for (i = 0; i < r->nargs; i++)
		if (r->args[i].kind == POLICY_VAL_NOTIFY_FD &&
		    conf->notify_fd <= STDERR_FILENO)
			return (1);
	return (0);
}

/* Has a rule before ${n} the same syscall and action as rule ${n}? */
static int
sandbox_seccomp_seen(size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (policy_table[i].nr == policy_table[n].nr &&
		    policy_table[i].action == policy_table[n].action)
			return (1);
	return (0);
}

/* Add every rule of the policy; count the syscalls into ${S} if not NULL. */
static int
sandbox_seccomp_rules(scmp_filter_ctx ctx, const struct sandbox_conf * conf,
    struct sandbox_seccomp * S)
{
	const struct policy_rule * r;
	size_t i, j;

	for (i = 0; i < policy_table_len; i++) {
		r = &policy_table[i];
		if (sandbox_seccomp_no_notify(conf, r))
			continue;
		if (!sandbox_seccomp_per_listener(r)) {
			if (sandbox_seccomp_rule(ctx, conf, r, -1))
				return (-1);
		} else {
			for (j = 0; j < conf->nlisten; j++)
				if (sandbox_seccomp_rule(ctx, conf, r,
				    conf->listen_fds[j]))
					return (-1);
		}
		if (S != NULL && !sandbox_seccomp_seen(i)) {
			if (r->action == POLICY_ALLOW)
				S->nallow++;
			else
				S->nerrno++;
		}
	}
	return (0);
}

/* The filter for ${conf}: native architecture only, policy rules. */
static scmp_filter_ctx
sandbox_seccomp_build(const struct sandbox_conf * conf,
    struct sandbox_seccomp * S)
{
	scmp_filter_ctx ctx;
	int rc;

	if (conf->epoll_fd < 0 || conf->signal_fd < 0 || conf->nlisten == 0) {
		log_err("seccomp: the descriptors are not set up");
		goto err0;
	}
	if ((ctx = seccomp_init(sandbox_seccomp_debug_action())) == NULL) {
		log_err("seccomp: cannot create a filter");
		goto err0;
	}

	/*
	 * seccomp_init() takes only the native architecture; any other one
	 * (i386 through int 0x80, x32 syscall numbers) hits the bad-arch
	 * action, which must kill the process too.
	 */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) != 0) {
		errno = -rc;
		log_errp("seccomp: cannot set the bad-architecture action");
		goto err1;
	}
	if (sandbox_seccomp_rules(ctx, conf, S))
		goto err1;

	/* Success! */
	return (ctx);

err1:
	seccomp_release(ctx);
err0:
	/* Failure! */
	return (NULL);
}

/* Read the BPF program written to ${fd} into sandbox_prog. */
static int
sandbox_seccomp_slurp(int fd, struct sandbox_seccomp * S)
{
	char * p = (char *)sandbox_prog;
	size_t len = 0;
	ssize_t n;

	do {
		if ((n = read(fd, p + len, sizeof(sandbox_prog) - len)) == -1) {
			if (errno == EAGAIN)
				break;
			log_errp("seccomp: cannot read the compiled filter");
			return (-1);
		}
		len += (size_t)n;
	} while (n > 0 && len < sizeof(sandbox_prog));
	if (len == 0 || len == sizeof(sandbox_prog) ||
	    len % sizeof(sandbox_prog[0]) != 0) {
		log_err("seccomp: compiled filter of %zu bytes is unusable", len);
		return (-1);
	}
	S->len = len / sizeof(sandbox_prog[0]);
	return (0);
}

/* Compile ${ctx} to BPF into sandbox_prog, through a pipe. */
static int
sandbox_seccomp_compile(scmp_filter_ctx ctx, struct sandbox_seccomp * S)
{
	int fds[2];
	int rc;

	/* Non-blocking: a program larger than the pipe fails, never hangs. */
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC)) {
		log_errp("seccomp: pipe2");
		goto err0;
	}
	if ((rc = seccomp_export_bpf(ctx, fds[1])) != 0) {
		errno = -rc;
		log_errp("seccomp: cannot compile the filter");
		goto err1;
	}
	close(fds[1]);
	fds[1] = -1;
	if (sandbox_seccomp_slurp(fds[0], S))
		goto err1;
	close(fds[0]);

	/* Success! */
	return (0);

err1:
	close(fds[0]);
	if (fds[1] != -1)
		close(fds[1]);
err0:
	/* Failure! */
	return (-1);
}

/* Build and compile the filter for ${conf} (before the other layers). */
int
sandbox_seccomp_prepare(const struct sandbox_conf * conf,
    struct sandbox_seccomp * S)
{
	scmp_filter_ctx ctx;

	memset(S, 0, sizeof(*S));
	if ((ctx = sandbox_seccomp_build(conf, S)) == NULL)
		goto err0;
	if (sandbox_seccomp_compile(ctx, S))
		goto err1;
	seccomp_release(ctx);

	/* The debug build's name table, prepared while we may allocate. */
	if (sandbox_seccomp_debug_prepare())
		goto err0;

	/* Success! */
	return (0);

err1:
	seccomp_release(ctx);
err0:
	/* Failure! */
	return (-1);
}

/* Load the prepared program; every thread of the process gets it. */
int
sandbox_seccomp_load(const struct sandbox_seccomp * S)
{
	struct sock_fprog fprog;
	long rc;

	fprog.len = (unsigned short)S->len;
	fprog.filter = sandbox_prog;
	if ((rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
	    SECCOMP_FILTER_FLAG_TSYNC, &fprog)) != 0) {
		if (rc > 0)
			log_err("seccomp: thread %ld cannot take the filter", rc);
		else
			log_errp("seccomp: cannot load the filter");
		return (-1);
	}
	return (0);
}

/* Print the filter for ${conf} as pseudo filter code. */
int
sandbox_seccomp_print(const struct sandbox_conf * conf, int fd)
{
	scmp_filter_ctx ctx;
	int rc;

	if ((ctx = sandbox_seccomp_build(conf, NULL)) == NULL)
		goto err0;
	if ((rc = seccomp_export_pfc(ctx, fd)) != 0) {
		errno = -rc;
		log_errp("seccomp: cannot print the filter");
		goto err1;
	}
	seccomp_release(ctx);

	/* Success! */
	return (0);

err1:
	seccomp_release(ctx);
err0:
	/* Failure! */
	return (-1);
}
