/*
 * conf.c: the option table, and the command line parsed through it.  Each
 * option is one row of conf_options[]: its long name, its short alias, its
 * argument, its --help text and the setter that puts its value into a
 * struct conf.  getopt's tables and --help are made from the rows.
 */
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "conf_internal.h"
#include "log.h"
#include "replay.h"
#include "routes.h"

/* What the options said that conf_finish() reconciles. */
struct conf_seen {
	const char * listen_port;	/* -p value, or NULL. */
	uint16_t port;			/* -p value, parsed. */
	int normal_port, hidden_port;	/* -n / -s given. */
	int normal, hidden;		/* --normal / --hidden given. */
	int verbose, quiet;
};

struct conf_opt;

/* A setter: put the value ${v} (shown as ${show}, or not if NULL). */
typedef int conf_setter(struct conf *, struct conf_seen *,
    const struct conf_opt *, const char *, const char *);

/* One option. */
struct conf_opt {
	const char * name;		/* Long name, without "--". */
	int letter;			/* Short alias, or 0. */
	const char * arg;		/* Its argument for --help; NULL: a flag. */
	const char * help;		/* --help text; '\n' starts a line. */
	conf_setter * set;		/* Puts the value into struct conf. */
	size_t off;			/* Where (conf_set_* that take it). */
	size_t size;			/* Its size (conf_set_uint). */
	size_t given;			/* An int set to 1 when given; 0: none
					   (offset 0, the knock, is never one). */
	unsigned long long lo, hi;	/* Bounds (uint); value (flag). */
	const char * expect;		/* What a bad value should be. */
};

/* Where a member of struct conf is, and its size. */
#define AT(m)		offsetof(struct conf, m), sizeof(((struct conf *)0)->m)
#define GIVEN(m)	offsetof(struct conf, m)

/* The member at ${off} of ${C}. */
#define MEMBER(C, off)	((void *)((char *)(C) + (off)))

static conf_setter conf_set_duration, conf_set_uint, conf_set_path,
    conf_set_flag, conf_set_listen_port, conf_set_listen, conf_set_port,
    conf_set_normal, conf_set_hidden, conf_set_route, conf_set_window,
    conf_set_ports, conf_set_accept_proxy, conf_set_chroot, conf_set_verbose,
    conf_set_quiet, conf_set_version, conf_set_help, conf_set_kind,
    conf_set_config, conf_set_replay_store;

/* What a file name option expects. */
#define CONF_FILENAME	"a file name (one that starts with '-' as ./-name)"

