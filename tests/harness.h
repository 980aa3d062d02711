#ifndef HARNESS_H_
#define HARNESS_H_

/*
 * The integration test harness (see DESIGN.md, "Test harness"): backends
 * with modes (threads of the test process) on loopback, one non-blocking
 * client driver, and the real, sandboxed l7knockknock binary as a child
 * process, started from one struct of options.  Every name is h_* (or H_*):
 * src/ is linked into the same binary.
 *
 *   harness.c          binaries, listeners, plain client sockets,
 *                      h_client_start
 *   harness_backend.c  h_backend_*
 *   harness_client.c   h_client_*, h_clients_run
 *   harness_relay.c    h_relay_*
 *   harness_file.c     secret files, what reading one writes on stderr
 *
 *   harness_stream.c   time, hashes, the byte stream, loopback, resets
 *
 * Functions that set things up abort the test (cr_assert) when that fails,
 * except in harness_stream.c and harness_client.c, which bench/knockload.c
 * links too: there failures are returned.
 */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* ---- time, hashes, the byte stream (harness_stream.c) ---- */

/* Monotonic milliseconds. */
uint64_t h_now_ms(void);

/* 64-bit FNV-1a over ${len} bytes, from ${h} (start: H_HASH_INIT). */
#define H_HASH_INIT	0xcbf29ce484222325ULL
uint64_t h_hash(uint64_t h, const void * buf, size_t len);

/* Deterministic pseudo-random bytes: ${len} of them from ${seed}. */
void h_fill(void * buf, size_t len, uint64_t seed);

/*
 * The byte stream of a seed: blocks of H_BLK bytes, block ${i} being
 * h_fill(buf, H_BLK, seed * 1000003 + i).  Clients and H_SEND backends send
 * it; tests compare what arrived with h_stream_hash().
 */
#define H_BLK		65536
void h_stream_block(uint8_t * buf, uint64_t seed, uint64_t i);

/**
 * h_stream_hash(seed, len):
 * The h_hash() of the first ${len} bytes of the stream of ${seed}.
 */
uint64_t h_stream_hash(uint64_t seed, uint64_t len);

/* An endless length (clients) or byte count (h_clients_run's until). */
#define H_ENDLESS	(~(uint64_t)0)

/**
 * h_loopback(ss, family, port):
 * Fill ${ss} with 127.0.0.1 (${family} AF_INET or 0) or ::1 (AF_INET6) and
 * ${port}; return its length.
 */
socklen_t h_loopback(struct sockaddr_storage *, int, uint16_t);

/* A reset: SO_LINGER 0, then close ${fd}. */
void h_close_reset(int fd);

/* ---- the binaries under test (harness.c) ---- */

/* The relay: $L7KK_BIN, else ../l7knockknock (tests run in build/). */
const char * h_bin_relay(void);

/* The client: $L7KK_CLIENT_BIN, else ../l7knockknock-client. */
const char * h_bin_client(void);

/* ---- plain client sockets (harness.c) ---- */

/**
 * h_listen(family, backlog, port):
 * A listening TCP socket (close-on-exec, SO_REUSEADDR, ${backlog}) on
 * 127.0.0.1 (${family} AF_INET or 0) or ::1 (AF_INET6), any port; its port
 * into ${port}.
 */
int h_listen(int, int, uint16_t *);

/* Connect (blocking, TCP_NODELAY) to 127.0.0.1 or ::1 (${family}):${port}. */
int h_connect(int family, uint16_t port);

/* A port of the loopback of ${family} that was free a moment ago; 0. */
uint16_t h_free_port(int family);

/**
 * h_proxy_v2(out, vc, fam, lenfield, blk, len):
 * A PROXY protocol v2 header into ${out}: the signature, version and
 * command ${vc}, family and protocol ${fam}, the length field ${lenfield},
 * then the ${len} bytes of ${blk}.  Return its length, 16 + ${len}.
 */
