#ifndef SECRETFILE_H_
#define SECRETFILE_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/**
 * secretfile_read(path, what, buf, size):
 * Read up to ${size} bytes of the secret file ${path} into ${buf}.  The
 * file is opened with O_NONBLOCK (a FIFO cannot block the start-up) and
 * refused unless it is a regular file; a warning is logged when group or
 * others may access it.  ${what} names the file in every message ("knock
 * file", "key file").  Return the number of bytes read (a file longer than
 * ${size} gives ${size}: the caller refuses it by its contents), or -1
 * after reporting why.  The caller wipes ${buf}.
 */
ssize_t secretfile_read(const char *, const char *, uint8_t *, size_t);

#endif /* !SECRETFILE_H_ */