/* Every option, in --help's order. */
static const struct conf_opt conf_options[] = {
	{ "listenPort", 'p', "PORT", "listen on 0.0.0.0:PORT (default 443)",
	    conf_set_listen_port, 0, 0, 0, 0, 0, NULL },
	{ "listen", 0, "ADDR:PORT",
	    "listen on ADDR:PORT, [IPv6]:PORT (repeatable)",
	    conf_set_listen, 0, 0, 0, 0, 0, NULL },
	{ "normalPort", 'n', "PORT",
	    "normal backend 127.0.0.1:PORT (default 8443)",
	    conf_set_port, 0, 0, 0, 0, 0, NULL },
	{ "normal", 0, "HOST:PORT[,OPT]",
	    "normal backend (IPv4, [IPv6] or a name);\n"
	    "OPT: idle=DUR, proxy=v1|v2 (comma-separated)",
	    conf_set_normal, 0, 0, 0, 0, 0, NULL },
	{ "hiddenPort", 's', "PORT",
	    "hidden backend 127.0.0.1:PORT (default 22)",
	    conf_set_port, 0, 0, 0, 0, 0, NULL },
	{ "hidden", 0, "HOST:PORT[,OPT]",
	    "hidden backend; OPT: idle=, proxy=, name=",
	    conf_set_hidden, 0, 0, 0, 0, 0, NULL },
	{ "knock-file", 0, "PATH",
	    "read the knock from PATH (one newline stripped)",
	    conf_set_kind, 0, 0, 0, 0, 0, CONF_FILENAME },
	{ "key-file", 0, "PATH",
	    "the hidden route takes tokens under the key\n"
	    "in PATH instead of a knock",
	    conf_set_kind, 0, 0, 0, 0, 0, CONF_FILENAME },
	{ "route", 0, "HOST:PORT,SUB,...",
	    "one more hidden route (repeatable; 16 hidden\n"
	    "routes in all); SUB: key-file=PATH or\n"
	    "knock-file=PATH (one of them), name=NAME,\n"
	    "idle=DUR, proxy=v1|v2",
	    conf_set_route, 0, 0, 0, 0, 0, NULL },
	{ "token-window", 0, "DUR",
	    "accept tokens DUR old or early (default 30s,\n1s to 10m)",
	    conf_set_window, 0, 0, 0, 0, 0, NULL },
	{ "replay-cache", 0, "N",
	    "tokens remembered (default " CONF_STR(REPLAY_DEFAULT)
	    ", 8 bytes\neach, shared by the workers)",
	    conf_set_uint, AT(replay_n), 0, 1, REPLAY_MAX,
	    "a number of tokens 1-" CONF_STR(REPLAY_MAX) },
	{ "replay-store", 0, "HOST:PORT",
	    "also claim each token in this Redis or\n"
	    "Valkey server, shared by several relays (SET\n"
	    "NX PX); unreachable, slow or failing: the\n"
	    "token goes to the normal route",
	    conf_set_replay_store, 0, 0, 0, 0, 0, NULL },
	{ "replay-store-password-file", 0, "PATH",
	    "AUTH to the store with the password in PATH",
	    conf_set_path, AT(store_password_file), 0, 0, 0, CONF_FILENAME },
	{ "proxyTimeout", 'o', "DUR",
	    "close after DUR without a byte, every route\n"
	    "(default: 30s normal, 2h hidden routes)",
	    conf_set_duration, AT(idle_ms), GIVEN(idle_set), 0, 0, NULL },
	{ "knockTimeout", 'k', "DUR", "wait DUR for the knock (default 2s)",
	    conf_set_duration, AT(knock_ms), 0, 0, 0, NULL },
	{ "connect-timeout", 0, "DUR", "backend connect timeout (default 5s)",
	    conf_set_duration, AT(connect_ms), 0, 0, 0, NULL },
	{ "fin-timeout", 0, "DUR",
	    "close after DUR without a byte once the\n"
	    "backend has closed its side (default 5s)",
	    conf_set_duration, AT(fin_ms), 0, 0, 0, NULL },
	{ "max-conns", 0, "N", "connection slots (default from RLIMIT_NOFILE)",
	    conf_set_uint, AT(max_conns), 0, 1, 1000000,
	    "a number of connections 1-1000000" },
	{ "max-conns-per-source", 0, "N",
	    "slots one IPv4 address or IPv6 /64 may hold\n"
	    "(default an eighth of the slots; 0: no limit)",
	    conf_set_uint, AT(max_per_source), GIVEN(have_max_per_source), 0,
	    1000000, "a number of connections 0-1000000 (0: no limit)" },
	{ "backend-ports", 0, "LO-HI",
	    "bind backend sockets to these source ports in\n"
	    "turn, so TIME_WAIT is reused (default: the\nkernel picks)",
	    conf_set_ports, 0, 0, 0, 0, 0, NULL },
	{ "accept-proxy", 0, "CIDR",
	    "clients from CIDR (a balancer) must begin\n"
	    "with a PROXY v1/v2 header naming the real\n"
	    "client (repeatable; e.g. 192.0.2.10/32)",
	    conf_set_accept_proxy, 0, 0, 0, 0, 0, NULL },
	{ "workers", 0, "N",
	    "N sandboxed relay processes, SO_REUSEPORT,\n"
	    "under the supervisor (default 1)",
	    conf_set_uint, AT(workers), GIVEN(workers_given), 1,
	    CONF_WORKERS_MAX, "a number of worker processes 1-"
	    CONF_STR(CONF_WORKERS_MAX) },
	{ "drain-timeout", 0, "DUR",
	    "after a reload, cut the old workers' sessions\n"
	    "after DUR (default: never)",
	    conf_set_duration, AT(drain_ms), 0, 0, 0, NULL },
	{ "drain-grace", 0, "DUR",
	    "after a reload, close the old workers' normal-\n"
	    "route sessions after DUR (default 60s);\n"
	    "hidden-route ones keep --drain-timeout",
	    conf_set_duration, AT(drain_grace_ms), 0, 0, 0, NULL },
	{ "chroot", 0, "DIR",
	    "empty directory to chroot into (default /var/empty)",
	    conf_set_chroot, 0, 0, 0, 0, 0, NULL },
	{ "user", 0, "NAME|UID[:GID]",
	    "user to run as (default l7knockknock or nobody)",
	    conf_set_path, AT(user), 0, 0, 0, "a user name" },
	{ "print-seccomp", 0, NULL, "print the seccomp filter and exit",
	    conf_set_flag, AT(print_seccomp), 0, 0, 1, NULL },
	{ "print-supervisor-seccomp", 0, NULL,
	    "the --workers supervisor's filter",
	    conf_set_flag, AT(print_seccomp), 0, 0, CONF_PRINT_SUPERVISOR,
	    NULL },
	{ "log-time", 0, NULL, "start log lines with the UTC time",
	    conf_set_flag, AT(log_time), 0, 0, 1, NULL },
	{ "config", 0, "FILE",
	    "read options from FILE, one a line: NAME VALUE\n"
	    "(a long option without its dashes), or NAME\n"
	    "alone for a flag; # starts a comment",
	    conf_set_config, 0, 0, 0, 0, 0, NULL },
	{ "check", 0, NULL,
	    "check the configuration, read every secret as\n"
	    "the relay's user, resolve the backends, bind\n"
	    "nothing; exit 0 or one line per problem",
	    conf_set_flag, AT(check), 0, 0, 1, NULL },
	{ "gen-key", 0, "PATH",
	    "write a new key to PATH (mode 0600, owned by\n"
	    "the relay's user; never overwrites) and exit",
	    conf_set_path, AT(gen_key), 0, 0, 0, CONF_FILENAME },
	{ "verbose", 'v', NULL, "debug messages",
	    conf_set_verbose, 0, 0, 0, 0, 0, NULL },
	{ "quiet", 'q', NULL, "errors only",
	    conf_set_quiet, 0, 0, 0, 0, 0, NULL },
	{ "version", 'V', NULL, "print the version and exit",
	    conf_set_version, 0, 0, 0, 0, 0, NULL },
	{ "help", 'h', NULL, "print this help and exit (also -?)",
	    conf_set_help, 0, 0, 0, 0, 0, NULL },
};