size_t h_proxy_v2(uint8_t *, uint8_t, uint8_t, uint16_t, const void *,
    size_t);

/*
 * Connect (blocking, TCP_NODELAY) from the IPv4 address ${src} (another
 * loopback address, such as 127.0.0.2: a second host) to 127.0.0.1:${port}.
 */
int h_connect_from(const char * src, uint16_t port);

/* Send all ${len} bytes of ${buf} on ${fd} (blocking). */
void h_send_all(int fd, const void * buf, size_t len);

/* Read until EOF, ${max} bytes or ${ms}; return the bytes read. */
size_t h_recv(int fd, void * buf, size_t max, int ms);

/* Is the next event on ${fd} an EOF or reset within ${ms}?  1, else 0. */
int h_wait_closed(int fd, int ms);

/**
 * h_wait_end(fd, ms):
 * Read (and drop) what ${fd} receives until it ends, within ${ms}: 0 for a
 * clean EOF, the errno of a reset (ECONNRESET) or other error, or -1 if it
 * is still open.
 */
int h_wait_end(int fd, int ms);


/* Raise this process's RLIMIT_NOFILE to at least ${n}. */
void h_raise_nofile(unsigned long n);

/**
 * h_sysctl(path, val):
 * Write ${val} to the sysctl file ${path} (in this process's network
 * namespace for net/); 0 or -1.
 */
int h_sysctl(const char *, const char *);

/**
 * h_small_buffers():
 * Move the calling test process into a new network namespace of its own,
 * with loopback up and TCP socket buffers capped at 16 KiB each way (the
 * host's sysctls are untouched), so that a relay started afterwards meets
 * full buffers with little data.  0, or -1 if not permitted (not root).
 */
int h_small_buffers(void);

/* ---- secret files (harness_file.c) ---- */

/* The size of a path h_file_make() fills. */
#define H_PATH_MAX	64

/**
 * h_file_make(path, prefix, buf, len, mode):
 * Write the ${len} bytes of ${buf} to a new file /tmp/l7kk-${prefix}-XXXXXX
 * of mode ${mode}; its name into ${path} (H_PATH_MAX bytes).  Return ${path}.
 */
const char * h_file_make(char *, const char *, const void *, size_t, mode_t);

/**
 * h_file_remove(path):
 * Unlink ${path} unless it is empty, and empty it (for a test's .fini).
 */
void h_file_remove(char *);

/**
 * h_read_captured(fn, path, out, err, errlen):
 * Call ${fn}(${path}, ${out}) (a secret file reader: a keyfile_read or
 * knockfile_read) with descriptor 2 captured into ${err} (NUL-terminated,
 * cut at ${errlen} - 1 bytes); return what ${fn} returned.
 */
int h_read_captured(int (*)(const char *, void *), const char *, void *,
    char *, size_t);

/**
 * h_read_refused(fn, path, why):
 * Expect ${fn}(${path}, NULL) to return -1 having written exactly one line:
 * "l7knockknock: error: ${why}\n".
 */
void h_read_refused(int (*)(const char *, void *), const char *,
    const char *);

/* ---- backends (harness_backend.c) ---- */

enum h_mode {
	H_ECHO,		/* Echo every byte; FIN after the client's. */
	H_GREET,	/* Send "GREET <name>\n" first, then echo. */
	H_URGENT,	/* Send "GREET", urgent "U", "ING\n"; then echo. */
	H_AT_EOF,	/* Read to EOF, then reply "<len> <hash %016llx>\n". */
	H_NOREAD,	/* Read nothing until the gate opens (h_backend_gate),
			   then read to EOF, answer nothing, FIN. */
	H_RESET_AFTER,	/* Read ${n} bytes, then reset (SO_LINGER 0). */
	H_CLOSE_AFTER,	/* Read ${n} bytes, then close(). */
	H_SEND,		/* Send ${n} bytes of the stream of ${seed}, FIN,
			   then read and drop until the client's EOF. */
	H_SEND_OPEN,	/* H_SEND without the FIN: the connection stays
			   open until the client's EOF. */
	H_SILENT	/* Listen with backlog 0 and never accept. */
};

