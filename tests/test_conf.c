/*
 * Unit tests of src/conf.c: conf_parse() on argument vectors, the defaults,
 * every option in its short and long forms, every refusal with its exact
 * one-line message, and the wiping of the knock from the argument memory.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cidr.h"
#include "conf.h"
#include "log.h"
#include "net.h"
#include "proxyhdr.h"
#include "replay.h"
#include "routes.h"
#include "run.h"

#define ARGS_MAX	40
#define ARG_SIZE	(KNOCK_MAX + 64)

/* A writable argument vector, as the kernel hands one to main(). */
struct args {
	char store[ARGS_MAX + 1][ARG_SIZE];
	char * argv[ARGS_MAX + 2];
	int argc;
};

/* Fill ${A} with "l7knockknock" and the NULL-terminated ${list}. */
static void
args_set(struct args * A, const char * const * list)
{
	int i;

	memset(A, 0, sizeof(*A));
	strcpy(A->store[0], "l7knockknock");
	A->argv[0] = A->store[0];
	for (i = 0; list[i] != NULL; i++) {
		cr_assert_lt(i, ARGS_MAX);
		cr_assert_lt(strlen(list[i]), ARG_SIZE);
		strcpy(A->store[i + 1], list[i]);
		A->argv[i + 1] = A->store[i + 1];
	}
	A->argc = i + 1;
	A->argv[A->argc] = NULL;
}

/* Outputs of one conf_parse() call. */
static char out_buf[8192], err_buf[8192];

/* Run conf_parse() on ${A} with stdout and stderr captured. */
static int
parse_captured(struct conf * C, struct args * A)
{
	struct run_redirect ro, re;
	int rc;

	cr_assert_eq(run_redirect_begin(&ro, STDOUT_FILENO), 0);
	cr_assert_eq(run_redirect_begin(&re, STDERR_FILENO), 0);
	rc = conf_parse(C, A->argc, A->argv);
	cr_assert_geq(run_redirect_end(&re, err_buf, sizeof(err_buf)), 0);
	cr_assert_geq(run_redirect_end(&ro, out_buf, sizeof(out_buf)), 0);
	return (rc);
}

/* Route ${i}'s secret file if of the kind of option ${file}, else NULL. */
static const char *
route_file(const struct conf * C, size_t i, const char * file)
{
	const struct conf_route * R = &C->routes[i];

	if (R->path[0] == '\0' ||
	    R->kind != routes_kind_find(file, strlen(file)))
		return (NULL);
	return (R->path);
}

/* Format listener ${i} of ${C}. */
static const char *
fmt_listen(const struct conf * C, size_t i, char * buf)
{

	return (net_format((const struct sockaddr *)&C->listen[i].ss, buf,
	    NET_ADDRSTR_MAX));
}

/* Format a backend as "host:port". */
static const char *
fmt_backend(const struct conf_backend * B, char * buf, size_t len)
{

	snprintf(buf, len, "%s:%u", B->host, (unsigned)B->port);
	return (buf);
}

Test(conf, defaults)
{
	static struct args A;
	static const char * const list[] = { "secret", NULL };
	struct conf C;
	char buf[NET_ADDRSTR_MAX + PARSE_HOST_MAX];

	args_set(&A, list);
	cr_assert_eq(parse_captured(&C, &A), CONF_RUN, "stderr: %s", err_buf);
	cr_expect_str_eq(err_buf, "");
	cr_expect_str_eq(out_buf, "");
	cr_expect_eq(C.nlisten, 1);
	cr_expect_str_eq(fmt_listen(&C, 0, buf), "0.0.0.0:443");
	cr_expect_str_eq(fmt_backend(&C.normal, buf, sizeof(buf)),
	    "127.0.0.1:8443");
	cr_expect_str_eq(fmt_backend(&C.routes[0].b, buf, sizeof(buf)),
	    "127.0.0.1:22");
	cr_expect_eq(C.idle_ms, 30000);
	cr_expect_eq(C.knock_ms, 2000);
	cr_expect_eq(C.connect_ms, 5000);
	cr_expect_eq(C.max_conns, 0);
	cr_expect_eq(C.loglevel, LOG_INFO);
	cr_expect_eq(C.have_knock, 1);
	cr_expect_eq(C.knock.len, 6);
	cr_expect_arr_eq(C.knock.buf, "secret", 6);
	cr_expect_null(route_file(&C, 0, "knock-file"));
	cr_expect_str_eq(C.chroot_dir, "/var/empty");
	cr_expect_null(C.user);
	cr_expect_eq(C.print_seccomp, 0);
}

/*
 * A good command line and what it must set; unset fields (NULL, 0) mean
 * "the default".  Level is LOG_x + 1 so that 0 can mean the default.
 */
struct good_case {
	const char * args[12];
	const char * listen;	/* Listeners, formatted, comma-separated. */
	const char * normal;	/* "host:port". */
	const char * hidden;
	uint64_t idle_ms, knock_ms, connect_ms;
	unsigned long max_conns;
	int level;
	const char * knock;	/* NULL: "k". */
	const char * knock_file;
	const char * chroot_dir;
	const char * user;
	int print_seccomp;
};

static const struct good_case good_cases[] = {
	/* Ports, the 0.1 way. */
	{ { "-p", "8080", "k" }, .listen = "0.0.0.0:8080" },
	{ { "-p8080", "k" }, .listen = "0.0.0.0:8080" },
	{ { "--listenPort", "1", "k" }, .listen = "0.0.0.0:1" },
	{ { "--listenPort=65535", "k" }, .listen = "0.0.0.0:65535" },
	{ { "-n", "9000", "k" }, .normal = "127.0.0.1:9000" },
	{ { "--normalPort", "65535", "k" }, .normal = "127.0.0.1:65535" },
	{ { "-s", "2222", "k" }, .hidden = "127.0.0.1:2222" },
	{ { "--hiddenPort=1", "k" }, .hidden = "127.0.0.1:1" },
	/* Durations, in every unit. */
	{ { "-o", "60", "k" }, .idle_ms = 60000 },
	{ { "--proxyTimeout", "500ms", "k" }, .idle_ms = 500 },
	{ { "-k", "3s", "k" }, .knock_ms = 3000 },
	{ { "--knockTimeout", "250ms", "k" }, .knock_ms = 250 },
	{ { "--knockTimeout=1", "k" }, .knock_ms = 1000 },
	{ { "--connect-timeout", "1s", "k" }, .connect_ms = 1000 },
	{ { "--connect-timeout=604800", "k" }, .connect_ms = 604800000 },
	/* Log levels. */
	{ { "-v", "k" }, .level = LOG_DEBUG + 1 },
	{ { "--verbose", "k" }, .level = LOG_DEBUG + 1 },
	{ { "-q", "k" }, .level = LOG_ERR + 1 },
	{ { "--quiet", "k" }, .level = LOG_ERR + 1 },
	/* Addresses. */
	{ { "--listen", "127.0.0.1:0", "k" }, .listen = "127.0.0.1:0" },
	{ { "--listen=[::1]:4443", "k" }, .listen = "[::1]:4443" },
	{ { "--listen", "127.0.0.1:1", "--listen", "[::]:2", "k" },
	    .listen = "127.0.0.1:1,[::]:2" },
	{ { "--normal", "example.com:80", "k" }, .normal = "example.com:80" },
	{ { "--normal", "[::1]:8443", "k" }, .normal = "::1:8443" },
	{ { "--hidden", "10.0.0.1:22", "k" }, .hidden = "10.0.0.1:22" },
	{ { "--hidden=localhost:2022", "k" }, .hidden = "localhost:2022" },
	{ { "-n", "1", "--hidden", "[::1]:2", "k" },
	    .normal = "127.0.0.1:1", .hidden = "::1:2" },
	/* The rest. */
	{ { "--max-conns", "1", "k" }, .max_conns = 1 },
	{ { "--max-conns=1000000", "k" }, .max_conns = 1000000 },
	{ { "--knock-file", "/etc/knock" }, .knock_file = "/etc/knock" },
	{ { "--knock-file=rel/knock" }, .knock_file = "rel/knock" },
	{ { "--chroot", "/srv/empty", "k" }, .chroot_dir = "/srv/empty" },
	{ { "--user", "nobody", "k" }, .user = "nobody" },
	{ { "--print-seccomp" }, .print_seccomp = 1, .knock = "" },
	/* The knock: anywhere among the options, after "--", with spaces. */
	{ { "k", "-p", "1" }, .listen = "0.0.0.0:1" },
	{ { "-v", "open sesame", "-v" }, .level = LOG_DEBUG + 1,
	    .knock = "open sesame" },
	{ { "--", "-dash" }, .knock = "-dash" },
	{ { "-p", "2", "--", "--listen" }, .listen = "0.0.0.0:2",
	    .knock = "--listen" },
	{ { "\xff\x01\x7f" }, .knock = "\xff\x01\x7f" },
	/* A knock that looks like a number or an option value. */
	{ { "-p", "443", "443" }, .knock = "443" },
};

