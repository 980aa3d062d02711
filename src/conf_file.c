/*
 * conf_file.c: the configuration file (--config), read line by line: each
 * line a long option without its dashes, white space, then its value; a
 * flag alone on its line; blank lines and lines starting with '#' skipped.
 * The lines go through the option table (conf.c) like the command line.
 */
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "conf.h"
#include "conf_internal.h"
#include "log.h"
#include "secretfile.h"

/* The file, read whole (no heap: the --workers supervisor reloads it). */
static uint8_t conf_file_buf[CONF_FILE_MAX + 1];

/* "FILE:LINE: " while a line is applied, else "". */
static char conf_file_loc[SECRETFILE_PATH_MAX + 32];

/* Where the option being applied comes from, as a message prefix. */
const char *
conf_where(void)
{

	return (conf_file_loc);
}

/* Is ${c} white space within a line? */
static int
conf_file_space(char c)
{

	return (c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f');
}

/*
 * Split the line ${s} (NUL-terminated, no newline) into its option name
 * and value (NULL for a flag); return the name, or NULL if the line is
 * blank or a comment.
 */
static char *
conf_file_split(char * s, char ** value)
{
	char * end = s + strlen(s);

	while (conf_file_space(*s))
		s++;
	while (end > s && conf_file_space(end[-1]))
		*--end = '\0';
	if (*s == '\0' || *s == '#')
		return (NULL);
	*value = s + strcspn(s, " \t\r\v\f");
	if (**value == '\0') {
		*value = NULL;
		return (s);
	}
	*(*value)++ = '\0';
	while (conf_file_space(**value))
		(*value)++;
	return (s);
}

/* Read the file ${path} into conf_file_buf; return its length or -1. */
static ssize_t
conf_file_read(const char * path)
{
	ssize_t len;

	if ((len = secretfile_read_public(path, "configuration file",
	    conf_file_buf, sizeof(conf_file_buf))) == -1)
		return (-1);
	if (len > CONF_FILE_MAX) {
		log_err("configuration file '%s' is longer than %d bytes",
		    path, CONF_FILE_MAX);
		return (-1);
	}
	if (memchr(conf_file_buf, '\0', (size_t)len) != NULL) {
		log_err("configuration file '%s' has a NUL byte: it is not "
		    "a text file", path);
		return (-1);
	}
	conf_file_buf[len] = '\0';
	return (len);
}

/* Apply each line of the file ${path}. */
int
conf_file_each(const char * path, int (*line)(void *, const char *,
    const char *), void * cookie)
{
	char * s, * next, * name, * value;
	size_t n;
	int rc;

	if (conf_file_read(path) == -1)
		return (-1);
	for (s = (char *)conf_file_buf, n = 1; s != NULL; s = next, n++) {
		if ((next = strchr(s, '\n')) != NULL)
			*next++ = '\0';
		if ((name = conf_file_split(s, &value)) == NULL)
			continue;
		snprintf(conf_file_loc, sizeof(conf_file_loc), "%s:%zu: ",
		    path, n);
		rc = line(cookie, name, value);
		conf_file_loc[0] = '\0';
		if (rc != 0)
			return (rc);
	}
	return (0);
}
