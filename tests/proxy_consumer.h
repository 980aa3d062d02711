#ifndef PROXY_CONSUMER_H_
#define PROXY_CONSUMER_H_

/*
 * Real PROXY protocol consumers for tests: Debian's nginx (nginx-light,
 * "listen ... proxy_protocol") and haproxy ("bind ... accept-proxy"), each
 * a child process of the test with its configuration and logs in a
 * private directory under /tmp, listening on 127.0.0.1 and [::1] on ports
 * the kernel handed out just before (retried when another process took
 * one first).  Each answers "GET /" and shows the address it parsed from
 * the PROXY header: nginx in its access log, haproxy in its answer, both
 * as "SRC SPORT DST DPORT" (e.g. "2001:db8::1 51234 2001:db8::2 443").
 * Used by tests/test_proxyhdr.c; meant for the relay's integration tests
 * too (start one, point --normal/--hidden HOST:PORT,proxy=vN at port4 or
 * port6, connect through the relay, read what it parsed).
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The programs, as Debian installs them. */
#define PROXY_NGINX_BIN		"/usr/sbin/nginx"
#define PROXY_HAPROXY_BIN	"/usr/sbin/haproxy"

/* Kinds of consumer. */
#define PROXY_NGINX	1
#define PROXY_HAPROXY	2
#define PROXY_BALANCER	3	/* haproxy from contrib/haproxy/haproxy.cfg. */

/* Most servers behind a balancer. */
#define PROXY_SERVERS_MAX	8

/* A running consumer. */
struct proxy_consumer {
	int kind;		/* PROXY_NGINX or PROXY_HAPROXY. */
	pid_t pid;		/* The server (one process); -1 once stopped. */
	uint16_t port4;		/* Its PROXY listener on 127.0.0.1. */
	uint16_t port6;		/* Its PROXY listener on [::1]. */
	char dir[64];		/* Its directory: config, logs, temp files. */
	char src[256];		/* PROXY_BALANCER: the configuration read, */
	uint16_t servers[PROXY_SERVERS_MAX];	/* the servers' ports on */
	size_t nservers;			/* 127.0.0.1. */
};

/**
 * proxy_have(kind):
 * Return 1 if the program of ${kind} is installed (executable), else 0.
 */
int proxy_have(int);

/**
 * proxy_nginx_start(P):
 * Start nginx (one process, "master_process off", "daemon off") with a
 * server listening with proxy_protocol on 127.0.0.1:${P}->port4 and
 * [::1]:${P}->port6 that answers every request with 200 "ok\n" and logs
 * one line "$proxy_protocol_addr $proxy_protocol_port
 * $proxy_protocol_server_addr $proxy_protocol_server_port" per request to
 * its access log; return once both listeners are open (within 5 s per try,
 * up to 5 tries on a port taken meanwhile).  Return 0, or -1 after saying
 * why on stderr (nothing left running or on disk).
 */
int proxy_nginx_start(struct proxy_consumer *);

/**
 * proxy_haproxy_start(P):
 * As proxy_nginx_start, for haproxy ("-db", mode http, "noreuseport") with
 * "bind ... accept-proxy" on both listeners, answering every request with
 * 200 and the body "%[src] %[src_port] %[dst] %[dst_port]\n".
 */
int proxy_haproxy_start(struct proxy_consumer *);

/**
 * proxy_balancer_start(P, path, ports, n):
 * Start haproxy as a balancer from the configuration at ${path}
 * (contrib/haproxy/haproxy.cfg) with its "bind :443" moved to
 * 127.0.0.1:${P}->port4 and [::1]:${P}->port6, and its "server rN ..."
 * lines sent to 127.0.0.1:${ports}[N-1] for N up to ${n} (the others left
 * out), checked every 300 ms; the rest of the file as it is.  Its log
 * (stdout) goes to ${P}->dir/server.log.  Return 0, or -1 after saying why
 * on stderr.
 */
int proxy_balancer_start(struct proxy_consumer *, const char *,
    const uint16_t *, size_t);

/**
 * proxy_consumer_stop(P):
 * Stop the server of ${P} (SIGTERM, SIGKILL after 3 s), reap it and remove
 * its directory.  Safe to call twice.
 */
void proxy_consumer_stop(struct proxy_consumer *);

/**
 * proxy_http_get(family, port, pre, prelen, resp, resplen, ms):
 * Connect to 127.0.0.1 or ::1 (${family}) at ${port}, send the ${prelen}
 * bytes of ${pre} (a PROXY header, or nothing) and "GET / HTTP/1.0" in a
 * single send, and read the answer until EOF, ${resplen} - 1 bytes or
 * ${ms}.  Store it NUL-terminated in ${resp}; return its length, or -1 if
 * the connection failed.
 */
ssize_t proxy_http_get(int, uint16_t, const void *, size_t, char *, size_t,
    int);

/**
 * proxy_http_body(resp):
 * Return the body of the HTTP answer ${resp} if its status is 200, else
 * NULL.
 */
const char * proxy_http_body(const char *);

/**
 * proxy_nginx_log_line(P, n, line, linelen, ms):
 * Wait up to ${ms} until the access log of the nginx ${P} holds ${n}
 * lines (nginx writes a line once the answer is sent), then store line
 * ${n} (from 1, without its newline) in ${line}.  Return 0, or -1.
 */
int proxy_nginx_log_line(const struct proxy_consumer *, int, char *, size_t,
    int);

#endif /* !PROXY_CONSUMER_H_ */
