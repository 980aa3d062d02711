#include <stdint.h>
#include <string.h>

#include "parse.h"

/* Parse a decimal number in [min, max]. */
int
parse_uint(const char * s, unsigned long long min, unsigned long long max,
    unsigned long long * v)
{
	unsigned long long x = 0;
	const char * p;

	if (*s == '\0')
		return (-1);
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return (-1);
		if ((unsigned long long)(*p - '0') > max ||
		    x > (max - (unsigned long long)(*p - '0')) / 10)
			return (-1);
		x = x * 10 + (unsigned long long)(*p - '0');
	}
	if (x < min)
		return (-1);

	/* Success! */
	*v = x;
	return (0);
}

/* Parse a TCP port. */
int
parse_port(const char * s, int allow_zero, uint16_t * port)
{
	unsigned long long v;

	if (parse_uint(s, allow_zero ? 0 : 1, 65535, &v))
		return (-1);
	*port = (uint16_t)v;
	return (0);
}

/* Parse "500ms", "2s" or "2" (seconds). */
int
parse_duration(const char * s, uint64_t * ms)
{
	char num[24];
	size_t n = strspn(s, "0123456789");
	unsigned long long v, scale;

	if (n == 0 || n >= sizeof(num))
		return (-1);
	if (strcmp(s + n, "ms") == 0)
		scale = 1;
	else if (strcmp(s + n, "s") == 0 || s[n] == '\0')
		scale = 1000;
	else if (strcmp(s + n, "m") == 0)
		scale = 60ULL * 1000;
	else if (strcmp(s + n, "h") == 0)
		scale = 3600ULL * 1000;
	else
		return (-1);
	memcpy(num, s, n);
	num[n] = '\0';
	if (parse_uint(num, 1, PARSE_DURATION_MAX / scale, &v))
		return (-1);

	/* Success! */
	*ms = v * scale;
	return (0);
}

/* Split HOST:PORT or [IPV6]:PORT. */
int
parse_hostport(const char * s, char * host, size_t hostlen, uint16_t * port,
    int allow_zero)
{
	const char * h = s;
	const char * colon;
	size_t hlen;

	if (s[0] == '[') {
		/* [IPV6]:PORT */
		h = s + 1;
		if ((colon = strchr(h, ']')) == NULL || colon[1] != ':')
			return (-1);
		hlen = (size_t)(colon - h);
		colon++;
		if (memchr(h, ':', hlen) == NULL)
			return (-1);
	} else {
		/* HOST:PORT; a bare IPv6 address needs brackets. */
		if ((colon = strchr(s, ':')) == NULL || strchr(colon + 1, ':'))
			return (-1);
		hlen = (size_t)(colon - s);
	}
	if (hlen == 0 || hlen >= hostlen || hlen > PARSE_HOST_MAX)
		return (-1);
	if (memchr(h, '\0', hlen) != NULL || memchr(h, '[', hlen) != NULL ||
	    memchr(h, ']', hlen) != NULL)
		return (-1);
	if (parse_port(colon + 1, allow_zero, port))
		return (-1);

	/* Success! */
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	return (0);
}

/* Digits and dots only, with a digit. */
int
parse_numeric_host(const char * s)
{
	int digit = 0;

	for (; *s != '\0'; s++) {
		if (*s >= '0' && *s <= '9')
			digit = 1;
		else if (*s != '.')
			return (0);
	}
	return (digit);
}
