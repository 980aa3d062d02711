#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "secretfile.h"

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

/* Check the file's type and permissions. */
static int
secretfile_check(int fd, const char * path, const char * what)
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
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		log_warn("%s '%s' is accessible by group or others "
		    "(mode %04o): chmod 600 it", what, path,
		    (unsigned)(st.st_mode & 07777));
	return (0);
}

/* Read a secret file. */
ssize_t
secretfile_read(const char * path, const char * what, uint8_t * buf,
    size_t size)
{
	ssize_t len;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK))
	    == -1) {
		log_errp("cannot read %s '%s'", what, path);
		goto err0;
	}
	if (secretfile_check(fd, path, what))
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
