/*
 * Secret files for the tests (knock files, key files) and what reading
 * one writes on stderr: one copy for tests/test_keyfile.c,
 * tests/test_knockfile.c and whoever writes a secret file next.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <criterion/criterion.h>

#include "harness.h"
#include "run.h"

const char *
h_file_make(char * path, const char * prefix, const void * buf, size_t len,
    mode_t mode)
{
	int fd;

	snprintf(path, H_PATH_MAX, "/tmp/l7kk-%s-XXXXXX", prefix);
	cr_assert_neq(fd = mkstemp(path), -1, "mkstemp %s", path);
	cr_assert_eq(write(fd, buf, len), (ssize_t)len, "write");
	cr_assert_eq(fchmod(fd, mode), 0, "fchmod");
	close(fd);
	return (path);
}

void
h_file_remove(char * path)
{

	if (path[0] != '\0')
		(void)unlink(path);
	path[0] = '\0';
}

int
h_read_captured(int (*fn)(const char *, void *), const char * path,
    void * out, char * err, size_t errlen)
{
	struct run_redirect rd;
	int rc;

	cr_assert_eq(run_redirect_begin(&rd, STDERR_FILENO), 0);
	rc = fn(path, out);
	cr_assert_geq(run_redirect_end(&rd, err, errlen), 0);
	return (rc);
}

void
h_read_refused(int (*fn)(const char *, void *), const char * path,
    const char * why)
{
	char err[1024], want[1024];

	snprintf(want, sizeof(want), "l7knockknock: error: %s\n", why);
	cr_expect_eq(h_read_captured(fn, path, NULL, err, sizeof(err)), -1,
	    "reading %s must fail", path);
	cr_expect_str_eq(err, want);
	cr_expect_eq(strchr(err, '\n'), err + strlen(err) - 1,
	    "one line expected: '%s'", err);
}
