/*
 * libFuzzer harness for conf_parse() (src/conf.c): the whole command line.
 *
 * The input is split on NUL into arguments after argv[0] (at most ARGS_MAX;
 * a trailing NUL does not make an empty last argument).  Each argument is a
 * writable heap block of exactly its size, as the kernel hands them to
 * main(), so AddressSanitizer sees a read or a write past one.
 *
 * conf_parse() must never crash, and:
 *   - it returns CONF_RUN, CONF_DONE or -1;
 *   - on CONF_RUN the configuration is within its documented ranges (1 to
 *     CONF_LISTEN_MAX listeners of a known family, backend hosts
 *     NUL-terminated and ports above 0, durations 1 ms .. 7 days, workers
 *     1 .. CONF_WORKERS_MAX, a log level, a knock of 1 .. KNOCK_MAX bytes
 *     or a file of one kind (--knock-file, --key-file...) or
 *     --print-seccomp, never two of them; every route of a known kind
 *     (the kind table of routes.c names it, and that name finds it
 *     again), with a secret file, but for route 0 when it takes KNOCK);
 *   - a knock taken from argv is wiped there: some argument that was the
 *     knock is now all NULs;
 *   - a second parse of a fresh copy gives the same result, every route's
 *     kind, file and name included (getopt's state is reset by conf_parse
 *     itself).
 * conf_parse() logs to stderr and --help/--version print to stdout: both
 * go to /dev/null around the call, while sanitizer reports keep going to
 * the real stderr.
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "routes.h"

#define ARGS_MAX	64

int LLVMFuzzerInitialize(int *, char ***);
int LLVMFuzzerTestOneInput(const uint8_t *, size_t);
void __sanitizer_set_report_fd(void *);

static int devnull = -1;
static int realerr = -1;

/* An argument vector built from the input. */
struct args {
	char * argv[ARGS_MAX + 2];
	char * orig[ARGS_MAX + 2];	/* Same strings, never permuted. */
	char * copy[ARGS_MAX + 2];	/* Their contents before the parse. */
	size_t size[ARGS_MAX + 2];
	int argc;
};

/* Duplicate ${len} bytes as a NUL-terminated heap string. */
static char *
dupn(const void * p, size_t len)
{
	char * s;

	if ((s = malloc(len + 1)) == NULL)
		abort();
	memcpy(s, p, len);
	s[len] = '\0';
	return (s);
}

/* Split the input on NUL into ${A}. */
static void
args_build(struct args * A, const uint8_t * d, size_t n)
{
	const uint8_t * end = d + n, * nul;
	size_t len;

	memset(A, 0, sizeof(*A));
	A->orig[0] = dupn("l7knockknock", 12);
	A->size[0] = 12;
	A->argc = 1;
	while (d < end && A->argc <= ARGS_MAX) {
		nul = memchr(d, '\0', (size_t)(end - d));
		len = nul ? (size_t)(nul - d) : (size_t)(end - d);
		A->orig[A->argc] = dupn(d, len);
		A->size[A->argc] = len;
		A->argc++;
		d += len + (nul != NULL);
	}
	for (int i = 0; i < A->argc; i++) {
		A->argv[i] = A->orig[i];
		A->copy[i] = dupn(A->orig[i], A->size[i]);
	}
	A->argv[A->argc] = NULL;
}

/* Free ${A}. */
static void
args_free(struct args * A)
{

	for (int i = 0; i < A->argc; i++) {
		free(A->orig[i]);
		free(A->copy[i]);
	}
}

/* conf_parse() with stdout and stderr silenced. */
static int
parse_quiet(struct conf * C, struct args * A)
{
	int rc;

	fflush(stdout);
	if (dup2(devnull, STDERR_FILENO) == -1)
		abort();
	rc = conf_parse(C, A->argc, A->argv);
	fflush(stdout);
	if (dup2(realerr, STDERR_FILENO) == -1)
		abort();
	return (rc);
}

/* A duration within its documented range. */
static int
dur_ok(uint64_t ms)
{

	return (ms >= 1 && ms <= PARSE_DURATION_MAX);
}

/* A backend as the contract allows it. */
static int
backend_ok(const struct conf_backend * B)
{

	return (memchr(B->host, '\0', sizeof(B->host)) != NULL &&
	    B->host[0] != '\0' && B->port != 0);
}

/* The knock was wiped from some argument that held it. */
static int
knock_wiped(const struct conf * C, const struct args * A)
{
	size_t j;

	for (int i = 1; i < A->argc; i++) {
		if (A->size[i] != C->knock.len ||
		    memcmp(A->copy[i], C->knock.buf, C->knock.len) != 0)
			continue;
		for (j = 0; j < A->size[i]; j++)
			if (A->orig[i][j] != '\0')
				break;
		if (j == A->size[i])
			return (1);
	}
	return (0);
}

/*
 * Route ${i} is of a known kind whose name finds it again in the kind
 * table, and names its secret file, unless it is route 0 taking KNOCK (or
 * nothing, with --print-seccomp or --gen-key).
 */
static int
route_ok(const struct conf * C, size_t i)
{
	const struct conf_route * R = &C->routes[i];
	const char * f = routes_kind_file(R->kind);

	if (f == NULL || R->kind >= CONF_KINDS_MAX ||
	    routes_kind_find(f, strlen(f)) != R->kind)
		return (0);
	if (memchr(R->path, '\0', sizeof(R->path)) == NULL)
		return (0);
	if (R->path[0] != '\0')
		return (1);
	return (i == 0 && R->kind == routes_kind_argv() &&
	    (C->have_knock || C->print_seccomp || C->gen_key != NULL));
}

