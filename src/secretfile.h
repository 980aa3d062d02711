#ifndef SECRETFILE_H_
#define SECRETFILE_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/**
 * secretfile_read(path, what, buf, size):
 * Read up to ${size} bytes of the secret file ${path} into ${buf}.  The
 * file is opened (beneath its held directory: secretfile_hold) with
 * O_NONBLOCK (a FIFO cannot block the start-up) and
 * refused unless it is a regular file; a warning is logged when group or
 * others may access it.  ${what} names the file in every message ("knock
 * file", "key file").  Return the number of bytes read (a file longer than
 * ${size} gives ${size}: the caller refuses it by its contents), or -1
 * after reporting why.  The caller wipes ${buf}.
 */
ssize_t secretfile_read(const char *, const char *, uint8_t *, size_t);

/**
 * secretfile_read_public(path, what, buf, size):
 * As secretfile_read(), for a file that need not be private (the
 * configuration file): no warning about its permissions.
 */
ssize_t secretfile_read_public(const char *, const char *, uint8_t *, size_t);

/* Longest path whose directory secretfile_hold() keeps, NUL included. */
#define SECRETFILE_PATH_MAX	4096

/* Most directories secretfile_hold() keeps. */
#define SECRETFILE_DIRS_MAX	32

/**
 * secretfile_hold(path):
 * Open the directory of the secret file ${path} (O_PATH | O_DIRECTORY)
 * and keep it, so that secretfile_read(${path}, ...) still finds the file
 * by name after a chroot: it then opens it with openat() beneath that
 * descriptor (so does any file of that directory).  ${path} is copied.  A directory already held is not opened twice.  This table
 * is the module's only state, set at start-up before the chroot.  Return
 * 0, or -1 after reporting.
 */
int secretfile_hold(const char *);

/**
 * secretfile_dirs(fds, max):
 * Store the held directories' descriptors in ${fds} (at most ${max});
 * return how many there are.
 */
size_t secretfile_dirs(int *, size_t);

/**
 * secretfile_release(void):
 * Close every held directory and forget it (a --workers worker: it never
 * reads a secret); secretfile_read() then opens by name only.
 */
void secretfile_release(void);

/**
 * secretfile_readable(path):
 * Can ${path} be opened for reading now (through its held directory if
 * there is one)?  Return 0, or -1 with errno set; nothing is reported.
 */
int secretfile_readable(const char *);

#endif /* !SECRETFILE_H_ */