/* Check ${C} against ${c}. */
static void
check_good(const struct conf * C, const struct good_case * c, const char * id)
{
	char buf[CONF_LISTEN_MAX * NET_ADDRSTR_MAX], one[NET_ADDRSTR_MAX];
	char be[PARSE_HOST_MAX + 16];
	const char * knock = c->knock ? c->knock : "k";
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < C->nlisten; i++) {
		if (i > 0)
			strcat(buf, ",");
		strcat(buf, fmt_listen(C, i, one));
	}
	cr_expect_str_eq(buf, c->listen ? c->listen : "0.0.0.0:443",
	    "%s: listeners", id);
	cr_expect_str_eq(fmt_backend(&C->normal, be, sizeof(be)),
	    c->normal ? c->normal : "127.0.0.1:8443", "%s: normal", id);
	cr_expect_str_eq(fmt_backend(&C->routes[0].b, be, sizeof(be)),
	    c->hidden ? c->hidden : "127.0.0.1:22", "%s: hidden", id);
	cr_expect_eq(C->idle_ms, c->idle_ms ? c->idle_ms : 30000,
	    "%s: idle", id);
	cr_expect_eq(C->knock_ms, c->knock_ms ? c->knock_ms : 2000,
	    "%s: knock timeout", id);
	cr_expect_eq(C->connect_ms, c->connect_ms ? c->connect_ms : 5000,
	    "%s: connect timeout", id);
	cr_expect_eq(C->max_conns, c->max_conns, "%s: max conns", id);
	cr_expect_eq(C->loglevel, c->level ? c->level - 1 : LOG_INFO,
	    "%s: log level", id);
	cr_expect_str_eq(C->chroot_dir, c->chroot_dir ? c->chroot_dir :
	    "/var/empty", "%s: chroot", id);
	if (c->user != NULL)
		cr_expect_str_eq(C->user ? C->user : "(null)", c->user,
		    "%s: user", id);
	else
		cr_expect_null(C->user, "%s: user", id);
	cr_expect_eq(C->print_seccomp, c->print_seccomp, "%s: seccomp", id);
	if (c->knock_file != NULL) {
		cr_expect_str_eq(route_file(C, 0, "knock-file") ?
		    route_file(C, 0, "knock-file") : "(null)",
		    c->knock_file, "%s: knock file", id);
		cr_expect_eq(C->have_knock, 0, "%s: have_knock", id);
	} else if (knock[0] == '\0') {
		cr_expect_eq(C->have_knock, 0, "%s: have_knock", id);
	} else {
		cr_expect_null(route_file(C, 0, "knock-file"),
		    "%s: knock file", id);
		cr_expect_eq(C->have_knock, 1, "%s: have_knock", id);
		cr_expect_eq(C->knock.len, strlen(knock), "%s: knock length",
		    id);
		cr_expect_arr_eq(C->knock.buf, knock, strlen(knock),
		    "%s: knock bytes", id);
	}
}

/* Join the arguments of a case into ${buf} for messages. */
static const char *
case_id(const char * const * args, char * buf, size_t len)
{
	size_t i;

	buf[0] = '\0';
	for (i = 0; args[i] != NULL; i++) {
		strncat(buf, args[i], len - strlen(buf) - 2);
		strncat(buf, " ", len - strlen(buf) - 1);
	}
	return (buf);
}

Test(conf, every_option_accepted)
{
	static struct args A;
	struct conf C;
	char id[512];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++) {
		const struct good_case * c = &good_cases[i];

		case_id(c->args, id, sizeof(id));
		args_set(&A, c->args);
		rc = parse_captured(&C, &A);
		cr_expect_eq(rc, CONF_RUN, "'%s': rc %d, stderr '%s'", id, rc,
		    err_buf);
		if (rc != CONF_RUN)
			continue;
		cr_expect_str_eq(err_buf, "", "'%s': stderr", id);
		cr_expect_str_eq(out_buf, "", "'%s': stdout", id);
		check_good(&C, c, id);
	}
}

Test(conf, sixteen_listeners_then_too_many)
{
	static struct args A;
	const char * list[2 * CONF_LISTEN_MAX + 4];
	char addrs[CONF_LISTEN_MAX + 1][32], one[NET_ADDRSTR_MAX];
	struct conf C;
	size_t i, n = 0;

	for (i = 0; i < CONF_LISTEN_MAX; i++) {
		snprintf(addrs[i], sizeof(addrs[i]), "127.0.0.%zu:%zu", i + 1,
		    1000 + i);
		list[n++] = "--listen";
		list[n++] = addrs[i];
	}
	list[n++] = "k";
	list[n] = NULL;
	args_set(&A, list);
	cr_assert_eq(parse_captured(&C, &A), CONF_RUN, "%s", err_buf);
	cr_expect_eq(C.nlisten, CONF_LISTEN_MAX);
	for (i = 0; i < CONF_LISTEN_MAX; i++)
		cr_expect_str_eq(fmt_listen(&C, i, one), addrs[i]);

	/* One more. */
	strcpy(addrs[CONF_LISTEN_MAX], "127.0.0.99:99");
	list[n - 1] = "--listen";
	list[n++] = addrs[CONF_LISTEN_MAX];
	list[n++] = "k";
	list[n] = NULL;
	args_set(&A, list);
	cr_expect_eq(parse_captured(&C, &A), -1);
	cr_expect_str_eq(err_buf, "l7knockknock: error: too many --listen "
	    "addresses at '127.0.0.99:99': at most 16\n");
}

/* A refused command line and its exact message (after "error: "). */
struct bad_case {
	const char * args[12];
	const char * msg;
};

#define PORTMSG		"expected a port number 1-65535"
#define DURMSG		"expected a duration such as 500ms, 2s, 5m, 2h or 30 " \
			"(seconds), up to 7 days"
#define LISTENMSG	"expected IPV4:PORT or [IPV6]:PORT with PORT 0-65535"
#define UNKNOWN(n)	"unknown option (not shown: it may be a knock; a " \
	"KNOCK that starts with '-' goes after '--'; see --help)"
#define BACKENDMSG	"expected HOST:PORT, IPV4:PORT or [IPV6]:PORT " \
			"with PORT 1-65535"

