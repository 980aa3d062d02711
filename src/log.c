#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* How lines reach descriptor 2. */
#define LOG_OUT_WRITE	0	/* write(2): a file, or our own O_NONBLOCK. */
#define LOG_OUT_SEND	1	/* send(MSG_DONTWAIT): a socket. */

/* Room for a "dropped" line and one line, written at once (< PIPE_BUF). */
#define LOG_BUF_MAX	(2 * LOG_LINE_MAX)

/*
 * Set once at start-up (log_journal, log_open, log_setlevel,
 * log_setworker).
 */
static struct {
	int level;
	int out;			/* LOG_OUT_*. */
	int journal;			/* Priority prefixes for journald. */
	int timestamps;			/* --log-time. */
	unsigned worker;
} log_conf = { LOG_INFO, LOG_OUT_WRITE, 0, 0, 0 };

/* What the writes left behind. */
static unsigned long long log_ndropped;
static char log_tail[LOG_BUF_MAX];	/* The unwritten end of a line. */
static size_t log_taillen;

static const char * const log_prefix[] = {
	"error: ", "warning: ", "", "debug: "
};

/* syslog priorities of the levels (sd-daemon(3)). */
static const int log_priority[] = { 3, 4, 6, 7 };

/* Set the level of messages shown. */
void
log_setlevel(int level)
{

	log_conf.level = level;
}

/* Would a message at ${level} be shown? */
int
log_enabled(int level)
{

	return (level <= log_conf.level);
}

/* Remember this process's worker number. */
void
log_setworker(unsigned w)
{

	log_conf.worker = w;
}

/* This process's worker number. */
unsigned
log_worker(void)
{

	return (log_conf.worker);
}

/* Lines dropped and not yet reported. */
unsigned long long
log_dropped(void)
{

	return (log_ndropped);
}

/* Does JOURNAL_STREAM ("DEV:INODE") name the file ${st}? */
static int
log_is_journal(const struct stat * st)
{
	const char * s = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	char * end;

	if (s == NULL || *s == '\0')
		return (0);
	errno = 0;
	dev = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != ':')
		return (0);
	s = end + 1;
	ino = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return (0);
	return (dev == (unsigned long long)st->st_dev &&
	    ino == (unsigned long long)st->st_ino);
}

/* Open stderr's file anew, non-blocking, and put it on descriptor 2. */
static int
log_reopen(void)
{
	int fd;

	fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC);
	if (fd == -1)
		goto err0;
	if (dup2(fd, STDERR_FILENO) == -1)	/* Descriptor 2 keeps no CLOEXEC. */
		goto err1;
	close(fd);

	/* Success! */
	return (0);

err1:
	close(fd);
err0:
	/* Failure! */
	return (-1);
}

/* Prefix lines with their priority if stderr is the journal. */
void
log_journal(void)
{
	struct stat st;

	if (fstat(STDERR_FILENO, &st) == 0)
		log_conf.journal = log_is_journal(&st);
}

/* Make stderr never block; choose the line prefix. */
void
log_open(int timestamps)
{
	struct stat st;

	log_conf.timestamps = timestamps;
	if (fstat(STDERR_FILENO, &st))
		return;			/* main made sure it is open. */
	log_conf.journal = log_is_journal(&st);
	if (S_ISSOCK(st.st_mode))
		log_conf.out = LOG_OUT_SEND;
	else if (S_ISFIFO(st.st_mode) ||
	    (S_ISCHR(st.st_mode) && isatty(STDERR_FILENO))) {
		if (log_reopen())
			log_errno(LOG_WARN, "cannot reopen stderr non-blocking"
			    " through /proc/self/fd/2: log lines may block");
	}
}

/* Write ${len} bytes of ${buf} to stderr without waiting; as write(2). */
static ssize_t
log_put(const char * buf, size_t len)
{

	if (log_conf.out == LOG_OUT_SEND)
		return (send(STDERR_FILENO, buf, len,
		    MSG_DONTWAIT | MSG_NOSIGNAL));
	return (write(STDERR_FILENO, buf, len));
}

/* Try to write what is left of a partly written line; 0 once it is out. */
static int
log_flush_tail(void)
{
	ssize_t n;

	if (log_taillen == 0)
		return (0);
	if ((n = log_put(log_tail, log_taillen)) <= 0)
		return (-1);
	log_taillen -= (size_t)n;
	memmove(log_tail, log_tail + n, log_taillen);
	return (log_taillen == 0 ? 0 : -1);
}

/* Write ${len} bytes of whole lines: all, the rest kept, or dropped. */
static void
log_out(const char * buf, size_t len, int counted)
{
	ssize_t n;

	if (log_flush_tail() || (n = log_put(buf, len)) <= 0) {
		log_ndropped++;
		return;
	}

	/* The "dropped" line, if any, went out or is in the tail now. */
	if (counted)
		log_ndropped = 0;
	if ((size_t)n < len) {
		log_taillen = len - (size_t)n;
		memcpy(log_tail, buf + n, log_taillen);
	}
}

