#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

/* A number macro as a string literal. */
#define CONF_STR_(x)	#x
#define CONF_STR(x)	CONF_STR_(x)

/* Long-only options. */
enum {
	OPT_LISTEN = 256, OPT_NORMAL, OPT_HIDDEN, OPT_KNOCK_FILE,
	OPT_CONNECT_TIMEOUT, OPT_MAX_CONNS, OPT_CHROOT, OPT_USER,
	OPT_PRINT_SECCOMP, OPT_WORKERS, OPT_FIN_TIMEOUT, OPT_LOG_TIME
};

static const struct option conf_longopts[] = {
	{ "listenPort",		required_argument, NULL, 'p' },
	{ "normalPort",		required_argument, NULL, 'n' },
	{ "hiddenPort",		required_argument, NULL, 's' },
	{ "proxyTimeout",	required_argument, NULL, 'o' },
	{ "knockTimeout",	required_argument, NULL, 'k' },
	{ "verbose",		no_argument,	   NULL, 'v' },
	{ "quiet",		no_argument,	   NULL, 'q' },
	{ "version",		no_argument,	   NULL, 'V' },
	{ "help",		no_argument,	   NULL, 'h' },
	{ "listen",		required_argument, NULL, OPT_LISTEN },
	{ "normal",		required_argument, NULL, OPT_NORMAL },
	{ "hidden",		required_argument, NULL, OPT_HIDDEN },
	{ "knock-file",		required_argument, NULL, OPT_KNOCK_FILE },
	{ "connect-timeout",	required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "fin-timeout",	required_argument, NULL, OPT_FIN_TIMEOUT },
	{ "max-conns",		required_argument, NULL, OPT_MAX_CONNS },
	{ "chroot",		required_argument, NULL, OPT_CHROOT },
	{ "user",		required_argument, NULL, OPT_USER },
	{ "print-seccomp",	no_argument,	   NULL, OPT_PRINT_SECCOMP },
	{ "workers",		required_argument, NULL, OPT_WORKERS },
	{ "log-time",		no_argument,	   NULL, OPT_LOG_TIME },
	{ NULL, 0, NULL, 0 }
};

static const char conf_usage_text[] =
"usage: l7knockknock [options] [--] KNOCK\n"
"       l7knockknock [options] --knock-file PATH\n"
"\n"
"Relay every TCP connection to the normal backend, except one whose first\n"
"bytes are KNOCK: that one goes, without the knock, to the hidden backend.\n"
"\n"
"  -p, --listenPort PORT      listen on 0.0.0.0:PORT (default 443)\n"
"      --listen ADDR:PORT     listen on ADDR:PORT, [IPv6]:PORT (repeatable)\n"
"  -n, --normalPort PORT      normal backend 127.0.0.1:PORT (default 8443)\n"
"      --normal HOST:PORT     normal backend (IPv4, [IPv6] or a name)\n"
"  -s, --hiddenPort PORT      hidden backend 127.0.0.1:PORT (default 22)\n"
"      --hidden HOST:PORT     hidden backend (IPv4, [IPv6] or a name)\n"
"      --knock-file PATH      read the knock from PATH (one newline stripped)\n"
"  -o, --proxyTimeout DUR     close after DUR without a byte (default 30s)\n"
"  -k, --knockTimeout DUR     wait DUR for the knock (default 2s)\n"
"      --connect-timeout DUR  backend connect timeout (default 5s)\n"
"      --fin-timeout DUR      close after DUR without a byte once one way\n"
"                             has ended (default 5s)\n"
"      --max-conns N          connection slots (default from RLIMIT_NOFILE)\n"
"      --workers N            N sandboxed relay processes, SO_REUSEPORT (1)\n"
"      --chroot DIR           empty directory to chroot into (default /var/empty)\n"
"      --user NAME|UID[:GID]  user to run as (default l7knockknock or nobody)\n"
"      --print-seccomp        print the seccomp filter and exit\n"
"      --log-time             start log lines with the UTC time\n"
"  -v, --verbose              debug messages\n"
"  -q, --quiet                errors only\n"
"  -V, --version              print the version and exit\n"
"  -?, --help                 print this help and exit\n"
"\n"
"DUR is 500ms, 2s or a plain number of seconds.  The KNOCK is 1 to 256 bytes;\n"
"one that starts with '-' goes after '--'.\n";