static const struct bad_case bad_cases[] = {
	/* Ports. */
	{ { "-p", "70000", "k" },
	    "invalid value '70000' for -p/--listenPort: " PORTMSG },
	{ { "-p", "0", "k" },
	    "invalid value '0' for -p/--listenPort: " PORTMSG },
	{ { "--listenPort=", "k" },
	    "invalid value '' for -p/--listenPort: " PORTMSG },
	{ { "-p", "-1", "k" }, "invalid value for -p/--listenPort (not shown: "
	    "it may be a knock; a KNOCK that starts with '-' goes after '--'): "
	    PORTMSG },
	{ { "-n", "abc", "k" },
	    "invalid value 'abc' for -n/--normalPort: " PORTMSG },
	{ { "--normalPort", "65536", "k" },
	    "invalid value '65536' for -n/--normalPort: " PORTMSG },
	{ { "-n", " 80", "k" },
	    "invalid value ' 80' for -n/--normalPort: " PORTMSG },
	{ { "-s", "0", "k" },
	    "invalid value '0' for -s/--hiddenPort: " PORTMSG },
	{ { "--hiddenPort", "22x", "k" },
	    "invalid value '22x' for -s/--hiddenPort: " PORTMSG },
	/* Durations. */
	{ { "-o", "0", "k" },
	    "invalid value '0' for -o/--proxyTimeout: " DURMSG },
	{ { "--proxyTimeout", "604801", "k" },
	    "invalid value '604801' for -o/--proxyTimeout: " DURMSG },
	{ { "-k", "5x", "k" },
	    "invalid value '5x' for -k/--knockTimeout: " DURMSG },
	{ { "--knockTimeout", "1.5", "k" },
	    "invalid value '1.5' for -k/--knockTimeout: " DURMSG },
	{ { "-k", "0ms", "k" },
	    "invalid value '0ms' for -k/--knockTimeout: " DURMSG },
	{ { "--connect-timeout", "7d", "k" },
	    "invalid value '7d' for --connect-timeout: " DURMSG },
	{ { "--connect-timeout", "", "k" },
	    "invalid value '' for --connect-timeout: " DURMSG },
	/* Listeners: literals only, with a port. */
	{ { "--listen", "127.0.0.1", "k" },
	    "invalid value '127.0.0.1' for --listen: " LISTENMSG },
	{ { "--listen", "::1:443", "k" },
	    "invalid value '::1:443' for --listen: " LISTENMSG },
	{ { "--listen", "localhost:443", "k" },
	    "invalid value 'localhost:443' for --listen: " LISTENMSG },
	{ { "--listen", "[::1]443", "k" },
	    "invalid value '[::1]443' for --listen: " LISTENMSG },
	{ { "--listen", "127.0.0.1:65536", "k" },
	    "invalid value '127.0.0.1:65536' for --listen: " LISTENMSG },
	{ { "--listen", "256.0.0.1:80", "k" },
	    "invalid value '256.0.0.1:80' for --listen: " LISTENMSG },
	{ { "--listen", "[1.2.3.4]:80", "k" },
	    "invalid value '[1.2.3.4]:80' for --listen: " LISTENMSG },
	{ { "--listen", "[::g]:80", "k" },
	    "invalid value '[::g]:80' for --listen: " LISTENMSG },
	{ { "--listen", ":443", "k" },
	    "invalid value ':443' for --listen: " LISTENMSG },
	/* Backends. */
	{ { "--normal", "abc", "k" },
	    "invalid value 'abc' for --normal: " BACKENDMSG },
	{ { "--normal", "127.0.0.1:0", "k" },
	    "invalid value '127.0.0.1:0' for --normal: " BACKENDMSG },
	{ { "--normal", "::1:80", "k" },
	    "invalid value '::1:80' for --normal: " BACKENDMSG },
	{ { "--normal", "[::1]:", "k" },
	    "invalid value '[::1]:' for --normal: " BACKENDMSG },
	{ { "--hidden", ":22", "k" },
	    "invalid value ':22' for --hidden: " BACKENDMSG },
	{ { "--hidden", "host:ssh", "k" },
	    "invalid value 'host:ssh' for --hidden: " BACKENDMSG },
	/* The rest. */
	{ { "--max-conns", "0", "k" }, "invalid value '0' for --max-conns: "
	    "expected a number of connections 1-1000000" },
	{ { "--max-conns", "1000001", "k" }, "invalid value '1000001' for "
	    "--max-conns: expected a number of connections 1-1000000" },
	{ { "--max-conns", "many", "k" }, "invalid value 'many' for "
	    "--max-conns: expected a number of connections 1-1000000" },
	{ { "--knock-file", "" }, "invalid value '' for --knock-file: "
	    "expected a file name (one that starts with '-' as ./-name)" },
	{ { "--knock-file", "-s3cret" }, "invalid value for --knock-file (not "
	    "shown: it may be a knock; a KNOCK that starts with '-' goes after "
	    "'--'): expected a file name (one that starts with '-' as "
	    "./-name)" },
	{ { "--user", "-s3cret", "k" }, "invalid value for --user (not shown: "
	    "it may be a knock; a KNOCK that starts with '-' goes after '--'): "
	    "expected a user name" },
	{ { "--chroot", "var/empty", "k" }, "invalid value 'var/empty' for "
	    "--chroot: expected an absolute directory path" },
	{ { "--user", "", "k" },
	    "invalid value '' for --user: expected a user name" },
	/* Conflicts. */
	{ { "-p", "1", "--listen", "127.0.0.1:2", "k" },
	    "conflicting options '-p/--listenPort' and '--listen': "
	    "give one of them" },
	{ { "--listen", "127.0.0.1:2", "--listenPort", "1", "k" },
	    "conflicting options '-p/--listenPort' and '--listen': "
	    "give one of them" },
	{ { "-n", "1", "--normal", "127.0.0.1:2", "k" },
	    "conflicting options '-n/--normalPort' and '--normal': "
	    "give one of them" },
	{ { "--hidden", "127.0.0.1:2", "-s", "1", "k" },
	    "conflicting options '-s/--hiddenPort' and '--hidden': "
	    "give one of them" },
	{ { "-v", "-q", "k" },
	    "conflicting options '-v' and '-q': give one of them" },
	{ { "--quiet", "--verbose", "k" },
	    "conflicting options '-v' and '-q': give one of them" },
	{ { "-vq", "k" },
	    "conflicting options '-v' and '-q': give one of them" },
	/* Knocks. */
	{ { "a", "b" }, "unexpected extra argument after KNOCK (argument 2; "
	    "not shown, it may be secret): give one KNOCK, quoted if it has "
	    "spaces" },
	{ { "-v", "open", "sesame" }, "unexpected extra argument after KNOCK "
	    "(argument 3; not shown, it may be secret): give one KNOCK, quoted "
	    "if it has spaces" },
	{ { "k", "--knock-file", "/etc/knock" }, "two knocks given: KNOCK "
	    "and '--knock-file /etc/knock'; give one of them" },
	{ { }, "no knock given: expected KNOCK, --knock-file PATH or "
	    "--key-file PATH (see --help)" },
	{ { "-v", "-p", "1" }, "no knock given: expected KNOCK, --knock-file "
	    "PATH or --key-file PATH (see --help)" },
	{ { "" }, "invalid knock of 0 bytes: expected 1 to 256 bytes" },
	/* Unknown options and missing values. */
	{ { "-x", "k" }, UNKNOWN("1") },
	{ { "-vx", "k" }, UNKNOWN("1") },
	{ { "--bogus", "k" }, UNKNOWN("1") },
	{ { "--bogus=1", "k" }, UNKNOWN("1") },
	{ { "--listenport", "1", "k" }, UNKNOWN("1") },
	{ { "-q", "--", "k", "--l7kk-secret" }, "unexpected extra argument "
	    "after KNOCK (argument 4; not shown, it may be secret): give one "
	    "KNOCK, quoted if it has spaces" },
	/* A knock that starts with '-', given without '--': never shown. */
	{ { "--s3cret-knock" }, UNKNOWN("1") },
	{ { "-q", "--s3cret=knock" }, UNKNOWN("2") },
	{ { "-Zs3cret" }, UNKNOWN("1") },
	{ { "-s3cret" }, "invalid value for -s/--hiddenPort (not shown: it "
	    "may be a knock; a KNOCK that starts with '-' goes after '--'): "
	    "expected a port number 1-65535" },
	{ { "-vk3cret" }, "invalid value for -k/--knockTimeout (not shown: "
	    "it may be a knock; a KNOCK that starts with '-' goes after '--'): "
	    DURMSG },
	{ { "-k", "-s3cret" }, "invalid value for -k/--knockTimeout (not "
	    "shown: it may be a knock; a KNOCK that starts with '-' goes after "
	    "'--'): " DURMSG },
	{ { "--verbose=s3cret", "k" },
	    "option '--verbose' takes no value (see --help)" },
	{ { "k", "-vp" }, "option '-p' needs a value (see --help)" },
	/* Start-up edges. */
	{ { "--listen", "127.0.0.1:5", "--listen", "127.0.0.1:5", "--workers",
	    "2", "k" }, "--listen '127.0.0.1:5' is given twice: give each "
	    "address once" },
	{ { "--listen", "[::1]:5", "--listen", "[::1]:5", "k" },
	    "--listen '[::1]:5' is given twice: give each address once" },
	{ { "--listen", "127.0.0.1:5", "--listen", "[::ffff:127.0.0.1]:5",
	    "k" }, "--listen '[::ffff:127.0.0.1]:5' is given twice: give each "
	    "address once" },
	{ { "--normal", "256.1.1.1:80", "k" }, "invalid value '256.1.1.1:80' "
	    "for --normal: expected an IPv4 address of four numbers 0-255 "
	    "(a.b.c.d)" },
	{ { "--hidden", "10.1:22", "k" }, "invalid value '10.1:22' for "
	    "--hidden: expected an IPv4 address of four numbers 0-255 "
	    "(a.b.c.d)" },
	{ { "--hidden", "2130706433:22", "k" }, "invalid value "
	    "'2130706433:22' for --hidden: expected an IPv4 address of four "
	    "numbers 0-255 (a.b.c.d)" },
	{ { "k", "-p" }, "option '-p' needs a value (see --help)" },
	{ { "k", "-k" }, "option '-k' needs a value (see --help)" },
	{ { "k", "--listen" }, "option '--listen' needs a value (see --help)" },
	{ { "k", "--normal" }, "option '--normal' needs a value (see --help)" },
	{ { "k", "--knock-file" },
	    "option '--knock-file' needs a value (see --help)" },
	{ { "k", "--proxyTimeout" },
	    "option '--proxyTimeout' needs a value (see --help)" },
};

/* Run ${c} and check the result and the one line on stderr. */
static void
check_bad(const char * const * args, const char * msg)
{
	static struct args A;
	struct conf C;
	char id[1024], want[1024];
	int rc;

	case_id(args, id, sizeof(id));
	args_set(&A, args);
	rc = parse_captured(&C, &A);
	cr_expect_eq(rc, -1, "'%s': rc %d, expected -1", id, rc);
	snprintf(want, sizeof(want), "l7knockknock: error: %s\n", msg);
	cr_expect_str_eq(err_buf, want, "'%s': message", id);
	cr_expect_str_eq(out_buf, "", "'%s': stdout", id);
}

