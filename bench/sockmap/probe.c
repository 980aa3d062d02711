/*
 * probe.c -- the sockmap probe (bench/sockmap/README.md).  Not part of the
 * relay: a throw-away relay that measures what a BPF sockmap would give.
 *
 *   probe relay OBJ LPORT TPORT   load OBJ (relay.bpf.o), relay 127.0.0.1:LPORT
 *                                 to 127.0.0.1:TPORT with every accepted pair
 *                                 in the sockmap; exit 71 if the kernel refuses
 *   probe xfer RPORT BPORT MIB STALL
 *                                 a backend on BPORT and a client through
 *                                 RPORT: MIB MiB of a checked stream, the
 *                                 backend not reading for STALL seconds, a
 *                                 reply after the client's FIN
 */
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SLOTS	2048
#define REPLY	"reply-after-fin\n"

struct pair {
	int fd[2];		/* client, backend */
	int eof[2];
	uint32_t idx[2];	/* index of fd[i] in socks */
	uint64_t cookie[2];
};

struct maps {
	int socks;
	int peer;
};

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/* Bytes received by fd, the FIN included (tcpi_bytes_received counts it). */
static long long
rcvd(int fd)
{
	struct tcp_info ti;
	socklen_t l = sizeof(ti);

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l))
		return (-1);
	return ((long long)ti.tcpi_bytes_received);
}

/* Bytes written into fd: acknowledged plus still in the send queue. */
static long long
written(int fd)
{
	struct tcp_info ti;
	socklen_t l = sizeof(ti);
	int q = 0;

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &l) ||
	    ioctl(fd, SIOCOUTQ, &q))
		return (-1);
	return ((long long)ti.tcpi_bytes_acked + q);
}

static struct sockaddr_in
lo(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };

	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return (a);
}

static int
maps_load(const char * path, struct maps * M)
{
	struct bpf_object * o;
	int prog;

	if ((o = bpf_object__open_file(path, NULL)) == NULL ||
	    bpf_object__load(o)) {
		fprintf(stderr, "probe: cannot load %s: %s\n", path,
		    strerror(errno));
		return (-1);
	}
	M->socks = bpf_map__fd(bpf_object__find_map_by_name(o, "socks"));
	M->peer = bpf_map__fd(bpf_object__find_map_by_name(o, "peer"));
	prog = bpf_program__fd(bpf_object__find_program_by_name(o, "verdict"));
	if (bpf_prog_attach(prog, M->socks, BPF_SK_SKB_STREAM_VERDICT, 0)) {
		fprintf(stderr, "probe: cannot attach the verdict: %s\n",
		    strerror(errno));
		return (-1);
	}
	return (0);
}

/* Put both sockets of P into the maps: peers first, then the sockets. */
static int
pair_insert(struct maps * M, struct pair * P)
{
	socklen_t l;
	uint64_t v;
	int s;

	for (s = 0; s < 2; s++) {
		l = sizeof(P->cookie[s]);
		if (getsockopt(P->fd[s], SOL_SOCKET, SO_COOKIE, &P->cookie[s],
		    &l) || bpf_map_update_elem(M->peer, &P->cookie[s],
		    &P->idx[!s], BPF_ANY))
			return (-1);
	}
	for (s = 1; s >= 0; s--) {
		v = (uint64_t)P->fd[s];
		if (bpf_map_update_elem(M->socks, &P->idx[s], &v, BPF_ANY))
			return (-1);
	}
	return (0);
}

/* Remove P from the maps, close it, and say whether the maps are clean. */
static void
pair_close(struct maps * M, struct pair * P)
{
	uint32_t i;
	uint64_t v;
	int s, left = 0;

	for (s = 0; s < 2; s++) {
		bpf_map_delete_elem(M->socks, &P->idx[s]);
		bpf_map_delete_elem(M->peer, &P->cookie[s]);
		close(P->fd[s]);
	}
	for (s = 0; s < 2; s++) {
		i = P->idx[s];
		if (bpf_map_lookup_elem(M->socks, &i, &v) == 0 ||
		    bpf_map_lookup_elem(M->peer, &P->cookie[s], &i) == 0)
			left++;
	}
	fprintf(stderr, "close: %d entries left in the maps\n", left);
}

/*
 * Side S of P reached EOF (R == 0) or an error: wait until every byte it
 * received has been written into the peer (the redirect runs in a kernel
 * worker, so the FIN can overtake the data), then pass the FIN on.
 */