/* Append to ${buf} (${*len} used of ${size}); the result is cut to fit. */
static void __attribute__((format(printf, 4, 0)))
log_vappend(char * buf, size_t * len, size_t size, const char * fmt,
    va_list ap)
{
	int n;

	if (*len + 1 >= size)
		return;
	n = vsnprintf(buf + *len, size - *len, fmt, ap);
	if (n > 0)
		*len += (size_t)n;
	if (*len > size - 1)
		*len = size - 1;
}

/* As log_vappend, with the arguments here. */
static void __attribute__((format(printf, 4, 5)))
log_append(char * buf, size_t * len, size_t size, const char * fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vappend(buf, len, size, fmt, ap);
	va_end(ap);
}

/* Append the start of a line at ${level}: priority or time and name. */
static void
log_head(char * buf, size_t * len, size_t size, int level)
{
	char ts[32];
	struct timespec now;

	if (log_conf.journal) {
		log_append(buf, len, size, "<%d>%s", log_priority[level],
		    log_prefix[level]);
		return;
	}
	if (log_conf.timestamps &&
	    clock_gettime(CLOCK_REALTIME, &now) == 0 &&
	    log_format_time(ts, sizeof(ts), (int64_t)now.tv_sec,
	    (unsigned)(now.tv_nsec / 1000000)) > 0)
		log_append(buf, len, size, "%s ", ts);
	log_append(buf, len, size, "l7knockknock: %s", log_prefix[level]);
}

/*
 * Format the line (after a "dropped" line if lines were dropped) and write
 * it at once; errno is preserved.
 */
static void __attribute__((format(printf, 4, 0)))
log_vwrite(int level, int err, unsigned long suppressed, const char * fmt,
    va_list ap)
{
	char buf[LOG_BUF_MAX];
	char * line;
	size_t len = 0, n = 0;
	int saved = errno;
	const char * desc;

	if (log_ndropped > 0) {
		log_head(buf, &len, LOG_LINE_MAX, LOG_WARN);
		log_append(buf, &len, LOG_LINE_MAX, "%llu log lines dropped\n",
		    log_ndropped);
	}

	/* One line of at most LOG_LINE_MAX bytes, newline included. */
	line = buf + len;
	log_head(line, &n, LOG_LINE_MAX - 1, level);
	log_vappend(line, &n, LOG_LINE_MAX - 1, fmt, ap);
	if (err != 0) {
		desc = strerrordesc_np(err);
		log_append(line, &n, LOG_LINE_MAX - 1, ": %s",
		    desc != NULL ? desc : "unknown error");
	}
	if (suppressed > 0)
		log_append(line, &n, LOG_LINE_MAX - 1,
		    " (%lu more suppressed)", suppressed);
	line[n++] = '\n';

	log_out(buf, len + n, len > 0);
	errno = saved;
}

/* Log one line. */
void
log_msg(int level, const char * fmt, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	log_vwrite(level, 0, 0, fmt, ap);
	va_end(ap);
}

/* Log one line with the description of errno appended. */
void
log_errno(int level, const char * fmt, ...)
{
	va_list ap;
	int err = errno;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	log_vwrite(level, err, 0, fmt, ap);
	va_end(ap);
}

/* May ${R} write at ${now}?  If not, count the call. */
static int
log_rate_due(struct log_rate * R, uint64_t now)
{

	if (now < R->next) {
		R->suppressed++;
		return (0);
	}
	return (1);
}

/* After ${R} wrote at ${now}. */
static void
log_rate_done(struct log_rate * R, uint64_t now)
{

	R->suppressed = 0;
	R->next = now + LOG_RATE_MS;
}

/* Log one line at most every LOG_RATE_MS. */
void
log_rate(struct log_rate * R, uint64_t now, int level, const char * fmt, ...)
{
	va_list ap;

	if (!log_enabled(level) || !log_rate_due(R, now))
		return;
	va_start(ap, fmt);
	log_vwrite(level, 0, R->suppressed, fmt, ap);
	va_end(ap);
	log_rate_done(R, now);
}

/* As log_rate, with errno's description. */
void
log_rate_errno(struct log_rate * R, uint64_t now, int level,
    const char * fmt, ...)
{
	va_list ap;
	int err = errno;

	if (!log_enabled(level) || !log_rate_due(R, now))
		return;
	va_start(ap, fmt);
	log_vwrite(level, err, R->suppressed, fmt, ap);
	va_end(ap);
	log_rate_done(R, now);
	errno = err;
}

/* Split days since 1970-01-01 into a civil date (proleptic Gregorian). */
static void
log_civil(int64_t days, int64_t * y, unsigned * m, unsigned * d)
{
	int64_t z = days + 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;			/* [0, 146096] */
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);	/* From March. */
	int64_t mp = (5 * doy + 2) / 153;

	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* RFC 3339 UTC with milliseconds, by arithmetic. */
size_t
log_format_time(char * buf, size_t size, int64_t sec, unsigned ms)
{
	int64_t days = sec / 86400, rem = sec % 86400, y;
	unsigned m, d;
	int n;

	if (rem < 0) {
		rem += 86400;
		days--;
	}
	log_civil(days, &y, &m, &d);
	n = snprintf(buf, size, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ",
	    (long long)y, m, d, (unsigned)(rem / 3600),
	    (unsigned)(rem / 60 % 60), (unsigned)(rem % 60), ms % 1000);
	if (n < 0 || (size_t)n >= size)
		return (0);
	return ((size_t)n);
}
