/*
 * l7knockknock-client: the ssh side of l7knockknock.
 *
 * main: parse -> read the knock (or the key) -> resolve -> connect ->
 * socket to CLIENT_SOCK_FD -> mint the token, wipe the key ->
 * client_sandbox_enter() -> client_relay() or client_fdpass().  Every
 * failure is one line on stderr and a sysexits code.
 */
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <sodium.h>

#include "client.h"
#include "keyfile.h"
#include "knock.h"
#include "knockfile.h"
#include "log.h"
#include "token.h"

/* What is sent first: nothing, a static knock, or a token made from a key. */
#define SECRET_NONE	0
#define SECRET_KNOCK	1
#define SECRET_KEY	2

/* The secret, until it is sent. */
struct secret {
	int kind;			/* SECRET_*. */
	struct knock k;			/* The knock, or the token once made. */
	uint8_t key[TOKEN_KEYLEN];	/* SECRET_KEY: wiped once used. */
};

/* Open /dev/null on any of descriptors 0-2 that is closed; 0 or -1. */
static int
main_stdio(void)
{
	int fd;

	do {
		if ((fd = open("/dev/null", O_RDWR | O_NOCTTY)) == -1)
			return (-1);
	} while (fd <= STDERR_FILENO);
	close(fd);
	return (0);
}

/* Make descriptor ${fd} non-blocking if it is a pipe or a socket. */
static void
main_nonblock(int fd)
{
	struct stat st;
	int fl;

	/* A terminal or a file is shared with others: leave it as it is. */
	if (fstat(fd, &st) || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		return;
	if ((fl = fcntl(fd, F_GETFL)) != -1)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Read the knock or the key named on the command line into ${S}; 0 or -1. */
static int
main_secret(const struct client_conf * C, struct secret * S)
{

	memset(S, 0, sizeof(*S));
	if (C->knock_file != NULL) {
		S->kind = SECRET_KNOCK;
		return (knockfile_read(C->knock_file, &S->k));
	}
	if (C->key_file != NULL) {
		S->kind = SECRET_KEY;
		return (keyfile_read(C->key_file, S->key));
	}
	return (0);
}

/* Make a fresh token from the key into ${S}->k; wipe the key. */
static void
main_mint(struct secret * S)
{
	char tok[TOKEN_LEN];

	token_mint_now(S->key, tok);
	sodium_memzero(S->key, sizeof(S->key));
	(void)knock_set(&S->k, tok, sizeof(tok));
	sodium_memzero(tok, sizeof(tok));
}

/* Wipe whatever ${S} holds. */
static void
main_wipe(struct secret * S)
{

	knock_wipe(&S->k);
	sodium_memzero(S->key, sizeof(S->key));
}

/* --gen-key: a new random key, as a key file's line, on stdout; 0 or -1. */
static int
main_gen_key(void)
{

	if (keyfile_write_new(STDOUT_FILENO)) {
		log_errp("cannot write the key");
		return (-1);
	}
	return (0);
}

/* Connect to HOST PORT; the socket at CLIENT_SOCK_FD, or an exit code. */
static int
main_connect(const struct client_conf * C)
{
	struct addrinfo * ai;
	int fd, rc;

	if ((rc = client_resolve(C->host, C->port, C->family, &ai)) != 0)
		return ((rc == CLIENT_ERR_NOHOST) ? EX_NOHOST : EX_OSERR);
	fd = client_dial(ai, C->host, C->connect_ms);
	freeaddrinfo(ai);
	if (fd < 0)
		return ((fd == CLIENT_ERR_PEER) ? EX_UNAVAILABLE : EX_OSERR);
	if (fd != CLIENT_SOCK_FD) {
		if (dup3(fd, CLIENT_SOCK_FD, O_CLOEXEC) == -1) {
			log_errp("dup3");
			close(fd);
			return (EX_OSERR);
		}
		close(fd);
	}
	return (0);
}

/* Connect, knock, confine, then relay or pass the socket; an exit code. */
static int
main_run(const struct client_conf * C, struct secret * S)
{
	struct knock * k = (S->kind == SECRET_NONE) ? NULL : &S->k;
	int rc;

	if ((rc = main_connect(C)) != 0)
		return (rc);

	/* Made now, so that its time is that of the connection. */
	if (S->kind == SECRET_KEY)
		main_mint(S);
	if (!C->fdpass) {
		main_nonblock(STDIN_FILENO);
		main_nonblock(STDOUT_FILENO);
	}
	if (client_sandbox_enter())
		return (EX_OSERR);
	if (C->fdpass)
		rc = client_fdpass(k);
	else
		rc = client_relay(k);
	if (rc == CLIENT_ERR_PEER)
		return (EX_UNAVAILABLE);
	/* A reset is not an orderly end: ssh (or a script) must see it. */
	if (rc == CLIENT_ERR_LOST)
		return (EX_IOERR);
	return ((rc == 0) ? 0 : EX_OSERR);
}

int
main(int argc, char ** argv)
{
	struct client_conf C;
	struct secret S;
	int rc;

	if (main_stdio())
		exit(EX_OSERR);
	/* Only 0-2 are kept: the socket then has descriptor 3 to itself. */
	(void)close_range(3, ~0U, 0);
	if (client_conf_parse(&C, argc, argv) == -1)
		exit(EX_USAGE);
	if (C.help || C.version) {
		if (C.help)
			client_conf_usage(STDOUT_FILENO);
		else
			(void)!write(STDOUT_FILENO, "l7knockknock-client "
			    VERSION "\n", strlen("l7knockknock-client "
			    VERSION "\n"));
		exit(0);
	}
	log_setlevel(C.loglevel);
	if (C.print_seccomp)
		exit(client_sandbox_print(STDOUT_FILENO) ? EX_OSERR : 0);
	if ((C.gen_key || C.key_file != NULL) && token_init())
		exit(EX_OSERR);
	if (C.gen_key)
		exit(main_gen_key() ? EX_OSERR : 0);
	if (C.fdpass && client_fdpass_check())
		exit(EX_USAGE);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		log_errp("signal(SIGPIPE)");
		exit(EX_OSERR);
	}
	if (main_secret(&C, &S)) {
		main_wipe(&S);
		exit(EX_NOINPUT);
	}
	rc = main_run(&C, &S);
	main_wipe(&S);
	exit(rc);
}
