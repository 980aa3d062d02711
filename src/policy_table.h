#ifndef POLICY_TABLE_H_
#define POLICY_TABLE_H_

#include <stddef.h>
#include <stdint.h>

/*
 * The seccomp allowlist as data.  build/policy_table.c is generated from
 * policy/seccomp.policy by tools/policy2c.awk; only src/sandbox_seccomp.c
 * reads it.  See policy/README.md for the meaning of each field.
 */

/* What a comparison's value is. */
#define POLICY_VAL_CONST	0	/* The constant in .value. */
#define POLICY_VAL_EPOLL_FD	1	/* $epoll_fd */
#define POLICY_VAL_SIGNAL_FD	2	/* $signal_fd */
#define POLICY_VAL_LISTEN_FD	3	/* $listen_fd: one rule per listener. */
#define POLICY_VAL_NOTIFY_FD	4	/* $notify_fd: no rule when there is none. */

/* How a rule's syscall ends. */
#define POLICY_ALLOW		0	/* Run it. */
#define POLICY_ERRNO		1	/* Fail with .err, do not run it. */

/* At most this many argument conditions per rule. */
#define POLICY_ARGS_MAX		4

/* How a condition compares. */
#define POLICY_OP_EQ		0	/* (argument & mask) == value */
#define POLICY_OP_LE		1	/* argument <= value (no mask) */
#define POLICY_OP_NE		2	/* argument, a descriptor, is none of
					   the listeners ($listen_fd only) */

/*
 * One condition: (argument ${arg} & ${mask}) == value, arg <= value, or
 * arg != every listener (exact on all 64 bits: see sandbox_seccomp.c).
 */
struct policy_arg {
	unsigned int arg;		/* 0 to 5. */
	int op;				/* POLICY_OP_*. */
	uint64_t mask;			/* ~0 for a plain comparison. */
	int kind;			/* POLICY_VAL_*. */
	uint64_t value;			/* For POLICY_VAL_CONST. */
};

/* One line of the policy. */
struct policy_rule {
	const char * name;		/* Syscall name, for logs. */
	int nr;				/* SCMP_SYS(name). */
	int action;			/* POLICY_ALLOW or POLICY_ERRNO. */
	int err;			/* errno for POLICY_ERRNO. */
	size_t nargs;
	struct policy_arg args[POLICY_ARGS_MAX];
	const char * reason;		/* Why the relay needs it. */
};

/* The rules of this build, in policy order, and how many there are. */
extern const struct policy_rule policy_table[];
extern const size_t policy_table_len;

/*
 * The --workers supervisor's rules (policy/supervisor-seccomp.policy,
 * build/supervisor_policy_table.c): constants only, no $descriptor.
 */
extern const struct policy_rule supervisor_policy_table[];
extern const size_t supervisor_policy_table_len;

#endif /* !POLICY_TABLE_H_ */
