#include <errno.h>
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
#include "seccompbpf.h"

/* The compiled filter, in static memory (see seccompbpf.h). */
static struct sock_filter sandbox_prog[BPF_MAXINSNS];

/* Descriptor values are 32 bits: a != condition covers [0, 2^32). */
#define SANDBOX_FD_SPAN		((uint64_t)1 << 32)

/* Most listeners a != $listen_fd condition excludes. */
#define SANDBOX_LISTEN_MAX	64

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

/*
 * An aligned block of descriptor values: those v with (v & mask) == value.
 * A POLICY_OP_NE condition becomes one rule per block of its complement.
 */
struct sandbox_block {
	uint64_t mask;
	uint64_t value;
};

/*
 * Fill ${cmp} for condition ${a}, with $listen_fd and the block ${B} (which
 * a != condition needs); return 0, or -1 if it has none.
 */
static int
sandbox_seccomp_cmp(struct scmp_arg_cmp * cmp, const struct sandbox_conf * conf,
    const struct policy_arg * a, int listen_fd, const struct sandbox_block * B)
{

	cmp->arg = a->arg;
	cmp->datum_b = sandbox_seccomp_value(conf, a, listen_fd);
	if (a->op == POLICY_OP_NE && B == NULL)
		return (-1);
	if (a->op == POLICY_OP_NE) {
		cmp->op = SCMP_CMP_MASKED_EQ;
		cmp->datum_a = B->mask;
		cmp->datum_b = B->value;
	} else if (a->op == POLICY_OP_LE) {
		cmp->op = SCMP_CMP_LE;
		cmp->datum_a = cmp->datum_b;
		cmp->datum_b = 0;
	} else if (a->mask == ~(uint64_t)0) {
		cmp->op = SCMP_CMP_EQ;
		cmp->datum_a = cmp->datum_b;
		cmp->datum_b = 0;
	} else {
		cmp->op = SCMP_CMP_MASKED_EQ;
		cmp->datum_a = a->mask;
	}
	return (0);
}

/*
 * Add rule ${r}, with $listen_fd standing for ${listen_fd} and a != condition
 * for the block ${B}.
 */