static void
pair_eof(struct pair * P, int s, ssize_t r, int err)
{
	long long in = rcvd(P->fd[s]) - (r == 0), parked;
	double t0 = now();

	parked = in - written(P->fd[!s]);
	while (written(P->fd[!s]) < in && now() - t0 < 4)
		usleep(200);
	fprintf(stderr, "eof side %d (%s): received %lld, parked in the kernel"
	    " at EOF %lld, written %lld after %.1f ms\n", s,
	    r == 0 ? "FIN" : strerror(err), in, parked, written(P->fd[!s]),
	    (now() - t0) * 1e3);
	shutdown(P->fd[!s], SHUT_WR);
	P->eof[s] = 1;
}

static int
relay(const char * obj, int lport, int tport)
{
	struct pair * tab[SLOTS] = { 0 };
	struct epoll_event ev, e[64];
	struct sockaddr_in a = lo(lport), t = lo(tport);
	struct maps M;
	struct pair * P;
	uint32_t next = 0;
	char buf[65536];
	int ls, ep, n, i, s, slot, one = 1;
	ssize_t r;

	if (maps_load(obj, &M))
		return (71);
	if ((ls = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 128) ||
	    (ep = epoll_create1(0)) == -1)
		return (1);
	ev.events = EPOLLIN;
	ev.data.u64 = UINT64_MAX;
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	fprintf(stderr, "probe: ready\n");
	for (;;) {
		n = epoll_wait(ep, e, 64, -1);
		for (i = 0; i < n; i++) {
			if (e[i].data.u64 == UINT64_MAX) {
				slot = next++ % SLOTS;
				if (tab[slot] != NULL)
					continue;
				P = calloc(1, sizeof(*P));
				P->fd[0] = accept(ls, NULL, NULL);
				P->fd[1] = socket(AF_INET, SOCK_STREAM, 0);
				if (connect(P->fd[1], (struct sockaddr *)&t,
				    sizeof(t))) {
					close(P->fd[0]), close(P->fd[1]);
					free(P);
					continue;
				}
				for (s = 0; s < 2; s++)
					P->idx[s] = 2 * slot + s;
				if (pair_insert(&M, P))
					fprintf(stderr, "insert: %s\n",
					    strerror(errno));
				/*
				 * Bytes queued before the insert wait for the
				 * next skb; one recv hands them to the verdict.
				 */
				r = recv(P->fd[0], buf, sizeof(buf),
				    MSG_DONTWAIT);
				if (r != -1 || errno != EAGAIN)
					fprintf(stderr, "kick: %zd\n", r);
				tab[slot] = P;
				for (s = 0; s < 2; s++) {
					ev.events = EPOLLRDHUP | EPOLLET;	/* not EPOLLIN: it spins */
					ev.data.u64 = ((uint64_t)slot << 1) | s;
					epoll_ctl(ep, EPOLL_CTL_ADD, P->fd[s],
					    &ev);
				}
				continue;
			}
			slot = e[i].data.u64 >> 1;
			s = e[i].data.u64 & 1;
			if ((P = tab[slot]) == NULL || P->eof[s])
				continue;
			r = recv(P->fd[s], buf, sizeof(buf), MSG_DONTWAIT);
			if (r > 0) {
				/* SK_PASS: only before the insert. */
				fprintf(stderr, "user space saw %zd bytes\n", r);
				send(P->fd[!s], buf, r, MSG_NOSIGNAL);
				continue;
			}
			if (r < 0 && errno == EAGAIN)
				continue;
			/*
			 * The kernel worker reports EPIPE on a socket whose
			 * write side was shut: not the peer's error.
			 */
			if (r < 0 && errno == EPIPE && P->eof[!s])
				continue;
			pair_eof(P, s, r, errno);
			epoll_ctl(ep, EPOLL_CTL_DEL, P->fd[s], NULL);
			if (P->eof[!s]) {
				pair_close(&M, P);
				free(P);
				tab[slot] = NULL;
			}
		}
	}
}

/* The checked stream: byte i of the transfer. */
static unsigned char
stream(uint64_t i)
{
	uint64_t x = (i >> 3) * 0x9e3779b97f4a7c15ULL;

	return ((unsigned char)((x ^ (x >> 29)) >> ((i & 7) * 8)));
}

struct backend {
	int ls;
	int stall;
	uint64_t got;
	int inorder;
};

