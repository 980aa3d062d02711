#ifndef RESP_H_
#define RESP_H_

#include <stddef.h>
#include <stdint.h>

/*
 * The Redis serialization protocol (RESP2 and RESP3 replies), as a pure
 * module: commands encoded into a caller's buffer, replies parsed
 * incrementally from whatever bytes came, without allocation and without
 * keeping a reply's bytes (only the first RESP_MSG_MAX of a top-level
 * simple string or error, for the log).  Written from the Redis
 * serialization protocol specification (https://redis.io/topics/protocol/,
 * RESP2, and its RESP3 types: null, double, boolean, big number, blob
 * error, verbatim string, map, set, push, attribute).
 */

/* Most arguments of one command. */
#define RESP_ARGS_MAX		8

/* Bytes of a top-level simple string or error kept (NUL not counted). */
#define RESP_MSG_MAX		63

/* Most nested aggregates (arrays, maps, sets, pushes, attributes). */
#define RESP_DEPTH_MAX		8

/* Largest bulk string or aggregate length accepted (the server's own). */
#define RESP_LEN_MAX		(512LL * 1024 * 1024)

/*
 * Longest reply accepted, in bytes: a longer one is RESP_BAD.  The
 * commands sent (AUTH, SET) are answered in a few bytes; a server that
 * streamed one endless line or a huge value would hold its reader.
 */
#define RESP_REPLY_MAX		65536

/* What a complete top-level reply was (struct resp_reply.kind). */
#define RESP_OK		0	/* The simple string "OK". */
#define RESP_NULL	1	/* Null: $-1, *-1 or RESP3 _. */
#define RESP_ERROR	2	/* An error: - or RESP3 !. */
#define RESP_OTHER	3	/* Any other well-formed reply. */

/* resp_parse() results. */
#define RESP_MORE	0	/* Every byte taken; the reply goes on. */
#define RESP_DONE	1	/* A reply is complete: see ${reply}. */
#define RESP_BAD	-1	/* Not RESP: the stream cannot be resumed. */

/* A complete reply. */
struct resp_reply {
	int kind;			/* RESP_OK .. RESP_OTHER. */
	char msg[RESP_MSG_MAX + 1];	/* Simple string or error text,
					   shortened, NUL-terminated; "" for
					   other kinds. */
};

/* The parser's state between calls; set up by resp_parse_init. */
struct resp_parser {
	int state;			/* Where in a value (resp.c). */
	uint8_t type;			/* The current value's type byte. */
	uint8_t toptype;		/* The top value's type byte. */
	int neg;			/* Sign seen: 1 '-', 2 '+', 0 none. */
	int digits;			/* Digits seen on the number line. */
	int64_t num;			/* The number line's value so far. */
	int64_t left;			/* Bulk bytes still to come. */
	int top;			/* The current value is the top one. */
	int depth;			/* Open aggregates. */
	int64_t need[RESP_DEPTH_MAX];	/* Elements each still waits for. */
	int attr[RESP_DEPTH_MAX];	/* That aggregate is an attribute. */
	int topkind;			/* The top value's kind so far. */
	size_t msglen;			/* Bytes of msg kept. */
	size_t taken;			/* Bytes of the reply so far. */
	char msg[RESP_MSG_MAX + 1];
};

/**
 * resp_parse_init(P):
 * Make ${P} ready for the first byte of a reply stream.
 */
void resp_parse_init(struct resp_parser *);

/**
 * resp_parse(P, buf, len, used, reply):
 * Feed the ${len} bytes at ${buf} to ${P}.  Stop at the end of the first
 * complete top-level reply: return RESP_DONE with ${*used} the bytes taken
 * (the rest belong to the next reply: call again with them) and ${reply}
 * filled in.  Return RESP_MORE with ${*used} = ${len} when every byte was
 * taken and the reply goes on, or RESP_BAD (${*used} undefined) on a byte
 * RESP does not allow there: a bad type, a number line that is not one, a
 * length out of range, a CR without LF, an aggregate deeper than
 * RESP_DEPTH_MAX, a reply longer than RESP_REPLY_MAX.  After RESP_BAD, ${P} must be set up again.  An attribute
 * (RESP3 |) is skipped: the reply is the value after it.  No system call,
 * no allocation.
 */
int resp_parse(struct resp_parser *, const uint8_t *, size_t, size_t *,
    struct resp_reply *);

/**
 * resp_encode(buf, size, argv, lens, argc):
 * Write the command of ${argc} (1 .. RESP_ARGS_MAX) arguments, argument i
 * the ${lens}[i] bytes at ${argv}[i], as a RESP array of bulk strings into
 * ${buf} of ${size} bytes.  Return its length, or 0 (nothing useful in
 * ${buf}) if it does not fit or ${argc} is out of range.
 */
size_t resp_encode(uint8_t *, size_t, const uint8_t * const *,
    const size_t *, size_t);

#endif /* !RESP_H_ */
