#ifndef SECCOMPBPF_H_
#define SECCOMPBPF_H_

#include <stddef.h>

#include <linux/filter.h>
#include <seccomp.h>

/*
 * A libseccomp filter compiled to BPF in the caller's static memory, so
 * that nothing has to be allocated or freed around the load: libseccomp's
 * own seccomp_load() frees its program after the filter is active, and a
 * free() that trims the heap would need a syscall the policy forbids.
 * Used by the relay's sandbox and by the client's.
 */

/**
 * seccompbpf_compile(ctx, prog, cap, len):
 * Compile the filter ${ctx} to BPF into ${prog}, which has room for ${cap}
 * instructions, through a non-blocking pipe (a program larger than the
 * pipe fails, never hangs), and store its length in instructions in
 * ${len}.  Return 0, or -1 after reporting the error.
 */
int seccompbpf_compile(scmp_filter_ctx, struct sock_filter *, size_t,
    size_t *);

/**
 * seccompbpf_print(ctx, fd):
 * Write the filter ${ctx} as libseccomp's pseudo filter code to ${fd} (the
 * form of the golden files under policy/).  Return 0, or -1 after
 * reporting the error.  ${ctx} stays the caller's.
 */
int seccompbpf_print(scmp_filter_ctx, int);

#endif /* !SECCOMPBPF_H_ */
