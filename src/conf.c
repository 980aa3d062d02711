#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "proxyhdr.h"
#include "replay.h"
#include "token.h"

/* A number macro as a string literal. */
#define CONF_STR_(x)	#x
#define CONF_STR(x)	CONF_STR_(x)

/* What a duration option expects. */
#define CONF_DURATION	"a duration such as 500ms, 2s, 5m, 2h or 30 (seconds), " \
			"up to 7 days"

/* Long-only options. */
enum {
	OPT_LISTEN = 256, OPT_NORMAL, OPT_HIDDEN, OPT_KNOCK_FILE,
	OPT_CONNECT_TIMEOUT, OPT_MAX_CONNS, OPT_CHROOT, OPT_USER,
	OPT_PRINT_SECCOMP, OPT_WORKERS, OPT_FIN_TIMEOUT, OPT_LOG_TIME,
	OPT_ROUTE, OPT_KEY_FILE, OPT_TOKEN_WINDOW, OPT_REPLAY_CACHE,
	OPT_DRAIN_TIMEOUT, OPT_PRINT_SUPERVISOR_SECCOMP, OPT_MAX_PER_SOURCE,
	OPT_BACKEND_PORTS, OPT_REPLAY_STORE, OPT_REPLAY_STORE_PASSWORD_FILE
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
	{ "max-conns-per-source", required_argument, NULL, OPT_MAX_PER_SOURCE },
	{ "backend-ports",	required_argument, NULL, OPT_BACKEND_PORTS },
	{ "chroot",		required_argument, NULL, OPT_CHROOT },
	{ "user",		required_argument, NULL, OPT_USER },
	{ "print-seccomp",	no_argument,	   NULL, OPT_PRINT_SECCOMP },
	{ "workers",		required_argument, NULL, OPT_WORKERS },
	{ "log-time",		no_argument,	   NULL, OPT_LOG_TIME },
	{ "route",		required_argument, NULL, OPT_ROUTE },
	{ "key-file",		required_argument, NULL, OPT_KEY_FILE },
	{ "token-window",	required_argument, NULL, OPT_TOKEN_WINDOW },
	{ "replay-cache",	required_argument, NULL, OPT_REPLAY_CACHE },
	{ "drain-timeout",	required_argument, NULL, OPT_DRAIN_TIMEOUT },
	{ "replay-store",	required_argument, NULL, OPT_REPLAY_STORE },
	{ "replay-store-password-file", required_argument, NULL,
	    OPT_REPLAY_STORE_PASSWORD_FILE },
	{ "print-supervisor-seccomp", no_argument, NULL,
	    OPT_PRINT_SUPERVISOR_SECCOMP },
	{ NULL, 0, NULL, 0 }
};