Test(conf, every_bad_input_refused_with_one_line)
{
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
		check_bad(bad_cases[i].args, bad_cases[i].msg);
}

/* An option that takes no value, given one: refused, naming it. */
Test(conf, value_given_to_a_flag)
{
	static struct args A;
	static const char * const list[] = { "--verbose=1", "k", NULL };
	struct conf C;

	args_set(&A, list);
	cr_expect_eq(parse_captured(&C, &A), -1);
	cr_expect_neq(strstr(err_buf, "'--verbose'"), NULL, "%s", err_buf);
	cr_expect_null(strstr(err_buf, "=1"), "the value was shown: %s",
	    err_buf);
	cr_expect_eq(strchr(err_buf, '\n'), err_buf + strlen(err_buf) - 1,
	    "one line: %s", err_buf);
}

Test(conf, knock_of_256_accepted_257_refused)
{
	static struct args A;
	char knock[KNOCK_MAX + 2];
	const char * list[2] = { knock, NULL };
	struct conf C;

	memset(knock, 'K', KNOCK_MAX);
	knock[0] = 'a';
	knock[KNOCK_MAX - 1] = 'z';
	knock[KNOCK_MAX] = '\0';
	args_set(&A, list);
	cr_expect_eq(parse_captured(&C, &A), CONF_RUN, "%s", err_buf);
	cr_expect_eq(C.knock.len, KNOCK_MAX);
	cr_expect_arr_eq(C.knock.buf, knock, KNOCK_MAX);

	knock[KNOCK_MAX] = 'K';
	knock[KNOCK_MAX + 1] = '\0';
	check_bad(list,
	    "invalid knock of 257 bytes: expected 1 to 256 bytes");
	cr_expect_null(strstr(err_buf, "KKKK"), "the knock must not be "
	    "logged");
}

/* The knock's bytes are zero in the argument memory afterwards. */
Test(conf, knock_wiped_from_argv)
{
	static struct args A;
	static const char * const list[] = { "-v", "-p", "8080",
	    "top secret", "--normal", "127.0.0.1:1", NULL };
	static const char zero[16];
	struct conf C;
	int i, found = 0;

	args_set(&A, list);
	cr_assert_eq(parse_captured(&C, &A), CONF_RUN, "%s", err_buf);
	cr_expect_eq(C.knock.len, 10);
	cr_expect_arr_eq(C.knock.buf, "top secret", 10);

	/* The storage that held the knock: store[4], whatever getopt did. */
	cr_expect_arr_eq(A.store[4], zero, 11, "the knock is still in argv");
	for (i = 0; i < A.argc; i++)
		if (memmem(A.store[i], ARG_SIZE, "secret", 6) != NULL)
			found = 1;
	cr_expect_eq(found, 0, "the knock is still in argv");

	/* The other arguments are untouched. */
	cr_expect_str_eq(A.store[1], "-v");
	cr_expect_str_eq(A.store[3], "8080");
	cr_expect_str_eq(A.store[6], "127.0.0.1:1");
}

/* Each of --help, -?, -h and --version: CONF_DONE, output on stdout only. */
Test(conf, help_and_version_done)
{
	static const struct {
		const char * args[5];	/* NULL-terminated. */
		const char * want;	/* The start of stdout. */
	} cases[] = {
		{ { "--help" }, "usage: l7knockknock" },
		{ { "-?" }, "usage: l7knockknock" },
		{ { "-h" }, "usage: l7knockknock" },
		{ { "-v", "--help" }, "usage: l7knockknock" },
		{ { "k", "-?" }, "usage: l7knockknock" },
		{ { "--version" }, "l7knockknock " VERSION "\n" },
		{ { "-V" }, "l7knockknock " VERSION "\n" },
		{ { "-V", "k", "-p", "1" }, "l7knockknock " VERSION "\n" },
	};
	static struct args A;
	struct conf C;
	char id[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		case_id(cases[i].args, id, sizeof(id));
		args_set(&A, cases[i].args);
		cr_expect_eq(parse_captured(&C, &A), CONF_DONE, "'%s': %s", id,
		    err_buf);
		cr_expect_str_eq(err_buf, "", "'%s': stderr", id);
		cr_expect_eq(strncmp(out_buf, cases[i].want,
		    strlen(cases[i].want)), 0, "'%s': stdout '%s'", id,
		    out_buf);
	}
}

/* The usage text names every option. */
Test(conf, help_lists_every_option)
{
	static const char * const opts[] = { "--listenPort", "--normalPort",
	    "--hiddenPort", "--proxyTimeout", "--knockTimeout", "--verbose",
	    "--quiet", "--version", "--help", "--listen ", "--normal ",
	    "--hidden ", "--knock-file", "--connect-timeout", "--max-conns",
	    "-p,", "-n,", "-s,", "-o,", "-k,", "-v,", "-q,", "-V,", "-h,", "-?)",
	    "--route ", "--key-file ", "--token-window ", "--replay-cache ",
	    "--log-time", "--fin-timeout", "--workers", "--drain-grace ",
	    NULL };
	struct run_redirect R;
	char buf[8192];
	size_t i;

	cr_assert_eq(run_redirect_begin(&R, 1), 0);
	conf_usage(1);
	cr_assert_gt(run_redirect_end(&R, buf, sizeof(buf)), 0);
	for (i = 0; opts[i] != NULL; i++)
		cr_expect_neq(strstr(buf, opts[i]), NULL, "usage lacks %s",
		    opts[i]);
}

/*
 * conf_parse() starts getopt afresh each time: an earlier refusal must not
 * change how the next command line is read.
 */
Test(conf, parse_is_repeatable)
{
	static const char * const bad1[] = { "-x", "k", NULL };
	static const char * const bad2[] = { "--bogus", "k", NULL };
	static const char * const help[] = { "-?", NULL };
	static const char * const good[] = { "-p", "1", "k", NULL };
	static struct args A;
	struct conf C;

	args_set(&A, bad1);
	cr_expect_eq(parse_captured(&C, &A), -1);
	args_set(&A, help);
	cr_expect_eq(parse_captured(&C, &A), CONF_DONE, "-? after -x: %s",
	    err_buf);
	args_set(&A, bad2);
	cr_expect_eq(parse_captured(&C, &A), -1);
	args_set(&A, help);
	cr_expect_eq(parse_captured(&C, &A), CONF_DONE, "-? after --bogus: "
	    "%s", err_buf);
	args_set(&A, good);
	cr_expect_eq(parse_captured(&C, &A), CONF_RUN, "%s", err_buf);
	args_set(&A, good);
	cr_expect_eq(parse_captured(&C, &A), CONF_RUN, "%s", err_buf);
	cr_expect_str_eq(fmt_listen(&C, 0, (char[NET_ADDRSTR_MAX]){ 0 }),
	    "0.0.0.0:1");
}

/* ::ffff:a.b.c.d is taken as the IPv4 address a.b.c.d. */
Test(conf, v4_mapped_addresses_are_ipv4)
{
	static struct args A;
	static const char * const list[] = { "--listen",
	    "[::ffff:127.0.0.1]:0", "--normal", "[::ffff:127.0.0.2]:80", "k",
	    NULL };
	struct net_addr a;
	struct conf C;
	char buf[NET_ADDRSTR_MAX];

	args_set(&A, list);
	cr_assert_eq(parse_captured(&C, &A), CONF_RUN, "%s", err_buf);
	cr_expect_eq(C.listen[0].ss.ss_family, AF_INET);
	cr_expect_eq(C.listen[0].len, sizeof(struct sockaddr_in));
	cr_expect_str_eq(fmt_listen(&C, 0, buf), "127.0.0.1:0");
	cr_assert_eq(net_resolve(C.normal.host, C.normal.port, 0, &a), 0);
	cr_expect_eq(a.ss.ss_family, AF_INET);
	cr_expect_str_eq(net_format((struct sockaddr *)&a.ss, buf,
	    sizeof(buf)), "127.0.0.2:80");
	cr_assert_eq(net_literal("::ffff:10.1.2.3", 22, &a), 0);
	cr_expect_str_eq(net_format((struct sockaddr *)&a.ss, buf,
	    sizeof(buf)), "10.1.2.3:22");
	cr_assert_eq(net_literal("::1", 22, &a), 0);
	cr_expect_eq(a.ss.ss_family, AF_INET6);
}

