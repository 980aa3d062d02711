/*
 * Real PROXY protocol consumers (nginx, haproxy) as child processes of a
 * test; see proxy_consumer.h.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "proxy_consumer.h"

/* Tries when another process takes a port first; time for one try. */
#define START_TRIES	5
#define START_MS	5000

/* The request sent after the PROXY header. */
static const char request[] = "GET / HTTP/1.0\r\nHost: proxy-test\r\n\r\n";

/* Milliseconds of the monotonic clock. */
static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

/* Sleep ${ms} milliseconds. */
static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	(void)nanosleep(&ts, NULL);
}

/* Write ${s} to the new file ${dir}/${name}; 0 or -1. */
static int
write_file(const char * dir, const char * name, const char * s)
{
	char path[128];
	FILE * f;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		return (-1);
	rc = (fputs(s, f) < 0) ? -1 : 0;
	if (fclose(f))
		rc = -1;
	return (rc);
}

/* Read up to ${len} - 1 bytes of ${dir}/${name} into ${buf}; length. */
static size_t
read_file(const char * dir, const char * name, char * buf, size_t len)
{
	char path[128];
	ssize_t n;
	int fd;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return (0);
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	return ((size_t)n);
}

/* The nginx configuration for ${P}. */
static void
nginx_conf(const struct proxy_consumer * P, char * s, size_t len)
{
	const char * d = P->dir;
	const char * pp = P->plain ? "" : " proxy_protocol";

	snprintf(s, len,
	    "master_process off;\n"
	    "daemon off;\n"
	    "pid %s/nginx.pid;\n"
	    "error_log %s/error.log info;\n"
	    "events { worker_connections 256; }\n"
	    "http {\n"
	    "    client_body_temp_path %s/body;\n"
	    "    proxy_temp_path %s/proxy;\n"
	    "    fastcgi_temp_path %s/fastcgi;\n"
	    "    uwsgi_temp_path %s/uwsgi;\n"
	    "    scgi_temp_path %s/scgi;\n"
	    "    log_format pp '$proxy_protocol_addr $proxy_protocol_port "
	    "$proxy_protocol_server_addr $proxy_protocol_server_port';\n"
	    "    server {\n"
	    "        listen 127.0.0.1:%u%s;\n"
	    "        listen [::1]:%u%s;\n"
	    "        access_log %s/access.log pp;\n"
	    "        location / { return 200 \"ok\\n\"; }\n"
	    "    }\n"
	    "}\n", d, d, d, d, d, d, d, P->port4, pp, P->port6, pp, d);
}

/* The haproxy configuration for ${P}. */
static void
haproxy_conf(const struct proxy_consumer * P, char * s, size_t len)
{

	snprintf(s, len,
	    "global\n"
	    "    nbthread 1\n"
	    "    noreuseport\n"
	    "defaults\n"
	    "    mode http\n"
	    "    timeout connect 2s\n"
	    "    timeout client 5s\n"
	    "    timeout server 5s\n"
	    "frontend fe\n"
	    "    bind 127.0.0.1:%u accept-proxy\n"
	    "    bind [::1]:%u accept-proxy\n"
	    "    http-request return status 200 content-type text/plain "
	    "lf-string \"%%[src] %%[src_port] %%[dst] %%[dst_port]\\n\"\n",
	    P->port4, P->port6);
}

/*
 * The balancer configuration: ${P}->src (contrib/haproxy/haproxy.cfg) with
 * its "bind :443" on 127.0.0.1:port4 and [::1]:port6, server rN at
 * 127.0.0.1:servers[N-1] (a server past nservers left out), checks every
 * 300 ms, one thread and no SO_REUSEPORT (a port taken shows).  -1 if the
 * file cannot be read or does not fit.
 */
