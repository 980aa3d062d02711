#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "net.h"

/* Parse an address literal. */
int
net_literal(const char * host, uint16_t port, struct net_addr * a)
{
	struct sockaddr_in * sin = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 * sin6 = (struct sockaddr_in6 *)&a->ss;

	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		a->len = sizeof(*sin);
		return (0);
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		a->len = sizeof(*sin6);
		return (0);
	}
	return (-1);
}

/* Resolve a literal or a host name, once. */
int
net_resolve(const char * host, uint16_t port, struct net_addr * a)
{
	struct addrinfo hints, * res;
	int rc;

	if (net_literal(host, port, a) == 0)
		return (0);

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	if ((rc = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		log_err("cannot resolve host '%s': %s", host,
		    rc == EAI_SYSTEM ? strerrordesc_np(errno) :
		    gai_strerror(rc));
		goto err0;
	}
	if (res->ai_addrlen > sizeof(a->ss)) {
		log_err("cannot resolve host '%s': address too long", host);
		goto err1;
	}
	memset(a, 0, sizeof(*a));
	memcpy(&a->ss, res->ai_addr, res->ai_addrlen);
	a->len = res->ai_addrlen;
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
	freeaddrinfo(res);

	/* Success! */
	return (0);

err1:
	freeaddrinfo(res);
err0:
	/* Failure! */
	return (-1);
}

/*
 * Set the socket options of a listener.  TCP_NODELAY and SO_OOBINLINE are
 * for the accepted sockets, which inherit them: no call per connection.
 */
static int
net_listen_opts(int fd, int family, int reuseport)
{
	int one = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one)))
		return (-1);
	if (reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		return (-1);
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)))
		return (-1);
	return (0);
}

/* Create a listening socket. */
int
net_listen(struct net_addr * a, int reuseport)
{
	char str[NET_ADDRSTR_MAX];
	int fd;

	net_format((struct sockaddr *)&a->ss, str, sizeof(str));
	if ((fd = socket(a->ss.ss_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP)) == -1) {
		log_errp("cannot create a socket for %s", str);
		goto err0;
	}
	if (net_listen_opts(fd, a->ss.ss_family, reuseport)) {
		log_errp("cannot set socket options for %s", str);
		goto err1;
	}
	if (bind(fd, (struct sockaddr *)&a->ss, a->len)) {
		log_errp("cannot listen on %s", str);
		goto err1;
	}
	/* The kernel caps the backlog at net.core.somaxconn. */
	if (listen(fd, INT_MAX)) {
		log_errp("cannot listen on %s", str);
		goto err1;
	}
	if (getsockname(fd, (struct sockaddr *)&a->ss, &a->len)) {
		log_errp("getsockname on %s", str);
		goto err1;
	}

	/* Success! */
	return (fd);

err1:
	close(fd);
err0:
	/* Failure! */
	return (-1);
}

/* Format an address and port. */
char *
net_format(const struct sockaddr * sa, char * buf, size_t buflen)
{
	char host[INET6_ADDRSTRLEN];
	const struct sockaddr_in * sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 * sin6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET &&
	    inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host)))
		snprintf(buf, buflen, "%s:%u", host, ntohs(sin->sin_port));
	else if (sa->sa_family == AF_INET6 &&
	    inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host)))
		snprintf(buf, buflen, "[%s]:%u", host, ntohs(sin6->sin6_port));
	else
		snprintf(buf, buflen, "(unknown address)");
	return (buf);
}

/* The port of an address. */
uint16_t
net_port(const struct sockaddr * sa)
{

	if (sa->sa_family == AF_INET)
		return (ntohs(((const struct sockaddr_in *)sa)->sin_port));
	return (ntohs(((const struct sockaddr_in6 *)sa)->sin6_port));
}