static const char conf_usage_text[] =
"usage: l7knockknock [options] [--] KNOCK\n"
"       l7knockknock [options] --knock-file PATH\n"
"       l7knockknock [options] --key-file PATH\n"
"\n"
"Relay every TCP connection to the normal backend, except one whose first\n"
"bytes are KNOCK (or a valid token under a key): that one goes, without the\n"
"knock, to the hidden backend.  --route adds more hidden routes.\n"
"\n"
"  -p, --listenPort PORT      listen on 0.0.0.0:PORT (default 443)\n"
"      --listen ADDR:PORT     listen on ADDR:PORT, [IPv6]:PORT (repeatable)\n"
"  -n, --normalPort PORT      normal backend 127.0.0.1:PORT (default 8443)\n"
"      --normal HOST:PORT[,OPT]  normal backend (IPv4, [IPv6] or a name);\n"
"                             OPT: idle=DUR, proxy=v1|v2 (comma-separated)\n"
"  -s, --hiddenPort PORT      hidden backend 127.0.0.1:PORT (default 22)\n"
"      --hidden HOST:PORT[,OPT]  hidden backend; OPT: idle=, proxy=, name=\n"
"      --knock-file PATH      read the knock from PATH (one newline stripped)\n"
"      --key-file PATH        the hidden route takes tokens under the key\n"
"                             in PATH instead of a knock\n"
"      --route HOST:PORT,key-file=PATH|knock-file=PATH[,name=NAME]\n"
"              [,idle=DUR][,proxy=v1|v2]  one more hidden route\n"
"                             (repeatable; 16 hidden routes in all)\n"
"      --token-window DUR     accept tokens DUR old or early (default 30s,\n"
"                             1s to 10m)\n"
"      --replay-cache N       tokens remembered (default "
CONF_STR(REPLAY_DEFAULT) ", 8 bytes\n"
"                             each, shared by the workers)\n"
"      --replay-store HOST:PORT  also claim each token in this Redis or\n"
"                             Valkey server, shared by several relays (SET\n"
"                             NX PX); unreachable, slow or failing: the\n"
"                             token goes to the normal route\n"
"      --replay-store-password-file PATH\n"
"                             AUTH to the store with the password in PATH\n"
"  -o, --proxyTimeout DUR     close after DUR without a byte, every route\n"
"                             (default: 30s normal, 2h hidden routes)\n"
"  -k, --knockTimeout DUR     wait DUR for the knock (default 2s)\n"
"      --connect-timeout DUR  backend connect timeout (default 5s)\n"
"      --fin-timeout DUR      close after DUR without a byte once the\n"
"                             backend has closed its side (default 5s)\n"
"      --max-conns N          connection slots (default from RLIMIT_NOFILE)\n"
"      --max-conns-per-source N\n"
"                             slots one IPv4 address or IPv6 /64 may hold\n"
"                             (default an eighth of the slots; 0: no limit)\n"
"      --backend-ports LO-HI  bind backend sockets to these source ports in\n"
"                             turn, so TIME_WAIT is reused (default: the\n"
"                             kernel picks)\n"
"      --workers N            N sandboxed relay processes, SO_REUSEPORT,\n"
"                             under a supervisor that reloads on SIGHUP\n"
"      --drain-timeout DUR    after a reload, cut the old workers' sessions\n"
"                             after DUR (default: never)\n"
"      --chroot DIR           empty directory to chroot into (default /var/empty)\n"
"      --user NAME|UID[:GID]  user to run as (default l7knockknock or nobody)\n"
"      --print-seccomp        print the seccomp filter and exit\n"
"      --print-supervisor-seccomp  the --workers supervisor's filter\n"
"      --log-time             start log lines with the UTC time\n"
"  -v, --verbose              debug messages\n"
"  -q, --quiet                errors only\n"
"  -V, --version              print the version and exit\n"
"  -?, --help                 print this help and exit\n"
"\n"
"DUR is 500ms, 2s, 5m, 2h or a plain number of seconds.  The KNOCK is 1 to\n"
"256 bytes; one that starts with '-' goes after '--'.\n";

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

/* The sub-options a backend option takes (conf_sub). */
#define SUB_IDLE	0x01
#define SUB_PROXY	0x02
#define SUB_NAME	0x04
#define SUB_FILE	0x08	/* key-file= and knock-file=. */

/* The longest HOST:PORT before the sub-options: "[host]:65535". */
#define CONF_HEAD_MAX	(PARSE_HOST_MAX + 8)

/* The HOST:PORT of a backend option ${s}, before any ',', into ${B}. */
static int
conf_hostport(struct conf_backend * B, const char * opt, const char * s,
    const char * show)
{
	char head[CONF_HEAD_MAX + 1];
	size_t len = strcspn(s, ",");
	struct net_addr a;

	if (len > CONF_HEAD_MAX)
		goto bad;
	memcpy(head, s, len);
	head[len] = '\0';
	if (parse_hostport(head, B->host, sizeof(B->host), &B->port, 0))
		goto bad;
	/* 256.1.1.1 or 10.1 is a typo, not a name to ask DNS about. */
	if (parse_numeric_host(B->host) && net_literal(B->host, 0, &a))
		return (conf_bad(opt, show,
		    "an IPv4 address of four numbers 0-255 (a.b.c.d)"));
	return (0);

bad:
	return (conf_bad(opt, show,
	    "HOST:PORT, IPV4:PORT or [IPV6]:PORT with PORT 1-65535"));
}