/* How a backend behaves. */
struct h_backend_conf {
	int family;		/* AF_INET (or 0): 127.0.0.1; AF_INET6: ::1. */
	enum h_mode mode;
	const char * name;	/* H_GREET: the name in the greeting. */
	uint64_t n;		/* H_RESET_AFTER, H_CLOSE_AFTER, H_SEND*. */
	uint64_t seed;		/* H_SEND*. */
};

/* What a backend read of its most recent connection (reading modes). */
struct h_record {
	uint64_t len;		/* Bytes received. */
	uint64_t hash;		/* h_hash() of them. */
	uint8_t head[512];	/* The first bytes. */
	size_t headlen;
	int done;		/* The client's EOF arrived. */
};

/* A running backend.  Read the counters after h_backend_wait_done(). */
struct h_backend {
	struct h_backend_conf conf;
	int lfd;
	uint16_t port;		/* Where it listens. */
	pthread_t thr;
	volatile int stop;
	volatile int gate;	/* H_NOREAD: open (1) or closed (0). */
	pthread_mutex_t mtx;
	unsigned conns;		/* Connections accepted. */
	unsigned done;		/* Connections that did all of their mode:
				   reached the client's EOF (reading modes),
				   read ${n} (RESET_AFTER, CLOSE_AFTER), sent
				   ${n} (SEND). */
	unsigned active;	/* Connections still being served. */
	uint64_t sent;		/* H_SEND: bytes sent, all connections. */
	struct h_record last;
};

/**
 * h_backend_start(B, conf):
 * Listen on loopback (${conf}->family), any port, and serve each
 * connection in a thread as ${conf}->mode says.
 */
void h_backend_start(struct h_backend *, const struct h_backend_conf *);

/**
 * h_backend_stop(B):
 * Stop accepting, close the listener and let every serving thread end
 * (within about 2 s); a second call does nothing.
 */
void h_backend_stop(struct h_backend *);

/**
 * h_backend_wait_done(B, n, ms):
 * Wait until ${n} connections did all of their mode.  0, or -1 on timeout.
 */
int h_backend_wait_done(struct h_backend *, unsigned, int);

/**
 * h_backend_gate(B, open):
 * H_NOREAD: open (1) or close (0) the gate; a connection waits for it
 * before reading anything.
 */
void h_backend_gate(struct h_backend *, int);

/**
 * h_backend_sent(B):
 * The bytes H_SEND sent so far (read under the lock, while it runs).
 */
uint64_t h_backend_sent(struct h_backend *);

/* ---- the non-blocking client driver (harness_client.c) ---- */

/* What a client sends. */
struct h_client_conf {
	int family;		/* AF_INET (or 0) or AF_INET6. */
	uint16_t port;		/* The relay's, on loopback. */
	const struct sockaddr * addr;	/* Instead of loopback:${port} */
	socklen_t addrlen;		/* (NULL: loopback). */
	const char * knock;	/* Sent first; consumed by the relay, so
				   not counted in ${sent} nor hashed
				   (NULL: none). */
	size_t knocklen;	/* Its length (0: strlen). */
	const char * request;	/* Sent next (NULL: none). */
	uint64_t len;		/* Then this many bytes of the stream of
				   ${seed} (H_ENDLESS: no end). */
	uint64_t seed;
	size_t seg;		/* 0: each send as large as the socket takes;
				   else of random sizes 1..${seg}. */
	int fin;		/* Half-close once everything is sent. */
};

