#ifndef KEYFILE_H_
#define KEYFILE_H_

#include <stddef.h>
#include <stdint.h>

/* A key's size, and its text: 44 characters of base64, with one '='. */
#define KEYFILE_KEYLEN	32
#define KEYFILE_B64LEN	44

/* keyfile_parse() results. */
#define KEYFILE_OK	0
#define KEYFILE_BAD	-1

/**
 * keyfile_parse(buf, len, key):
 * Decode the ${len} bytes at ${buf}, a key file's contents, into the 32
 * bytes ${key}: exactly 44 characters of standard base64 (RFC 4648 §4,
 * with its one '=' of padding and no other), then at most one trailing
 * newline ("\n" or "\r\n").  Return KEYFILE_OK, or KEYFILE_BAD for any
 * other size or encoding (nothing reported; ${key} is then zero).
 */
int keyfile_parse(const void *, size_t, uint8_t[KEYFILE_KEYLEN]);

/**
 * keyfile_read(path, key):
 * Read the key in the regular file ${path} into ${key}, warning when the
 * file is accessible by group or others (as knockfile_read() does).
 * Return 0, or -1 after reporting, in one line naming ${path}, why the
 * file was refused (unreadable, not a regular file, not a key).  The read
 * buffer is wiped.
 */
int keyfile_read(const char *, uint8_t[KEYFILE_KEYLEN]);

/**
 * keyfile_format(key, out):
 * Write the key file line of ${key}: 44 characters of base64, '\n' and a
 * NUL, into ${out}.
 */
void keyfile_format(const uint8_t[KEYFILE_KEYLEN], char[KEYFILE_B64LEN + 2]);

/**
 * keyfile_write_new(fd):
 * Write the key file line of a fresh random key to ${fd}, in one write,
 * and wipe the key and the line.  Return 0, or -1 with errno set (EIO for
 * a short write); nothing reported.
 */
int keyfile_write_new(int);

#endif /* !KEYFILE_H_ */