/* --max-conns-per-source and --backend-ports. */
Test(conf, per_source_and_backend_ports)
{
	static const struct {
		const char * argv[4];
		int rc;
		unsigned long per_source;
		int have;
		uint16_t lo, hi;
	} cases[] = {
		{ { "k" }, CONF_RUN, 0, 0, 0, 0 },
		{ { "--max-conns-per-source", "0", "k" }, CONF_RUN, 0, 1, 0, 0 },
		{ { "--max-conns-per-source=64", "k" }, CONF_RUN, 64, 1, 0, 0 },
		{ { "--max-conns-per-source", "1000001", "k" }, -1, 0, 0, 0, 0 },
		{ { "--max-conns-per-source", "x", "k" }, -1, 0, 0, 0, 0 },
		{ { "--backend-ports", "50000-50099", "k" }, CONF_RUN, 0, 0,
		    50000, 50099 },
		{ { "--backend-ports=1024-1024", "k" }, CONF_RUN, 0, 0, 1024,
		    1024 },
		{ { "--backend-ports", "1023-2000", "k" }, -1, 0, 0, 0, 0 },
		{ { "--backend-ports", "3000-2000", "k" }, -1, 0, 0, 0, 0 },
		{ { "--backend-ports", "2000", "k" }, -1, 0, 0, 0, 0 },
		{ { "--backend-ports", "1024-65535", "k" }, -1, 0, 0, 0, 0 },
		{ { "--backend-ports", "40000-56383", "k" }, CONF_RUN, 0, 0,
		    40000, 56383 },
		{ { "--backend-ports", "1234567-2", "k" }, -1, 0, 0, 0, 0 },
	};
	struct conf C;
	struct args A;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		args_set(&A, cases[i].argv);
		rc = parse_captured(&C, &A);
		cr_expect_eq(rc, cases[i].rc, "case %zu: rc %d; %s", i, rc,
		    err_buf);
		if (rc != CONF_RUN)
			continue;
		cr_expect_eq(C.max_per_source, cases[i].per_source, "case %zu",
		    i);
		cr_expect_eq(C.have_max_per_source, cases[i].have, "case %zu",
		    i);
		cr_expect_eq(C.bind_lo, cases[i].lo, "case %zu", i);
		cr_expect_eq(C.bind_hi, cases[i].hi, "case %zu", i);
	}
}

/* --accept-proxy: networks kept in order; bad ones and the 17th refused. */
Test(conf, accept_proxy)
{
	const char * argv[40];
	struct sockaddr_in6 sin6;
	struct conf C;
	struct args A;
	size_t i;

	args_set(&A, (const char *[]){ "--accept-proxy", "192.0.2.0/24",
	    "--accept-proxy=2001:db8::/32", "k", NULL });
	cr_assert_eq(parse_captured(&C, &A), CONF_RUN, "%s", err_buf);
	cr_assert_eq(C.naccept_proxy, 2);
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8:ffff::1", &sin6.sin6_addr);
	cr_expect(!cidr_match(C.accept_proxy, 1, (struct sockaddr *)&sin6));
	cr_expect(cidr_match(C.accept_proxy, 2, (struct sockaddr *)&sin6));
	args_set(&A, (const char *[]){ "k", NULL });
	cr_assert_eq(parse_captured(&C, &A), CONF_RUN);
	cr_expect_eq(C.naccept_proxy, 0);
	args_set(&A, (const char *[]){ "--accept-proxy", "192.0.2.1/24", "k",
	    NULL });
	cr_expect_eq(parse_captured(&C, &A), -1);
	cr_expect_not_null(strstr(err_buf, "'192.0.2.1/24' for "
	    "--accept-proxy"), "%s", err_buf);
	for (i = 0; i < 2 * (CONF_ACCEPT_PROXY_MAX + 1); i += 2) {
		argv[i] = "--accept-proxy";
		argv[i + 1] = "10.0.0.0/8";
	}
	argv[i++] = "k";
	argv[i] = NULL;
	args_set(&A, argv);
	cr_expect_eq(parse_captured(&C, &A), -1);
	cr_expect_not_null(strstr(err_buf, "at most 16"), "%s", err_buf);
}

/* ---- Several routes, tokens, idle= and proxy= ---- */

Test(conf, routes_defaults_and_sub_options)
{
	static struct args A;
	static const char * const list[] = {
	    "--normal", "127.0.0.1:80,proxy=v1",
	    "--hidden", "127.0.0.1:22,name=ssh",
	    "--route", "127.0.0.1:2222,key-file=/etc/a.key",
	    "--route", "[::1]:23,knock-file=rel/knock,name=tel_1,idle=5m,"
	    "proxy=v2",
	    "--route", "example.com:24,idle=90,key-file=b.key",
	    "--key-file", "/etc/first.key", NULL };
	struct conf C;

	args_set(&A, list);
	cr_assert_eq(parse_captured(&C, &A), CONF_RUN, "%s", err_buf);
	cr_expect_str_eq(err_buf, "");
	cr_assert_eq(C.nroutes, 4);
	cr_expect_eq(C.normal.idle_ms, 30000);
	cr_expect_eq(C.normal.proxy, PROXYHDR_V1);
	cr_expect_str_eq(C.routes[0].name, "ssh");
	cr_expect_str_eq(route_file(&C, 0, "key-file"), "/etc/first.key");
	cr_expect_null(route_file(&C, 0, "knock-file"));
	cr_expect_eq(C.routes[0].b.idle_ms, 2 * 3600 * 1000);
	cr_expect_eq(C.routes[0].b.proxy, PROXYHDR_OFF);
	cr_expect_str_eq(C.routes[1].name, "hidden2");
	cr_expect_str_eq(C.routes[1].b.host, "127.0.0.1");
	cr_expect_eq(C.routes[1].b.port, 2222);
	cr_expect_str_eq(route_file(&C, 1, "key-file"), "/etc/a.key");
	cr_expect_null(route_file(&C, 1, "knock-file"));
	cr_expect_eq(C.routes[1].b.idle_ms, 2 * 3600 * 1000);
	cr_expect_str_eq(C.routes[2].name, "tel_1");
	cr_expect_str_eq(C.routes[2].b.host, "::1");
	cr_expect_eq(C.routes[2].b.port, 23);
	cr_expect_str_eq(route_file(&C, 2, "knock-file"), "rel/knock");
	cr_expect_null(route_file(&C, 2, "key-file"));
	cr_expect_eq(C.routes[2].b.idle_ms, 300000);
	cr_expect_eq(C.routes[2].b.proxy, PROXYHDR_V2);
	cr_expect_str_eq(C.routes[3].name, "hidden4");
	cr_expect_str_eq(C.routes[3].b.host, "example.com");
	cr_expect_eq(C.routes[3].b.idle_ms, 90000);
	cr_expect_str_eq(route_file(&C, 3, "key-file"), "b.key");
	cr_expect_eq(C.window_s, 30);
	cr_expect_eq(C.replay_n, REPLAY_DEFAULT);
}

Test(conf, o_sets_every_route_idle_wins)
{
	static struct args A;
	static const char * const list[] = { "-o", "45s",
	    "--normal", "127.0.0.1:80", "--hidden", "127.0.0.1:22,idle=1h",
	    "--route", "127.0.0.1:23,key-file=k", "--token-window", "2m",
	    "--replay-cache", "1", "knock", NULL };
	struct conf C;

	args_set(&A, list);
	cr_assert_eq(parse_captured(&C, &A), CONF_RUN, "%s", err_buf);
	cr_expect_eq(C.normal.idle_ms, 45000);
	cr_expect_eq(C.routes[0].b.idle_ms, 3600000);
	cr_expect_eq(C.routes[1].b.idle_ms, 45000);
	cr_expect_eq(C.window_s, 120);
	cr_expect_eq(C.replay_n, 1);
	cr_expect_eq(C.have_knock, 1);
}

/* --drain-grace: 60 s unless given. */
Test(conf, drain_grace_default_and_given)
{
	static struct args A;
	static const char * const def[] = { "knock", NULL };
	static const char * const given[] = { "--drain-grace", "1500ms",
	    "knock", NULL };
	struct conf C;

	args_set(&A, def);
	cr_assert_eq(parse_captured(&C, &A), CONF_RUN, "%s", err_buf);
	cr_expect_eq(C.drain_grace_ms, 60000);
	args_set(&A, given);
	cr_assert_eq(parse_captured(&C, &A), CONF_RUN, "%s", err_buf);
	cr_expect_eq(C.drain_grace_ms, 1500);
}

Test(conf, sixteen_routes_then_too_many)
{
	static struct args A;
	const char * list[2 * CONF_ROUTES_MAX + 4];
	char r[CONF_ROUTES_MAX][64];
	struct conf C;
	size_t i, n = 0;

	for (i = 1; i < CONF_ROUTES_MAX; i++) {
		snprintf(r[i], sizeof(r[i]), "127.0.0.1:%zu,key-file=k%zu",
		    1000 + i, i);
		list[n++] = "--route";
		list[n++] = r[i];
	}
	list[n++] = "k";
	list[n] = NULL;
	args_set(&A, list);
	cr_assert_eq(parse_captured(&C, &A), CONF_RUN, "%s", err_buf);
	cr_expect_eq(C.nroutes, CONF_ROUTES_MAX);
	cr_expect_str_eq(C.routes[15].name, "hidden16");

	list[n - 1] = "--route";
	list[n++] = "127.0.0.1:99,key-file=x";
	list[n++] = "k";
	list[n] = NULL;
	args_set(&A, list);
	cr_expect_eq(parse_captured(&C, &A), -1);
	cr_expect_str_eq(err_buf, "l7knockknock: error: too many hidden routes "
	    "at --route '127.0.0.1:99,key-file=x': at most 16 in all (--hidden "
	    "and --route)\n");
}