/* Is ${s} a route name: [A-Za-z0-9_-], 1 to CONF_NAME_MAX characters? */
static int
conf_name_ok(const char * s, size_t len)
{
	size_t i;

	if (len == 0 || len > CONF_NAME_MAX)
		return (0);
	for (i = 0; i < len; i++) {
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_-", s[i]) == NULL || s[i] == '\0')
			return (0);
	}
	return (1);
}

/* What the sub-options of one backend option said. */
struct conf_sub {
	const char * opt;		/* "--route", for messages. */
	const char * show;		/* The whole value, or NULL. */
	int allowed;			/* SUB_*. */
	int seen;			/* SUB_* given so far. */
	struct conf_backend * B;
	struct conf_route * R;		/* NULL for --normal. */
	int key;			/* The file is a key-file=. */
};

/* Report the sub-option ${item} (${len} bytes) as ${why}. */
static int
conf_sub_bad(const struct conf_sub * S, const char * item, size_t len,
    const char * why)
{

	if (S->show == NULL) {
		log_err("%s in %s (not shown: it may be a knock): %s",
		    "invalid sub-option", S->opt, why);
		return (-1);
	}
	log_err("invalid sub-option '%.*s' in %s '%.64s%s': %s",
	    (int)(len > 64 ? 64 : len), item, S->opt, S->show,
	    strlen(S->show) > 64 ? "..." : "", why);
	return (-1);
}

/* What the sub-options allowed in ${S} are, for messages. */
static const char *
conf_sub_expected(const struct conf_sub * S)
{

	if (S->allowed & SUB_FILE)
		return ("expected key-file=, knock-file=, name=, idle= or "
		    "proxy=");
	if (S->allowed & SUB_NAME)
		return ("expected idle=, proxy= or name=");
	return ("expected idle= or proxy=");
}

/* Copy the path ${v} (${len} bytes) of key-file= or knock-file=. */
static int
conf_sub_file(struct conf_sub * S, const char * item, size_t ilen,
    const char * v, size_t len, int key)
{

	if (len == 0 || len >= CONF_PATH_MAX || v[0] == '-' ||
	    memchr(v, '\0', len) != NULL)
		return (conf_sub_bad(S, item, ilen, "expected a file name "
		    "(one that starts with '-' as ./-name), shorter than "
		    CONF_STR(CONF_PATH_MAX) " bytes"));
	memcpy(S->R->path, v, len);
	S->R->path[len] = '\0';
	S->key = key;
	return (0);
}

/*
 * Apply the value ${v} (${vlen} bytes) of the sub-option ${bit} (${key}:
 * key-file=, not knock-file=) given as ${item} (${len} bytes).
 */
static int
conf_sub_value(struct conf_sub * S, int bit, int key, const char * item,
    size_t len, const char * v, size_t vlen)
{
	int p;

	switch (bit) {
	case SUB_IDLE:
		S->B->idle_set = 1;
		if (parse_duration(v, &S->B->idle_ms))
			return (conf_sub_bad(S, item, len,
			    "expected " CONF_DURATION));
		return (0);
	case SUB_PROXY:
		if ((p = proxyhdr_parse_version(v)) == -1)
			return (conf_sub_bad(S, item, len,
			    "expected proxy=v1, proxy=v2 or proxy=off"));
		S->B->proxy = p;
		return (0);
	case SUB_NAME:
		if (!conf_name_ok(v, vlen))
			return (conf_sub_bad(S, item, len, "expected a name of "
			    "1 to " CONF_STR(CONF_NAME_MAX) " letters, digits, "
			    "'_' or '-'"));
		memcpy(S->R->name, v, vlen + 1);
		return (0);
	default:
		return (conf_sub_file(S, item, len, v, vlen, key));
	}
}