/* How many options there are. */
#define CONF_NOPTS	(sizeof(conf_options) / sizeof(conf_options[0]))

/* getopt's value for the option of row ${i}: its letter, or 256 + ${i}. */
#define CONF_VAL(i)	(conf_options[i].letter ? conf_options[i].letter : \
			    256 + (int)(i))

/* Room for "-x/--" and the longest name. */
#define CONF_OPTNAME_MAX	64

/* The name of ${O} in messages: "-p/--listenPort" or "--listen". */
static const char *
conf_optname(const struct conf_opt * O, char * buf)
{

	if (O->letter)
		snprintf(buf, CONF_OPTNAME_MAX, "-%c/--%s", O->letter, O->name);
	else
		snprintf(buf, CONF_OPTNAME_MAX, "--%s", O->name);
	return (buf);
}

/* Mark ${O} given in ${C}, if it has a flag for that. */
static void
conf_given(struct conf * C, const struct conf_opt * O)
{

	if (O->given != 0)
		*(int *)MEMBER(C, O->given) = 1;
}

/* A duration into the uint64_t at ${O}->off. */
static int
conf_set_duration(struct conf * C, struct conf_seen * S,
    const struct conf_opt * O, const char * v, const char * show)
{
	char n[CONF_OPTNAME_MAX];
	uint64_t ms;

	(void)S;
	conf_given(C, O);
	if (parse_duration(v, &ms))
		return (conf_bad(conf_optname(O, n), show, CONF_DURATION));
	memcpy(MEMBER(C, O->off), &ms, sizeof(ms));
	return (0);
}

/* A number from ${O}->lo to ${O}->hi into the unsigned at ${O}->off. */
static int
conf_set_uint(struct conf * C, struct conf_seen * S,
    const struct conf_opt * O, const char * v, const char * show)
{
	char n[CONF_OPTNAME_MAX];
	unsigned long long x;
	uint32_t x32;
	uint64_t x64;

	(void)S;
	if (parse_uint(v, O->lo, O->hi, &x))
		return (conf_bad(conf_optname(O, n), show, O->expect));
	conf_given(C, O);
	if (O->size == sizeof(x32)) {
		x32 = (uint32_t)x;
		memcpy(MEMBER(C, O->off), &x32, sizeof(x32));
	} else {
		x64 = (uint64_t)x;
		memcpy(MEMBER(C, O->off), &x64, sizeof(x64));
	}
	return (0);
}

/*
 * A file or user name into the string at ${O}->off: never empty, never
 * starting with '-' (its errors name it: never one that may be a knock).
 */
static int
conf_set_path(struct conf * C, struct conf_seen * S,
    const struct conf_opt * O, const char * v, const char * show)
{
	char n[CONF_OPTNAME_MAX];
	const char * kept;

	(void)S;
	if (*v == '\0' || *v == '-')
		return (conf_bad(conf_optname(O, n), show, O->expect));
	if ((kept = conf_keep(C, v)) == NULL)
		return (-1);
	memcpy(MEMBER(C, O->off), &kept, sizeof(kept));
	return (0);
}

/*
 * The first hidden route's secret file of the kind named as ${O} (the
 * option --knock-file gives a file of kind "knock-file": routes.c).
 */
