#include <stdint.h>
#include <string.h>

#include "knock.h"

/* Compare ${len} bytes in time that depends on ${len} only. */
static int
knock_equal(const uint8_t * a, const uint8_t * b, size_t len)
{
	volatile uint8_t diff = 0;
	size_t i;

	for (i = 0; i < len; i++)
		diff |= a[i] ^ b[i];
	return (diff == 0);
}

/* Decide the route of a connection from its first bytes. */
int
knock_decide(const struct knock * k, const uint8_t * buf, size_t len,
    int final)
{

	/* Never decide early: not even on a first byte that differs. */
	if (len < k->len)
		return (final ? KNOCK_NORMAL : KNOCK_WAIT);

	return (knock_equal(buf, k->buf, k->len) ? KNOCK_HIDDEN : KNOCK_NORMAL);
}

/* Store the knock. */
int
knock_set(struct knock * k, const void * buf, size_t len)
{

	if (len == 0 || len > KNOCK_MAX)
		return (-1);
	memcpy(k->buf, buf, len);
	k->len = len;
	return (0);
}

/* Overwrite the knock. */
void
knock_wipe(struct knock * k)
{

	explicit_bzero(k->buf, sizeof(k->buf));
	k->len = 0;
}