/* Apply one sub-option "KEY=VALUE" of ${len} bytes at ${item}. */
static int
conf_sub_one(struct conf_sub * S, const char * item, size_t len)
{
	static const struct {
		const char * key;
		int bit;
	} keys[] = {
		{ "idle=", SUB_IDLE }, { "proxy=", SUB_PROXY },
		{ "name=", SUB_NAME }, { "key-file=", SUB_FILE },
		{ "knock-file=", SUB_FILE },
	};
	char v[CONF_PATH_MAX];
	size_t i, klen, vlen;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		klen = strlen(keys[i].key);
		if (len >= klen && memcmp(item, keys[i].key, klen) == 0 &&
		    (S->allowed & keys[i].bit))
			break;
	}
	if (i == sizeof(keys) / sizeof(keys[0]))
		return (conf_sub_bad(S, item, len, conf_sub_expected(S)));
	if (S->seen & keys[i].bit)
		return (conf_sub_bad(S, item, len, (keys[i].bit == SUB_FILE) ?
		    "give one of key-file= and knock-file=, once" :
		    "given twice: give it once"));
	S->seen |= keys[i].bit;
	vlen = len - klen;
	if (vlen >= sizeof(v))
		return (conf_sub_bad(S, item, len, "too long"));
	memcpy(v, item + klen, vlen);
	v[vlen] = '\0';
	return (conf_sub_value(S, keys[i].bit, strcmp(keys[i].key,
	    "key-file=") == 0, item, len, v, vlen));
}


/* Apply the sub-options after the first ',' of ${S}->show's value ${s}. */
static int
conf_subs(struct conf_sub * S, const char * s)
{
	const char * item;
	size_t len;

	if ((item = strchr(s, ',')) == NULL)
		return (0);
	do {
		item++;
		len = strcspn(item, ",");
		if (conf_sub_one(S, item, len))
			return (-1);
		item += len;
	} while (*item == ',');
	return (0);
}

/* --normal/--hidden HOST:PORT[,idle=DUR][,proxy=V] (--hidden: [,name=]). */
static int
conf_backend(struct conf_backend * B, struct conf_route * R, const char * opt,
    const char * s, const char * show)
{
	struct conf_sub S = { opt, show, SUB_IDLE | SUB_PROXY, 0, B, R, 0 };

	if (R != NULL)
		S.allowed |= SUB_NAME;
	if (conf_hostport(B, opt, s, show))
		return (-1);
	return (conf_subs(&S, s));
}

/* --route HOST:PORT,key-file=PATH|knock-file=PATH[,name=][,idle=][,proxy=]. */
static int
conf_route(struct conf * C, const char * s, const char * show)
{
	struct conf_route * R = &C->routes[C->nroutes];
	struct conf_sub S = { "--route", show, SUB_IDLE | SUB_PROXY |
	    SUB_NAME | SUB_FILE, 0, &R->b, R, 0 };

	if (C->nroutes == CONF_ROUTES_MAX) {
		log_err("too many hidden routes at --route '%.64s': at most %d "
		    "in all (--hidden and --route)", show != NULL ? show :
		    "(not shown)", CONF_ROUTES_MAX);
		return (-1);
	}
	memset(R, 0, sizeof(*R));
	if (conf_hostport(&R->b, "--route", s, show) || conf_subs(&S, s))
		return (-1);
	if (!(S.seen & SUB_FILE)) {
		log_err("--route '%.64s' has no key-file= or knock-file=: give "
		    "one of them", show != NULL ? show : "(not shown)");
		return (-1);
	}
	if (S.key)
		R->key_file = R->path;
	else
		R->knock_file = R->path;
	C->nroutes++;
	return (0);
}

