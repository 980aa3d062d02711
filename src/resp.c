#include <stdint.h>
#include <string.h>

#include "resp.h"

/*
 * The parser's states.  A value begins with its type byte; then a line (a
 * simple string, error, null, double, boolean or big number: any bytes but
 * CR and LF), or a number line (an integer, a bulk length, an aggregate's
 * count), each ended by CR LF; a bulk value's bytes follow its length line,
 * with CR LF after them.
 */
#define ST_TYPE		0	/* The next value's type byte. */
#define ST_LINE		1	/* A line's bytes, up to CR. */
#define ST_LINE_LF	2	/* The LF after a line's CR. */
#define ST_NUM		3	/* A number line, up to CR. */
#define ST_NUM_LF	4	/* The LF after a number line's CR. */
#define ST_BULK		5	/* A bulk value's bytes. */
#define ST_BULK_CR	6	/* The CR after them. */
#define ST_BULK_LF	7	/* The LF after them. */

/* The most digits of a number line: INT64_MAX has 19. */
#define RESP_DIGITS_MAX	20

/* How a value's type byte says it goes on. */
#define T_BAD	0	/* Not a RESP type. */
#define T_LINE	1	/* A line. */
#define T_INT	2	/* A number line that is the value. */
#define T_BULK	3	/* A length line, then that many bytes. */
#define T_AGG	4	/* A count line, then that many values. */
#define T_PAIRS	5	/* A count line, then twice that many values. */

/* What kind of value the type byte ${t} begins. */
static int
resp_class(uint8_t t)
{

	switch (t) {
	case '+': case '-': case '_': case ',': case '#': case '(':
		return (T_LINE);
	case ':':
		return (T_INT);
	case '$': case '!': case '=':
		return (T_BULK);
	case '*': case '~': case '>':
		return (T_AGG);
	case '%': case '|':
		return (T_PAIRS);
	default:
		return (T_BAD);
	}
}

/* Make ${P} ready for the first byte of a reply stream. */
void
resp_parse_init(struct resp_parser * P)
{

	memset(P, 0, sizeof(*P));
	P->state = ST_TYPE;
}

/* Keep byte ${c} of the top value's text, if it is kept and fits. */
static void
resp_keep(struct resp_parser * P, uint8_t c)
{

	if (P->top && P->msglen < RESP_MSG_MAX)
		P->msg[P->msglen] = (char)c;
	if (P->top)
		P->msglen++;
}

/* Keep the ${n} bytes at ${p} as resp_keep does. */
static void
resp_keep_n(struct resp_parser * P, const uint8_t * p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		resp_keep(P, p[i]);
}

/* A type byte ${t}: start a value.  Return 0 or -1 (not RESP). */
static int
resp_type(struct resp_parser * P, uint8_t t)
{
	int c = resp_class(t);

	if (c == T_BAD)
		return (-1);
	P->type = t;
	P->top = (P->depth == 0);
	if (P->top && t != '|') {
		P->toptype = t;
		P->msglen = 0;
		P->topkind = (t == '-' || t == '!') ? RESP_ERROR :
		    (t == '_') ? RESP_NULL : RESP_OTHER;
	}
	P->neg = P->digits = 0;
	P->num = 0;
	P->state = (c == T_LINE) ? ST_LINE : ST_NUM;
	return (0);
}

/* A digit or sign ${c} of a number line.  Return 0 or -1. */
static int
resp_digit(struct resp_parser * P, uint8_t c)
{

	/* One sign first: '-', or '+' for an integer (RESP3). */
	if ((c == '-' || (c == '+' && P->type == ':')) && P->digits == 0 &&
	    P->neg == 0) {
		P->neg = (c == '-') ? 1 : 2;
		return (0);
	}
	/*
	 * A digit; at most RESP_DIGITS_MAX of them, so that no run of
	 * leading zeros (which leave the value at 0) goes on for ever.
	 */
	if (c < '0' || c > '9' || P->digits == RESP_DIGITS_MAX)
		return (-1);
	if (P->num > (INT64_MAX - (c - '0')) / 10)
		return (-1);
	P->num = P->num * 10 + (c - '0');
	P->digits++;
	return (0);
}

/*
 * A value ended.  Count it in the aggregates it completes; return
 * RESP_DONE when a top-level value that is not an attribute ended, else
 * RESP_MORE.
 */
static int
resp_value_done(struct resp_parser * P)
{
	int attr;

	P->state = ST_TYPE;
	if (P->depth == 0)
		return (RESP_DONE);
	P->need[P->depth - 1]--;
	while (P->depth > 0 && P->need[P->depth - 1] == 0) {
		attr = P->attr[--P->depth];
		/* An attribute is not a value: its parent still waits. */
		if (attr)
			return (RESP_MORE);
		if (P->depth == 0)
			return (RESP_DONE);
		P->need[P->depth - 1]--;
	}
	return (RESP_MORE);
}

/* An aggregate's count line ended with ${n} (pairs: 2n values). */
static int
resp_aggregate(struct resp_parser * P, int64_t n)
{

	if (n == 0) {
		/* Empty: a value at once; an empty attribute is nothing. */
		if (P->type == '|') {
			P->state = ST_TYPE;
			return (RESP_MORE);
		}
		return (resp_value_done(P));
	}
	if (P->depth == RESP_DEPTH_MAX)
		return (RESP_BAD);
	P->need[P->depth] = (resp_class(P->type) == T_PAIRS) ? 2 * n : n;
	P->attr[P->depth] = (P->type == '|');
	P->depth++;
	P->state = ST_TYPE;
	return (RESP_MORE);
}

