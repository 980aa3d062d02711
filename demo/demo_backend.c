/*
 * demo_backend MODE PORT: a tiny backend for `make demo` on 127.0.0.1:PORT.
 *   http  answers every request like a web server and closes.
 *   ssh   greets like an SSH server, then echoes each line back.
 * One process per connection; not for production use.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void
serve_http(int fd)
{
	static const char body[] =
	    "Hello from the NORMAL backend (a web server).\n";
	char buf[4096], resp[512];
	size_t len = 0;
	ssize_t n;

	/* Read the request head (or whatever arrives before EOF). */
	while (len < sizeof(buf) - 1 &&
	    (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0) {
		len += (size_t)n;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			break;
	}
	n = snprintf(resp, sizeof(resp), "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n%s", sizeof(body) - 1, body);
	(void)!write(fd, resp, (size_t)n);
}

static void
serve_ssh(int fd)
{
	static const char greet[] =
	    "SSH-2.0-DemoHidden (the HIDDEN backend: type a line, get it back)\r\n";
	char buf[4096];
	ssize_t n;

	(void)!write(fd, greet, sizeof(greet) - 1);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		(void)!write(fd, "hidden echo: ", 13);
		(void)!write(fd, buf, (size_t)n);
	}
}

int
main(int argc, char * argv[])
{
	struct sockaddr_in sin;
	int s, fd, one = 1, http;

	if (argc != 3 || (strcmp(argv[1], "http") && strcmp(argv[1], "ssh"))) {
		fprintf(stderr, "usage: demo_backend http|ssh PORT\n");
		exit(64);
	}
	http = (strcmp(argv[1], "http") == 0);
	signal(SIGCHLD, SIG_IGN);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(argv[2]));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(s, (struct sockaddr *)&sin, sizeof(sin)) || listen(s, 64)) {
		fprintf(stderr, "demo_backend: cannot listen on 127.0.0.1:%s: ",
		    argv[2]);
		perror(NULL);
		exit(1);
	}
	for (;;) {
		if ((fd = accept(s, NULL, NULL)) == -1)
			continue;
		if (fork() == 0) {
			close(s);
			if (http)
				serve_http(fd);
			else
				serve_ssh(fd);
			exit(0);
		}
		close(fd);
	}
}
