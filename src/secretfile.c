#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "secretfile.h"

/* How a secret file is opened. */
#define SECRETFILE_FLAGS	(O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)

/* A held directory: the path of a file in it, the directory's length. */
struct secretfile_dir {
	char path[SECRETFILE_PATH_MAX];	/* A file in it (a copy). */
	size_t dirlen;		/* Bytes of ${path} before the last '/'. */
	int fd;			/* O_PATH descriptor of the directory. */
};

/* The held directories (set at start-up, before the chroot). */
static struct secretfile_dir secretfile_held[SECRETFILE_DIRS_MAX];
static size_t secretfile_nheld;

/* The length of ${path}'s directory part; -1 if it has none ("knock"). */
static ssize_t
secretfile_dirlen(const char * path)
{
	const char * slash = strrchr(path, '/');

	return (slash == NULL ? -1 : (ssize_t)(slash - path));
}

/* The held directory of ${path}, or NULL. */
static const struct secretfile_dir *
secretfile_find(const char * path)
{
	ssize_t len = secretfile_dirlen(path);
	size_t i;

	for (i = 0; i < secretfile_nheld; i++) {
		if ((ssize_t)secretfile_held[i].dirlen == len &&
		    (len <= 0 || memcmp(secretfile_held[i].path, path,
		    (size_t)len) == 0) && (len != -1 ||
		    secretfile_dirlen(secretfile_held[i].path) == -1))
			return (&secretfile_held[i]);
	}
	return (NULL);
}

/* Open ${path} for reading, beneath its held directory if any. */
static int
secretfile_open(const char * path)
{
	const struct secretfile_dir * D = secretfile_find(path);
	ssize_t len;

	if (D == NULL)
		return (open(path, SECRETFILE_FLAGS));
	len = secretfile_dirlen(path);
	return (openat(D->fd, path + len + 1, SECRETFILE_FLAGS));
}

/* Keep ${path}'s directory open. */
int
secretfile_hold(const char * path)
{
	char dir[4096];
	ssize_t len = secretfile_dirlen(path);
	int fd;

	if (secretfile_find(path) != NULL)
		return (0);
	if (secretfile_nheld == SECRETFILE_DIRS_MAX ||
	    (size_t)(len + 1) >= sizeof(dir) || path[len + 1] == '\0') {
		log_err("cannot hold the directory of '%s'", path);
		return (-1);
	}
	if (len == -1)
		strcpy(dir, ".");
	else if (len == 0)
		strcpy(dir, "/");
	else {
		memcpy(dir, path, (size_t)len);
		dir[len] = '\0';
	}
	if ((fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_errp("cannot open the directory '%s' of '%s'", dir, path);
		return (-1);
	}
	if (strlen(path) >= sizeof(secretfile_held[0].path)) {
		log_err("cannot hold the directory of '%s': too long", path);
		close(fd);
		return (-1);
	}
	strcpy(secretfile_held[secretfile_nheld].path, path);
	secretfile_held[secretfile_nheld].dirlen = (size_t)len;
	secretfile_held[secretfile_nheld++].fd = fd;
	return (0);
}

/* The held directories' descriptors. */
size_t
secretfile_dirs(int * fds, size_t max)
{
	size_t i;

	for (i = 0; i < secretfile_nheld && i < max; i++)
		fds[i] = secretfile_held[i].fd;
	return (i);
}

/* Close and forget the held directories. */
void
secretfile_release(void)
{
	size_t i;

	for (i = 0; i < secretfile_nheld; i++)
		(void)close(secretfile_held[i].fd);
	secretfile_nheld = 0;
}

/* Can ${path} be opened for reading? */
int
secretfile_readable(const char * path)
{
	int fd;

	if ((fd = secretfile_open(path)) == -1)
		return (-1);
	close(fd);
	return (0);
}

/* Read up to ${size} bytes; return the count or -1. */
static ssize_t
secretfile_slurp(int fd, uint8_t * buf, size_t size)
{
	size_t len = 0;
	ssize_t n;

	while (len < size) {
		if ((n = read(fd, buf + len, size - len)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return ((ssize_t)len);
}

/* Check the file's type and, if ${secret}, its permissions. */
static int
secretfile_check(int fd, const char * path, const char * what, int secret)
{
	struct stat st;

	if (fstat(fd, &st)) {
		log_errp("cannot read %s '%s'", what, path);
		return (-1);
	}
	if (!S_ISREG(st.st_mode)) {
		log_err("cannot read %s '%s': not a regular file", what, path);
		return (-1);
	}
	if (secret && (st.st_mode & (S_IRWXG | S_IRWXO)))
		log_warn("%s '%s' is accessible by group or others "
		    "(mode %04o): chmod 600 it", what, path,
		    (unsigned)(st.st_mode & 07777));
	return (0);
}

/* Read a file; warn about its permissions if ${secret}. */
static ssize_t
secretfile_read_any(const char * path, const char * what, uint8_t * buf,
    size_t size, int secret)
{
	ssize_t len;
	int fd;

	if ((fd = secretfile_open(path)) == -1) {
		log_errp("cannot read %s '%s'", what, path);
		goto err0;
	}
	if (secretfile_check(fd, path, what, secret))
		goto err1;
	if ((len = secretfile_slurp(fd, buf, size)) == -1) {
		log_errp("cannot read %s '%s'", what, path);
		goto err1;
	}
	close(fd);

	/* Success! */
	return (len);

err1:
	close(fd);
err0:
	/* Failure! */
	return (-1);
}

/* Read a secret file. */
ssize_t
secretfile_read(const char * path, const char * what, uint8_t * buf,
    size_t size)
{

	return (secretfile_read_any(path, what, buf, size, 1));
}

/* Read a file that need not be private. */
ssize_t
secretfile_read_public(const char * path, const char * what, uint8_t * buf,
    size_t size)
{

	return (secretfile_read_any(path, what, buf, size, 0));
}