static int
conf_set_kind(struct conf * C, struct conf_seen * S,
    const struct conf_opt * O, const char * v, const char * show)
{
	char n[CONF_OPTNAME_MAX];
	int kind = routes_kind_find(O->name, strlen(O->name));

	(void)S;
	if (kind < 0 || kind >= CONF_KINDS_MAX) {
		conf_err("--%s is not a kind of knock in routes.c", O->name);
		return (-1);
	}
	if (*v == '\0' || *v == '-')
		return (conf_bad(conf_optname(O, n), show, O->expect));
	if (strlen(v) >= CONF_PATH_MAX)
		return (conf_bad(conf_optname(O, n), show, "a file name "
		    "shorter than " CONF_STR(CONF_PATH_MAX) " bytes"));
	return ((C->file[kind] = conf_keep(C, v)) == NULL ? -1 : 0);
}

/* A flag: the int at ${O}->off becomes ${O}->hi. */
static int
conf_set_flag(struct conf * C, struct conf_seen * S,
    const struct conf_opt * O, const char * v, const char * show)
{
	int x = (int)O->hi;

	(void)S;
	(void)v;
	(void)show;
	memcpy(MEMBER(C, O->off), &x, sizeof(x));
	return (0);
}

/* -p/--listenPort: kept apart, since --listen conflicts with it. */
static int
conf_set_listen_port(struct conf * C, struct conf_seen * S,
    const struct conf_opt * O, const char * v, const char * show)
{
	char n[CONF_OPTNAME_MAX];

	(void)C;
	S->listen_port = v;
	if (parse_port(v, 0, &S->port))
		return (conf_bad(conf_optname(O, n), show,
		    "a port number 1-65535"));
	return (0);
}

/* --listen. */
static int
conf_set_listen(struct conf * C, struct conf_seen * S,
    const struct conf_opt * O, const char * v, const char * show)
{

	(void)S;
	(void)O;
	return (conf_listen(C, v, show));
}

/* -n/--normalPort and -s/--hiddenPort. */
static int
conf_set_port(struct conf * C, struct conf_seen * S,
    const struct conf_opt * O, const char * v, const char * show)
{
	char n[CONF_OPTNAME_MAX];
	uint16_t * port;

	if (O->letter == 'n') {
		S->normal_port = 1;
		port = &C->normal.port;
	} else {
		S->hidden_port = 1;
		port = &C->routes[0].b.port;
	}
	if (parse_port(v, 0, port))
		return (conf_bad(conf_optname(O, n), show,
		    "a port number 1-65535"));
	return (0);
}

/* --normal. */
static int
conf_set_normal(struct conf * C, struct conf_seen * S,
    const struct conf_opt * O, const char * v, const char * show)
{

	(void)O;
	S->normal = 1;
	return (conf_backend(&C->normal, NULL, "--normal", v, show));
}

/* --hidden. */
static int
conf_set_hidden(struct conf * C, struct conf_seen * S,
    const struct conf_opt * O, const char * v, const char * show)
{

	(void)O;
	S->hidden = 1;
	return (conf_backend(&C->routes[0].b, &C->routes[0], "--hidden", v,
	    show));
}

/* --route. */
static int
conf_set_route(struct conf * C, struct conf_seen * S,
    const struct conf_opt * O, const char * v, const char * show)
{

	(void)S;
	(void)O;
	return (conf_route(C, v, show));
}

/* --token-window. */
static int
conf_set_window(struct conf * C, struct conf_seen * S,
    const struct conf_opt * O, const char * v, const char * show)
{

	(void)S;
	(void)O;
	return (conf_window(C, v, show));
}

/* --replay-store. */
static int
conf_set_replay_store(struct conf * C, struct conf_seen * S,
    const struct conf_opt * O, const char * v, const char * show)
{

	(void)S;
	(void)O;
	return (conf_replay_store(C, v, show));
}

/* --backend-ports. */
static int
conf_set_ports(struct conf * C, struct conf_seen * S,
    const struct conf_opt * O, const char * v, const char * show)
{

	(void)S;
	(void)O;
	return (conf_port_range(C, v, show));
}

/* --accept-proxy: one more balancer network. */
static int
conf_set_accept_proxy(struct conf * C, struct conf_seen * S,
    const struct conf_opt * O, const char * v, const char * show)
{

	(void)S;
	(void)O;
	return (conf_accept_proxy(C, v, show));
}

/* --chroot: an absolute path. */
static int
conf_set_chroot(struct conf * C, struct conf_seen * S,
    const struct conf_opt * O, const char * v, const char * show)
{

	(void)S;
	(void)O;
	if (v[0] != '/')
		return (conf_bad("--chroot", show,
		    "an absolute directory path"));
	return ((C->chroot_dir = conf_keep(C, v)) == NULL ? -1 : 0);
}