static int
sandbox_seccomp_rule(scmp_filter_ctx ctx, const struct sandbox_conf * conf,
    const struct policy_rule * r, int listen_fd, const struct sandbox_block * B)
{
	struct scmp_arg_cmp cmp[POLICY_ARGS_MAX];
	uint32_t action;
	size_t i;
	int rc;

	for (i = 0; i < r->nargs; i++) {
		if (sandbox_seccomp_cmp(&cmp[i], conf, &r->args[i], listen_fd,
		    B)) {
			log_err("seccomp: the rule for %s has a != condition "
			    "without a block", r->name);
			return (-1);
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

/*
 * Add rule ${r} for every descriptor value in [${lo}, ${hi}), as few
 * aligned blocks as cover it.  Each block compares all 64 bits of the
 * argument: the kernel reads a descriptor as a 32-bit int, so a "greater
 * than" would let 0x100000003 through as descriptor 3.
 */
static int
sandbox_seccomp_range(scmp_filter_ctx ctx, const struct sandbox_conf * conf,
    const struct policy_rule * r, uint64_t lo, uint64_t hi)
{
	struct sandbox_block B;
	uint64_t size;

	while (lo < hi) {
		size = (lo == 0) ? SANDBOX_FD_SPAN : (lo & -lo);
		while (lo + size > hi)
			size >>= 1;
		B.mask = ~(size - 1);
		B.value = lo;
		if (sandbox_seccomp_rule(ctx, conf, r, -1, &B))
			return (-1);
		lo += size;
	}
	return (0);
}

/* Add rule ${r}, whose != $listen_fd holds for no listener of ${conf}. */
static int
sandbox_seccomp_not_listener(scmp_filter_ctx ctx,
    const struct sandbox_conf * conf, const struct policy_rule * r)
{
	uint64_t fds[SANDBOX_LISTEN_MAX], lo = 0, t;
	size_t i, j, n = 0;

	if (conf->nlisten > SANDBOX_LISTEN_MAX) {
		log_err("seccomp: more than %d listeners", SANDBOX_LISTEN_MAX);
		return (-1);
	}
	/* The listeners in ascending order. */
	for (i = 0; i < conf->nlisten; i++) {
		fds[n++] = (uint64_t)(uint32_t)conf->listen_fds[i];
		for (j = n - 1; j > 0 && fds[j - 1] > fds[j]; j--) {
			t = fds[j - 1];
			fds[j - 1] = fds[j];
			fds[j] = t;
		}
	}
	for (i = 0; i < n; i++) {
		if (fds[i] >= lo &&
		    sandbox_seccomp_range(ctx, conf, r, lo, fds[i]))
			return (-1);
		lo = fds[i] + 1;
	}
	return (sandbox_seccomp_range(ctx, conf, r, lo, SANDBOX_FD_SPAN));
}

/* How a rule uses $listen_fd. */
#define SANDBOX_LF_NONE		0	/* Not at all. */
#define SANDBOX_LF_EACH		1	/* == $listen_fd: any listener. */
#define SANDBOX_LF_NOT		2	/* != $listen_fd: no listener. */

/* How rule ${r} uses $listen_fd: SANDBOX_LF_*. */
static int
sandbox_seccomp_per_listener(const struct policy_rule * r)
{
	size_t i;

	for (i = 0; i < r->nargs; i++)
		if (r->args[i].kind == POLICY_VAL_LISTEN_FD)
			return (r->args[i].op == POLICY_OP_NE ?
			    SANDBOX_LF_NOT : SANDBOX_LF_EACH);
	return (SANDBOX_LF_NONE);
}

/* Add rule ${r} as its $listen_fd condition says. */
static int
sandbox_seccomp_add(scmp_filter_ctx ctx, const struct sandbox_conf * conf,
    const struct policy_rule * r)
{
	size_t j;

	switch (sandbox_seccomp_per_listener(r)) {
	case SANDBOX_LF_NONE:
		return (sandbox_seccomp_rule(ctx, conf, r, -1, NULL));
	case SANDBOX_LF_NOT:
		return (sandbox_seccomp_not_listener(ctx, conf, r));
	default:
		/* == $listen_fd: one rule per listener, any may match. */
		for (j = 0; j < conf->nlisten; j++)
			if (sandbox_seccomp_rule(ctx, conf, r,
			    conf->listen_fds[j], NULL))
				return (-1);
		return (0);
	}
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

/* The policy of ${who}: its rules, their number into ${len}. */
static const struct policy_rule *
sandbox_seccomp_table(int who, size_t * len)
{

	if (who == SANDBOX_SUPERVISOR) {
		*len = supervisor_policy_table_len;
		return (supervisor_policy_table);
	}
	*len = policy_table_len;
	return (policy_table);
}

/* Has a rule of ${T} before ${n} the same syscall and action as rule ${n}? */
static int
sandbox_seccomp_seen(const struct policy_rule * T, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (T[i].nr == T[n].nr && T[i].action == T[n].action)
			return (1);
	return (0);
}

/* Does rule ${r} compare with a descriptor known only to a relay process? */
static int
sandbox_seccomp_runtime(const struct policy_rule * r)
{
	size_t i;

	for (i = 0; i < r->nargs; i++)
		if (r->args[i].kind != POLICY_VAL_CONST)
			return (1);
	return (0);
}

/*
 * Add every rule of ${who}'s policy; count the syscalls into ${S} if not
 * NULL.
 */
static int
sandbox_seccomp_rules(scmp_filter_ctx ctx, const struct sandbox_conf * conf,
    int who, struct sandbox_seccomp * S)
{
	const struct policy_rule * T, * r;
	size_t i, len;

	T = sandbox_seccomp_table(who, &len);
	for (i = 0; i < len; i++) {
		r = &T[i];
		if (who == SANDBOX_SUPERVISOR && sandbox_seccomp_runtime(r)) {
			log_err("seccomp: the supervisor's rule for %s names a "
			    "relay descriptor", r->name);
			return (-1);
		}
		if (sandbox_seccomp_no_notify(conf, r))
			continue;
		if (sandbox_seccomp_add(ctx, conf, r))
			return (-1);
		if (S != NULL && !sandbox_seccomp_seen(T, i)) {
			if (r->action == POLICY_ALLOW)
				S->nallow++;
			else
				S->nerrno++;
		}
	}
	return (0);
}

/* The filter for ${conf}: native architecture only, ${who}'s rules. */
static scmp_filter_ctx
sandbox_seccomp_build(const struct sandbox_conf * conf, int who,
    struct sandbox_seccomp * S)
{
	scmp_filter_ctx ctx;
	int rc;

	if (who == SANDBOX_RELAY && (conf->epoll_fd < 0 || conf->signal_fd < 0 || conf->nlisten == 0)) {
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
	/*
	 * Syscalls in a binary tree: a few comparisons find a hot syscall's
	 * rules instead of a walk past every rule before it.  A worker runs
	 * the supervisor's filter and its own on every syscall.
	 */
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) != 0) {
		errno = -rc;
		log_errp("seccomp: cannot ask for a binary tree");
		goto err1;
	}
	if (sandbox_seccomp_rules(ctx, conf, who, S))
		goto err1;

	/* Success! */
	return (ctx);

err1:
	seccomp_release(ctx);
err0:
	/* Failure! */
	return (NULL);
}


/* Build and compile the filter for ${conf} (before the other layers). */
int
sandbox_seccomp_prepare(const struct sandbox_conf * conf, int who,
    struct sandbox_seccomp * S)
{
	scmp_filter_ctx ctx;

	memset(S, 0, sizeof(*S));
	if ((ctx = sandbox_seccomp_build(conf, who, S)) == NULL)
		goto err0;
	if (seccompbpf_compile(ctx, sandbox_prog, BPF_MAXINSNS, &S->len))
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
sandbox_seccomp_print(const struct sandbox_conf * conf, int who, int fd)
{
	scmp_filter_ctx ctx;

	if ((ctx = sandbox_seccomp_build(conf, who, NULL)) == NULL)
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
