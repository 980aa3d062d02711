#ifndef KNOCKFILE_H_
#define KNOCKFILE_H_

#include <stddef.h>

struct knock;

/* knockfile_parse() results. */
#define KNOCKFILE_OK		0
#define KNOCKFILE_EMPTY		-1
#define KNOCKFILE_TOOLONG	-2

/**
 * knockfile_parse(buf, len, k):
 * Set ${k} to the ${len} bytes of a knock file's contents at ${buf}, with
 * one trailing newline ("\n" or "\r\n") removed.  Return KNOCKFILE_OK,
 * KNOCKFILE_EMPTY or KNOCKFILE_TOOLONG (nothing reported).
 */
int knockfile_parse(const void *, size_t, struct knock *);

/**
 * knockfile_read(path, k):
 * Read the knock from the regular file ${path} into ${k}, warning when the
 * file is readable or writable by group or others.  ${path} is opened
 * non-blocking and refused before any read if it is not a regular file
 * (a FIFO, a device, a directory, or a symlink to one), so it never
 * hangs.  Return 0, or -1 after reporting why the file was refused
 * (unreadable, not a regular file, empty, longer than KNOCK_MAX bytes).  The read buffer is wiped.
 */
int knockfile_read(const char *, struct knock *);

#endif /* !KNOCKFILE_H_ */