/* -v/--verbose. */
static int
conf_set_verbose(struct conf * C, struct conf_seen * S,
    const struct conf_opt * O, const char * v, const char * show)
{

	(void)O;
	(void)v;
	(void)show;
	S->verbose = 1;
	C->loglevel = LOG_DEBUG;
	return (0);
}

/* -q/--quiet. */
static int
conf_set_quiet(struct conf * C, struct conf_seen * S,
    const struct conf_opt * O, const char * v, const char * show)
{

	(void)O;
	(void)v;
	(void)show;
	S->quiet = 1;
	C->loglevel = LOG_ERR;
	return (0);
}

/* -V/--version: print it. */
static int
conf_set_version(struct conf * C, struct conf_seen * S,
    const struct conf_opt * O, const char * v, const char * show)
{

	(void)C;
	(void)S;
	(void)O;
	(void)v;
	(void)show;
	printf("l7knockknock %s\n", VERSION);
	return (CONF_DONE);
}

/* -h/--help: print it. */
static int
conf_set_help(struct conf * C, struct conf_seen * S,
    const struct conf_opt * O, const char * v, const char * show)
{

	(void)C;
	(void)S;
	(void)O;
	(void)v;
	(void)show;
	conf_usage(STDOUT_FILENO);
	return (CONF_DONE);
}

/* What a line of the configuration file is applied to. */
struct conf_file_ctx {
	struct conf * C;
	struct conf_seen * S;
};

/* Apply the line "${name} ${value}" of the configuration file. */
static int
conf_file_line(void * cookie, const char * name, const char * value)
{
	struct conf_file_ctx * F = cookie;
	const struct conf_opt * O;
	size_t i;

	for (i = 0; i < CONF_NOPTS; i++)
		if (strcmp(conf_options[i].name, name) == 0)
			break;
	if (i == CONF_NOPTS) {
		conf_err("unknown option '%.64s'", name);
		return (-1);
	}
	O = &conf_options[i];
	if (O->set == conf_set_config || O->set == conf_set_help ||
	    O->set == conf_set_version || strcmp(name, "check") == 0 ||
	    strcmp(name, "gen-key") == 0) {
		conf_err("option '%s' is for the command line only", name);
		return (-1);
	}
	if (O->arg == NULL && value != NULL) {
		conf_err("option '%s' takes no value (a flag is alone on its "
		    "line)", name);
		return (-1);
	}
	if (O->arg != NULL && value == NULL) {
		conf_err("option '%s' needs a value (%s %s)", name, name,
		    O->arg);
		return (-1);
	}
	return (O->set(F->C, F->S, O, value, value));
}

/* --config FILE: apply its lines here, among the command line's. */
static int
conf_set_config(struct conf * C, struct conf_seen * S,
    const struct conf_opt * O, const char * v, const char * show)
{
	struct conf_file_ctx F = { C, S };

	(void)O;
	if (C->config != NULL) {
		conf_err("--config is given twice: give one file");
		return (-1);
	}
	if (*v == '\0' || *v == '-')
		return (conf_bad("--config", show, CONF_FILENAME));
	if ((C->config = conf_keep(C, v)) == NULL)
		return (-1);
	return (conf_file_each(C->config, conf_file_line, &F));
}

/* The text before the options in --help. */
static const char conf_usage_head[] =
"usage: l7knockknock [options] [--] KNOCK\n"
"       l7knockknock [options] --knock-file PATH\n"
"       l7knockknock [options] --key-file PATH\n"
"\n"
"Relay every TCP connection to the normal backend, except one whose first\n"
"bytes are KNOCK (or a valid token under a key): that one goes, without the\n"
"knock, to the hidden backend.  --route adds more hidden routes.\n"
"\n";

/* The text after them. */
static const char conf_usage_tail[] =
"\n"
"DUR is 500ms, 2s, 5m, 2h or a plain number of seconds.  The KNOCK is 1 to\n"
"256 bytes; one that starts with '-' goes after '--'.\n";

/* The column where an option's help text starts. */
#define CONF_HELP_COL	29

/* Append ${O}'s lines of --help to ${buf} (${size} bytes) at ${len}. */
static size_t
conf_usage_opt(const struct conf_opt * O, char * buf, size_t size,
    size_t len)
{
	char left[CONF_OPTNAME_MAX + 64];
	const char * h = O->help;
	size_t n;
	int w;

	if (O->letter)
		w = snprintf(left, sizeof(left), "  -%c, --%s%s%s", O->letter,
		    O->name, O->arg ? " " : "", O->arg ? O->arg : "");
	else
		w = snprintf(left, sizeof(left), "      --%s%s%s", O->name,
		    O->arg ? " " : "", O->arg ? O->arg : "");
	if (w >= CONF_HELP_COL - 1)
		len += snprintf(buf + len, size - len, "%s\n%*s", left,
		    CONF_HELP_COL, "");
	else
		len += snprintf(buf + len, size - len, "%-*s", CONF_HELP_COL,
		    left);
	for (; len < size; h += n + 1) {
		n = strcspn(h, "\n");
		len += snprintf(buf + len, size - len, "%.*s\n", (int)n, h);
		if (h[n] == '\0' || len >= size)
			break;
		len += snprintf(buf + len, size - len, "%*s", CONF_HELP_COL,
		    "");
	}
	return (len);
}