/* Write the usage text. */
void
conf_usage(int fd)
{

	(void)!write(fd, conf_usage_text, sizeof(conf_usage_text) - 1);
}

/* Defaults: those of l7knockknock 0.1. */
static void
conf_defaults(struct conf * C)
{

	memset(C, 0, sizeof(*C));
	strcpy(C->normal.host, "127.0.0.1");
	C->normal.port = 8443;
	strcpy(C->hidden.host, "127.0.0.1");
	C->hidden.port = 22;
	C->idle_ms = 30000;
	C->knock_ms = 2000;
	C->connect_ms = 5000;
	C->fin_ms = 5000;
	C->loglevel = LOG_INFO;
	C->chroot_dir = "/var/empty";
	C->workers = 1;
}

/*
 * Report a bad option value ${val}, or without it if ${val} is NULL (it
 * may be a knock given by mistake).
 */
static int
conf_bad(const char * opt, const char * val, const char * expected)
{

	if (val == NULL) {
		log_err("invalid value for %s (not shown: it may be a knock; "
		    "a KNOCK that starts with '-' goes after '--'): "
		    "expected %s", opt, expected);
		return (-1);
	}

	/* A value too long for one line is shortened, never the message. */
	log_err("invalid value '%.64s%s' for %s: expected %s", val,
	    strlen(val) > 64 ? "..." : "", opt, expected);
	return (-1);
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

/*
 * Is ${a} already a listener?  Port 0 (any free port) is never a duplicate;
 * SO_REUSEPORT (--workers) would otherwise bind the same address twice.
 */
static int
conf_listen_seen(const struct conf * C, const struct net_addr * a)
{
	size_t i;

	if (net_port((const struct sockaddr *)&a->ss) == 0)
		return (0);
	for (i = 0; i < C->nlisten; i++)
		if (C->listen[i].len == a->len &&
		    memcmp(&C->listen[i].ss, &a->ss, a->len) == 0)
			return (1);
	return (0);
}

/* --listen ADDR:PORT: an address literal, port 0 allowed (any free port). */
static int
conf_listen(struct conf * C, const char * s, const char * show)
{
	char host[PARSE_HOST_MAX + 1];
	uint16_t port;

	if (C->nlisten == CONF_LISTEN_MAX) {
		log_err("too many --listen addresses at '%s': at most %d",
		    show != NULL ? show : "(not shown)", CONF_LISTEN_MAX);
		return (-1);
	}
	if (parse_hostport(s, host, sizeof(host), &port, 1) ||
	    net_literal(host, port, &C->listen[C->nlisten]))
		return (conf_bad("--listen", show,
		    "IPV4:PORT or [IPV6]:PORT with PORT 0-65535"));
	if (conf_listen_seen(C, &C->listen[C->nlisten])) {
		/* A literal parsed, so ${show} is ${s}, never NULL. */
		log_err("--listen '%s' is given twice: give each address once",
		    s);
		return (-1);
	}
	C->nlisten++;
	return (0);
}

/* --normal/--hidden HOST:PORT. */
static int
conf_backend(struct conf_backend * B, const char * opt, const char * s,
    const char * show)
{
	struct net_addr a;

	if (parse_hostport(s, B->host, sizeof(B->host), &B->port, 0))
		return (conf_bad(opt, show,
		    "HOST:PORT, IPV4:PORT or [IPV6]:PORT with PORT 1-65535"));
	/* 256.1.1.1 or 10.1 is a typo, not a name to ask DNS about. */
	if (parse_numeric_host(B->host) && net_literal(B->host, 0, &a))
		return (conf_bad(opt, show,
		    "an IPv4 address of four numbers 0-255 (a.b.c.d)"));
	return (0);
}

/* A duration option. */
static int
conf_duration(uint64_t * ms, const char * opt, const char * s,
    const char * show)
{

	if (parse_duration(s, ms))
		return (conf_bad(opt, show,
		    "a duration such as 500ms, 2s or 30 (seconds), up to 7 days"));
	return (0);
}

/* A port option. */
static int
conf_port(uint16_t * port, const char * opt, const char * s,
    const char * show)
{

	if (parse_port(s, 0, port))
		return (conf_bad(opt, show, "a port number 1-65535"));
	return (0);
}

/* The positional KNOCK: copy it, then wipe it from the argument memory. */
static int
conf_knock(struct conf * C, char * arg)
{
	size_t len = strlen(arg);

	if (knock_set(&C->knock, arg, len)) {
		log_err("invalid knock of %zu bytes: expected 1 to %d bytes",
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
		log_err("option '%.*s' needs a value (see --help)",
		    (int)strcspn(arg, "="), arg);
	else if (c == ':')
		log_err("option '-%c' needs a value (see --help)", optopt);
	else if (optopt != 0 && strncmp(arg, "--", 2) == 0)
		log_err("option '%.*s' takes no value (see --help)",
		    (int)strcspn(arg, "="), arg);
	else
		log_err("unknown option (not shown: it may be a knock; a "
		    "KNOCK that starts with '-' goes after '--'; see --help)");
	return (-1);
}

/* Print --version. */
static int
conf_version(void)
{

	printf("l7knockknock %s\n", VERSION);
	return (CONF_DONE);
}

/* What the options said that conf_finish() reconciles. */
struct conf_seen {
	const char * listen_port;	/* -p value, or NULL. */
	uint16_t port;			/* -p value, parsed. */
	int normal_port, hidden_port;	/* -n / -s given. */
	int normal, hidden;		/* --normal / --hidden given. */
	int verbose, quiet;
};

/* Handle one option; return 0, CONF_DONE or -1. */
static int
conf_option(struct conf * C, struct conf_seen * S, int c, char ** argv)
{
	const char * show = conf_shown(argv);
	unsigned long long n;

	switch (c) {
	case 'p':
		S->listen_port = optarg;
		return (conf_port(&S->port, "-p/--listenPort", optarg, show));
	case 'n':
		S->normal_port = 1;
		return (conf_port(&C->normal.port, "-n/--normalPort", optarg,
		    show));
	case 's':
		S->hidden_port = 1;
		return (conf_port(&C->hidden.port, "-s/--hiddenPort", optarg,
		    show));
	case 'o':
		return (conf_duration(&C->idle_ms, "-o/--proxyTimeout", optarg,
		    show));
	case 'k':
		return (conf_duration(&C->knock_ms, "-k/--knockTimeout", optarg,
		    show));
	case OPT_CONNECT_TIMEOUT:
		return (conf_duration(&C->connect_ms, "--connect-timeout",
		    optarg, show));
	case OPT_FIN_TIMEOUT:
		return (conf_duration(&C->fin_ms, "--fin-timeout", optarg,
		    show));
	case 'v':
		S->verbose = 1;
		C->loglevel = LOG_DEBUG;
		return (0);
	case 'q':
		S->quiet = 1;
		C->loglevel = LOG_ERR;
		return (0);
	case 'V':
		return (conf_version());
	case 'h':
		conf_usage(STDOUT_FILENO);
		return (CONF_DONE);
	case OPT_LISTEN:
		return (conf_listen(C, optarg, show));
	case OPT_NORMAL:
		S->normal = 1;
		return (conf_backend(&C->normal, "--normal", optarg, show));
	case OPT_HIDDEN:
		S->hidden = 1;
		return (conf_backend(&C->hidden, "--hidden", optarg, show));
	case OPT_KNOCK_FILE:
		/* Its errors name the path: never one that may be a knock. */
		if (*optarg == '\0' || *optarg == '-')
			return (conf_bad("--knock-file", show, "a file name "
			    "(one that starts with '-' as ./-name)"));
		C->knock_file = optarg;
		return (0);
	case OPT_MAX_CONNS:
		if (parse_uint(optarg, 1, 1000000, &n))
			return (conf_bad("--max-conns", show,
			    "a number of connections 1-1000000"));
		C->max_conns = (unsigned long)n;
		return (0);
	case OPT_WORKERS:
		if (parse_uint(optarg, 1, CONF_WORKERS_MAX, &n))
			return (conf_bad("--workers", show,
			    "a number of worker processes 1-"
			    CONF_STR(CONF_WORKERS_MAX)));
		C->workers = (unsigned)n;
		return (0);
	case OPT_CHROOT:
		if (optarg[0] != '/')
			return (conf_bad("--chroot", show,
			    "an absolute directory path"));
		C->chroot_dir = optarg;
		return (0);
	case OPT_USER:
		if (*optarg == '\0' || *optarg == '-')
			return (conf_bad("--user", show, "a user name"));
		C->user = optarg;
		return (0);
	case OPT_PRINT_SECCOMP:
		C->print_seccomp = 1;
		return (0);
	case OPT_LOG_TIME:
		C->log_time = 1;
		return (0);
	case '?':
		/* -? asks for help; anything else unknown is an error. */
		if (optopt == '?') {
			conf_usage(STDOUT_FILENO);
			return (CONF_DONE);
		}
		/* FALLTHROUGH */
	default:
		return (conf_getopt_error(c, argv));
	}
}

/* Reconcile the options with each other and fill in the listeners. */
static int
conf_finish(struct conf * C, const struct conf_seen * S)
{
	uint16_t port;

	if (S->verbose && S->quiet) {
		log_err("conflicting options '-v' and '-q': give one of them");
		return (-1);
	}
	if (S->normal && S->normal_port) {
		log_err("conflicting options '-n/--normalPort' and '--normal': "
		    "give one of them");
		return (-1);
	}
	if (S->hidden && S->hidden_port) {
		log_err("conflicting options '-s/--hiddenPort' and '--hidden': "
		    "give one of them");
		return (-1);
	}
	if (S->listen_port != NULL && C->nlisten > 0) {
		log_err("conflicting options '-p/--listenPort' and '--listen': "
		    "give one of them");
		return (-1);
	}
	if (C->nlisten == 0) {
		/* Like l7knockknock 0.1: every IPv4 address. */
		port = (S->listen_port != NULL) ? S->port : 443;
		(void)net_literal("0.0.0.0", port, &C->listen[0]);
		C->nlisten = 1;
	}
	if (C->have_knock && C->knock_file != NULL) {
		log_err("two knocks given: KNOCK and '--knock-file %s'; "
		    "give one of them", C->knock_file);
		return (-1);
	}
	if (!C->have_knock && C->knock_file == NULL && !C->print_seccomp) {
		log_err("no knock given: expected KNOCK or --knock-file PATH "
		    "(see --help)");
		return (-1);
	}
	return (0);
}

/* Parse the command line. */
int
conf_parse(struct conf * C, int argc, char ** argv)
{
	struct conf_seen S;
	int c, rc;

	conf_defaults(C);
	memset(&S, 0, sizeof(S));

	/* Start getopt afresh; we print our own messages. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:n:s:o:k:vqVh",
	    conf_longopts, NULL)) != -1) {
		if ((rc = conf_option(C, &S, c, argv)) != 0)
			return (rc);
	}
	for (; optind < argc; optind++) {
		if (C->have_knock) {
			log_err("unexpected extra argument after KNOCK "
			    "(argument %d; not shown, it may be secret): "
			    "give one KNOCK, quoted if it has spaces", optind);
			return (-1);
		}
		if (conf_knock(C, argv[optind]))
			return (-1);
	}
	return (conf_finish(C, &S));
}
