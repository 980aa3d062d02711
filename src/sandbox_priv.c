#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "log.h"
#include "parse.h"
#include "sandbox.h"
#include "sandbox_internal.h"

/* Largest uid or gid accepted ((uid_t)-1 means "unchanged"). */
#define PRIV_ID_MAX	4294967294ULL

/* Users tried, in order, when --user is not given. */
static const char * const priv_default_users[] = { "l7knockknock", "nobody" };

/* Record ${uid} and ${gid} under the name ${name} in ${P}. */
static int
priv_record(struct sandbox_priv * P, const char * name, uid_t uid, gid_t gid)
{

	if (strlen(name) >= sizeof(P->user)) {
		log_err("user name too long: %.64s...", name);
		return (-1);
	}
	strcpy(P->user, name);
	P->uid = uid;
	P->gid = gid;
	return (0);
}

/* Record the numeric "UID" or "UID:GID" ${spec} in ${P}; 1: no such user. */
static int
priv_user_id(struct sandbox_priv * P, const char * spec)
{
	char num[16];
	unsigned long long uid, gid;
	const char * colon = strchr(spec, ':');
	size_t len = (colon != NULL) ? (size_t)(colon - spec) : strlen(spec);
	struct passwd * pw;

	if (len >= sizeof(num))
		return (1);
	memcpy(num, spec, len);
	num[len] = '\0';
	if (parse_uint(num, 0, PRIV_ID_MAX, &uid))
		return (1);
	if (colon != NULL)
		return (parse_uint(colon + 1, 0, PRIV_ID_MAX, &gid) ? 1 :
		    priv_record(P, spec, (uid_t)uid, (gid_t)gid));
	errno = 0;
	if ((pw = getpwuid((uid_t)uid)) == NULL) {
		if (errno != 0 && errno != ENOENT && errno != ESRCH) {
			log_errp("cannot look up uid %s", spec);
			return (-1);
		}
		return (1);
	}
	return (priv_record(P, spec, pw->pw_uid, pw->pw_gid));
}

/*
 * Record user ${name} in ${P}: a name, a numeric uid with a passwd entry
 * (its group), or UID:GID.  Return 0, 1 if there is no such user, or -1
 * (reported).
 */
static int
priv_user(struct sandbox_priv * P, const char * name)
{
	struct passwd * pw;

	if (name[0] >= '0' && name[0] <= '9')
		return (priv_user_id(P, name));
	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		if (errno != 0 && errno != ENOENT && errno != ESRCH) {
			log_errp("cannot look up user %s", name);
			return (-1);
		}
		return (1);
	}
	return (priv_record(P, name, pw->pw_uid, pw->pw_gid));
}

/* As root: find the user to become; never one with uid or gid 0. */
static int
priv_find_user(const struct sandbox_conf * conf, struct sandbox_priv * P)
{
	size_t i;
	int rc = 1;

	if (conf->user != NULL) {
		if ((rc = priv_user(P, conf->user)) == 1)
			log_err("--user %s: no such user (give a name, a "
			    "uid with a passwd entry, or UID:GID)", conf->user);
	} else {
		for (i = 0; i < 2 && rc == 1; i++)
			rc = priv_user(P, priv_default_users[i]);
		if (rc == 1)
			log_err("neither user l7knockknock nor nobody exists; "
			    "give one with --user");
	}
	if (rc != 0)
		return (-1);
	if (P->uid == 0 || P->gid == 0) {
		log_err("user %s has uid %u gid %u: it must not be root",
		    P->user, (unsigned int)P->uid, (unsigned int)P->gid);
		return (-1);
	}
	return (0);
}

/* Not as root: keep this user; the same one may be named with --user. */
static int
priv_keep_user(const struct sandbox_conf * conf, struct sandbox_priv * P)
{

	P->uid = geteuid();
	P->gid = getegid();
	if (conf->user != NULL &&
	    (priv_user(P, conf->user) != 0 || P->uid != geteuid())) {
		log_err("--user %s: switching user needs root", conf->user);
		return (-1);
	}
	return (0);
}

