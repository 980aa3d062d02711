/*
 * genkey.c: --gen-key PATH, a key file the relay's user can read and
 * nobody else can.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "conf.h"
#include "genkey.h"
#include "keyfile.h"
#include "log.h"
#include "sandbox.h"
#include "token.h"

/* The owner of the new file: the relay's user as root, else -1 (keep). */
static int
genkey_owner(const struct conf * C, uid_t * uid, gid_t * gid)
{
	struct sandbox_conf SB;

	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (geteuid() != 0)
		return (0);
	memset(&SB, 0, sizeof(SB));
	SB.user = C->user;
	return (sandbox_user_ids(&SB, uid, gid));
}

/* Write a fresh key line to ${fd}, then sync it; 0 or -1 (errno set). */
static int
genkey_fill(int fd)
{

	if (keyfile_write_new(fd))
		return (-1);
	return (fsync(fd));
}

/* Make the key file. */
int
genkey_write(const char * path, const struct conf * C)
{
	uid_t uid;
	gid_t gid;
	int fd;

	if (token_init())
		return (EX_SOFTWARE);
	if (genkey_owner(C, &uid, &gid))
		return (EX_USAGE);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1) {
		if (errno == EEXIST)
			log_err("key file '%s' exists: it is never overwritten "
			    "(remove it first to make a new key)", path);
		else
			log_errp("cannot create key file '%s'", path);
		return (EX_CANTCREAT);
	}
	/* 0600 whatever the umask; then the owner, then the key. */
	if (fchmod(fd, 0600) || fchown(fd, uid, gid) || genkey_fill(fd)) {
		log_errp("cannot write key file '%s'", path);
		goto err1;
	}
	if (close(fd)) {
		log_errp("cannot write key file '%s'", path);
		goto err0;
	}

	/* Success! */
	log_info("key written to '%s' (mode 0600, uid %ld)", path,
	    (long)(uid == (uid_t)-1 ? geteuid() : uid));
	return (0);

err1:
	close(fd);
err0:
	/* Failure! */
	(void)unlink(path);
	return (EX_IOERR);
}