#define SUBMSG(s, v, why) "invalid sub-option '" s "' in --route '" v "': " why
#define ROUTEKEYS	"expected key-file=, knock-file=, name=, idle= or proxy="

static const struct bad_case route_bad_cases[] = {
	{ { "--route", "127.0.0.1:1", "k" }, "--route '127.0.0.1:1' has no "
	    "key-file= or knock-file=: give one of them" },
	{ { "--route", "127.0.0.1:1,name=x", "k" }, "--route "
	    "'127.0.0.1:1,name=x' has no key-file= or knock-file=: give one "
	    "of them" },
	{ { "--route", "127.0.0.1:1,key-file=a,knock-file=b", "k" },
	    SUBMSG("knock-file=b", "127.0.0.1:1,key-file=a,knock-file=b",
	    "give one of key-file= and knock-file=, once") },
	{ { "--route", "127.0.0.1:1,key-file=a,key-file=b", "k" },
	    SUBMSG("key-file=b", "127.0.0.1:1,key-file=a,key-file=b",
	    "give one of key-file= and knock-file=, once") },
	{ { "--route", "127.0.0.1:1,key-file=a,bogus=1", "k" },
	    SUBMSG("bogus=1", "127.0.0.1:1,key-file=a,bogus=1", ROUTEKEYS) },
	{ { "--route", "127.0.0.1:1,key-file=a,", "k" },
	    SUBMSG("", "127.0.0.1:1,key-file=a,", ROUTEKEYS) },
	{ { "--route", "127.0.0.1:1,key-file", "k" },
	    SUBMSG("key-file", "127.0.0.1:1,key-file", ROUTEKEYS) },
	{ { "--route", "127.0.0.1:1,key-file=", "k" },
	    SUBMSG("key-file=", "127.0.0.1:1,key-file=", "expected a file name "
	    "(one that starts with '-' as ./-name), shorter than 1024 bytes") },
	{ { "--route", "127.0.0.1:1,key-file=a,idle=0", "k" },
	    SUBMSG("idle=0", "127.0.0.1:1,key-file=a,idle=0", DURMSG) },
	{ { "--route", "127.0.0.1:1,key-file=a,idle=1s,idle=2s", "k" },
	    SUBMSG("idle=2s", "127.0.0.1:1,key-file=a,idle=1s,idle=2s",
	    "given twice: give it once") },
	{ { "--route", "127.0.0.1:1,key-file=a,proxy=v3", "k" },
	    SUBMSG("proxy=v3", "127.0.0.1:1,key-file=a,proxy=v3",
	    "expected proxy=v1, proxy=v2 or proxy=off") },
	{ { "--route", "127.0.0.1:1,key-file=a,name=a b", "k" },
	    SUBMSG("name=a b", "127.0.0.1:1,key-file=a,name=a b", "expected a "
	    "name of 1 to 32 letters, digits, '_' or '-'") },
	{ { "--route", "127.0.0.1:1,key-file=a,name=", "k" },
	    SUBMSG("name=", "127.0.0.1:1,key-file=a,name=", "expected a "
	    "name of 1 to 32 letters, digits, '_' or '-'") },
	{ { "--route", "127.0.0.1:1,key-file=a,name="
	    "abcdefghijklmnopqrstuvwxyz0123456", "k" },
	    SUBMSG("name=abcdefghijklmnopqrstuvwxyz0123456",
	    "127.0.0.1:1,key-file=a,name=abcdefghijklmnopqrstuvwxyz0123456",
	    "expected a name of 1 to 32 letters, digits, '_' or '-'") },
	{ { "--route", "127.0.0.1:0,key-file=a", "k" }, "invalid value "
	    "'127.0.0.1:0,key-file=a' for --route: " BACKENDMSG },
	{ { "--route", "key-file=a", "k" }, "invalid value 'key-file=a' for "
	    "--route: " BACKENDMSG },
	{ { "--route", "10.1:22,key-file=a", "k" }, "invalid value "
	    "'10.1:22,key-file=a' for --route: expected an IPv4 address of "
	    "four numbers 0-255 (a.b.c.d)" },
	{ { "--normal", "127.0.0.1:1,name=x", "k" }, "invalid sub-option "
	    "'name=x' in --normal '127.0.0.1:1,name=x': expected idle= or "
	    "proxy=" },
	{ { "--normal", "127.0.0.1:1,key-file=x", "k" }, "invalid sub-option "
	    "'key-file=x' in --normal '127.0.0.1:1,key-file=x': expected "
	    "idle= or proxy=" },
	{ { "--hidden", "127.0.0.1:1,knock-file=x", "k" }, "invalid "
	    "sub-option 'knock-file=x' in --hidden '127.0.0.1:1,knock-file=x': "
	    "expected idle=, proxy= or name=" },
	{ { "--normal", "127.0.0.1:1,idle=5x", "k" }, "invalid sub-option "
	    "'idle=5x' in --normal '127.0.0.1:1,idle=5x': " DURMSG },
	/* Names. */
	{ { "--route", "127.0.0.1:1,key-file=a,name=x", "--route",
	    "127.0.0.1:2,key-file=b,name=x", "k" }, "route name 'x' is given "
	    "to two routes (2 and 3): give each route its own name" },
	{ { "--route", "127.0.0.1:1,key-file=a", "--route",
	    "127.0.0.1:2,key-file=b,name=hidden2", "k" }, "route name "
	    "'hidden2' is given to two routes (2 and 3): give each route its "
	    "own name" },
	{ { "--route", "127.0.0.1:1,key-file=a,name=hidden", "k" }, "route "
	    "name 'hidden' is given to two routes (1 and 2): give each route "
	    "its own name" },
	{ { "--route", "127.0.0.1:1,key-file=a,name=normal", "k" }, "route "
	    "name 'normal' is the normal route's: give the hidden route "
	    "another name" },
	/* Tokens. */
	{ { "--key-file", "/k", "k" }, "two knocks given: KNOCK and "
	    "'--key-file /k'; give one of them" },
	{ { "--key-file", "/k", "--knock-file", "/f" }, "two knocks given: "
	    "'--knock-file /f' and '--key-file /k'; give one of them" },
	{ { "--key-file", "" }, "invalid value '' for --key-file: expected a "
	    "file name (one that starts with '-' as ./-name)" },
	{ { "-s", "22", "--route", "127.0.0.1:1,key-file=a" }, "no knock "
	    "given: expected KNOCK, --knock-file PATH or --key-file PATH (see --help)" },
	{ { "--drain-grace", "0", "k" }, "invalid value '0' for "
	    "--drain-grace: expected a duration such as 500ms, 2s, 5m, 2h or 30 "
	    "(seconds), up to 7 days" },
	{ { "--token-window", "0", "k" }, "invalid value '0' for "
	    "--token-window: expected a whole number of seconds from 1s to 10m, "
	    "such as 30s or 2m" },
	{ { "--token-window", "601", "k" }, "invalid value '601' for "
	    "--token-window: expected a whole number of seconds from 1s to 10m, "
	    "such as 30s or 2m" },
	{ { "--token-window", "11m", "k" }, "invalid value '11m' for "
	    "--token-window: expected a whole number of seconds from 1s to 10m, "
	    "such as 30s or 2m" },
	{ { "--token-window", "1500ms", "k" }, "invalid value '1500ms' for "
	    "--token-window: expected a whole number of seconds from 1s to 10m, "
	    "such as 30s or 2m" },
	{ { "--token-window", "500ms", "k" }, "invalid value '500ms' for "
	    "--token-window: expected a whole number of seconds from 1s to 10m, "
	    "such as 30s or 2m" },
	{ { "--replay-cache", "0", "k" }, "invalid value '0' for "
	    "--replay-cache: expected a number of tokens 1-16777216" },
	{ { "--replay-cache", "16777217", "k" }, "invalid value '16777217' "
	    "for --replay-cache: expected a number of tokens 1-16777216" },
};

Test(conf, route_and_token_refusals_one_line_each)
{
	size_t i;

	for (i = 0; i < sizeof(route_bad_cases) / sizeof(route_bad_cases[0]);
	    i++)
		check_bad(route_bad_cases[i].args, route_bad_cases[i].msg);
}

