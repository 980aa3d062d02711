#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <cap-ng.h>

#include "log.h"
#include "sandbox_internal.h"

/* Empty the bounding set while CAP_SETPCAP is still ours. */
int
sandbox_caps_bound(int root)
{

	if (!root)
		return (0);
	capng_clear(CAPNG_SELECT_ALL);
	if (capng_apply(CAPNG_SELECT_BOUNDS)) {
		log_err("capabilities: cannot empty the bounding set");
		return (-1);
	}
	return (0);
}

/*
 * Count what the kernel still grants, read with capget(2) and prctl(2)
 * rather than through libcap-ng, so the check does not trust the code
 * that made the drop.  ${set} receives the effective, permitted and
 * inheritable bits, ${amb} and ${bnd} the ambient and bounding counts.
 */
static int
caps_read(uint64_t * set, int * amb, int * bnd)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	int c, r;

	/* Zeroed first: valgrind does not see capget(2) fill both halves. */
	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &hdr, d)) {
		log_errp("capabilities: capget");
		return (-1);
	}
	*set = (uint64_t)d[0].effective | d[0].permitted | d[0].inheritable |
	    ((uint64_t)(d[1].effective | d[1].permitted | d[1].inheritable)
	    << 32);
	*amb = *bnd = 0;

	/* PR_CAPBSET_READ fails with EINVAL past the kernel's last cap. */
	for (c = 0; (r = prctl(PR_CAPBSET_READ, c, 0, 0, 0)) != -1; c++) {
		*bnd += (r == 1);
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) == 1)
			(*amb)++;
	}
	if (errno != EINVAL || c == 0) {
		log_errp("capabilities: PR_CAPBSET_READ");
		return (-1);
	}
	return (0);
}

/* Empty every set we may empty, then check what is left. */
int
sandbox_caps_drop(int root)
{
	uint64_t set;
	int amb, bnd;

	capng_clear(CAPNG_SELECT_ALL);
	if (capng_apply(CAPNG_SELECT_CAPS) ||
	    capng_apply(CAPNG_SELECT_AMBIENT)) {
		log_err("capabilities: cannot empty the capability sets");
		return (-1);
	}
	if (caps_read(&set, &amb, &bnd))
		return (-1);
	if (set != 0 || amb != 0 || (root && bnd != 0)) {
		log_err("capabilities: still held after the drop (sets %llx, "
		    "%d ambient, %d bounding): refusing to run",
		    (unsigned long long)set, amb, bnd);
		return (-1);
	}

	/*
	 * Without CAP_SETPCAP the bounding set cannot be emptied; with no new
	 * privileges and no execve it can never be used anyway.
	 */
	if (bnd != 0)
		log_info("capabilities: none held (bounding set of %d kept: "
		    "not started as root)", bnd);
	else
		log_info("capabilities: none held, bounding and ambient empty");
	return (0);
}
