#ifndef CLIENT_POLICY_H_
#define CLIENT_POLICY_H_

#include <stddef.h>

#include "policy_table.h"

/*
 * The client's seccomp allowlist as data: build/client_policy_table.c is
 * generated from policy/client-seccomp.policy by tools/policy2c.awk (with
 * table=client_policy_table); only client/client_sandbox.c and the tests
 * read it.  The rules are struct policy_rule, as the relay's; the client's
 * use no run-time values ($epoll_fd and the like), only constants.
 */
extern const struct policy_rule client_policy_table[];
extern const size_t client_policy_table_len;

#endif /* !CLIENT_POLICY_H_ */
