#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <unistd.h>

#include <linux/filter.h>
#include <seccomp.h>

#include "log.h"
#include "seccompbpf.h"

/* Read the program written to the pipe ${fd} into ${prog}. */
static int
seccompbpf_slurp(int fd, struct sock_filter * prog, size_t cap, size_t * len)
{
	char * p = (char *)prog;
	size_t size = cap * sizeof(prog[0]), got = 0;
	ssize_t n;

	do {
		if ((n = read(fd, p + got, size - got)) == -1) {
			if (errno == EAGAIN)
				break;
			log_errp("seccomp: cannot read the compiled filter");
			return (-1);
		}
		got += (size_t)n;
	} while (n > 0 && got < size);
	if (got == 0 || got == size || got % sizeof(prog[0]) != 0) {
		log_err("seccomp: compiled filter of %zu bytes is unusable", got);
		return (-1);
	}
	*len = got / sizeof(prog[0]);
	return (0);
}

/* Compile ${ctx} to BPF into ${prog}, through a pipe. */
int
seccompbpf_compile(scmp_filter_ctx ctx, struct sock_filter * prog, size_t cap,
    size_t * len)
{
	int fds[2];
	int rc;

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
	if (seccompbpf_slurp(fds[0], prog, cap, len))
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

/* Print ${ctx} as pseudo filter code. */
int
seccompbpf_print(scmp_filter_ctx ctx, int fd)
{
	int rc;

	if ((rc = seccomp_export_pfc(ctx, fd)) != 0) {
		errno = -rc;
		log_errp("seccomp: cannot print the filter");
		return (-1);
	}
	return (0);
}