/* A client; the counters are for tests to read. */
struct h_client {
	int fd;
	struct h_client_conf conf;
	uint8_t * out;		/* What is being sent. */
	size_t outlen, outoff;
	size_t knockleft;	/* Knock bytes not yet sent. */
	uint64_t streamed;	/* Stream bytes put into ${out}. */
	uint64_t blk;		/* The next stream block. */
	uint64_t rnd;		/* Segment sizes. */
	uint64_t sent;		/* Bytes sent after the knock. */
	uint64_t hsent;		/* h_hash() of them. */
	uint64_t got;		/* Bytes received. */
	uint64_t hgot;		/* h_hash() of them. */
	uint64_t last;		/* h_now_ms() of the last byte received. */
	uint8_t head[512];	/* The first bytes received. */
	size_t headlen;
	int connecting;		/* The connect is not done yet. */
	int shut;		/* The FIN was sent. */
	int closed;		/* EOF or an error seen. */
	int err;		/* The error, or 0 for an EOF. */
};

/**
 * h_client_start(C, conf):
 * Open ${C} as ${conf} says and wait (5 s) until it is connected; nothing
 * is sent before h_clients_run() or h_client_push().  (harness.c; aborts
 * the test on a failure.)
 */
void h_client_start(struct h_client *, const struct h_client_conf *);

/**
 * h_client_open(C, conf):
 * Set ${C} up as ${conf} says and start a non-blocking connect; the first
 * h_client_step() with POLLOUT completes it.  0, or -1 (errno) with nothing
 * left to close.
 */
int h_client_open(struct h_client *, const struct h_client_conf *);

/**
 * h_client_events(C):
 * The poll(2) events ${C} waits for now: POLLIN, with POLLOUT while it
 * connects or has something (or its FIN) to send; 0 once closed.
 */
short h_client_events(const struct h_client *);

/**
 * h_client_step(C, revents):
 * Act on the poll(2) (or epoll, same bits) events ${revents}: finish the
 * connect, make one send, send the FIN when due, make one recv.  Errors and
 * the EOF are noted in ${C}->closed and ${C}->err.
 */
void h_client_step(struct h_client *, short);

/**
 * h_clients_run(C, n, until, ms):
 * Drive the ${n} (at most H_CLIENTS_MAX) clients ${C} for at most ${ms}:
 * each sends what is left (then its FIN if asked) and reads everything,
 * until it received ${until} bytes (0: until it is closed).  Return the
 * clients that got there (closed or reached ${until}), or -1 if ${n} is too
 * many.
 */
#define H_CLIENTS_MAX	1024
int h_clients_run(struct h_client *, int, uint64_t, int);

/**
 * h_client_push(C, limit, idle, ms):
 * Only send (finishing the connect if need be), until ${limit} bytes after
 * the knock are sent, or the socket had no room for ${idle} ms (the way
 * through is full), or an error, or ${ms}.  Return ${C}->sent.
 */
uint64_t h_client_push(struct h_client *, uint64_t, int, int);

/**
 * h_client_intact(C):
 * Did ${C} send everything, reach EOF without an error, and receive
 * exactly the bytes it sent after the knock?  1 or 0.
 */
int h_client_intact(const struct h_client *);

/**
 * h_client_close(C, reset):
 * Close ${C} (with a reset if ${reset}) and free what it holds.
 */
void h_client_close(struct h_client *, int);

/* ---- the relay process (harness_relay.c) ---- */

/* How to start a relay. */
struct h_relay_conf {
	int family;		/* AF_INET (or 0) or AF_INET6: listen on
				   127.0.0.1:0 or [::1]:0, backends there. */
	uint16_t normal;	/* --normal's port (0: no --normal). */
	uint16_t hidden;	/* --hidden's port (0: no --hidden). */
	const char * const * extra;	/* More arguments, NULL-terminated
					   (NULL: none). */
	const char * knock;	/* The last argument (NULL: none). */
	unsigned nofile;	/* RLIMIT_NOFILE soft = hard (0: inherited). */
	uid_t uid;		/* Run as ${uid}/${gid}, no supplementary */
	gid_t gid;		/* groups (uid 0: as the test runs). */
	void (*pre_exec)(void);	/* Called in the child just before the
				   exec, to wrap the relay (NULL: none);
				   it _exit()s on failure. */
};

