/*
 * Socket activation, from sd_listen_fds(3): the service manager binds the
 * listeners, puts them at descriptors 3, 4, ... and says how many in
 * $LISTEN_FDS, for the pid in $LISTEN_PID.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "log.h"
#include "net.h"
#include "sdlisten.h"

/* Parse the decimal ${s} (no sign, no junk) into ${v}; 0 or -1. */
static int
sdlisten_number(const char * s, unsigned long * v)
{
	char * end;

	if (s == NULL || *s < '0' || *s > '9')
		return (-1);
	errno = 0;
	*v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return (-1);
	return (0);
}

/* Read the int option ${opt} of level ${level} on ${fd}; 0 or -1. */
static int
sdlisten_opt(int fd, int level, int opt, int * v)
{
	socklen_t len = sizeof(*v);

	return (getsockopt(fd, level, opt, v, &len) || len != sizeof(*v));
}

/* Is ${fd} a listening TCP socket, IPv4 or IPv6?  0 yes, -1 (reported). */
static int
sdlisten_check(int fd)
{
	int acc, dom, type, proto;

	if (sdlisten_opt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc) ||
	    sdlisten_opt(fd, SOL_SOCKET, SO_DOMAIN, &dom) ||
	    sdlisten_opt(fd, SOL_SOCKET, SO_TYPE, &type) ||
	    sdlisten_opt(fd, SOL_SOCKET, SO_PROTOCOL, &proto)) {
		log_errp("socket activation: descriptor %d is not a socket",
		    fd);
		return (-1);
	}
	if ((dom != AF_INET && dom != AF_INET6) || type != SOCK_STREAM ||
	    proto != IPPROTO_TCP || acc != 1) {
		log_err("socket activation: descriptor %d is not a listening "
		    "TCP socket (IPv4 or IPv6)", fd);
		return (-1);
	}
	return (0);
}

/* Make listener ${fd} behave like one net_listen() made; 0 or -1. */
static int
sdlisten_prepare(int fd)
{
	int one = 1;
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one))) {
		log_errp("socket activation: descriptor %d", fd);
		return (-1);
	}
	return (0);
}

/* Log the address listener ${fd} is bound to. */
static void
sdlisten_log(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char str[NET_ADDRSTR_MAX];

	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		log_info("listening on %s (socket activation, descriptor %d)",
		    net_format((struct sockaddr *)&ss, str, sizeof(str)), fd);
}

/* Is $LISTEN_PID this process?  1 yes, 0 no (unset, or another's). */
static int
sdlisten_ours(void)
{
	unsigned long pid;

	return (sdlisten_number(getenv("LISTEN_PID"), &pid) == 0 &&
	    pid == (unsigned long)getpid());
}

/* How many descriptors were passed to this process (0 if none); 0 or -1. */
static int
sdlisten_count(size_t max, size_t * n)
{
	unsigned long count = 0;

	if (sdlisten_ours() &&
	    sdlisten_number(getenv("LISTEN_FDS"), &count)) {
		log_err("socket activation: $LISTEN_FDS is not a count");
		goto err0;
	}
	if (count > max) {
		log_err("socket activation: %lu sockets passed, at most %zu",
		    count, max);
		goto err0;
	}
	*n = count;

	/* Success! */
	return (0);

err0:
	/* Failure! */
	*n = 0;
	return (-1);
}

/* Take the passed listeners. */
int
sdlisten_take(int * fds, size_t max, size_t * n)
{
	size_t i;
	int rc;

	rc = sdlisten_count(max, n);
	(void)unsetenv("LISTEN_PID");
	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("LISTEN_FDNAMES");
	for (i = 0; rc == 0 && i < *n; i++) {
		fds[i] = SDLISTEN_FD_START + (int)i;
		if (sdlisten_check(fds[i]) || sdlisten_prepare(fds[i]))
			rc = -1;
		else
			sdlisten_log(fds[i]);
	}
	return (rc);
}