static void *
backend_run(void * cookie)
{
	struct backend * B = cookie;
	unsigned char buf[1 << 16];
	ssize_t r, k;
	int c;

	B->inorder = 1;
	if ((c = accept(B->ls, NULL, NULL)) == -1)
		return (NULL);
	sleep(B->stall);
	while ((r = recv(c, buf, sizeof(buf), 0)) > 0)
		for (k = 0; k < r; k++, B->got++)
			if (buf[k] != stream(B->got))
				B->inorder = 0;
	send(c, REPLY, strlen(REPLY), MSG_NOSIGNAL);
	close(c);
	return (NULL);
}

/* MemAvailable in MiB, and the TCP line's "mem" (pages) of sockstat. */
static void
kmem(long * avail, long * tcpmem)
{
	char line[256];
	FILE * f;

	*avail = *tcpmem = -1;
	if ((f = fopen("/proc/meminfo", "r")) != NULL) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "MemAvailable: %ld", avail) == 1)
				*avail /= 1024;
		fclose(f);
	}
	if ((f = fopen("/proc/net/sockstat", "r")) != NULL) {
		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "TCP:", 4) == 0 &&
			    strstr(line, "mem ") != NULL)
				*tcpmem = atol(strstr(line, "mem ") + 4);
		fclose(f);
	}
}

/*
 * Push the stream from byte from to byte total until done or blocked for
 * ms milliseconds; return the bytes pushed.
 */
static uint64_t
push(int c, uint64_t from, uint64_t total, int ms)
{
	unsigned char buf[1 << 16];
	struct pollfd pfd = { .fd = c, .events = POLLOUT };
	uint64_t sent = from;
	ssize_t w, k;

	while (sent < total) {
		for (k = 0; k < (ssize_t)sizeof(buf); k++)
			buf[k] = stream(sent + k);
		w = sizeof(buf);
		if ((uint64_t)w > total - sent)
			w = total - sent;
		if ((w = send(c, buf, w, MSG_DONTWAIT | MSG_NOSIGNAL)) > 0) {
			sent += w;
			continue;
		}
		if (w < 0 && errno != EAGAIN)
			break;
		if (poll(&pfd, 1, ms) == 0)
			break;
	}
	return (sent - from);
}

static int
xfer(int rport, int bport, long mib, int stall)
{
	struct sockaddr_in r = lo(rport), b = lo(bport);
	struct backend B = { .stall = stall };
	uint64_t total = (uint64_t)mib << 20, sent;
	long a0, t0, a1, t1;
	char reply[64] = "";
	pthread_t th;
	double start;
	ssize_t n;
	int c, one = 1;

	B.ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(B.ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(B.ls, (struct sockaddr *)&b, sizeof(b)) || listen(B.ls, 8))
		return (1);
	pthread_create(&th, NULL, backend_run, &B);
	kmem(&a0, &t0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(c, (struct sockaddr *)&r, sizeof(r)))
		return (1);
	start = now();
	sent = push(c, 0, total, 2000);
	kmem(&a1, &t1);
	if (stall)
		printf("stalled backend: client pushed %llu MiB in %.1f s;"
		    " MemAvailable -%ld MiB, sockstat TCP mem +%ld pages\n",
		    (unsigned long long)(sent >> 20), now() - start, a0 - a1,
		    t1 - t0);
	sent += push(c, sent, total, 20000);	/* the backend reads again */
	shutdown(c, SHUT_WR);
	n = recv(c, reply, sizeof(reply) - 1, 0);
	pthread_join(th, NULL);
	printf("sent %llu got %llu in order %s, reply after FIN: %s (%.2f s)\n",
	    (unsigned long long)sent, (unsigned long long)B.got,
	    B.inorder && B.got == sent ? "yes" : "NO",
	    n > 0 && strcmp(reply, REPLY) == 0 ? "yes" : "NO", now() - start);
	return (B.inorder && B.got == sent && n > 0 ? 0 : 1);
}

int
main(int argc, char ** argv)
{
	if (argc == 5 && strcmp(argv[1], "relay") == 0)
		return (relay(argv[2], atoi(argv[3]), atoi(argv[4])));
	if (argc == 6 && strcmp(argv[1], "xfer") == 0)
		return (xfer(atoi(argv[2]), atoi(argv[3]), atol(argv[4]),
		    atoi(argv[5])));
	fprintf(stderr, "usage: probe relay OBJ LPORT TPORT\n"
	    "       probe xfer RPORT BPORT MIB STALL\n");
	return (2);
}
