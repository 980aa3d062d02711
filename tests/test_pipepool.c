/*
 * Unit tests of src/pipepool.c: the pipe budget, the budget of grown
 * (bulk) pipes, and the fallback to the default size when the kernel
 * refuses to grow one.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pipepool.h"

#define KIB	1024

/* The kernel's size of the pipe ${fds}. */
static int
pipe_size(const int fds[2])
{
	int sz = fcntl(fds[1], F_GETPIPE_SZ);

	cr_assert_gt(sz, 0, "F_GETPIPE_SZ: %s", strerror(errno));
	return (sz);
}

/* The pipe ${fds} is open and carries bytes, and is empty again after. */
static void
pipe_works(const int fds[2])
{
	char b = 'x';

	cr_assert_eq(write(fds[1], &b, 1), 1, "write: %s", strerror(errno));
	b = 0;
	cr_assert_eq(read(fds[0], &b, 1), 1, "read: %s", strerror(errno));
	cr_assert_eq(b, 'x');
}

TestSuite(pipepool, .init = NULL);

Test(pipepool, grows_within_the_budget_only)
{
	struct pipepool * P;
	int p[3][2], i, def;

	/* 512 KiB of grown pipes at 256 KiB each: two. */
	cr_assert_not_null(P = pipepool_init(4, 8, 256 * KIB, 512 * KIB));
	for (i = 0; i < 3; i++)
		cr_assert_eq(pipepool_get(P, p[i], 1), 0);
	def = pipe_size(p[2]);
	cr_assert_eq(pipepool_grow(P, p[0]), 1);
	cr_assert_eq(pipepool_grow(P, p[0]), 1, "a grown pipe is grown");
	cr_assert_eq(pipepool_grow(P, p[1]), 1);
	cr_assert_eq(pipepool_grow(P, p[2]), 0, "past the budget");
	cr_assert_eq(pipepool_grown(P), 2);
	cr_assert_eq(pipe_size(p[0]), 256 * KIB);
	cr_assert_eq(pipe_size(p[1]), 256 * KIB);
	cr_assert_eq(pipe_size(p[2]), def, "the third keeps its size");
	for (i = 0; i < 3; i++)
		pipe_works(p[i]);

	/* A grown pipe closed frees room in the budget. */
	pipepool_put(P, p[0], 0);
	cr_assert_eq(p[0][0], -1);
	cr_assert_eq(pipepool_grown(P), 1);
	cr_assert_eq(pipepool_grow(P, p[2]), 1);
	cr_assert_eq(pipe_size(p[2]), 256 * KIB);
	cr_assert_eq(pipepool_grown(P), 2);
	pipepool_put(P, p[1], 1);
	pipepool_put(P, p[2], 1);
	cr_assert_eq(pipepool_grown(P), 2, "kept grown pipes count");
	pipepool_free(P);
}

Test(pipepool, bulk_gets_a_grown_pipe_others_a_default_one)
{
	struct pipepool * P;
	int big[2], def[2], q[2], dsz;

	cr_assert_not_null(P = pipepool_init(4, 8, 256 * KIB, 256 * KIB));
	cr_assert_eq(pipepool_get(P, big, 1), 0);
	cr_assert_eq(pipepool_get(P, def, 0), 0);
	dsz = pipe_size(def);
	cr_assert_eq(pipepool_grow(P, big), 1);
	pipepool_put(P, big, 1);
	pipepool_put(P, def, 1);

	/* Both kept: a small message's pipe is a default one... */
	cr_assert_eq(pipepool_get(P, q, 0), 0);
	cr_assert_eq(pipe_size(q), dsz);
	pipepool_put(P, q, 1);
	/* ... a bulk flow's the grown one. */
	cr_assert_eq(pipepool_get(P, q, 1), 0);
	cr_assert_eq(pipe_size(q), 256 * KIB);
	cr_assert_eq(pipepool_grow(P, q), 1);
	pipepool_put(P, q, 1);

	/* With only the grown one kept, anyone may take it. */
	cr_assert_eq(pipepool_get(P, def, 0), 0);
	cr_assert_eq(pipepool_get(P, q, 0), 0);
	cr_assert_eq(pipe_size(q), 256 * KIB);
	pipepool_put(P, def, 1);
	pipepool_put(P, q, 1);
	pipepool_free(P);
}