Test(conf, token_window_edges_accepted)
{
	static const char * const one[] = { "--token-window", "1s", "k", NULL };
	static const char * const ten[] = { "--token-window", "10m", "k",
	    NULL };
	static struct args A;
	struct conf C;

	args_set(&A, one);
	cr_assert_eq(parse_captured(&C, &A), CONF_RUN, "%s", err_buf);
	cr_expect_eq(C.window_s, 1);
	args_set(&A, ten);
	cr_assert_eq(parse_captured(&C, &A), CONF_RUN, "%s", err_buf);
	cr_expect_eq(C.window_s, 600);
}

/* --replay-store and --replay-store-password-file. */
Test(conf, replay_store)
{
	static const struct {
		const char * argv[8];
		int rc;
		const char * host;
		uint16_t port;
		const char * msg;	/* In the error line. */
	} cases[] = {
		{ { "--key-file", "/k", "--replay-store", "127.0.0.1:6379" },
		    CONF_RUN, "127.0.0.1", 6379, NULL },
		{ { "--replay-store=[::1]:6380", "--route",
		    "127.0.0.1:2,key-file=/k", "k" }, CONF_RUN, "::1", 6380,
		    NULL },
		{ { "--key-file", "/k", "--replay-store", "redis.example:1",
		    "--replay-store-password-file", "/pw" }, CONF_RUN,
		    "redis.example", 1, NULL },
		{ { "--replay-store", "127.0.0.1:6379", "k" }, -1, NULL, 0,
		    "no route takes tokens" },
		{ { "--key-file", "/k", "--replay-store", "127.0.0.1:0" }, -1,
		    NULL, 0, "'127.0.0.1:0' for --replay-store" },
		{ { "--key-file", "/k", "--replay-store", "127.0.0.1" }, -1,
		    NULL, 0, "--replay-store" },
		{ { "--key-file", "/k", "--replay-store", "127.0.0.1:1,x" }, -1,
		    NULL, 0, "no options" },
		{ { "--key-file", "/k", "--replay-store", "300.1.1.1:1" }, -1,
		    NULL, 0, "IPv4 address" },
		{ { "--key-file", "/k", "--replay-store-password-file", "/pw" },
		    -1, NULL, 0, "without --replay-store" },
		{ { "--key-file", "/k", "--replay-store", "127.0.0.1:1",
		    "--replay-store-password-file", "" }, -1, NULL, 0,
		    "a file name" },
	};
	struct conf C;
	struct args A;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		args_set(&A, cases[i].argv);
		rc = parse_captured(&C, &A);
		cr_expect_eq(rc, cases[i].rc, "case %zu: rc %d; %s", i, rc,
		    err_buf);
		if (rc != CONF_RUN) {
			cr_expect(strstr(err_buf, cases[i].msg) != NULL,
			    "case %zu: %s", i, err_buf);
			continue;
		}
		cr_expect(C.have_replay_store, "case %zu", i);
		cr_expect_str_eq(C.replay_store.host, cases[i].host, "case %zu", i);
		cr_expect_eq(C.replay_store.port, cases[i].port, "case %zu", i);
	}
}

/* The options the man page lists: long names and short letters. */
struct man_opts {
	char names[64][40];
	size_t n;
	char letters[32];
};

/* Add the options named on the .TP tag line ${s} (roff "\-" unescaped). */
static void
man_opts_line(struct man_opts * M, const char * s)
{
	char line[512];
	size_t i, j = 0, len;

	for (i = 0; s[i] != '\0' && j < sizeof(line) - 1; i++)
		if (!(s[i] == '\\' && s[i + 1] == '-'))
			line[j++] = s[i];
	line[j] = '\0';
	for (i = 0; line[i] != '\0'; i++) {
		if (line[i] != '-' || (i > 0 && line[i - 1] != ' ' &&
		    line[i - 1] != '"'))
			continue;
		if (line[i + 1] == '-') {
			len = strspn(&line[i + 2], "abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");
			cr_assert(M->n < 64 && len > 0 && len < 40);
			memcpy(M->names[M->n], &line[i + 2], len);
			M->names[M->n++][len] = '\0';
		} else if (line[i + 1] != '\0' && strchr(" \",",
		    line[i + 2]) != NULL) {
			len = strlen(M->letters);
			cr_assert_lt(len, sizeof(M->letters) - 1);
			M->letters[len] = line[i + 1];
		}
	}
}

