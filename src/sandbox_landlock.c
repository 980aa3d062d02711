#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "log.h"
#include "sandbox.h"
#include "sandbox_internal.h"

/*
 * Landlock's interface, defined here under our own names: the system's
 * <linux/landlock.h> predates the network rights and scopes.  The values
 * are the kernel's ABI (include/uapi/linux/landlock.h) and never change.
 */
#define LL_CREATE_RULESET_VERSION	(1U << 0)
#define LL_RULE_PATH_BENEATH		1
#define LL_RULE_NET_PORT		2

#define LL_FS_V1	((1ULL << 13) - 1)	/* EXECUTE .. MAKE_SYM */
#define LL_FS_READ_FILE	(1ULL << 2)
#define LL_FS_REFER	(1ULL << 13)		/* ABI 2 */
#define LL_FS_TRUNCATE	(1ULL << 14)		/* ABI 3 */
#define LL_FS_IOCTL_DEV	(1ULL << 15)		/* ABI 5 */
#define LL_NET_BIND_TCP		(1ULL << 0)	/* ABI 4 */
#define LL_NET_CONNECT_TCP	(1ULL << 1)	/* ABI 4 */
#define LL_SCOPE_ABSTRACT_UNIX	(1ULL << 0)	/* ABI 6 */
#define LL_SCOPE_SIGNAL		(1ULL << 1)	/* ABI 6 */

/* The newest ABI whose rights we know (ABI 7 adds only audit flags). */
#define LL_ABI_KNOWN	7

struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;	/* ABI 4 */
	uint64_t scoped;		/* ABI 6 */
};

struct ll_path_beneath_attr {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

struct ll_net_port_attr {
	uint64_t allowed_access;
	uint64_t port;
};

/*
 * The ABI version the kernel offers; 0, after a warning at ${level}, if it
 * has no Landlock or Landlock is refused with EPERM: that is not the
 * kernel but a seccomp filter around us (Debian 12's systemd-nspawn, some
 * container runtimes), and the relay is as confined as on a kernel without
 * it.  A worker says it at LOG_DEBUG: its supervisor has warned already.
 */
static int
sandbox_landlock_abi(int level)
{
	long abi;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LL_CREATE_RULESET_VERSION);
	if (abi >= 0)
		return ((int)abi);
	if (errno == ENOSYS || errno == EOPNOTSUPP) {
		log_msg(level, "landlock: not offered by this kernel; "
		    "relying on chroot and seccomp for the file system");
		return (0);
	}
	if (errno == EPERM) {
		log_msg(level, "landlock: refused with EPERM, most likely by a "
		    "container's seccomp filter (systemd-nspawn, docker); "
		    "relying on chroot and seccomp for the file system");
		return (0);
	}
	log_errp("landlock: cannot read the ABI version");
	return (-1);
}

/*
 * What ABI ${abi} lets us restrict for ${who}; the size of the attribute
 * it takes.  The supervisor leaves TCP alone: its workers' own domains
 * restrict it, and a right handled here could never be granted back.
 */
static size_t
sandbox_landlock_attr(int abi, int who, struct ll_ruleset_attr * attr)
{

	memset(attr, 0, sizeof(*attr));
	attr->handled_access_fs = LL_FS_V1;
	if (abi >= 2)
		attr->handled_access_fs |= LL_FS_REFER;
	if (abi >= 3)
		attr->handled_access_fs |= LL_FS_TRUNCATE;
	if (abi >= 5)
		attr->handled_access_fs |= LL_FS_IOCTL_DEV;
	if (abi < 4)
		return (offsetof(struct ll_ruleset_attr, handled_access_net));
	if (who == SANDBOX_RELAY)
		attr->handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
	if (abi < 6)
		return (offsetof(struct ll_ruleset_attr, scoped));
	attr->scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
	return (sizeof(*attr));
}

/* Allow bind to each port of --backend-ports (source ports only). */
static int
sandbox_landlock_bind(int fd, const struct sandbox_conf * conf)
{
	struct ll_net_port_attr pa;
	uint32_t p;

	for (p = conf->bind_lo; conf->bind_lo != 0 && p <= conf->bind_hi;
	    p++) {
		pa.allowed_access = LL_NET_BIND_TCP;
		pa.port = p;
		if (syscall(SYS_landlock_add_rule, fd, LL_RULE_NET_PORT, &pa,
		    0)) {
			log_errp("landlock: cannot allow bind to port %u",
			    (unsigned int)p);
			return (-1);
		}
	}
	return (0);
}