/* The relay's argv (h_relay_argv) and the strings it points to. */
#define H_ARGV_MAX	64
struct h_argv {
	const char * v[H_ARGV_MAX];
	char listen[64], normal[64], hidden[64];
};

/* A running relay. */
struct h_relay {
	pid_t pid;
	pid_t watchdog;		/* Kills the relay if the test dies. */
	int watchfd;
	uint16_t port;		/* The first listener's port. */
	int errfd;
	pthread_t thr;
	pthread_mutex_t mtx;
	char * log;		/* Everything it wrote on stderr. */
	size_t loglen;
};

/**
 * h_relay_argv(conf, A):
 * Fill ${A}->v with the relay's NULL-terminated argv for ${conf}: the binary
 * ($L7KK_BIN, else ../l7knockknock), --listen, --normal, --hidden,
 * ${conf}->extra, ${conf}->knock.  The one place the argv is built.
 */
void h_relay_argv(const struct h_relay_conf *, struct h_argv *);

/**
 * h_relay_start(P, conf):
 * Start the relay of h_relay_argv(${conf}) (under valgrind if $L7KK_VALGRIND
 * is set) with ${conf}'s limits and user; wait for its "ready" line (5 s,
 * 30 s under valgrind) and learn its port from "listening on".
 */
void h_relay_start(struct h_relay *, const struct h_relay_conf *);

/**
 * h_relay_stop(P, sig, ms):
 * Send ${sig} (0: none), wait up to ${ms} for the exit; return the wait
 * status, or -1 if it did not exit (it is then killed).
 */
int h_relay_stop(struct h_relay *, int, int);

/**
 * h_relay_down(P):
 * Stop with SIGTERM (3 s) and expect exit 0 (no crash, no signal death);
 * the failure shows the end of the log.
 */
void h_relay_down(struct h_relay *);

/**
 * h_relay_setup(P, N, nmode, H, hmode, conf):
 * The usual set-up of an integration test: start the backend ${N} (mode
 * ${nmode}, greeting "normal") and ${H} (${hmode}, "hidden") on
 * ${conf}->family, then the relay ${P} of ${conf} with its --normal at ${N}
 * and its --hidden at ${H} (${conf}->normal and ->hidden are not read).
 */
void h_relay_setup(struct h_relay *, struct h_backend *, enum h_mode,
    struct h_backend *, enum h_mode, const struct h_relay_conf *);

/**
 * h_relay_teardown(P, N, H):
 * Its end: h_relay_down(${P}), then stop the backends ${N} and ${H}.
 */
void h_relay_teardown(struct h_relay *, struct h_backend *,
    struct h_backend *);

/**
 * h_relay_alive(P): is the relay still running?  1 or 0.
 */
int h_relay_alive(struct h_relay *);

/**
 * h_relay_echo(P, family, msg, len, B, n, expect, elen):
 * Send ${msg} (${len} bytes) to ${P} over ${family}'s loopback, half-close
 * and read the echo (5 s): it must be ${expect} (${elen} bytes, at most
 * 1024), and ${B} must have received exactly those bytes as its ${n}th
 * connection, counted since it started (within 3 s).  Asserts; a short
 * echo shows ${P}'s log.
 */
void h_relay_echo(struct h_relay *, int, const void *, size_t,
    struct h_backend *, unsigned, const void *, size_t);

/**
 * h_relay_log_count(P, s): occurrences of ${s} in the log so far.
 */
int h_relay_log_count(struct h_relay *, const char *);

/**
 * h_relay_log_wait(P, s, ms): wait until the log contains ${s}; 0 or -1.
 */
int h_relay_log_wait(struct h_relay *, const char *, int);

/**
 * h_relay_log_wait_count(P, s, n, ms):
 * Wait until the log holds ${n} occurrences of ${s}; return the count.
 */
