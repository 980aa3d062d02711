#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "client.h"
#include "log.h"
#include "net.h"
#include "parse.h"

/* Copy ${host} into ${buf} without the brackets of "[IPv6]"; 0 or -1. */
static int
client_dial_unbracket(const char * host, char * buf, size_t buflen)
{
	size_t len = strlen(host);

	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host++;
		len -= 2;
	}
	if (len == 0 || len >= buflen)
		return (-1);
	memcpy(buf, host, len);
	buf[len] = '\0';
	return (0);
}

/* Resolve the host name. */
int
client_resolve(const char * host, uint16_t port, int family,
    struct addrinfo ** res)
{
	struct addrinfo hints;
	char name[PARSE_HOST_MAX + 1], serv[8];
	int rc;

	if (client_dial_unbracket(host, name, sizeof(name))) {
		log_err("bad host name '%s'", host);
		return (CLIENT_ERR_NOHOST);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV;
	(void)snprintf(serv, sizeof(serv), "%u", (unsigned)port);
	if ((rc = getaddrinfo(name, serv, &hints, res)) != 0) {
		if (rc == EAI_SYSTEM)
			log_errp("cannot resolve '%s'", host);
		else
			log_err("cannot resolve '%s': %s", host,
			    gai_strerror(rc));
		return ((rc == EAI_SYSTEM || rc == EAI_MEMORY) ?
		    CLIENT_ERR_SYS : CLIENT_ERR_NOHOST);
	}
	return (0);
}

/* Is ${err}, from socket() or connect(), a fault of this host? */
static int
client_dial_local(int err)
{

	return (err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM || err == EPERM || err == EACCES);
}

/* Wait up to ${timeout_ms} for the connect on ${fd}; 0 or -1 (errno). */
static int
client_dial_wait(int fd, uint64_t timeout_ms)
{
	struct pollfd pfd = { fd, POLLOUT, 0 };
	socklen_t len = sizeof(int);
	int err = 0, rc;

	do {
		rc = poll(&pfd, 1, (int)timeout_ms);
	} while (rc == -1 && errno == EINTR);
	if (rc == -1)
		return (-1);
	if (rc == 0) {
		errno = ETIMEDOUT;
		return (-1);
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return (-1);
	if (err != 0) {
		errno = err;
		return (-1);
	}
	return (0);
}

/* Connect a new socket to ${ai}; the socket, or -1 (errno). */
static int
client_dial_one(const struct addrinfo * ai, uint64_t timeout_ms)
{
	int fd, one = 1, err;

	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, IPPROTO_TCP)) == -1)
		goto err0;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 &&
	    (errno != EINPROGRESS || client_dial_wait(fd, timeout_ms)))
		goto err1;

	/* Success! */
	return (fd);

err1:
	err = errno;
	close(fd);
	errno = err;
err0:
	/* Failure! */
	return (-1);
}

/* Connect to the first address that answers. */
int
client_dial(const struct addrinfo * ai, const char * host,
    uint64_t timeout_ms)
{
	const struct addrinfo * a;
	char str[NET_ADDRSTR_MAX];
	unsigned int n = 0;
	int fd, err = EHOSTUNREACH;

	for (a = ai; a != NULL; a = a->ai_next) {
		if (a->ai_family != AF_INET && a->ai_family != AF_INET6)
			continue;
		n++;
		(void)net_format(a->ai_addr, str, sizeof(str));
		if ((fd = client_dial_one(a, timeout_ms)) != -1) {
			log_debug("connected to %s", str);
			return (fd);
		}
		err = errno;
		log_errno(LOG_DEBUG, "cannot connect to %s", str);
		if (client_dial_local(err)) {
			log_errp("cannot connect to '%s'", host);
			return (CLIENT_ERR_SYS);
		}
	}
	errno = err;
	log_errp("cannot connect to '%s' (%u address%s tried)", host, n,
	    (n == 1) ? "" : "es");
	return (CLIENT_ERR_PEER);
}
