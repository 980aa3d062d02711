#ifndef LOG_H_
#define LOG_H_

/* Log levels: -q shows errors only, -v adds debug lines. */
#define LOG_ERR		0
#define LOG_WARN	1
#define LOG_INFO	2
#define LOG_DEBUG	3

/**
 * log_setlevel(level):
 * Show messages up to and including ${level} from now on (default LOG_INFO).
 * This is the log module's own state, set once by main.
 */
void log_setlevel(int);

/**
 * log_enabled(level):
 * Return non-zero if a message at ${level} would be written.
 */
int log_enabled(int);

/**
 * log_msg(level, fmt, ...):
 * Format one line "l7knockknock: [level: ]message\n" into a stack buffer and
 * write it to stderr with a single write(2): no stdio, no heap, so it is
 * safe inside the sandbox.  Long lines are truncated.  Keep formats simple
 * (%s %d %u %ld %lu %llu %zu %x %c): no floating point, no positional
 * arguments, which could make libc allocate.
 */
void log_msg(int, const char *, ...) __attribute__((format(printf, 2, 3)));

/**
 * log_errno(level, fmt, ...):
 * As log_msg, followed by ": " and the English description of errno (never
 * translated, so no locale files are read).
 */
void log_errno(int, const char *, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_errp(...)	log_errno(LOG_ERR, __VA_ARGS__)

#endif /* !LOG_H_ */