static int
balancer_conf(const struct proxy_consumer * P, char * s, size_t len)
{
	char line[512], * sp;
	size_t n = 0;
	unsigned idx;
	int w = 0;
	FILE * f;

	if ((f = fopen(P->src, "r")) == NULL)
		return (-1);
	s[0] = '\0';
	while (fgets(line, sizeof(line), f) != NULL && w >= 0 &&
	    (size_t)w < len - n) {
		if (strstr(line, "bind :443") != NULL)
			w = snprintf(s + n, len - n, "\tbind 127.0.0.1:%u\n"
			    "\tbind [::1]:%u\n", P->port4, P->port6);
		else if (sscanf(line, " server r%u ", &idx) == 1 &&
		    (sp = strstr(line, " id ")) != NULL)
			w = (idx >= 1 && idx <= P->nservers) ? snprintf(s + n,
			    len - n, "\tserver r%u 127.0.0.1:%u%.*s inter "
			    "300ms\n", idx, P->servers[idx - 1],
			    (int)strcspn(sp, "\n"), sp) : 0;
		else if (strncmp(line, "global", 6) == 0)
			w = snprintf(s + n, len - n, "global\n\tnbthread 1\n"
			    "\tnoreuseport\n");
		else
			w = snprintf(s + n, len - n, "%s", line);
		n += (w > 0) ? (size_t)w : 0;
	}
	fclose(f);
	return ((w < 0 || n >= len - 1) ? -1 : 0);
}

/* Start ${argv} with its output in ${dir}/server.log; its pid or -1. */
static pid_t
spawn(char * const * argv, const char * dir)
{
	char path[128];
	pid_t parent = getpid(), pid;
	int fd;

	snprintf(path, sizeof(path), "%s/server.log", dir);
	if ((pid = fork()) != 0)
		return (pid);

	/* Child: die with the test, whatever happens to it. */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	if ((fd = open("/dev/null", O_RDONLY)) >= 0)
		(void)dup2(fd, 0);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600)) >= 0) {
		(void)dup2(fd, 1);
		(void)dup2(fd, 2);
	}
	execv(argv[0], argv);
	_exit(127);
}

/*
 * The inodes (up to ${max}) of the sockets listening on the loopback
 * ${family}:${port}; their number.
 */
static size_t
listen_inodes(int family, uint16_t port, unsigned long * inodes, size_t max)
{
	const char * want = (family == AF_INET) ? "0100007F" :
	    "00000000000000000000000001000000";
	char line[512], local[64];
	unsigned long inode;
	unsigned lport, st;
	size_t n = 0;
	FILE * f;

	f = fopen(family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6", "r");
	if (f == NULL)
		return (0);
	while (n < max && fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, " %*u: %63[0-9A-F]:%x %*s %x %*s %*s %*s "
		    "%*u %*u %lu", local, &lport, &st, &inode) != 4)
			continue;
		if (strcmp(local, want) == 0 && lport == port && st == 0x0A)
			inodes[n++] = inode;
	}
	fclose(f);
	return (n);
}

