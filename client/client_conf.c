/*
 * The client's command line: options into struct client_conf, with each
 * error reported once, in one line.
 */
#include <getopt.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "client.h"
#include "log.h"
#include "parse.h"

/* Default connect timeout per address, in milliseconds. */
#define CLIENT_CONNECT_MS	5000

/* Long options without a short form. */
enum {
	OPT_KEY_FILE = 256,
	OPT_KNOCK_FILE,
	OPT_FDPASS,
	OPT_CONNECT_TIMEOUT,
	OPT_GEN_KEY,
	OPT_PRINT_SECCOMP
};

static const struct option client_conf_longopts[] = {
	{ "key-file",		required_argument, NULL, OPT_KEY_FILE },
	{ "knock-file",		required_argument, NULL, OPT_KNOCK_FILE },
	{ "fdpass",		no_argument,	   NULL, OPT_FDPASS },
	{ "connect-timeout",	required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "gen-key",		no_argument,	   NULL, OPT_GEN_KEY },
	{ "print-seccomp",	no_argument,	   NULL, OPT_PRINT_SECCOMP },
	{ "verbose",		no_argument,	   NULL, 'v' },
	{ "quiet",		no_argument,	   NULL, 'q' },
	{ "version",		no_argument,	   NULL, 'V' },
	{ "help",		no_argument,	   NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static const char client_conf_usage_text[] =
"usage: l7knockknock-client [options] HOST PORT\n"
"       l7knockknock-client --gen-key\n"
"\n"
"Connect to the l7knockknock relay at HOST PORT, send the knock (or a fresh\n"
"one-time token), then relay stdin and stdout: ssh's ProxyCommand.\n"
"\n"
"      --key-file PATH        send a fresh token made with the key in PATH\n"
"      --knock-file PATH      send the static knock in PATH (one newline stripped)\n"
"      --fdpass               pass the socket to ssh on stdout (ProxyUseFdpass)\n"
"  -4, -6                     IPv4 or IPv6 addresses only\n"
"      --connect-timeout DUR  per address (default 5s)\n"
"      --gen-key              write a new random key, base64, to stdout\n"
"      --print-seccomp        print the seccomp filter and exit\n"
"  -v, --verbose              debug messages\n"
"  -q, --quiet                errors only\n"
"  -V, --version              print the version and exit\n"
"  -h, --help                 print this help and exit\n"
"\n"
"DUR is 500ms, 2s or a plain number of seconds.\n";

/* Write the usage text. */
void
client_conf_usage(int fd)
{

	(void)!write(fd, client_conf_usage_text,
	    sizeof(client_conf_usage_text) - 1);
}

/* Report a usage error; -1. */
static int
client_conf_bad(const char * what)
{

	log_err("%s (see l7knockknock-client --help)", what);
	return (-1);
}

/* Take option ${opt} with argument ${arg}; 0, 1 (done: help) or -1. */
static int
client_conf_opt(struct client_conf * C, int opt, const char * arg)
{

	switch (opt) {
	case OPT_KEY_FILE:
		C->key_file = arg;
		break;
	case OPT_KNOCK_FILE:
		C->knock_file = arg;
		break;
	case OPT_FDPASS:
		C->fdpass = 1;
		break;
	case OPT_CONNECT_TIMEOUT:
		if (parse_duration(arg, &C->connect_ms))
			return (client_conf_bad("invalid --connect-timeout: "
			    "expected 500ms, 2s or seconds"));
		break;
	case OPT_GEN_KEY:
		C->gen_key = 1;
		break;
	case OPT_PRINT_SECCOMP:
		C->print_seccomp = 1;
		break;
	case '4':
	case '6':
		if (C->family != AF_UNSPEC)
			return (client_conf_bad("-4 and -6 exclude each other"));
		C->family = (opt == '4') ? AF_INET : AF_INET6;
		break;
	case 'v':
		C->loglevel = LOG_DEBUG;
		break;
	case 'q':
		C->loglevel = LOG_ERR;
		break;
	case 'V':
		C->version = 1;
		return (1);
	case 'h':
		C->help = 1;
		return (1);
	default:
		return (client_conf_bad("unknown option"));
	}
	return (0);
}

/* Check the combination of options and the operands. */
static int
client_conf_check(struct client_conf * C, int argc, char ** argv)
{

	if (C->key_file != NULL && C->knock_file != NULL)
		return (client_conf_bad("--key-file and --knock-file "
		    "exclude each other"));
	if (C->gen_key || C->print_seccomp)
		return ((argc == 0) ? 0 : client_conf_bad("--gen-key and "
		    "--print-seccomp take no HOST PORT"));
	if (argc != 2)
		return (client_conf_bad("want HOST PORT"));
	if (argv[0][0] == '\0' || strlen(argv[0]) > PARSE_HOST_MAX + 2)
		return (client_conf_bad("invalid HOST"));
	if (parse_port(argv[1], 0, &C->port))
		return (client_conf_bad("invalid PORT: expected 1 to 65535"));
	C->host = argv[0];
	return (0);
}

/* Parse the command line. */
int
client_conf_parse(struct client_conf * C, int argc, char ** argv)
{
	int opt, rc;

	memset(C, 0, sizeof(*C));
	C->family = AF_UNSPEC;
	C->connect_ms = CLIENT_CONNECT_MS;
	C->loglevel = LOG_INFO;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+46vqVh",
	    client_conf_longopts, NULL)) != -1) {
		if (opt == '?') {
			log_err("unknown option or missing value: '%.64s' "
			    "(see l7knockknock-client --help)",
			    argv[optind - 1]);
			return (-1);
		}
		if ((rc = client_conf_opt(C, opt, optarg)) != 0)
			return (rc);
	}
	return (client_conf_check(C, argc - optind, argv + optind));
}