int h_relay_log_wait_count(struct h_relay *, const char *, int, int);

/**
 * h_relay_worker(P):
 * The relay's serving worker: the youngest child of the supervisor
 * ${P}->pid (the one worker without --workers), or ${P}->pid if it has no
 * child.  The /proc helpers below read this process.
 */
pid_t h_relay_worker(const struct h_relay *);

/**
 * h_proc_children(pid, pids, max):
 * The children of process ${pid} (its main thread's), oldest first, into
 * ${pids} (at most ${max}); return how many, or -1.
 */
int h_proc_children(pid_t, pid_t *, int);

/**
 * h_proc_status(pid, key, val, len):
 * The value of the line "${key}:" of /proc/${pid}/status into ${val}
 * (blanks before it and the newline removed; cut at ${len} - 1); 0, or -1
 * if there is no such process or line.
 */
int h_proc_status(pid_t, const char *, char *, size_t);

/**
 * h_proc_status_num(pid, key):
 * The number that value starts with ("Seccomp", "VmRSS" in kB), or -1.
 */
long h_proc_status_num(pid_t, const char *);

/**
 * h_proc_fds(pid, kind):
 * Open descriptors of process ${pid} whose /proc/PID/fd link starts with
 * ${kind} ("socket:", "pipe:"; NULL: all), or -1.
 */
int h_proc_fds(pid_t, const char *);

/**
 * h_relay_fds(P, kind):
 * Open descriptors of the relay whose /proc/PID/fd link starts with ${kind}
 * ("socket:", "pipe:"; NULL: all), or -1.
 */
int h_relay_fds(const struct h_relay *, const char *);

/**
 * h_relay_wait_fds(P, kind, n, ms):
 * Wait until h_relay_fds(${P}, ${kind}) is ${n}; return what it is then.
 */
int h_relay_wait_fds(const struct h_relay *, const char *, int, int);

/**
 * h_relay_fd_others(P):
 * Descriptors above 2 that are not a socket, a pipe or an anonymous inode
 * (epoll, signalfd); each is named on stderr.
 */
int h_relay_fd_others(const struct h_relay *);

/**
 * h_relay_cpu_ticks(P): user + system clock ticks the relay used, or -1.
 */
long h_relay_cpu_ticks(const struct h_relay *);

/**
 * h_relay_rss_kib(P): the relay's VmRSS in KiB, or -1.
 */
long h_relay_rss_kib(const struct h_relay *);

/**
 * h_relay_dump_sockets(P):
 * Log (cr_log_error) each TCP socket of the relay with its queues, from
 * /proc/net/tcp: where bytes wait when a transfer stalls.
 */
void h_relay_dump_sockets(const struct h_relay *);

/* ---- tokens (harness_token.c) ---- */

/* A token on the wire: 54 base64url characters. */
#define H_TLEN		54

/* A key: its file and its hex for the Python minter. */
struct h_key {
	char path[64];
	char hex[65];
};

/**
 * h_key_make(K):
 * A fresh random key in a mode-0600 file of its own (/tmp/l7kk-key-*).
 */
void h_key_make(struct h_key *);

/**
 * h_mint(K, t, flip, out):
 * Mint a token under ${K} for Unix time ${t} with Python, from DESIGN.md's
 * text alone; flip bit ${flip} of the 40 raw bytes if it is not -1.
 */
void h_mint(const struct h_key *, long long, int, char[H_TLEN + 1]);

/**
 * h_mint_hex(key, t, nonce, flip, out):
 * h_mint's Python under the hex key ${key}, for Unix time ${t} (Python's
 * clock if it is negative), with the hex nonce ${nonce} (a random one if
 * NULL); flip bit ${flip} of the 40 raw bytes if it is not -1.
 */
void h_mint_hex(const char *, long long, const char *, int, char[H_TLEN + 1]);

#endif /* !HARNESS_H_ */
