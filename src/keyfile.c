#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <sodium.h>

#include "keyfile.h"
#include "log.h"
#include "secretfile.h"
#include "token.h"

_Static_assert(KEYFILE_KEYLEN == TOKEN_KEYLEN, "a key file holds a token key");

/* Return 1 if ${c} is one of the 64 characters of standard base64. */
static int
keyfile_b64char(uint8_t c)
{

	return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/');
}

/* Return 0 if ${p} is 43 base64 characters and '='; else -1. */
static int
keyfile_shape(const uint8_t * p)
{
	size_t i;

	/*
	 * libsodium 1.0.18 reads the text as (signed) char and decodes some
	 * bytes >= 0x80 as letters: check the alphabet first.
	 */
	for (i = 0; i < KEYFILE_B64LEN - 1; i++)
		if (!keyfile_b64char(p[i]))
			return (-1);
	return (p[KEYFILE_B64LEN - 1] == '=' ? 0 : -1);
}

/* Decode a key file's contents. */
int
keyfile_parse(const void * buf, size_t len, uint8_t key[KEYFILE_KEYLEN])
{
	const uint8_t * p = buf;
	const char * end = NULL;
	size_t binlen = 0;

	if (len > 0 && p[len - 1] == '\n') {
		len--;
		if (len > 0 && p[len - 1] == '\r')
			len--;
	}
	if (len != KEYFILE_B64LEN || keyfile_shape(p))
		goto bad;
	if (sodium_base642bin(key, KEYFILE_KEYLEN, (const char *)p, len, NULL,
	    &binlen, &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    binlen != KEYFILE_KEYLEN || end != (const char *)p + len)
		goto bad;

	/* Success! */
	return (KEYFILE_OK);

bad:
	sodium_memzero(key, KEYFILE_KEYLEN);
	return (KEYFILE_BAD);
}

/* Read the key file. */
int
keyfile_read(const char * path, uint8_t key[KEYFILE_KEYLEN])
{
	uint8_t buf[KEYFILE_B64LEN + 3];
	ssize_t len;

	if ((len = secretfile_read(path, "key file", buf, sizeof(buf))) == -1)
		goto err1;
	if (keyfile_parse(buf, (size_t)len, key) != KEYFILE_OK) {
		log_err("key file '%s' is not a key: expected 32 bytes as %d "
		    "characters of base64 (one trailing newline allowed)",
		    path, KEYFILE_B64LEN);
		goto err1;
	}
	sodium_memzero(buf, sizeof(buf));

	/* Success! */
	return (0);

err1:
	sodium_memzero(buf, sizeof(buf));
	/* Failure! */
	return (-1);
}

/* Format a key as a key file line. */
void
keyfile_format(const uint8_t key[KEYFILE_KEYLEN], char out[KEYFILE_B64LEN + 2])
{

	sodium_bin2base64(out, KEYFILE_B64LEN + 1, key, KEYFILE_KEYLEN,
	    sodium_base64_VARIANT_ORIGINAL);
	out[KEYFILE_B64LEN] = '\n';
	out[KEYFILE_B64LEN + 1] = '\0';
}

/* A fresh key's line to ${fd}. */
int
keyfile_write_new(int fd)
{
	uint8_t key[KEYFILE_KEYLEN];
	char line[KEYFILE_B64LEN + 2];
	ssize_t n;

	randombytes_buf(key, sizeof(key));
	keyfile_format(key, line);
	n = write(fd, line, KEYFILE_B64LEN + 1);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(line, sizeof(line));
	if (n != KEYFILE_B64LEN + 1) {
		if (n >= 0)
			errno = EIO;
		return (-1);
	}

	/* Success! */
	return (0);
}