/* Does the process ${pid} hold the socket ${inode}? */
static int
holds_socket(pid_t pid, unsigned long inode)
{
	char dir[64], path[384], link[64], want[64];
	struct dirent * e;
	ssize_t n;
	int found = 0;
	DIR * d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	if ((d = opendir(dir)) == NULL)
		return (0);
	while (!found && (e = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		found = (strcmp(link, want) == 0);
	}
	closedir(d);
	return (found);
}

/*
 * Is ${pid} listening on the loopback ${family}:${port}?  1 yes, 0 not
 * yet, -1 if another process listens there too (a SO_REUSEPORT neighbour
 * would take some of the connections).
 */
static int
listening(pid_t pid, int family, uint16_t port)
{
	unsigned long inodes[8];
	size_t i, n = listen_inodes(family, port, inodes, 8);

	for (i = 0; i < n; i++)
		if (!holds_socket(pid, inodes[i]))
			return (-1);
	return (n > 0);
}

/* Kill and reap the server of ${P}; return ${rc}. */
static int
kill_server(struct proxy_consumer * P, int rc)
{
	int status;

	(void)kill(P->pid, SIGKILL);
	(void)waitpid(P->pid, &status, 0);
	P->pid = -1;
	return (rc);
}

/*
 * Wait until the server of ${P} listens on both ports: 0; 1 if it exited
 * first (reaped; maybe a port taken meanwhile) or shares a port with
 * another process (killed); -1 on timeout (killed).
 */
static int
wait_listening(struct proxy_consumer * P)
{
	long long end = mono_ms() + START_MS;
	int status, l4, l6;

	while (mono_ms() < end) {
		if (waitpid(P->pid, &status, WNOHANG) == P->pid) {
			P->pid = -1;
			return (1);
		}
		l4 = listening(P->pid, AF_INET, P->port4);
		l6 = listening(P->pid, AF_INET6, P->port6);
		if (l4 < 0 || l6 < 0)
			return (kill_server(P, 1));
		if (l4 && l6)
			return (0);
		sleep_ms(10);
	}
	return (kill_server(P, -1));
}

/* Remove one entry of a directory tree (nftw, depth first). */
static int
rm_entry(const char * path, const struct stat * st, int type,
    struct FTW * ftw)
{

	(void)st;
	(void)type;
	(void)ftw;
	(void)remove(path);
	return (0);
}

/* Build the argument vector for ${P} and its config file ${cfg}. */
static void
make_argv(const struct proxy_consumer * P, const char * cfg, char ** argv)
{

	if (P->kind == PROXY_NGINX) {
		argv[0] = (char *)PROXY_NGINX_BIN;
		argv[1] = (char *)"-c";
		argv[2] = (char *)cfg;
		argv[3] = (char *)"-p";
		argv[4] = (char *)P->dir;
		argv[5] = NULL;
	} else {
		argv[0] = (char *)PROXY_HAPROXY_BIN;
		argv[1] = (char *)"-f";
		argv[2] = (char *)cfg;
		argv[3] = (char *)"-db";
		argv[4] = NULL;
	}
}

/* One try: new ports, config, start, wait; 0, 1 (exited: retry) or -1. */
static int
start_once(struct proxy_consumer * P)
{
	char conf[8192], cfg[128], * argv[6];
	const char * name = (P->kind == PROXY_NGINX) ? "nginx.conf" :
	    "haproxy.cfg";

	if ((P->port4 = h_free_port(AF_INET)) == 0 ||
	    (P->port6 = h_free_port(AF_INET6)) == 0) {
		fprintf(stderr, "proxy_consumer: no free loopback port\n");
		return (-1);
	}
	if (P->kind == PROXY_NGINX)
		nginx_conf(P, conf, sizeof(conf));
	else if (P->kind == PROXY_HAPROXY)
		haproxy_conf(P, conf, sizeof(conf));
	else if (balancer_conf(P, conf, sizeof(conf))) {
		fprintf(stderr, "proxy_consumer: cannot read %s\n", P->src);
		return (-1);
	}
	if (write_file(P->dir, name, conf)) {
		fprintf(stderr, "proxy_consumer: cannot write %s/%s\n",
		    P->dir, name);
		return (-1);
	}
	snprintf(cfg, sizeof(cfg), "%s/%s", P->dir, name);
	make_argv(P, cfg, argv);
	if ((P->pid = spawn(argv, P->dir)) < 0) {
		fprintf(stderr, "proxy_consumer: fork: %s\n", strerror(errno));
		return (-1);
	}
	return (wait_listening(P));
}

/*
 * Start the consumer ${kind} as ${P} (zeroed, but for a balancer's;
 * ${plain}: nginx without PROXY headers).
 */
static int
consumer_start(struct proxy_consumer * P, int kind, int plain)
{
	char log[4096];
	int i, rc = 1;

	if (kind != PROXY_BALANCER)
		memset(P, 0, sizeof(*P));
	P->kind = kind;
	P->plain = plain;
	P->pid = -1;
	snprintf(P->dir, sizeof(P->dir), "/tmp/l7kk-proxy-XXXXXX");
	if (mkdtemp(P->dir) == NULL) {
		fprintf(stderr, "proxy_consumer: mkdtemp: %s\n",
		    strerror(errno));
		return (-1);
	}
	for (i = 0; i < START_TRIES && rc == 1; i++)
		rc = start_once(P);
	if (rc != 0) {
		read_file(P->dir, "server.log", log, sizeof(log));
		fprintf(stderr, "proxy_consumer: %s did not start (%s after "
		    "%d tries); its output:\n%s\n", kind == PROXY_NGINX ?
		    "nginx" : "haproxy", rc == 1 ? "exited" : "timeout", i,
		    log);
		proxy_consumer_stop(P);
		return (-1);
	}
	return (0);
}

/* Is the program of ${kind} installed? */
int
proxy_have(int kind)
{

	return (access(kind == PROXY_NGINX ? PROXY_NGINX_BIN :
	    PROXY_HAPROXY_BIN, X_OK) == 0);
}

/* Start nginx with PROXY listeners. */
int
proxy_nginx_start(struct proxy_consumer * P)
{

	return (consumer_start(P, PROXY_NGINX, 0));
}

/* Start nginx with plain listeners. */
int
proxy_nginx_plain_start(struct proxy_consumer * P)
{

	return (consumer_start(P, PROXY_NGINX, 1));
}

/* Start haproxy with PROXY listeners. */
int
proxy_haproxy_start(struct proxy_consumer * P)
{

	return (consumer_start(P, PROXY_HAPROXY, 0));
}

/* Start haproxy as a balancer in front of the relays at ${ports}. */
int
proxy_balancer_start(struct proxy_consumer * P, const char * path,
    const uint16_t * ports, size_t n)
{

	memset(P, 0, sizeof(*P));
	if (n > PROXY_SERVERS_MAX || strlen(path) >= sizeof(P->src))
		return (-1);
	snprintf(P->src, sizeof(P->src), "%s", path);
	memcpy(P->servers, ports, n * sizeof(ports[0]));
	P->nservers = n;
	return (consumer_start(P, PROXY_BALANCER, 0));
}

/* Stop a consumer and remove its directory. */
void
proxy_consumer_stop(struct proxy_consumer * P)
{
	long long end = mono_ms() + 3000;
	pid_t r = 0;
	int status;

	if (P->pid > 0) {
		(void)kill(P->pid, SIGTERM);
		while ((r = waitpid(P->pid, &status, WNOHANG)) == 0 &&
		    mono_ms() < end)
			sleep_ms(10);
		/* Not reaped yet: still ours, so the pid is not reused. */
		if (r == 0) {
			(void)kill(P->pid, SIGKILL);
			(void)waitpid(P->pid, &status, 0);
		}
		P->pid = -1;
	}
	if (P->dir[0] != '\0') {
		(void)nftw(P->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
		P->dir[0] = '\0';
	}
}

/* Send a header and a GET; read the answer. */
ssize_t
proxy_http_get(int family, uint16_t port, const void * pre, size_t prelen,
    char * resp, size_t resplen, int ms)
{
	uint8_t out[1024];
	struct sockaddr_storage ss;
	socklen_t sslen = h_loopback(&ss, family, port);
	struct pollfd pfd;
	long long end = mono_ms() + ms, left;
	size_t got = 0;
	ssize_t n;
	int fd;

	resp[0] = '\0';
	if (prelen + sizeof(request) > sizeof(out))
		return (-1);
	if (prelen > 0)
		memcpy(out, pre, prelen);
	memcpy(&out[prelen], request, sizeof(request) - 1);
	if ((fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return (-1);
	if (connect(fd, (struct sockaddr *)&ss, sslen) != 0 ||
	    send(fd, out, prelen + sizeof(request) - 1, MSG_NOSIGNAL) !=
	    (ssize_t)(prelen + sizeof(request) - 1)) {
		close(fd);
		return (-1);
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (got + 1 < resplen && (left = end - mono_ms()) > 0 &&
	    poll(&pfd, 1, (int)left) > 0) {
		if ((n = recv(fd, &resp[got], resplen - 1 - got, 0)) <= 0)
			break;
		got += (size_t)n;
	}
	resp[got] = '\0';
	close(fd);
	return ((ssize_t)got);
}

/* The body of a 200 answer. */
const char *
proxy_http_body(const char * resp)
{
	const char * body;

	if (strncmp(resp, "HTTP/1.", 7) != 0 || strncmp(&resp[8], " 200 ", 5))
		return (NULL);
	if ((body = strstr(resp, "\r\n\r\n")) == NULL)
		return (NULL);
	return (body + 4);
}

/* Wait for line ${n} of nginx's access log. */
int
proxy_nginx_log_line(const struct proxy_consumer * P, int n, char * line,
    size_t linelen, int ms)
{
	char log[8192];
	const char * p, * nl;
	long long end = mono_ms() + ms;
	int i;

	do {
		read_file(P->dir, "access.log", log, sizeof(log));
		for (p = log, i = 1; i < n && (nl = strchr(p, '\n')); i++)
			p = nl + 1;
		if (i == n && (nl = strchr(p, '\n')) != NULL) {
			snprintf(line, linelen, "%.*s", (int)(nl - p), p);
			return (0);
		}
		sleep_ms(10);
	} while (mono_ms() < end);
	line[0] = '\0';
	return (-1);
}