/* A duration option. */
static int
conf_duration(uint64_t * ms, const char * opt, const char * s,
    const char * show)
{

	if (parse_duration(s, ms))
		return (conf_bad(opt, show,
		    CONF_DURATION));
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

/* Most ports --backend-ports may name (one Landlock rule each). */
#define CONF_BIND_PORTS_MAX	16384

/* --backend-ports LO-HI: 1024-65535, LO <= HI, at most the maximum. */
static int
conf_port_range(struct conf * C, const char * s, const char * show)
{
	char lo[8];
	const char * dash = strchr(s, '-');
	unsigned long long a, b;

	if (dash == NULL || (size_t)(dash - s) >= sizeof(lo))
		goto bad;
	memcpy(lo, s, (size_t)(dash - s));
	lo[dash - s] = '\0';
	if (parse_uint(lo, 1024, 65535, &a) ||
	    parse_uint(dash + 1, 1024, 65535, &b) || a > b ||
	    b - a + 1 > CONF_BIND_PORTS_MAX)
		goto bad;
	C->bind_lo = (uint16_t)a;
	C->bind_hi = (uint16_t)b;
	return (0);

bad:
	return (conf_bad("--backend-ports", show, "a port range LO-HI within "
	    "1024-65535, at most " CONF_STR(CONF_BIND_PORTS_MAX) " ports"));
}

/* --token-window DUR: whole seconds, 1 s to TOKEN_WINDOW_MAX. */
static int
conf_window(struct conf * C, const char * s, const char * show)
{
	uint64_t ms;

	if (parse_duration(s, &ms) || ms % 1000 != 0 ||
	    ms / 1000 < CONF_WINDOW_MIN || ms / 1000 > TOKEN_WINDOW_MAX)
		return (conf_bad("--token-window", show, "a whole number of "
		    "seconds from 1s to 10m, such as 30s or 2m"));
	C->window_s = ms / 1000;
	return (0);
}

/* --replay-store HOST:PORT: no sub-options. */
static int
conf_store(struct conf * C, const char * s, const char * show)
{

	if (strchr(s, ',') != NULL)
		return (conf_bad("--replay-store", show, "HOST:PORT, IPV4:PORT "
		    "or [IPV6]:PORT with PORT 1-65535 (no options)"));
	if (conf_hostport(&C->store, "--replay-store", s, show))
		return (-1);
	C->have_store = 1;
	return (0);
}

/* The replay store needs a token route; its password file needs it. */
static int
conf_finish_store(const struct conf * C)
{
	size_t i;

	if (C->store_password_file != NULL && !C->have_store) {
		log_err("'--replay-store-password-file %s' given without "
		    "--replay-store HOST:PORT", C->store_password_file);
		return (-1);
	}
	if (!C->have_store)
		return (0);
	for (i = 0; i < C->nroutes; i++)
		if (C->routes[i].key_file != NULL)
			return (0);
	log_err("--replay-store is given but no route takes tokens: give "
	    "--key-file PATH or --route ...,key-file=PATH");
	return (-1);
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
		return (conf_port(&C->routes[0].b.port, "-s/--hiddenPort",
		    optarg, show));
	case 'o':
		C->idle_set = 1;
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
		return (conf_backend(&C->normal, NULL, "--normal", optarg,
		    show));
	case OPT_HIDDEN:
		S->hidden = 1;
		return (conf_backend(&C->routes[0].b, &C->routes[0], "--hidden",
		    optarg, show));
	case OPT_ROUTE:
		return (conf_route(C, optarg, show));
	case OPT_KEY_FILE:
		if (*optarg == '\0' || *optarg == '-')
			return (conf_bad("--key-file", show, "a file name "
			    "(one that starts with '-' as ./-name)"));
		C->key_file = optarg;
		return (0);
	case OPT_TOKEN_WINDOW:
		return (conf_window(C, optarg, show));
	case OPT_REPLAY_CACHE:
		if (parse_uint(optarg, 1, REPLAY_MAX, &n))
			return (conf_bad("--replay-cache", show,
			    "a number of tokens 1-" CONF_STR(REPLAY_MAX)));
		C->replay_n = (size_t)n;
		return (0);
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
	case OPT_MAX_PER_SOURCE:
		if (parse_uint(optarg, 0, 1000000, &n))
			return (conf_bad("--max-conns-per-source", show,
			    "a number of connections 0-1000000 (0: no limit)"));
		C->max_per_source = (unsigned long)n;
		C->have_max_per_source = 1;
		return (0);
	case OPT_BACKEND_PORTS:
		return (conf_port_range(C, optarg, show));
	case OPT_WORKERS:
		if (parse_uint(optarg, 1, CONF_WORKERS_MAX, &n))
			return (conf_bad("--workers", show,
			    "a number of worker processes 1-"
			    CONF_STR(CONF_WORKERS_MAX)));
		C->workers = (unsigned)n;
		C->workers_given = 1;
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
	case OPT_PRINT_SUPERVISOR_SECCOMP:
		C->print_seccomp = CONF_PRINT_SUPERVISOR;
		return (0);
	case OPT_REPLAY_STORE:
		return (conf_store(C, optarg, show));
	case OPT_REPLAY_STORE_PASSWORD_FILE:
		if (*optarg == '\0' || *optarg == '-')
			return (conf_bad("--replay-store-password-file", show,
			    "a file name (one that starts with '-' as ./-name)"));
		C->store_password_file = optarg;
		return (0);
	case OPT_DRAIN_TIMEOUT:
		return (conf_duration(&C->drain_ms, "--drain-timeout", optarg,
		    show));
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

/* The first hidden route's knock: exactly one of KNOCK, the two files. */
static int
conf_finish_knock(struct conf * C)
{

	if (C->have_knock && C->knock_file != NULL) {
		log_err("two knocks given: KNOCK and '--knock-file %s'; "
		    "give one of them", C->knock_file);
		return (-1);
	}
	if (C->have_knock && C->key_file != NULL) {
		log_err("two knocks given: KNOCK and '--key-file %s'; "
		    "give one of them", C->key_file);
		return (-1);
	}
	if (C->knock_file != NULL && C->key_file != NULL) {
		log_err("two knocks given: '--knock-file %s' and '--key-file "
		    "%s'; give one of them", C->knock_file, C->key_file);
		return (-1);
	}
	if (!C->have_knock && C->knock_file == NULL && C->key_file == NULL &&
	    !C->print_seccomp) {
		log_err("no knock given: expected KNOCK, --knock-file PATH or "
		    "--key-file PATH (see --help)");
		return (-1);
	}
	C->routes[0].knock_file = C->knock_file;
	C->routes[0].key_file = C->key_file;
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
			log_err("route name 'normal' is the normal route's: "
			    "give the hidden route another name");
			return (-1);
		}
		for (j = 0; j < i; j++) {
			if (strcmp(C->routes[i].name, C->routes[j].name) != 0)
				continue;
			log_err("route name '%s' is given to two routes (%zu "
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
	C->listen_set = (C->nlisten > 0 || S->listen_port != NULL);
	if (C->nlisten == 0) {
		/* Like l7knockknock 0.1: every IPv4 address. */
		port = (S->listen_port != NULL) ? S->port : 443;
		(void)net_literal("0.0.0.0", port, &C->listen[0]);
		C->nlisten = 1;
	}
	if (conf_finish_knock(C))
		return (-1);
	conf_finish_idle(C);
	if (conf_finish_store(C))
		return (-1);
	return (conf_finish_names(C));
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