/* Write the usage text, made from the option table. */
void
conf_usage(int fd)
{
	static char buf[8192];
	size_t i, len;

	len = snprintf(buf, sizeof(buf), "%s", conf_usage_head);
	for (i = 0; i < CONF_NOPTS && len < sizeof(buf); i++)
		len = conf_usage_opt(&conf_options[i], buf, sizeof(buf), len);
	if (len < sizeof(buf))
		len += snprintf(buf + len, sizeof(buf) - len, "%s",
		    conf_usage_tail);
	if (len > sizeof(buf) - 1)
		len = sizeof(buf) - 1;
	(void)!write(fd, buf, len);
}

/* Option table iterator (for the tests). */
size_t
conf_option_count(void)
{

	return (CONF_NOPTS);
}

/* The long name of option ${i}. */
const char *
conf_option_name(size_t i)
{

	return (i < CONF_NOPTS ? conf_options[i].name : NULL);
}

/* The short alias of option ${i}, or 0. */
int
conf_option_letter(size_t i)
{

	return (i < CONF_NOPTS ? conf_options[i].letter : 0);
}

/* Does option ${i} take a value? */
int
conf_option_has_arg(size_t i)
{

	return (i < CONF_NOPTS && conf_options[i].arg != NULL);
}

/*
 * Copy ${s} into ${C}'s string store; return the copy, or NULL (reported)
 * when the store is full.
 */
const char *
conf_keep(struct conf * C, const char * s)
{
	size_t len = strlen(s) + 1;
	char * p;

	if (len > sizeof(C->store) - C->nstore) {
		conf_err("too many long values: at most %zu bytes of names in "
		    "all", sizeof(C->store));
		return (NULL);
	}
	p = &C->store[C->nstore];
	memcpy(p, s, len);
	C->nstore += len;
	return (p);
}

/* Defaults: those of l7knockknock 0.1. */
static void
conf_defaults(struct conf * C)
{

	memset(C, 0, sizeof(*C));
	strcpy(C->normal.host, "127.0.0.1");
	C->normal.port = 8443;
	strcpy(C->routes[0].b.host, "127.0.0.1");
	C->routes[0].b.port = 22;
	C->nroutes = 1;
	C->idle_ms = CONF_IDLE_NORMAL;
	C->window_s = CONF_WINDOW_DEFAULT;
	C->replay_n = REPLAY_DEFAULT;
	C->knock_ms = 2000;
	C->connect_ms = 5000;
	C->fin_ms = 5000;
	C->loglevel = LOG_INFO;
	C->chroot_dir = "/var/empty";
	C->workers = 1;
	C->drain_grace_ms = CONF_DRAIN_GRACE_MS;
}

/*
 * The value of the option just parsed as it may be shown, or NULL: a value
 * glued to a short option ("-sVALUE") or one that starts with '-' ("-k
 * -secret", a value forgotten) could be a knock that starts with '-'.
 * No option takes a value that starts with '-'.
 */
static const char *
conf_shown(char ** argv)
{
	const char * arg = argv[optind - 1];

	if (optarg == NULL)
		return (NULL);
	if (optarg[0] == '-')
		return (NULL);
	if (optarg == arg || strncmp(arg, "--", 2) == 0)
		return (optarg);
	return (NULL);
}

/* The positional KNOCK: copy it, then wipe it from the argument memory. */
static int
conf_knock(struct conf * C, char * arg)
{
	size_t len = strlen(arg);

	if (knock_set(&C->knock, arg, len)) {
		conf_err("invalid knock of %zu bytes: expected 1 to %d bytes",
		    len, KNOCK_MAX);
		return (-1);
	}
	explicit_bzero(arg, len);
	C->have_knock = 1;
	return (0);
}

/*
 * Report getopt's complaint about argv[optind - 1].  A known option is
 * named (a long one up to '='); an unknown one is not shown at all: it
 * may be a knock that starts with '-' (given without '--').  (Its position
 * is not given either: getopt permutes argv and may be inside a cluster.)
 */