/* The routes of ${C} and ${D} are the same (kind, file, name, backend). */
static int
routes_same(const struct conf * C, const struct conf * D)
{
	size_t i;

	if (C->nroutes != D->nroutes)
		return (0);
	for (i = 0; i < C->nroutes; i++)
		if (C->routes[i].kind != D->routes[i].kind ||
		    strcmp(C->routes[i].path, D->routes[i].path) != 0 ||
		    strcmp(C->routes[i].name, D->routes[i].name) != 0 ||
		    strcmp(C->routes[i].b.host, D->routes[i].b.host) != 0 ||
		    C->routes[i].b.port != D->routes[i].b.port)
			return (0);
	return (1);
}

/* Check a configuration conf_parse() returned CONF_RUN for. */
static void
check_run(const struct conf * C, const struct args * A)
{
	size_t i, nfiles = 0;
	int k;

	if (C->nlisten < 1 || C->nlisten > CONF_LISTEN_MAX)
		abort();
	for (i = 0; i < C->nlisten; i++) {
		if (C->listen[i].ss.ss_family == AF_INET) {
			if (C->listen[i].len != sizeof(struct sockaddr_in))
				abort();
		} else if (C->listen[i].ss.ss_family == AF_INET6) {
			if (C->listen[i].len != sizeof(struct sockaddr_in6))
				abort();
		} else
			abort();
	}
	if (!backend_ok(&C->normal) || !dur_ok(C->normal.idle_ms))
		abort();
	if (C->nroutes < 1 || C->nroutes > CONF_ROUTES_MAX)
		abort();
	for (i = 0; i < C->nroutes; i++) {
		if (!backend_ok(&C->routes[i].b) ||
		    !dur_ok(C->routes[i].b.idle_ms) ||
		    C->routes[i].name[0] == '\0' ||
		    memchr(C->routes[i].name, '\0',
		    sizeof(C->routes[i].name)) == NULL)
			abort();
		if (!route_ok(C, i))
			abort();
	}
	if (!dur_ok(C->idle_ms) || !dur_ok(C->knock_ms) ||
	    !dur_ok(C->connect_ms))
		abort();
	if (C->workers < 1 || C->workers > CONF_WORKERS_MAX)
		abort();
	if (C->max_conns > 1000000)
		abort();
	/* --accept-proxy: at most 16 networks, none longer than 128 bits. */
	if (C->naccept_proxy > CONF_ACCEPT_PROXY_MAX)
		abort();
	for (i = 0; i < C->naccept_proxy; i++)
		if (C->accept_proxy[i].bits > 128)
			abort();
	if (C->loglevel < LOG_ERR || C->loglevel > LOG_DEBUG)
		abort();
	if (C->chroot_dir == NULL || C->chroot_dir[0] != '/')
		abort();
	if (C->user != NULL && C->user[0] == '\0')
		abort();
	/* One knock for the first route at most: KNOCK or a file. */
	for (k = 0; k < CONF_KINDS_MAX; k++) {
		if (C->file[k] == NULL)
			continue;
		if (C->file[k][0] == '\0' || routes_kind_file(k) == NULL)
			abort();
		if (nfiles++ > 0 || C->have_knock)
			abort();
		/* Route 0 is that file's (--hidden with --key-file...). */
		if (C->routes[0].kind != k ||
		    strcmp(C->routes[0].path, C->file[k]) != 0)
			abort();
	}
	if (C->have_knock && (C->routes[0].path[0] != '\0' ||
	    C->routes[0].kind != routes_kind_argv()))
		abort();
	if (C->have_knock) {
		if (C->knock.len < 1 || C->knock.len > KNOCK_MAX)
			abort();
		if (!knock_wiped(C, A))
			abort();
	}
}

int
LLVMFuzzerInitialize(int * argc, char *** argv)
{

	(void)argc;
	(void)argv;
	if ((devnull = open("/dev/null", O_WRONLY)) == -1 ||
	    (realerr = dup(STDERR_FILENO)) == -1)
		abort();
	/* Sanitizer reports keep going to the real stderr. */
	__sanitizer_set_report_fd((void *)(intptr_t)realerr);
	/* --help and --version print to stdout: nobody reads it here. */
	if (dup2(devnull, STDOUT_FILENO) == -1)
		abort();
	return (0);
}

int
LLVMFuzzerTestOneInput(const uint8_t * d, size_t n)
{
	struct args A, B;
	struct conf C, D;
	int rc, rc2;

	args_build(&A, d, n);
	rc = parse_quiet(&C, &A);
	if (rc != CONF_RUN && rc != CONF_DONE && rc != -1)
		abort();
	if (rc == CONF_RUN)
		check_run(&C, &A);

	/* Again, on a fresh copy: the same answer. */
	args_build(&B, d, n);
	rc2 = parse_quiet(&D, &B);
	if (rc2 != rc)
		abort();
	if (rc == CONF_RUN && (D.nlisten != C.nlisten ||
	    D.have_knock != C.have_knock || D.knock.len != C.knock.len ||
	    memcmp(D.knock.buf, C.knock.buf, C.knock.len) != 0 ||
	    D.workers != C.workers || D.idle_ms != C.idle_ms ||
	    D.normal.port != C.normal.port || !routes_same(&C, &D) ||
	    strcmp(D.normal.host, C.normal.host) != 0 ||
	    memcmp(D.listen, C.listen, sizeof(C.listen)) != 0 ||
	    D.naccept_proxy != C.naccept_proxy ||
	    memcmp(D.accept_proxy, C.accept_proxy,
	    C.naccept_proxy * sizeof(C.accept_proxy[0])) != 0))
		abort();

	args_free(&B);
	args_free(&A);
	return (0);
}