/* Is the directory open as ${fd} empty?  1 yes, 0 no, -1 error. */
static int
priv_dir_empty(int fd, const char * dir)
{
	struct dirent * de;
	DIR * d;
	int dfd;
	int empty = 1;

	if ((dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (d = fdopendir(dfd)) == NULL) {
		log_errp("--chroot %s: cannot list", dir);
		if (dfd != -1)
			close(dfd);
		return (-1);
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			empty = 0;
	closedir(d);
	return (empty);
}

/* Open ${dir} and check it is a safe, empty chroot; the fd or -1. */
static int
priv_open_dir(const char * dir)
{
	struct stat sb;
	int fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_errp("--chroot %s", dir);
		goto err0;
	}
	if (fstat(fd, &sb)) {
		log_errp("--chroot %s", dir);
		goto err1;
	}
	if (sb.st_uid != 0 || (sb.st_mode & (S_IWGRP | S_IWOTH))) {
		log_err("--chroot %s: must be owned by root and writable by "
		    "root only (owner %u, mode %04o)", dir,
		    (unsigned int)sb.st_uid, (unsigned int)(sb.st_mode & 07777));
		goto err1;
	}
	switch (priv_dir_empty(fd, dir)) {
	case 1:
		break;
	case 0:
		log_err("--chroot %s: must be empty", dir);
		/* FALLTHROUGH */
	default:
		goto err1;
	}

	/* Success! */
	return (fd);

err1:
	close(fd);
err0:
	/* Failure! */
	return (-1);
}

/* Look up the user and check the chroot directory, while we can. */
int
sandbox_priv_prepare(const struct sandbox_conf * conf, struct sandbox_priv * P)
{

	memset(P, 0, sizeof(*P));
	P->dirfd = -1;
	P->dir = (conf->chroot_dir != NULL) ? conf->chroot_dir : "/var/empty";
	if (conf->inherited) {
		P->inherited = 1;
		P->bounded = (conf->inherited == SANDBOX_INHERITED_ROOT);
		P->uid = geteuid();
		P->gid = getegid();
		return (0);
	}
	if (geteuid() != 0)
		return (priv_keep_user(conf, P));
	P->root = 1;
	if (priv_find_user(conf, P))
		return (-1);
	if ((P->dirfd = priv_open_dir(P->dir)) == -1)
		return (-1);
	return (0);
}

/* Check --user before anything is bound. */
int
sandbox_priv_check(const struct sandbox_conf * conf)
{
	struct sandbox_priv P;

	/* The defaults are looked up at sandbox_enter() (exit 71). */
	if (conf->user == NULL)
		return (0);
	memset(&P, 0, sizeof(P));
	if (geteuid() != 0)
		return (priv_keep_user(conf, &P));
	return (priv_find_user(conf, &P));
}

/* The ids the relay will run as. */
int
sandbox_priv_ids(const struct sandbox_conf * conf, uid_t * uid, gid_t * gid)
{
	struct sandbox_priv P;

	memset(&P, 0, sizeof(P));
	if (geteuid() != 0) {
		if (priv_keep_user(conf, &P))
			return (-1);
	} else if (priv_find_user(conf, &P))
		return (-1);
	*uid = P.uid;
	*gid = P.gid;
	return (0);
}

/* Enter the verified directory for good. */
static int
priv_chroot(struct sandbox_priv * P)
{

	if (fchdir(P->dirfd) || chroot(".") || chdir("/")) {
		log_errp("cannot chroot to %s", P->dir);
		return (-1);
	}
	close(P->dirfd);
	P->dirfd = -1;
	return (0);
}

/* Check that every id is ${P}'s and that uid 0 cannot come back. */
static int
priv_verify(const struct sandbox_priv * P)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	gid_t g;

	if (getresuid(&ru, &eu, &su) || getresgid(&rg, &eg, &sg) ||
	    ru != P->uid || eu != P->uid || su != P->uid ||
	    rg != P->gid || eg != P->gid || sg != P->gid) {
		log_err("user switch to %s did not take", P->user);
		return (-1);
	}
	if (P->root && getgroups(1, &g) != 0) {
		log_err("supplementary groups remain after setgroups");
		return (-1);
	}
	if (P->uid != 0 && setuid(0) != -1) {
		log_err("uid 0 can be regained: refusing to run");
		return (-1);
	}
	return (0);
}

/* Inherited from the supervisor: check the ids, change nothing. */
static int
priv_inherited(const struct sandbox_priv * P)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) || getresgid(&rg, &eg, &sg) ||
	    ru != P->uid || su != P->uid || rg != P->gid || sg != P->gid ||
	    (P->bounded && (P->uid == 0 || P->gid == 0))) {
		log_err("privileges: the supervisor's ids are not settled");
		return (-1);
	}
	log_info("privileges: inherited from the supervisor (uid %u gid %u%s)",
	    (unsigned int)P->uid, (unsigned int)P->gid,
	    P->bounded ? ", chroot" : "");
	return (0);
}

/* chroot and switch user (as root), or settle the ids (not as root). */
int
sandbox_priv_drop(struct sandbox_priv * P)
{

	if (P->inherited)
		return (priv_inherited(P));
	if (P->root) {
		if (priv_chroot(P))
			goto err0;
		if (setgroups(0, NULL)) {
			log_errp("setgroups");
			goto err0;
		}
	}
	if (setresgid(P->gid, P->gid, P->gid) ||
	    setresuid(P->uid, P->uid, P->uid)) {
		log_errp("cannot become user %s (uid %u gid %u)",
		    P->root ? P->user : "(current)", (unsigned int)P->uid,
		    (unsigned int)P->gid);
		goto err0;
	}
	if (priv_verify(P))
		goto err0;
	if (P->root)
		log_info("privileges: chroot %s, user %s (uid %u gid %u), "
		    "no supplementary groups", P->dir, P->user,
		    (unsigned int)P->uid, (unsigned int)P->gid);
	else
		log_info("privileges: not started as root: keeping uid %u "
		    "gid %u, no chroot", (unsigned int)P->uid,
		    (unsigned int)P->gid);

	/* Success! */
	return (0);

err0:
	sandbox_priv_cleanup(P);

	/* Failure! */
	return (-1);
}

/* Close the directory. */
void
sandbox_priv_cleanup(struct sandbox_priv * P)
{

	if (P->dirfd != -1)
		close(P->dirfd);
	P->dirfd = -1;
}