static int
conf_getopt_error(int c, char ** argv)
{
	const char * arg = argv[optind - 1];

	if (c == ':' && strncmp(arg, "--", 2) == 0)
		conf_err("option '%.*s' needs a value (see --help)",
		    (int)strcspn(arg, "="), arg);
	else if (c == ':')
		conf_err("option '-%c' needs a value (see --help)", optopt);
	else if (optopt != 0 && strncmp(arg, "--", 2) == 0)
		conf_err("option '%.*s' takes no value (see --help)",
		    (int)strcspn(arg, "="), arg);
	else
		conf_err("unknown option (not shown: it may be a knock; a "
		    "KNOCK that starts with '-' goes after '--'; see --help)");
	return (-1);
}



/* Build getopt's tables from conf_options[]. */
static void
conf_getopt_tables(struct option * longs, char * shorts)
{
	size_t i, n = 0;

	shorts[n++] = ':';
	for (i = 0; i < CONF_NOPTS; i++) {
		longs[i] = (struct option){ conf_options[i].name,
		    conf_options[i].arg ? required_argument : no_argument,
		    NULL, CONF_VAL(i) };
		if (conf_options[i].letter == 0)
			continue;
		shorts[n++] = (char)conf_options[i].letter;
		if (conf_options[i].arg)
			shorts[n++] = ':';
	}
	shorts[n] = '\0';
	longs[CONF_NOPTS] = (struct option){ NULL, 0, NULL, 0 };
}

/* Handle getopt's answer ${c}; return 0, CONF_DONE or -1. */
static int
conf_option(struct conf * C, struct conf_seen * S, int c, char ** argv)
{
	size_t i;

	for (i = 0; i < CONF_NOPTS; i++)
		if (CONF_VAL(i) == c)
			return (conf_options[i].set(C, S, &conf_options[i],
			    optarg, conf_shown(argv)));
	/* -? asks for help; anything else unknown is an error. */
	if (c == '?' && optopt == '?') {
		conf_usage(STDOUT_FILENO);
		return (CONF_DONE);
	}
	return (conf_getopt_error(c, argv));
}

/* Append "--NAME PATH" of each kind option to ${buf}: the "no knock" list. */
static void
conf_kinds_expected(char * buf, size_t size)
{
	size_t i, n = 0, len;

	for (i = 0; i < CONF_NOPTS; i++)
		n += (conf_options[i].set == conf_set_kind);
	for (i = 0; i < CONF_NOPTS; i++) {
		if (conf_options[i].set != conf_set_kind)
			continue;
		len = strlen(buf);
		snprintf(buf + len, size - len, "%s--%s %s", --n ? ", " :
		    " or ", conf_options[i].name, conf_options[i].arg);
	}
}

/*
 * The first hidden route's knock: exactly one of KNOCK and the kind
 * options (--knock-file, --key-file...), named in the option table's order;
 * or none of them, with neither -s nor --hidden but a --route (a
 * configuration of --route lines only): then route 0 is dropped.
 */
static int
conf_finish_knock(struct conf * C, const struct conf_seen * S)
{
	char given[2][CONF_PATH_MAX + CONF_OPTNAME_MAX], list[256] = "KNOCK";
	struct conf_route * R = &C->routes[0];
	size_t i, n = 0;
	int kind;

	if (C->have_knock)
		snprintf(given[n++], sizeof(given[0]), "KNOCK");
	R->kind = routes_kind_argv();
	R->path[0] = '\0';
	for (i = 0; i < CONF_NOPTS && n < 2; i++) {
		if (conf_options[i].set != conf_set_kind)
			continue;
		kind = routes_kind_find(conf_options[i].name,
		    strlen(conf_options[i].name));
		if (kind < 0 || C->file[kind] == NULL)
			continue;
		snprintf(given[n++], sizeof(given[0]), "'--%s %s'",
		    conf_options[i].name, C->file[kind]);
		R->kind = kind;
		snprintf(R->path, sizeof(R->path), "%s", C->file[kind]);
	}
	if (n == 2) {
		conf_err("two knocks given: %s and %s; give one of them",
		    given[0], given[1]);
		return (-1);
	}
	if (n == 0 && !S->hidden && !S->hidden_port && C->nroutes > 1) {
		C->nroutes--;
		memmove(&C->routes[0], &C->routes[1],
		    C->nroutes * sizeof(C->routes[0]));
		return (0);
	}
	if (n == 0 && !C->print_seccomp && C->gen_key == NULL) {
		conf_kinds_expected(list, sizeof(list));
		conf_err("no knock given: expected %s (see --help)", list);
		return (-1);
	}
	return (0);
}

/* Each route's idle timeout: its idle=, else -o, else the default. */
static void
conf_finish_idle(struct conf * C)
{
	size_t i;

	if (!C->normal.idle_set)
		C->normal.idle_ms = C->idle_set ? C->idle_ms :
		    CONF_IDLE_NORMAL;
	for (i = 0; i < C->nroutes; i++) {
		if (!C->routes[i].b.idle_set)
			C->routes[i].b.idle_ms = C->idle_set ? C->idle_ms :
			    CONF_IDLE_HIDDEN;
	}
}