/* Allow TCP connect to each backend port. */
static int
sandbox_landlock_ports(int fd, const struct sandbox_conf * conf)
{
	struct ll_net_port_attr pa;
	size_t i;

	for (i = 0; i < conf->nports; i++) {
		pa.allowed_access = LL_NET_CONNECT_TCP;
		pa.port = conf->connect_ports[i];
		if (syscall(SYS_landlock_add_rule, fd, LL_RULE_NET_PORT, &pa,
		    0)) {
			log_errp("landlock: cannot allow connect to port %u",
			    (unsigned int)conf->connect_ports[i]);
			return (-1);
		}
	}
	return (0);
}

/* Allow reading the files beneath each of conf->read_dirs. */
static int
sandbox_landlock_dirs(int fd, const struct sandbox_conf * conf)
{
	struct ll_path_beneath_attr pb;
	size_t i;

	for (i = 0; i < conf->nread_dirs; i++) {
		pb.allowed_access = LL_FS_READ_FILE;
		pb.parent_fd = conf->read_dirs[i];
		if (syscall(SYS_landlock_add_rule, fd, LL_RULE_PATH_BENEATH,
		    &pb, 0)) {
			log_errp("landlock: cannot allow reading a secret "
			    "file's directory");
			return (-1);
		}
	}
	return (0);
}

/* Create the ruleset for the ABI both sides know. */
int
sandbox_landlock_prepare(const struct sandbox_conf * conf, int who,
    struct sandbox_landlock * L)
{
	struct ll_ruleset_attr attr;
	size_t size;
	long fd;

	L->fd = -1;
	L->abi = 0;
	L->who = who;
	L->bind = (conf->bind_lo != 0);
	if ((L->kernel_abi = sandbox_landlock_abi(conf->inherited ? LOG_DEBUG :
	    LOG_WARN)) == -1)
		goto err0;
	if (L->kernel_abi == 0)
		return (0);
	L->abi = (L->kernel_abi < LL_ABI_KNOWN) ? L->kernel_abi : LL_ABI_KNOWN;
	size = sandbox_landlock_attr(L->abi, who, &attr);
	if ((fd = syscall(SYS_landlock_create_ruleset, &attr, size, 0)) < 0) {
		log_errp("landlock: cannot create a ruleset for ABI %d", L->abi);
		goto err0;
	}
	L->fd = (int)fd;
	if (who == SANDBOX_RELAY && L->abi >= 4 &&
	    (sandbox_landlock_ports(L->fd, conf) ||
	    sandbox_landlock_bind(L->fd, conf)))
		goto err1;
	if (who == SANDBOX_SUPERVISOR && sandbox_landlock_dirs(L->fd, conf))
		goto err1;

	/* Success! */
	return (0);

err1:
	close(L->fd);
	L->fd = -1;
err0:
	/* Failure! */
	return (-1);
}

/* Describe what ABI ${abi} enforces for ${who}, for the log. */
static const char *
sandbox_landlock_what(int abi, int who, int bind)
{

	if (who == SANDBOX_SUPERVISOR)
		return (abi >= 6 ? "only reading the secret files' "
		    "directories, abstract UNIX and signal scoping" :
		    "only reading the secret files' directories");
	if (abi >= 6 && bind)
		return ("no file access, TCP connect to backends only, bind to "
		    "--backend-ports only, abstract UNIX and signal scoping");
	if (abi >= 4 && bind)
		return ("no file access, TCP connect to backends only, bind to "
		    "--backend-ports only");
	if (abi >= 6)
		return ("no file access, TCP connect to backends only, no bind, "
		    "abstract UNIX and signal scoping");
	if (abi >= 4)
		return ("no file access, TCP connect to backends only, no bind");
	return ("no file access (no network rules before ABI 4)");
}

/* Enforce the ruleset on this process. */
int
sandbox_landlock_apply(struct sandbox_landlock * L)
{

	if (L->fd == -1)
		return (0);
	if (syscall(SYS_landlock_restrict_self, L->fd, 0)) {
		log_errp("landlock: cannot enforce the ruleset");
		sandbox_landlock_cleanup(L);
		return (-1);
	}
	sandbox_landlock_cleanup(L);
	log_info("landlock: ABI %d applied (kernel ABI %d): %s", L->abi,
	    L->kernel_abi, sandbox_landlock_what(L->abi, L->who, L->bind));
	return (0);
}

/* Close the ruleset. */
void
sandbox_landlock_cleanup(struct sandbox_landlock * L)
{

	if (L->fd != -1)
		close(L->fd);
	L->fd = -1;
}
