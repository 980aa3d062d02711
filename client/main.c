/*
 * l7knockknock-client: the ssh side of l7knockknock.
 *
 * main: parse -> read the knock (or the key) -> resolve -> connect ->
 * socket to CLIENT_SOCK_FD -> mint the token -> client_sandbox_enter()
 * -> client_relay() or client_fdpass().  Every failure is one line on
 * stderr and a sysexits code.
 */
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "client.h"
#include "knock.h"
#include "knockfile.h"
#include "log.h"

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

/* Read the secret named on the command line into ${k}; 1 if there is one. */
static int
main_secret(const struct client_conf * C, struct knock * k)
{

	if (C->knock_file != NULL)
		return (knockfile_read(C->knock_file, k) ? -1 : 1);
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
main_run(const struct client_conf * C, struct knock * k, int have)
{
	int rc;

	if ((rc = main_connect(C)) != 0)
		return (rc);
	if (!C->fdpass) {
		main_nonblock(STDIN_FILENO);
		main_nonblock(STDOUT_FILENO);
	}
	if (client_sandbox_enter())
		return (EX_OSERR);
	if (C->fdpass)
		rc = client_fdpass(have ? k : NULL);
	else
		rc = client_relay(have ? k : NULL);
	if (rc == CLIENT_ERR_PEER)
		return (EX_UNAVAILABLE);
	return ((rc == 0) ? 0 : EX_OSERR);
}

int
main(int argc, char ** argv)
{
	struct client_conf C;
	struct knock k;
	int have, rc;

	if (main_stdio())
		exit(EX_OSERR);
	/* Only 0-2 are kept: the socket then has descriptor 3 to itself. */
	(void)close_range(3, ~0U, 0);
	if ((rc = client_conf_parse(&C, argc, argv)) == -1)
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
	if (C.fdpass && client_fdpass_check())
		exit(EX_USAGE);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
		log_errp("signal(SIGPIPE)");
		exit(EX_OSERR);
	}
	memset(&k, 0, sizeof(k));
	if ((have = main_secret(&C, &k)) == -1)
		exit(EX_NOINPUT);
	rc = main_run(&C, &k, have);
	knock_wipe(&k);
	exit(rc);
}
