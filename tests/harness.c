/*
 * The test harness: the binaries under test, loopback listeners, plain
 * client sockets, h_client_start, the descriptor limit and a network
 * namespace with small buffers; what aborts the test when it fails.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* ---- the binaries under test ---- */

const char *
h_bin_relay(void)
{
	const char * s = getenv("L7KK_BIN");

	return ((s != NULL && *s != '\0') ? s : "../l7knockknock");
}

const char *
h_bin_client(void)
{
	const char * s = getenv("L7KK_CLIENT_BIN");

	return ((s != NULL && *s != '\0') ? s : "../l7knockknock-client");
}

/* ---- plain client sockets ---- */

int
h_listen(int family, int backlog, uint16_t * port)
{
	struct sockaddr_storage ss;
	socklen_t len = h_loopback(&ss, family, 0);
	int fd, one = 1;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0, "listener socket: %s", strerror(errno));
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert(bind(fd, (struct sockaddr *)&ss, len) == 0,
	    "listener bind: %s", strerror(errno));
	cr_assert(listen(fd, backlog) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&ss, &len) == 0);
	if (ss.ss_family == AF_INET6)
		*port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		*port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return (fd);
}

int
h_connect(int family, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = h_loopback(&ss, family, port);
	int fd, one = 1;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0, "socket: %s", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	cr_assert(connect(fd, (struct sockaddr *)&ss, len) == 0,
	    "connect to port %u: %s", port, strerror(errno));
	return (fd);
}

int
h_connect_from(const char * src, uint16_t port)
{
	struct sockaddr_in sin;
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0, "socket: %s", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	cr_assert(inet_pton(AF_INET, src, &sin.sin_addr) == 1, "%s", src);
	cr_assert(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0,
	    "bind %s: %s", src, strerror(errno));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	cr_assert(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0,
	    "connect from %s to port %u: %s", src, port, strerror(errno));
	return (fd);
}

void
h_client_start(struct h_client * C, const struct h_client_conf * conf)
{
	struct pollfd p;
	int err = 0;
	socklen_t len = sizeof(err);

	cr_assert(h_client_open(C, conf) == 0, "client to port %u: %s",
	    conf->port, strerror(errno));
	p.fd = C->fd;
	p.events = POLLOUT;
	cr_assert(poll(&p, 1, 5000) == 1, "connect to port %u timed out",
	    conf->port);
	cr_assert(getsockopt(C->fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
	    err == 0, "connect to port %u: %s", conf->port, strerror(err));
	C->connecting = 0;
}

void
h_send_all(int fd, const void * buf, size_t len)
{
	const uint8_t * p = buf;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		cr_assert(n > 0, "send: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

/* Wait for ${fd} to be readable within what is left until ${end}. */
static int
h_readable(int fd, uint64_t end)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t now = h_now_ms();

	if (now >= end)
		return (0);
	return (poll(&p, 1, (int)(end - now)) > 0);
}

size_t
h_recv(int fd, void * buf, size_t max, int ms)
{
	uint64_t end = h_now_ms() + (uint64_t)ms;
	size_t got = 0;
	ssize_t n;

	while (got < max && h_readable(fd, end)) {
		n = recv(fd, (uint8_t *)buf + got, max - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return (got);
}

int
h_wait_closed(int fd, int ms)
{
	uint64_t end = h_now_ms() + (uint64_t)ms;
	char c[4096];
	ssize_t n;

	while (h_readable(fd, end)) {
		n = recv(fd, c, sizeof(c), 0);
		if (n <= 0)
			return (1);
	}
	return (0);
}

int
h_wait_end(int fd, int ms)
{
	uint64_t end = h_now_ms() + (uint64_t)ms;
	char c[4096];
	ssize_t n;

	while (h_readable(fd, end)) {
		if ((n = recv(fd, c, sizeof(c), 0)) == 0)
			return (0);
		if (n == -1 && errno != EINTR && errno != EAGAIN)
			return (errno);
	}
	return (-1);
}

void
h_raise_nofile(unsigned long n)
{
	struct rlimit rl;

	cr_assert(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_cur >= n)
		return;
	rl.rlim_cur = (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > n) ?
	    n : rl.rlim_max;
	cr_assert(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	cr_assert(rl.rlim_cur >= n, "descriptor limit %llu < %lu",
	    (unsigned long long)rl.rlim_cur, n);
}

/* ---- a network namespace with small TCP buffers ---- */

int
h_sysctl(const char * path, const char * val)
{
	int fd, rc = -1;

	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1)
		return (-1);
	if (write(fd, val, strlen(val)) == (ssize_t)strlen(val))
		rc = 0;
	close(fd);
	return (rc);
}

int
h_small_buffers(void)
{
	struct ifreq ifr;
	int fd, rc;

	if (unshare(CLONE_NEWNET))
		return (-1);
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (rc == 0)
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	close(fd);
	if (rc)
		return (-1);
	if (h_sysctl("/proc/sys/net/ipv4/tcp_wmem", "4096 16384 16384") ||
	    h_sysctl("/proc/sys/net/ipv4/tcp_rmem", "4096 16384 16384"))
		return (-1);
	return (0);
}

/* A loopback port that was free a moment ago (bind to 0, ask, close). */
uint16_t
h_free_port(int family)
{
	struct sockaddr_storage ss;
	socklen_t len = h_loopback(&ss, family, 0);
	uint16_t port = 0;
	int fd;

	if ((fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return (0);
	if (bind(fd, (struct sockaddr *)&ss, len) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
		port = ntohs(family == AF_INET ?
		    ((struct sockaddr_in *)&ss)->sin_port :
		    ((struct sockaddr_in6 *)&ss)->sin6_port);
	close(fd);
	return (port);
}

size_t
h_proxy_v2(uint8_t * out, uint8_t vc, uint8_t fam, uint16_t lenfield,
    const void * blk, size_t len)
{

	memcpy(out, "\r\n\r\n\0\r\nQUIT\n", 12);
	out[12] = vc;
	out[13] = fam;
	out[14] = (uint8_t)(lenfield >> 8);
	out[15] = (uint8_t)lenfield;
	memcpy(&out[16], blk, len);
	return (16 + len);
}
