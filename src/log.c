#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX	512

static int log_level = LOG_INFO;

static const char * const log_prefix[] = {
	"error: ", "warning: ", "", "debug: "
};

/* Set the level of messages shown. */
void
log_setlevel(int level)
{

	log_level = level;
}

/* Would a message at ${level} be shown? */
int
log_enabled(int level)
{

	return (level <= log_level);
}

/* Format the line and write it with one write(2); errno is preserved. */
static void __attribute__((format(printf, 3, 0)))
log_vwrite(int level, int err, const char * fmt, va_list ap)
{
	char buf[LOG_LINE_MAX];
	size_t len;
	int n;
	int saved = errno;

	n = snprintf(buf, sizeof(buf), "l7knockknock: %s", log_prefix[level]);
	len = (n > 0) ? (size_t)n : 0;
	n = vsnprintf(buf + len, sizeof(buf) - len, fmt, ap);
	if (n > 0)
		len += (size_t)n;
	if (len > sizeof(buf) - 2)
		len = sizeof(buf) - 2;
	if (err != 0) {
		n = snprintf(buf + len, sizeof(buf) - len, ": %s",
		    strerrordesc_np(err) ? strerrordesc_np(err) : "unknown error");
		if (n > 0)
			len += (size_t)n;
		if (len > sizeof(buf) - 2)
			len = sizeof(buf) - 2;
	}
	buf[len++] = '\n';

	/* One write; a short or failed write to stderr cannot be reported. */
	(void)!write(STDERR_FILENO, buf, len);
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
	log_vwrite(level, 0, fmt, ap);
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
	log_vwrite(level, err, fmt, ap);
	va_end(ap);
}
