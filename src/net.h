#ifndef NET_H_
#define NET_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Room for "[IPv6]:port" and a NUL. */
#define NET_ADDRSTR_MAX	64

/* A socket address and its length. */
struct net_addr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/**
 * net_literal(host, port, a):
 * If ${host} is an IPv4 or IPv6 address literal, store it with ${port} in
 * ${a} and return 0; otherwise return -1 (nothing reported).  An
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) is stored as the IPv4 address
 * a.b.c.d: the listeners are IPv6-only, so it would never be reached.
 */
int net_literal(const char *, uint16_t, struct net_addr *);

/* Most addresses of one host name considered. */
#define NET_RESOLVE_MAX	8

/**
 * net_resolve(host, port, ms, a):
 * Store the address of ${host} with ${port} in ${a}: a literal as it is; a
 * name resolved now.  When the name has several addresses (localhost: ::1
 * and 127.0.0.1), each in turn (at most NET_RESOLVE_MAX) gets a TCP
 * connect bounded by ${ms} milliseconds, and the first that accepts is
 * chosen (logged); if none does, the first address is chosen with a
 * warning.  So the call takes at most NET_RESOLVE_MAX * ${ms} plus the
 * name look-up.  Return 0, or -1 after reporting the host that could not
 * be resolved.
 */
int net_resolve(const char *, uint16_t, uint64_t, struct net_addr *);

/**
 * net_listen(a, reuseport):
 * Return a non-blocking, close-on-exec TCP socket listening on ${a} with
 * the system's largest backlog (IPv6 sockets are IPv6-only; SO_REUSEPORT if
 * ${reuseport}; TCP_NODELAY and SO_OOBINLINE, which accepted sockets
 * inherit), or -1 after reporting the address that failed.  If ${a}
 * has port 0, ${a} is updated with the port the kernel chose.
 */
int net_listen(struct net_addr *, int);

/**
 * net_format(sa, buf, buflen):
 * Write "1.2.3.4:80" or "[::1]:80" for the socket address ${sa} into
 * ${buf} (at least NET_ADDRSTR_MAX bytes) and return ${buf}; a v4-mapped
 * IPv6 address is written as the IPv4 one.  No heap.
 */
char * net_format(const struct sockaddr *, char *, size_t);

/**
 * net_port(sa):
 * Return the port of the IPv4 or IPv6 address ${sa}, in host order.
 */
uint16_t net_port(const struct sockaddr *);

#endif /* !NET_H_ */
