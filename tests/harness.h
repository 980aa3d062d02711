#ifndef HARNESS_H_
#define HARNESS_H_

/*
 * Integration test harness: real backends (threads of the test process) on
 * loopback, and the real, sandboxed l7knockknock binary as a child process.
 */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Backend behaviours. */
#define BE_ECHO		0	/* Echo every byte; FIN after the client's. */
#define BE_GREET	1	/* Send "GREET <name>\n" first, then echo. */
#define BE_AT_EOF	2	/* Read to EOF, then reply "<len> <hash>\n". */
#define BE_NOREAD	3	/* Accept and never read. */
#define BE_URGENT	4	/* Send "GREET", urgent "U", "ING\n"; then echo. */

/* What a backend saw of its most recent connection. */
struct be_record {
	uint64_t len;		/* Bytes received. */
	uint64_t hash;		/* hash64() of them. */
	uint8_t head[512];	/* The first bytes. */
	size_t headlen;
	int done;		/* The client's EOF arrived. */
};

struct backend {
	int lfd;
	uint16_t port;
	int family;
	int mode;
	const char * name;
	pthread_t thr;
	volatile int stop;
	pthread_mutex_t mtx;
	unsigned conns;		/* Connections accepted. */
	unsigned done;		/* Connections that reached EOF. */
	struct be_record last;
};

/**
 * backend_start(B, family, mode, name):
 * Listen on 127.0.0.1 or ::1 (${family}), any port, and serve in threads.
 */
void backend_start(struct backend *, int, int, const char *);

/**
 * backend_stop(B): stop accepting and close the listener.
 */
void backend_stop(struct backend *);

/**
 * backend_wait_done(B, n, ms): wait until ${n} connections reached EOF.
 * Return 0, or -1 on timeout.
 */
int backend_wait_done(struct backend *, unsigned, int);

/* A running relay. */
struct relay_proc {
	pid_t pid;
	pid_t watchdog;		/* Kills the relay if the test dies. */
	int watchfd;
	uint16_t port;		/* The first listener's port. */
	int errfd;
	pthread_t thr;
	pthread_mutex_t mtx;
	char * log;		/* Everything it wrote on stderr. */
	size_t loglen;
	int exited;
	int status;
};

/* If non-zero, the relay starts with RLIMIT_NOFILE soft = hard = this. */
extern unsigned harness_nofile;

/**
 * relay_start(P, args): start ../l7knockknock (or $L7KK_BIN) with the
 * NULL-terminated ${args}; wait for its "ready" line (5 s) and learn its
 * port from "listening on".  Aborts the test on failure.
 */
void relay_start(struct relay_proc *, const char * const *);

/**
 * relay_start_as(P, args, uid, gid): as relay_start, run as ${uid}/${gid}
 * (no supplementary groups) unless ${uid} is 0.
 */
void relay_start_as(struct relay_proc *, const char * const *, uid_t, gid_t);

/**
 * relay_fd_others(P): descriptors above 2 that are not a socket, a pipe or
 * an anonymous inode (epoll, signalfd); each is named on stderr.
 */
int relay_fd_others(const struct relay_proc *);

/**
 * relay_stop(P, sig, ms): send ${sig}, wait up to ${ms}; return the wait
 * status, or -1 if it did not exit (it is then killed).
 */
int relay_stop(struct relay_proc *, int, int);

/**
 * relay_log_wait(P, s, ms): wait until stderr contains ${s}; 0 or -1.
 */
int relay_log_wait(struct relay_proc *, const char *, int);

/**
 * relay_log_count(P, s): occurrences of ${s} in the log so far.
 */
int relay_log_count(struct relay_proc *, const char *);

/**
 * relay_fd_count(P): open descriptors of the relay (from /proc).
 */
/**
 * relay_cpu_ticks(P): user + system clock ticks the relay has used.
 */
long relay_cpu_ticks(const struct relay_proc *);
int relay_fd_count(const struct relay_proc *);

/**
 * relay_fd_count_kind(P, kind): open descriptors of the relay whose
 * /proc/PID/fd link starts with ${kind} ("socket:", "pipe:"; NULL: all).
 */
int relay_fd_count_kind(const struct relay_proc *, const char *);

/**
 * harness_small_buffers():
 * Move the calling test process into a new network namespace of its own,
 * with loopback up and TCP socket buffers capped at 16 KiB each way (the
 * host's sysctls are untouched), so that a relay started afterwards meets
 * full buffers with little data.  0, or -1 if not permitted (not root).
 */
int harness_small_buffers(void);

/* Client helpers; all abort the test on unexpected errors. */
int tcp_connect(int family, uint16_t port);
void send_all(int fd, const void * buf, size_t len);
/* Read until EOF or ${max} bytes or ${ms}; return bytes read. */
size_t recv_until(int fd, void * buf, size_t max, int ms);
/* Read exactly ${len} bytes within ${ms}; return bytes read. */
size_t recv_n(int fd, void * buf, size_t len, int ms);
/* Is the next event on ${fd} an EOF or reset within ${ms}? 1, else 0. */
int wait_closed(int fd, int ms);
/* A reset: SO_LINGER 0 then close. */
void close_reset(int fd);

/* 64-bit FNV-1a over ${len} bytes, continuing from ${h} (start: HASH_INIT). */
#define HASH_INIT	0xcbf29ce484222325ULL
uint64_t hash64(uint64_t h, const void * buf, size_t len);
/* Deterministic pseudo-random bytes. */
void fill_random(void * buf, size_t len, uint64_t seed);
/* Monotonic milliseconds. */
uint64_t now_ms(void);

/**
 * pump_echo(fd, len, chunk, seed, ms, out_hash_sent, out_hash_got):
 * Send ${len} pseudo-random bytes in writes of up to ${chunk} bytes while
 * reading the echo, half-close after sending, read to EOF; return bytes
 * received.  Bounded by ${ms}.
 */
uint64_t pump_echo(int fd, uint64_t len, size_t chunk, uint64_t seed, int ms,
    uint64_t * hsent, uint64_t * hgot);

#endif /* !HARNESS_H_ */