/* A number line ended: act on it.  Return RESP_MORE, _DONE or _BAD. */
static int
resp_number(struct resp_parser * P)
{
	int c = resp_class(P->type);
	int64_t n = (P->neg == 1) ? -P->num : P->num;

	if (P->digits == 0)
		return (RESP_BAD);
	if (c == T_INT)
		return (resp_value_done(P));
	/* $-1 and *-1 are RESP2's nulls; no other length is negative. */
	if (n == -1 && (P->type == '$' || P->type == '*')) {
		if (P->top)
			P->topkind = RESP_NULL;
		return (resp_value_done(P));
	}
	if (n < 0 || n > RESP_LEN_MAX)
		return (RESP_BAD);
	if (c == T_BULK) {
		P->left = n;
		P->state = (n > 0) ? ST_BULK : ST_BULK_CR;
		return (RESP_MORE);
	}
	return (resp_aggregate(P, n));
}

/* One byte ${c} in state ST_TYPE .. ST_BULK_LF (not ST_BULK's bytes). */
static int
resp_byte(struct resp_parser * P, uint8_t c)
{

	switch (P->state) {
	case ST_TYPE:
		return (resp_type(P, c) ? RESP_BAD : RESP_MORE);
	case ST_LINE:
		if (c == '\r')
			P->state = ST_LINE_LF;
		else if (c == '\n' || P->type == '_')
			return (RESP_BAD);
		else
			resp_keep(P, c);
		return (RESP_MORE);
	case ST_LINE_LF:
		return ((c == '\n') ? resp_value_done(P) : RESP_BAD);
	case ST_NUM:
		if (c == '\r') {
			P->state = ST_NUM_LF;
			return (RESP_MORE);
		}
		return (resp_digit(P, c) ? RESP_BAD : RESP_MORE);
	case ST_NUM_LF:
		return ((c == '\n') ? resp_number(P) : RESP_BAD);
	case ST_BULK_CR:
		if (c != '\r')
			return (RESP_BAD);
		P->state = ST_BULK_LF;
		return (RESP_MORE);
	case ST_BULK_LF:
		return ((c == '\n') ? resp_value_done(P) : RESP_BAD);
	default:
		return (RESP_BAD);
	}
}

/* The reply is complete: fill in ${R}; ready ${P} for the next one. */
static void
resp_finish(struct resp_parser * P, struct resp_reply * R)
{
	size_t kept = (P->msglen < RESP_MSG_MAX) ? P->msglen : RESP_MSG_MAX;

	R->kind = P->topkind;
	memset(R->msg, 0, sizeof(R->msg));
	if (P->topkind == RESP_ERROR || P->toptype == '+')
		memcpy(R->msg, P->msg, kept);
	if (P->toptype == '+' && P->msglen == 2 &&
	    memcmp(P->msg, "OK", 2) == 0)
		R->kind = RESP_OK;
	resp_parse_init(P);
}

/* Feed bytes to the parser; stop at the end of a top-level reply. */
int
resp_parse(struct resp_parser * P, const uint8_t * buf, size_t len,
    size_t * used, struct resp_reply * R)
{
	size_t i = 0, n;
	int rc;

	while (i < len) {
		/* No reply is longer: nothing holds the reader for long. */
		if (P->taken >= RESP_REPLY_MAX)
			return (RESP_BAD);
		if (P->state == ST_BULK) {
			n = len - i;
			if ((uint64_t)n > (uint64_t)P->left)
				n = (size_t)P->left;
			if (n > RESP_REPLY_MAX - P->taken)
				n = RESP_REPLY_MAX - P->taken;
			P->taken += n;
			/* A blob error's text is kept like a simple one's. */
			if (P->top && P->type == '!')
				resp_keep_n(P, buf + i, n);
			P->left -= (int64_t)n;
			i += n;
			if (P->left == 0)
				P->state = ST_BULK_CR;
			continue;
		}
		P->taken++;
		if ((rc = resp_byte(P, buf[i++])) == RESP_BAD)
			return (RESP_BAD);
		if (rc == RESP_DONE) {
			*used = i;
			resp_finish(P, R);
			return (RESP_DONE);
		}
	}
	*used = len;
	return (RESP_MORE);
}

/* Write "${c}${n}\r\n" at ${p} (room checked by the caller); its length. */
static size_t
resp_header(uint8_t * p, uint8_t c, size_t n)
{
	char d[24];
	size_t k = 0, len = 0;

	do {
		d[k++] = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0);
	p[len++] = c;
	while (k > 0)
		p[len++] = (uint8_t)d[--k];
	p[len++] = '\r';
	p[len++] = '\n';
	return (len);
}

/* The length of the header "${c}${n}\r\n". */
static size_t
resp_header_len(size_t n)
{
	size_t len = 3;

	do {
		len++;
		n /= 10;
	} while (n > 0);
	return (len);
}

/* Encode a command as an array of bulk strings. */
size_t
resp_encode(uint8_t * buf, size_t size, const uint8_t * const * argv,
    const size_t * lens, size_t argc)
{
	size_t i, need, len = 0;

	if (argc == 0 || argc > RESP_ARGS_MAX)
		return (0);
	/* Measure first: nothing is written unless all of it fits. */
	need = resp_header_len(argc);
	for (i = 0; i < argc; i++) {
		if (lens[i] > SIZE_MAX / 2 - need - 32)
			return (0);
		need += resp_header_len(lens[i]) + lens[i] + 2;
	}
	if (need > size)
		return (0);
	len += resp_header(buf, '*', argc);
	for (i = 0; i < argc; i++) {
		len += resp_header(buf + len, '$', lens[i]);
		if (lens[i] > 0)
			memcpy(buf + len, argv[i], lens[i]);
		len += lens[i];
		buf[len++] = '\r';
		buf[len++] = '\n';
	}
	return (len);
}