Test(pipepool, no_budget_no_growth_and_the_pipe_limit_holds)
{
	struct pipepool * P;
	int p[3][2], dsz;

	cr_assert_not_null(P = pipepool_init(1, 2, 256 * KIB, 0));
	cr_assert_eq(pipepool_get(P, p[0], 1), 0);
	dsz = pipe_size(p[0]);
	cr_assert_eq(pipepool_grow(P, p[0]), 0);
	cr_assert_eq(pipe_size(p[0]), dsz);
	cr_assert_eq(pipepool_get(P, p[1], 1), 0);
	cr_assert(pipepool_full(P));
	cr_assert_eq(pipepool_get(P, p[2], 1), -1);
	cr_assert_eq(errno, EMFILE);
	pipepool_put(P, p[0], 1);
	cr_assert_not(pipepool_full(P));
	pipepool_put(P, p[1], 1);	/* No room to keep it: closed. */
	pipepool_free(P);

	/* A size past PIPEPOOL_BIG is cut to it. */
	cr_assert_not_null(P = pipepool_init(1, 2, 4 * PIPEPOOL_BIG,
	    4 * PIPEPOOL_BIG));
	cr_assert_eq(pipepool_get(P, p[0], 1), 0);
	cr_assert_eq(pipepool_grow(P, p[0]), 1);
	cr_assert_eq(pipe_size(p[0]), PIPEPOOL_BIG);
	pipepool_put(P, p[0], 1);
	pipepool_free(P);
}

/* fs.pipe-user-pages-soft, or 0 (no limit, or unreadable). */
static long
soft_pages(void)
{
	FILE * f;
	long n = 0;

	if ((f = fopen("/proc/sys/fs/pipe-user-pages-soft", "r")) == NULL)
		return (0);
	if (fscanf(f, "%ld", &n) != 1)
		n = 0;
	fclose(f);
	return (n);
}

#define MANY	200	/* Pipes, more than the soft limit allows grown. */

/*
 * As a user of its own (no other process's pipes count), grow pipes until
 * the kernel refuses (EPERM past fs.pipe-user-pages-soft): the pool keeps
 * the default size, says so once, and tries no more.
 */
Test(pipepool, kernel_refusal_falls_back_to_the_default_size)
{
	struct pipepool * P;
	static int p[MANY][2];
	long soft = soft_pages();
	uid_t uid = 2000000000u + (uid_t)(getpid() % 1000000);
	size_t grown = 0, i, refused = MANY;

	if (geteuid() != 0)
		cr_skip_test("a user of its own needs root");
	if (soft == 0 || soft * sysconf(_SC_PAGESIZE) >
	    (long)(MANY / 2) * PIPEPOOL_BIG)
		cr_skip_test("fs.pipe-user-pages-soft is %ld pages", soft);
	log_setlevel(LOG_ERR);	/* The warning is for the operator. */
	cr_assert_eq(setgid(uid), 0, "setgid: %s", strerror(errno));
	cr_assert_eq(setuid(uid), 0, "setuid: %s", strerror(errno));
	cr_assert_not_null(P = pipepool_init(0, MANY, PIPEPOOL_BIG,
	    (size_t)MANY * PIPEPOOL_BIG));
	for (i = 0; i < MANY; i++) {
		cr_assert_eq(pipepool_get(P, p[i], 1), 0, "pipe %zu: %s", i,
		    strerror(errno));
		if (pipepool_grow(P, p[i])) {
			cr_assert_eq(refused, MANY, "grown after a refusal");
			grown++;
		} else if (refused == MANY) {
			refused = i;
		}
	}
	cr_assert_lt(refused, MANY, "the kernel never refused");
	cr_assert_gt(grown, 0);
	cr_assert_eq(grown, refused);
	cr_assert_eq(pipepool_grown(P), grown);
	cr_assert_lt(pipe_size(p[refused]), PIPEPOOL_BIG);
	for (i = 0; i < MANY; i++)
		pipe_works(p[i]);

	/* Budget lowered to what exists: a grown pipe back, none more. */
	pipepool_put(P, p[0], 1);
	cr_assert_eq(pipepool_grow(P, p[refused]), 0);
	cr_assert_eq(pipepool_get(P, p[0], 1), 0);
	cr_assert_eq(pipe_size(p[0]), PIPEPOOL_BIG, "the kept grown pipe");
	for (i = 0; i < MANY; i++)
		pipepool_put(P, p[i], 1);
	pipepool_free(P);
}