/* Read the tag lines (the line after each .TP) of the OPTIONS section. */
static void
man_opts_read(struct man_opts * M)
{
	char line[512];
	int in = 0, tag = 0;
	FILE * f;

	memset(M, 0, sizeof(*M));
	cr_assert_not_null(f = fopen("../l7knockknock.8", "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, ".SH", 3) == 0)
			in = (strncmp(line, ".SH OPTIONS", 11) == 0);
		else if (in && strncmp(line, ".TP", 3) == 0)
			tag = 1;
		else if (tag) {
			man_opts_line(M, line);
			tag = 0;
		}
	}
	fclose(f);
}

/* Every option of the table is in the man page, and vice versa. */
Test(conf, man_page_lists_exactly_the_option_table)
{
	struct man_opts M;
	const char * name;
	size_t i, j;
	int letter;

	man_opts_read(&M);
	cr_assert_gt(M.n, 10, "no options found in l7knockknock.8");
	for (i = 0; (name = conf_option_name(i)) != NULL; i++) {
		for (j = 0; j < M.n && strcmp(M.names[j], name) != 0; j++)
			;
		cr_expect_lt(j, M.n, "--%s is not in l7knockknock.8", name);
		letter = conf_option_letter(i);
		cr_expect(letter == 0 || strchr(M.letters, letter) != NULL,
		    "-%c (--%s) is not in l7knockknock.8", letter, name);
	}
	cr_expect_eq(i, conf_option_count());
	for (j = 0; j < M.n; j++) {
		for (i = 0; (name = conf_option_name(i)) != NULL &&
		    strcmp(M.names[j], name) != 0; i++)
			;
		cr_expect_not_null(name, "l7knockknock.8 lists --%s, which "
		    "the option table lacks", M.names[j]);
	}
	for (j = 0; M.letters[j] != '\0'; j++) {
		for (i = 0; i < conf_option_count() &&
		    conf_option_letter(i) != M.letters[j]; i++)
			;
		/* -? is getopt's own way to ask for help. */
		cr_expect(i < conf_option_count() || M.letters[j] == '?',
		    "l7knockknock.8 lists -%c, which the option table lacks",
		    M.letters[j]);
	}
}

/* --help lists every option of the table, -h included. */
Test(conf, help_lists_every_table_option)
{
	const char * const list[] = { "--help", NULL };
	char want[64];
	struct args A;
	struct conf C;
	size_t i;

	args_set(&A, list);
	cr_assert_eq(parse_captured(&C, &A), CONF_DONE);
	for (i = 0; i < conf_option_count(); i++) {
		snprintf(want, sizeof(want), "--%s", conf_option_name(i));
		cr_expect_not_null(strstr(out_buf, want), "%s", want);
		if (conf_option_letter(i) == 0)
			continue;
		snprintf(want, sizeof(want), "-%c, --%s",
		    conf_option_letter(i), conf_option_name(i));
		cr_expect_not_null(strstr(out_buf, want), "%s", want);
	}
	cr_expect_not_null(strstr(out_buf, "-h, --help"));
}

/* 1 when --${name} (len ${len}) is a long option of the table. */
static int
table_has(const char * name, size_t len)
{
	const char * o;
	size_t i;

	for (i = 0; (o = conf_option_name(i)) != NULL; i++)
		if (strlen(o) == len && strncmp(o, name, len) == 0)
			return (1);
	return (0);
}

/*
 * Every long option on a relay command line in the README's code blocks
 * (a line whose command is "l7knockknock ", not the client) is a row of
 * the option table: the first read's commands cannot drift from the
 * relay they describe.
 */
Test(conf, readme_commands_name_only_table_options)
{
	char line[1024], * p, * q;
	size_t len, seen = 0;
	int block = 0;
	FILE * f;

	cr_assert_not_null(f = fopen("../README.md", "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "```", 3) == 0) {
			block = !block;
			continue;
		}
		if (!block || (p = strstr(line, "l7knockknock ")) == NULL ||
		    (p != line && p[-1] != ' ' && p[-1] != '/'))
			continue;
		for (q = p; (q = strstr(q, " --")) != NULL; q += 3 + len) {
			len = strspn(q + 3, "abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");
			cr_expect(table_has(q + 3, len), "README.md runs "
			    "l7knockknock --%.*s, which the option table lacks",
			    (int)len, q + 3);
			seen++;
		}
	}
	fclose(f);
	cr_expect_gt(seen, 2, "no l7knockknock command in README.md");
}

/* A configuration file holding ${text}; its path into ${path} (64 bytes). */
static void
conffile_make(char * path, const char * text)
{
	int fd;

	strcpy(path, "/tmp/l7kk-conf-XXXXXX");
	cr_assert_geq(fd = mkstemp(path), 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

/* Parse "--config ${text}" and ${list} around it; return conf_parse's. */
static int
parse_with_file(struct conf * C, const char * text, const char * const *
    before, const char * const * after, char * path)
{
	const char * list[ARGS_MAX];
	static struct args A;
	size_t n = 0;
	int rc;

	conffile_make(path, text);
	for (; before != NULL && *before != NULL; before++)
		list[n++] = *before;
	list[n++] = "--config";
	list[n++] = path;
	for (; after != NULL && *after != NULL; after++)
		list[n++] = *after;
	list[n] = NULL;
	args_set(&A, list);
	rc = parse_captured(C, &A);
	unlink(path);
	return (rc);
}

/* Every kind of value, a flag alone on its line, comments, blank lines. */
Test(conf, config_file_sets_each_kind_of_value)
{
	static const char text[] =
	    "# l7knockknock.conf\n"
	    "\n"
	    "   # indented comment\n"
	    "listen 127.0.0.1:4443\n"
	    "normal  127.0.0.1:8080,idle=5m\n"
	    "hidden\t127.0.0.1:2222\n"
	    "knock-file /etc/l7kk/knock\n"
	    "route 127.0.0.1:23,key-file=/etc/l7kk/a.key,name=tel\n"
	    "workers 2\n"
	    "connect-timeout 3s\r\n"
	    "log-time\n"
	    "  verbose  \n"
	    "replay-cache 100\n"
	    "user nobody\n"
	    "max-conns-per-source 0";
	static struct conf C;
	char path[64], buf[NET_ADDRSTR_MAX];

	cr_assert_eq(parse_with_file(&C, text, NULL, NULL, path), CONF_RUN,
	    "%s", err_buf);
	cr_expect_str_eq(err_buf, "");
	cr_expect_str_eq(C.config, path);
	cr_assert_eq(C.nlisten, 1);
	cr_expect_str_eq(fmt_listen(&C, 0, buf), "127.0.0.1:4443");
	cr_expect_eq(C.normal.port, 8080);
	cr_expect_eq(C.normal.idle_ms, 300000);
	cr_expect_eq(C.routes[0].b.port, 2222);
	cr_expect_str_eq(route_file(&C, 0, "knock-file"), "/etc/l7kk/knock");
	cr_assert_eq(C.nroutes, 2);
	cr_expect_str_eq(route_file(&C, 1, "key-file"), "/etc/l7kk/a.key");
	cr_expect_str_eq(C.routes[1].name, "tel");
	cr_expect_eq(C.workers, 2);
	cr_expect_eq(C.workers_given, 1);
	cr_expect_eq(C.connect_ms, 3000);
	cr_expect_eq(C.log_time, 1);
	cr_expect_eq(C.loglevel, LOG_DEBUG);
	cr_expect_eq(C.replay_n, 100);
	cr_expect_str_eq(C.user, "nobody");
	cr_expect_eq(C.have_max_per_source, 1);
	cr_expect_eq(C.max_per_source, 0);
}

/* The file is read where --config stands: later options win. */
Test(conf, config_file_and_command_line_later_wins)
{
	static struct conf C;
	char path[64];

	cr_assert_eq(parse_with_file(&C, "knockTimeout 1s\nknock-file /k\n",
	    NULL, (const char *[]){ "-k", "5s", NULL }, path), CONF_RUN, "%s",
	    err_buf);
	cr_expect_eq(C.knock_ms, 5000);
	cr_assert_eq(parse_with_file(&C, "knockTimeout 1s\nknock-file /k\n",
	    (const char *[]){ "-k", "5s", NULL }, NULL, path), CONF_RUN, "%s",
	    err_buf);
	cr_expect_eq(C.knock_ms, 1000);
	/* Repeatable options add up; a knock on each side is two. */
	cr_assert_eq(parse_with_file(&C, "listen 127.0.0.1:1\nknock-file /k\n",
	    NULL, (const char *[]){ "--listen", "127.0.0.1:2", NULL }, path),
	    CONF_RUN, "%s", err_buf);
	cr_expect_eq(C.nlisten, 2);
	cr_expect_eq(parse_with_file(&C, "key-file /k\n", NULL,
	    (const char *[]){ "secret", NULL }, path), -1);
	cr_expect_str_eq(err_buf, "l7knockknock: error: two knocks given: "
	    "KNOCK and '--key-file /k'; give one of them\n");
}

/* Each refusal names the file and the line, in one line. */
Test(conf, config_file_errors_name_file_and_line)
{
	static const struct {
		const char * text;
		const char * msg;	/* After "FILE:". */
	} cases[] = {
		{ "# c\n\nfrobnicate 1\n", "3: unknown option 'frobnicate'" },
		{ "--listen 127.0.0.1:1\n", "1: unknown option '--listen'" },
		{ "knock-file /k\nlog-time yes\n", "2: option 'log-time' takes "
		    "no value (a flag is alone on its line)" },
		{ "workers\n", "1: option 'workers' needs a value (workers N)" },
		{ "workers 0\n", "1: invalid value '0' for --workers: expected "
		    "a number of worker processes 1-64" },
		{ "\n\n\n\nknockTimeout 5x\n", "5: invalid value '5x' for "
		    "-k/--knockTimeout: expected a duration such as 500ms, 2s, "
		    "5m, 2h or 30 (seconds), up to 7 days" },
		{ "route 127.0.0.1:1,name=x\n", "1: --route '127.0.0.1:1,name=x' "
		    "has no key-file= or knock-file=: give one of them" },
		{ "help\n", "1: option 'help' is for the command line only" },
		{ "config /etc/other\n", "1: option 'config' is for the "
		    "command line only" },
	};
	static struct conf C;
	char path[64], want[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_expect_eq(parse_with_file(&C, cases[i].text, NULL,
		    (const char *[]){ "k", NULL }, path), -1, "case %zu", i);
		snprintf(want, sizeof(want), "l7knockknock: error: %s:%s\n",
		    path, cases[i].msg);
		cr_expect_str_eq(err_buf, want, "case %zu", i);
	}
}

/* A file that cannot be read, or given twice, is refused. */
Test(conf, config_file_missing_or_twice)
{
	static const char * const missing[] = { "--config",
	    "/nonexistent/l7kk.conf", "k", NULL };
	static struct args A;
	static struct conf C;
	char path[64];

	args_set(&A, missing);
	cr_expect_eq(parse_captured(&C, &A), -1);
	cr_expect_str_eq(err_buf, "l7knockknock: error: cannot read "
	    "configuration file '/nonexistent/l7kk.conf': No such file or "
	    "directory\n");
	cr_expect_eq(parse_with_file(&C, "knock-file /k\n", NULL,
	    (const char *[]){ "--config", "/etc/x", NULL }, path), -1);
	cr_expect_str_eq(err_buf, "l7knockknock: error: --config is given "
	    "twice: give one file\n");
}

/*
 * The packaged file has --route lines only (no --hidden, no KNOCK): the
 * routes are those lines, in order; with neither, no knock is refused.
 */
Test(conf, config_of_route_lines_only)
{
	static const char text[] =
	    "normal 127.0.0.1:80\n"
	    "route 127.0.0.1:22,key-file=/etc/l7kk/ssh.key,name=ssh\n"
	    "route 127.0.0.1:23,knock-file=/etc/l7kk/knock\n";
	static const char none[] = "normal 127.0.0.1:80\n";
	static const char * const hidden[] = { "--hidden", "127.0.0.1:24",
	    NULL };
	static struct conf C;
	char path[64], buf[NET_ADDRSTR_MAX + PARSE_HOST_MAX];

	cr_assert_eq(parse_with_file(&C, text, NULL, NULL, path), CONF_RUN,
	    "stderr: %s", err_buf);
	cr_expect_eq(C.nroutes, 2);
	cr_expect_str_eq(C.routes[0].name, "ssh");
	cr_expect_str_eq(fmt_backend(&C.routes[0].b, buf, sizeof(buf)),
	    "127.0.0.1:22");
	cr_expect_str_eq(route_file(&C, 0, "key-file"), "/etc/l7kk/ssh.key");
	cr_expect_str_eq(C.routes[1].name, "hidden2");
	cr_expect_str_eq(route_file(&C, 1, "knock-file"), "/etc/l7kk/knock");

	/* --hidden given without its knock: still refused. */
	cr_expect_eq(parse_with_file(&C, text, hidden, NULL, path), -1);
	cr_expect(strstr(err_buf, "no knock given") != NULL, "%s", err_buf);
	/* No route at all: refused, naming what is expected. */
	cr_expect_eq(parse_with_file(&C, none, NULL, NULL, path), -1);
	cr_expect(strstr(err_buf, "no knock given: expected KNOCK") != NULL,
	    "%s", err_buf);
}
