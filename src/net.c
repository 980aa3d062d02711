#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "net.h"

/* Store the IPv4 address inside the v4-mapped ${sin6} with ${port}. */
static int
net_v4mapped(const struct sockaddr_in6 * sin6, uint16_t port,
    struct net_addr * a)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	memcpy(&sin.sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
	memset(a, 0, sizeof(*a));
	memcpy(&a->ss, &sin, sizeof(sin));
	a->len = sizeof(sin);
	return (0);
}

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
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			return (net_v4mapped(sin6, port, a));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		a->len = sizeof(*sin6);
		return (0);
	}
	return (-1);
}

/* Copy ${ai}'s address with ${port} into ${a}; -1 if it does not fit. */
static int
net_from_ai(const struct addrinfo * ai, uint16_t port, struct net_addr * a)
{

	if (ai->ai_addrlen > sizeof(a->ss) ||
	    (ai->ai_family != AF_INET && ai->ai_family != AF_INET6))
		return (-1);
	memset(a, 0, sizeof(*a));
	memcpy(&a->ss, ai->ai_addr, ai->ai_addrlen);
	a->len = ai->ai_addrlen;
	if (a->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
	return (0);
}

/* Does ${a} accept a TCP connection within ${ms}?  1 yes, 0 no. */
static int
net_accepts(const struct net_addr * a, uint64_t ms)
{
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int fd, err = 1;

	if ((fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, IPPROTO_TCP)) == -1)
		return (0);
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0)
		err = 0;
	else if (errno == EINPROGRESS) {
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, (int)ms) == 1 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = 1;
	}
	close(fd);
	return (err == 0);
}

/*
 * Choose among the ${n} addresses of ${host}: the first that accepts a
 * connection within ${ms}, else the first; say which.
 */
static void
net_choose(const char * host, struct net_addr * addrs, size_t n, uint64_t ms,
    struct net_addr * a)
{
	char str[NET_ADDRSTR_MAX];
	size_t i;

	for (i = 0; i < n && !net_accepts(&addrs[i], ms); i++)
		;
	if (i == n) {
		*a = addrs[0];
		log_warn("host '%s' has %zu addresses and none accepted a "
		    "connection now: using the first, %s", host, n,
		    net_format((struct sockaddr *)&a->ss, str, sizeof(str)));
		return;
	}
	*a = addrs[i];
	log_info("host '%s' has %zu addresses: using %s, the first that "
	    "accepted a connection", host, n,
	    net_format((struct sockaddr *)&a->ss, str, sizeof(str)));
}

/* Resolve a literal or a host name, once. */
int
net_resolve(const char * host, uint16_t port, uint64_t ms,
    struct net_addr * a)
{
	struct net_addr addrs[NET_RESOLVE_MAX];
	struct addrinfo hints, * res, * ai;
	size_t n = 0;
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
	for (ai = res; ai != NULL && n < NET_RESOLVE_MAX; ai = ai->ai_next)
		if (net_from_ai(ai, port, &addrs[n]) == 0)
			n++;
	freeaddrinfo(res);
	if (n == 0) {
		log_err("cannot resolve host '%s': no IPv4 or IPv6 address",
		    host);
		goto err0;
	}
	if (n == 1)
		*a = addrs[0];
	else
		net_choose(host, addrs, n, ms, a);

	/* Success! */
	return (0);

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
	    IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
	    inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], host,
	    sizeof(host)))
		/* A v4-mapped address (a [::] listener) is shown as IPv4. */
		snprintf(buf, buflen, "%s:%u", host, ntohs(sin6->sin6_port));
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
