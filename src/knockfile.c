#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "knock.h"
#include "knockfile.h"
#include "log.h"
#include "secretfile.h"

/* Parse a knock file's contents. */
int
knockfile_parse(const void * buf, size_t len, struct knock * k)
{
	const uint8_t * p = buf;

	if (len > 0 && p[len - 1] == '\n') {
		len--;
		if (len > 0 && p[len - 1] == '\r')
			len--;
	}
	if (len == 0)
		return (KNOCKFILE_EMPTY);
	if (len > KNOCK_MAX)
		return (KNOCKFILE_TOOLONG);
	return (knock_set(k, p, len) ? KNOCKFILE_TOOLONG : KNOCKFILE_OK);
}

/* Read the knock file. */
int
knockfile_read(const char * path, struct knock * k)
{
	uint8_t buf[KNOCK_MAX + 3];
	ssize_t len;
	int rc;

	if ((len = secretfile_read(path, "knock file", buf, sizeof(buf))) ==
	    -1)
		goto err1;
	rc = knockfile_parse(buf, (size_t)len, k);
	if (rc == KNOCKFILE_EMPTY) {
		log_err("knock file '%s' is empty: expected 1 to %d bytes",
		    path, KNOCK_MAX);
		goto err1;
	}
	if (rc == KNOCKFILE_TOOLONG) {
		log_err("knock file '%s' is too long: expected 1 to %d bytes "
		    "(one trailing newline is ignored)", path, KNOCK_MAX);
		goto err1;
	}
	explicit_bzero(buf, sizeof(buf));

	/* Success! */
	return (0);

err1:
	explicit_bzero(buf, sizeof(buf));
	/* Failure! */
	return (-1);
}