/*
 * The replay store needs a route that takes tokens (of the kind whose
 * file option is --key-file); its password file needs the store.
 */
static int
conf_finish_store(const struct conf * C)
{
	int key = routes_kind_find("key-file", strlen("key-file"));
	size_t i;

	if (C->store_password_file != NULL && !C->have_replay_store) {
		conf_err("'--replay-store-password-file %s' given without "
		    "--replay-store HOST:PORT", C->store_password_file);
		return (-1);
	}
	if (!C->have_replay_store || C->print_seccomp || C->gen_key != NULL)
		return (0);
	for (i = 0; i < C->nroutes; i++)
		if (C->routes[i].kind == key)
			return (0);
	conf_err("--replay-store is given but no route takes tokens: give "
	    "--key-file PATH or --route ...,key-file=PATH");
	return (-1);
}

/* Name the unnamed routes (hidden, hidden2, ...); names must differ. */
static int
conf_finish_names(struct conf * C)
{
	size_t i, j;

	for (i = 0; i < C->nroutes; i++) {
		if (C->routes[i].name[0] != '\0')
			continue;
		if (i == 0)
			strcpy(C->routes[i].name, "hidden");
		else
			snprintf(C->routes[i].name, sizeof(C->routes[i].name),
			    "hidden%zu", i + 1);
	}
	for (i = 0; i < C->nroutes; i++) {
		if (strcmp(C->routes[i].name, "normal") == 0) {
			conf_err("route name 'normal' is the normal route's: "
			    "give the hidden route another name");
			return (-1);
		}
		for (j = 0; j < i; j++) {
			if (strcmp(C->routes[i].name, C->routes[j].name) != 0)
				continue;
			conf_err("route name '%s' is given to two routes (%zu "
			    "and %zu): give each route its own name",
			    C->routes[i].name, j + 1, i + 1);
			return (-1);
		}
	}
	return (0);
}

/* Reconcile the options with each other and fill in the listeners. */
static int
conf_finish(struct conf * C, const struct conf_seen * S)
{
	uint16_t port;

	if (S->verbose && S->quiet) {
		conf_err("conflicting options '-v' and '-q': give one of them");
		return (-1);
	}
	if (S->normal && S->normal_port) {
		conf_err("conflicting options '-n/--normalPort' and '--normal': "
		    "give one of them");
		return (-1);
	}
	if (S->hidden && S->hidden_port) {
		conf_err("conflicting options '-s/--hiddenPort' and '--hidden': "
		    "give one of them");
		return (-1);
	}
	if (S->listen_port != NULL && C->nlisten > 0) {
		conf_err("conflicting options '-p/--listenPort' and '--listen': "
		    "give one of them");
		return (-1);
	}
	C->listen_set = (C->nlisten > 0 || S->listen_port != NULL);
	if (C->nlisten == 0) {
		/* Like l7knockknock 0.1: every IPv4 address. */
		port = (S->listen_port != NULL) ? S->port : 443;
		(void)net_literal("0.0.0.0", port, &C->listen[0]);
		C->nlisten = 1;
	}
	if (conf_finish_knock(C, S))
		return (-1);
	conf_finish_idle(C);
	if (conf_finish_store(C))
		return (-1);
	return (conf_finish_names(C));
}

/* Parse the command line into ${C} (${old}: at a reload). */
int
conf_parse_argv(struct conf * C, const struct conf * old, int argc,
    char ** argv)
{
	struct option longs[CONF_NOPTS + 1];
	char shorts[2 + 2 * CONF_NOPTS];
	struct conf_seen S;
	int c, rc;

	conf_defaults(C);
	memset(&S, 0, sizeof(S));

	/* Start getopt afresh; we print our own messages. */
	conf_getopt_tables(longs, shorts);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		if ((rc = conf_option(C, &S, c, argv)) != 0)
			return (rc);
	}
	if (old != NULL) {
		C->knock = old->knock;
		C->have_knock = old->have_knock;
		optind = argc;
	}
	for (; optind < argc; optind++) {
		if (C->have_knock) {
			conf_err("unexpected extra argument after KNOCK "
			    "(argument %d; not shown, it may be secret): "
			    "give one KNOCK, quoted if it has spaces", optind);
			return (-1);
		}
		if (conf_knock(C, argv[optind]))
			return (-1);
	}
	return (conf_finish(C, &S));
}

/* Parse the command line. */
int
conf_parse(struct conf * C, int argc, char ** argv)
{

	return (conf_parse_argv(C, NULL, argc, argv));
}
