/*
 * libFuzzer harness for src/knockfile.c: knockfile_parse() on arbitrary
 * file contents, and knockfile_read() on the same contents in a real file.
 *
 * Checked against the contract in src/knockfile.h:
 *   - one trailing "\n" or "\r\n" is removed, nothing else ("\r" alone, a
 *     second newline, spaces and NULs are part of the knock);
 *   - 0 bytes left: KNOCKFILE_EMPTY; more than KNOCK_MAX: KNOCKFILE_TOOLONG;
 *     otherwise KNOCKFILE_OK with exactly those bytes as the knock;
 *   - knockfile_read() (which reads at most KNOCK_MAX + 3 bytes) accepts
 *     exactly what knockfile_parse() accepts on the whole contents, with the
 *     same knock.  The file is a memfd opened through /proc/self/fd, so
 *     nothing is written to disk; its 0777 mode draws the permission
 *     warning, which goes to stderr (silenced here).
 * The input buffer is libFuzzer's own, of exactly the input's size, so
 * AddressSanitizer sees any read past it.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "knock.h"
#include "knockfile.h"

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);
void __sanitizer_set_report_fd(void *);

/* Descriptors: the memfd and /dev/null; libFuzzer's own stderr. */
static int memfd = -1;
static int devnull = -1;
static int realerr = -1;
static char path[64];

/* Reference: the result and the knock's length. */
static int
ref_parse(const uint8_t * d, size_t n, size_t * klen)
{

	if (n > 0 && d[n - 1] == '\n') {
		n--;
		if (n > 0 && d[n - 1] == '\r')
			n--;
	}
	*klen = n;
	if (n == 0)
		return (KNOCKFILE_EMPTY);
	if (n > KNOCK_MAX)
		return (KNOCKFILE_TOOLONG);
	return (KNOCKFILE_OK);
}

/* Write the input to the memfd; return 0 or -1. */
static int
fill_memfd(const uint8_t * d, size_t n)
{
	size_t off = 0;
	ssize_t w;

	if (ftruncate(memfd, 0) || lseek(memfd, 0, SEEK_SET) != 0)
		return (-1);
	while (off < n) {
		if ((w = write(memfd, d + off, n - off)) <= 0)
			return (-1);
		off += (size_t)w;
	}
	return (0);
}

int
LLVMFuzzerInitialize(int * argc, char *** argv)
{

	(void)argc;
	(void)argv;
	if ((memfd = memfd_create("knockfile", 0)) == -1 ||
	    (devnull = open("/dev/null", O_WRONLY)) == -1 ||
	    (realerr = dup(STDERR_FILENO)) == -1)
		abort();
	/* Sanitizer reports keep going to the real stderr. */
	__sanitizer_set_report_fd((void *)(intptr_t)realerr);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t * d, size_t n)
{
	struct knock k, kr;
	size_t klen;
	int rc, rrc, rd;

	memset(&k, 0, sizeof(k));
	rc = knockfile_parse(d, n, &k);
	rrc = ref_parse(d, n, &klen);
	if (rc != rrc)
		abort();
	if (rc == KNOCKFILE_OK &&
	    (k.len != klen || memcmp(k.buf, d, klen) != 0))
		abort();

	/* The same bytes through a file. */
	if (fill_memfd(d, n))
		abort();
	memset(&kr, 0, sizeof(kr));
	if (dup2(devnull, STDERR_FILENO) == -1)
		abort();
	rd = knockfile_read(path, &kr);
	if (dup2(realerr, STDERR_FILENO) == -1)
		abort();
	if ((rd == 0) != (rc == KNOCKFILE_OK))
		abort();
	if (rd == 0 && (kr.len != k.len || memcmp(kr.buf, k.buf, k.len) != 0))
		abort();
	return (0);
}
