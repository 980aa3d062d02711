#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "knock.h"
#include "knockfile.h"
#include "log.h"

/* Parse a knock file's contents. */
int
knockfile_parse(const void * buf, size_t len, struct knock * k)
{
	const uint8_t * p = buf;

	if (len > 0 && p[len - 1] == '\n') {
		len--;
		if (len > 0 && p[len - 1] == '\r')
			len--;
	}
	if (len == 0)
		return (KNOCKFILE_EMPTY);
	if (len > KNOCK_MAX)
		return (KNOCKFILE_TOOLONG);
	return (knock_set(k, p, len) ? KNOCKFILE_TOOLONG : KNOCKFILE_OK);
}

/* Read up to ${size} bytes; return the count or -1. */
static ssize_t
knockfile_slurp(int fd, uint8_t * buf, size_t size)
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
knockfile_check(int fd, const char * path)
{
	struct stat st;

	if (fstat(fd, &st)) {
		log_errp("cannot read knock file '%s'", path);
		return (-1);
	}
	if (!S_ISREG(st.st_mode)) {
		log_err("cannot read knock file '%s': not a regular file", path);
		return (-1);
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		log_warn("knock file '%s' is accessible by group or others "
		    "(mode %04o): chmod 600 it", path,
		    (unsigned)(st.st_mode & 07777));
	return (0);
}

/* Read the knock file. */
int
knockfile_read(const char * path, struct knock * k)
{
	uint8_t buf[KNOCK_MAX + 3];
	ssize_t len;
	int fd, rc;

	/* Non-blocking: a FIFO (or a symlink to one) must not hang open(). */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) ==
	    -1) {
		log_errp("cannot read knock file '%s'", path);
		goto err0;
	}
	if (knockfile_check(fd, path))
		goto err1;
	if ((len = knockfile_slurp(fd, buf, sizeof(buf))) == -1) {
		log_errp("cannot read knock file '%s'", path);
		goto err2;
	}
	rc = knockfile_parse(buf, (size_t)len, k);
	if (rc == KNOCKFILE_EMPTY) {
		log_err("knock file '%s' is empty: expected 1 to %d bytes",
		    path, KNOCK_MAX);
		goto err2;
	}
	if (rc == KNOCKFILE_TOOLONG) {
		log_err("knock file '%s' is too long: expected 1 to %d bytes "
		    "(one trailing newline is ignored)", path, KNOCK_MAX);
		goto err2;
	}
	explicit_bzero(buf, sizeof(buf));
	close(fd);

	/* Success! */
	return (0);

err2:
	explicit_bzero(buf, sizeof(buf));
err1:
	close(fd);
err0:
	/* Failure! */
	return (-1);
}
