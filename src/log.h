#ifndef LOG_H_
#define LOG_H_

#include <stdint.h>
#include <stddef.h>

/* Log levels: -q shows errors only, -v adds debug lines. */
#define LOG_ERR		0
#define LOG_WARN	1
#define LOG_INFO	2
#define LOG_DEBUG	3

/* Longest line, newline included; longer ones are cut. */
#define LOG_LINE_MAX	512

/* A rate-limited message is written at most once per this many ms. */
#define LOG_RATE_MS	10000

/* The state of one rate-limited message; zero it before first use. */
struct log_rate {
	uint64_t next;			/* Monotonic ms when one may go out. */
	unsigned long suppressed;	/* Calls not written since the last. */
};

/**
 * log_journal():
 * If the environment's JOURNAL_STREAM names stderr's device and inode, give
 * every line from now on its syslog priority ("<3>error: ...") instead of
 * the program name, so that journald files it at that priority.  main calls
 * it first, before the options are parsed: an option error is an error in
 * the journal too (without it journald files the line at its default,
 * info).  log_open decides the same again.
 */
void log_journal(void);

/**
 * log_open(timestamps):
 * Prepare stderr so that writing a line never blocks, without changing it
 * for any other holder of the same open file description: a pipe, FIFO or
 * terminal is reopened through /proc/self/fd/2 with O_NONBLOCK and put on
 * descriptor 2; a socket is written with send(MSG_DONTWAIT|MSG_NOSIGNAL); a
 * regular file or another device (/dev/null) is written as it is.  If the
 * environment's JOURNAL_STREAM names stderr's device and inode, lines carry
 * their syslog priority ("<3>" ...) for journald instead of the program
 * name; otherwise, if ${timestamps} is non-zero, each line starts with an
 * RFC 3339 UTC time with milliseconds.  Call once at start-up, before the
 * chroot (it needs /proc); a failure is reported as a warning and stderr
 * is then left as it is.
 */
void log_open(int);

/**
 * log_setlevel(level):
 * Show messages up to and including ${level} from now on (default LOG_INFO).
 * This and log_open are the log module's state, set once by main.
 */
void log_setlevel(int);

/**
 * log_enabled(level):
 * Return non-zero if a message at ${level} would be written.
 */
int log_enabled(int);

/**
 * log_setworker(w):
 * Record that this process is worker process ${w} (0 for the first one
 * started, counting on across reloads: see workers_run), for
 * log_worker().  Set once by main in each relay process.
 */
void log_setworker(unsigned);

/**
 * log_worker():
 * Return the worker number given to log_setworker(), so that the relay can
 * name connections "conn W.N", unique across workers and reloads.
 */
unsigned log_worker(void);

/**
 * log_msg(level, fmt, ...):
 * Format one line "l7knockknock: [level: ]message\n" into a stack buffer and
 * write it to stderr with a single write(2) or send(2) that never waits: no
 * stdio, no heap, so it is safe inside the sandbox.  Long lines are cut.  A
 * line that does not fit is dropped and counted, and the next line that fits
 * is preceded by "N log lines dropped" (in the same write).  If only part
 * of a line went out, the rest goes out before the next line, so lines are
 * never interleaved.  Keep formats simple (%s %d %u %ld %lu %llu %zu %x %c):
 * no floating point, no positional arguments, which could make libc allocate.
 */
void log_msg(int, const char *, ...) __attribute__((format(printf, 2, 3)));

/**
 * log_errno(level, fmt, ...):
 * As log_msg, followed by ": " and the English description of errno (never
 * translated, so no locale files are read).
 */
void log_errno(int, const char *, ...) __attribute__((format(printf, 2, 3)));

/**
 * log_rate(R, now, level, fmt, ...):
 * As log_msg for a message that may repeat quickly (an accept pause, slots
 * full, a refused source): write it only if LOG_RATE_MS have passed since
 * ${R} last wrote (${now} is monotonic ms), with " (N more suppressed)"
 * appended when calls were skipped meanwhile; otherwise count it in ${R}.
 */
void log_rate(struct log_rate *, uint64_t, int, const char *, ...)
    __attribute__((format(printf, 4, 5)));

/**
 * log_rate_errno(R, now, level, fmt, ...):
 * As log_rate, with errno's description appended as log_errno does.
 */
void log_rate_errno(struct log_rate *, uint64_t, int, const char *, ...)
    __attribute__((format(printf, 4, 5)));

/**
 * log_dropped():
 * Return how many lines have been dropped and not yet reported.
 */
unsigned long long log_dropped(void);

/**
 * log_format_time(buf, size, sec, ms):
 * Write ${sec} seconds since the Epoch and ${ms} milliseconds as RFC 3339
 * UTC ("2026-12-01T09:15:35.123Z", 24 characters and a NUL) into ${buf} of
 * ${size} bytes, by arithmetic alone (gmtime_r may read /etc/localtime and
 * allocate on first use).  Return the length, or 0 if ${size} is too small.
 */
size_t log_format_time(char *, size_t, int64_t, unsigned);

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_errp(...)	log_errno(LOG_ERR, __VA_ARGS__)

#endif /* !LOG_H_ */
