/*
 * conf_values.c: the values of the options that are more than a number or
 * a duration (listeners, backends with their sub-options, routes, port
 * ranges, the token window), parsed into a struct conf.  The option table
 * that calls them is in conf.c.
 */
#include <stdio.h>
#include <string.h>

#include "cidr.h"
#include "conf.h"
#include "conf_internal.h"
#include "log.h"
#include "proxyhdr.h"
#include "routes.h"
#include "token.h"
/*
 * Report a bad option value ${val}, or without it if ${val} is NULL (it
 * may be a knock given by mistake).
 */
int
conf_bad(const char * opt, const char * val, const char * expected)
{

	if (val == NULL) {
		conf_err("invalid value for %s (not shown: it may be a knock; "
		    "a KNOCK that starts with '-' goes after '--'): "
		    "expected %s", opt, expected);
		return (-1);
	}

	/* A value too long for one line is shortened, never the message. */
	conf_err("invalid value '%.64s%s' for %s: expected %s", val,
	    strlen(val) > 64 ? "..." : "", opt, expected);
	return (-1);
}

/*
 * Is ${a} already a listener?  Port 0 (any free port) is never a duplicate;
 * SO_REUSEPORT (--workers) would otherwise bind the same address twice.
 */
static int
conf_listen_seen(const struct conf * C, const struct net_addr * a)
{
	size_t i;

	if (net_port((const struct sockaddr *)&a->ss) == 0)
		return (0);
	for (i = 0; i < C->nlisten; i++)
		if (C->listen[i].len == a->len &&
		    memcmp(&C->listen[i].ss, &a->ss, a->len) == 0)
			return (1);
	return (0);
}

/* --listen ADDR:PORT: an address literal, port 0 allowed (any free port). */
int
conf_listen(struct conf * C, const char * s, const char * show)
{
	char host[PARSE_HOST_MAX + 1];
	uint16_t port;

	if (C->nlisten == CONF_LISTEN_MAX) {
		conf_err("too many --listen addresses at '%s': at most %d",
		    show != NULL ? show : "(not shown)", CONF_LISTEN_MAX);
		return (-1);
	}
	if (parse_hostport(s, host, sizeof(host), &port, 1) ||
	    net_literal(host, port, &C->listen[C->nlisten]))
		return (conf_bad("--listen", show,
		    "IPV4:PORT or [IPV6]:PORT with PORT 0-65535"));
	if (conf_listen_seen(C, &C->listen[C->nlisten])) {
		/* A literal parsed, so ${show} is ${s}, never NULL. */
		conf_err("--listen '%s' is given twice: give each address once",
		    s);
		return (-1);
	}
	C->nlisten++;
	return (0);
}

/* The sub-options a backend option takes (conf_sub). */
#define SUB_IDLE	0x01
#define SUB_PROXY	0x02
#define SUB_NAME	0x04
#define SUB_FILE	0x08	/* key-file= and knock-file=. */

/* The longest HOST:PORT before the sub-options: "[host]:65535". */
#define CONF_HEAD_MAX	(PARSE_HOST_MAX + 8)

/* The HOST:PORT of a backend option ${s}, before any ',', into ${B}. */
static int
conf_hostport(struct conf_backend * B, const char * opt, const char * s,
    const char * show)
{
	char head[CONF_HEAD_MAX + 1];
	size_t len = strcspn(s, ",");
	struct net_addr a;

	if (len > CONF_HEAD_MAX)
		goto bad;
	memcpy(head, s, len);
	head[len] = '\0';
	if (parse_hostport(head, B->host, sizeof(B->host), &B->port, 0))
		goto bad;
	/* 256.1.1.1 or 10.1 is a typo, not a name to ask DNS about. */
	if (parse_numeric_host(B->host) && net_literal(B->host, 0, &a))
		return (conf_bad(opt, show,
		    "an IPv4 address of four numbers 0-255 (a.b.c.d)"));
	return (0);

bad:
	return (conf_bad(opt, show,
	    "HOST:PORT, IPV4:PORT or [IPV6]:PORT with PORT 1-65535"));
}

/* Is ${s} a route name: [A-Za-z0-9_-], 1 to CONF_NAME_MAX characters? */
static int
conf_name_ok(const char * s, size_t len)
{
	size_t i;

	if (len == 0 || len > CONF_NAME_MAX)
		return (0);
	for (i = 0; i < len; i++) {
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_-", s[i]) == NULL || s[i] == '\0')
			return (0);
	}
	return (1);
}

/* What the sub-options of one backend option said. */
struct conf_sub {
	const char * opt;		/* "--route", for messages. */
	const char * show;		/* The whole value, or NULL. */
	int allowed;			/* SUB_*. */
	int seen;			/* SUB_* given so far. */
	struct conf_backend * B;
	struct conf_route * R;		/* NULL for --normal. */
	int kind;			/* The file's kind (routes.c). */
};

/* Report the sub-option ${item} (${len} bytes) as ${why}. */
static int
conf_sub_bad(const struct conf_sub * S, const char * item, size_t len,
    const char * why)
{

	if (S->show == NULL) {
		conf_err("%s in %s (not shown: it may be a knock): %s",
		    "invalid sub-option", S->opt, why);
		return (-1);
	}
	conf_err("invalid sub-option '%.*s' in %s '%.64s%s': %s",
	    (int)(len > 64 ? 64 : len), item, S->opt, S->show,
	    strlen(S->show) > 64 ? "..." : "", why);
	return (-1);
}

/*
 * The file sub-options of every kind, "key-file=, knock-file=", with
 * ${last} (" or ", " and ") before the last one (", " if NULL), into
 * ${buf} (${size} bytes).
 */
static const char *
conf_kinds(char * buf, size_t size, const char * last)
{
	const char * f;
	size_t len;
	int i;

	buf[0] = '\0';
	for (i = 0; (f = routes_kind_file(i)) != NULL; i++) {
		len = strlen(buf);
		snprintf(buf + len, size - len, "%s%s=", i == 0 ? "" :
		    (routes_kind_file(i + 1) == NULL && last) ? last : ", ", f);
	}
	return (buf);
}

/* What the sub-options allowed in ${S} are, for messages (into ${buf}). */
static const char *
conf_sub_expected(const struct conf_sub * S, char * buf, size_t size)
{
	char kinds[256];

	if (S->allowed & SUB_FILE) {
		snprintf(buf, size, "expected %s, name=, idle= or proxy=",
		    conf_kinds(kinds, sizeof(kinds), NULL));
		return (buf);
	}
	if (S->allowed & SUB_NAME)
		return ("expected idle=, proxy= or name=");
	return ("expected idle= or proxy=");
}

/* Copy the path ${v} (${len} bytes) of a file of kind ${kind}. */
static int
conf_sub_file(struct conf_sub * S, const char * item, size_t ilen,
    const char * v, size_t len, int kind)
{

	if (len == 0 || len >= CONF_PATH_MAX || v[0] == '-' ||
	    memchr(v, '\0', len) != NULL)
		return (conf_sub_bad(S, item, ilen, "expected a file name "
		    "(one that starts with '-' as ./-name), shorter than "
		    CONF_STR(CONF_PATH_MAX) " bytes"));
	memcpy(S->R->path, v, len);
	S->R->path[len] = '\0';
	S->kind = kind;
	return (0);
}

/*
 * Apply the value ${v} (${vlen} bytes) of the sub-option ${bit} (a file:
 * of kind ${kind}) given as ${item} (${len} bytes).
 */
static int
conf_sub_value(struct conf_sub * S, int bit, int kind, const char * item,
    size_t len, const char * v, size_t vlen)
{
	int p;

	switch (bit) {
	case SUB_IDLE:
		S->B->idle_set = 1;
		if (parse_duration(v, &S->B->idle_ms))
			return (conf_sub_bad(S, item, len,
			    "expected " CONF_DURATION));
		return (0);
	case SUB_PROXY:
		if ((p = proxyhdr_parse_version(v)) == -1)
			return (conf_sub_bad(S, item, len,
			    "expected proxy=v1, proxy=v2 or proxy=off"));
		S->B->proxy = p;
		return (0);
	case SUB_NAME:
		if (!conf_name_ok(v, vlen))
			return (conf_sub_bad(S, item, len, "expected a name of "
			    "1 to " CONF_STR(CONF_NAME_MAX) " letters, digits, "
			    "'_' or '-'"));
		memcpy(S->R->name, v, vlen + 1);
		return (0);
	default:
		return (conf_sub_file(S, item, len, v, vlen, kind));
	}
}

/*
 * Which sub-option ${item} (${len} bytes) is: its SUB_* bit, the length of
 * its "KEY=" in ${klen} and, for a file, its kind in ${kind}; 0 if none.
 */
static int
conf_sub_which(const struct conf_sub * S, const char * item, size_t len,
    size_t * klen, int * kind)
{
	static const struct {
		const char * key;
		int bit;
	} keys[] = {
		{ "idle=", SUB_IDLE }, { "proxy=", SUB_PROXY },
		{ "name=", SUB_NAME },
	};
	const char * eq = memchr(item, '=', len);
	size_t i;

	if (eq == NULL)
		return (0);
	*klen = (size_t)(eq - item) + 1;
	*kind = routes_kind_find(item, *klen - 1);
	if (*kind != -1)
		return (S->allowed & SUB_FILE);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strlen(keys[i].key) == *klen &&
		    memcmp(item, keys[i].key, *klen) == 0)
			return (S->allowed & keys[i].bit);
	return (0);
}

/* Apply one sub-option "KEY=VALUE" of ${len} bytes at ${item}. */
static int
conf_sub_one(struct conf_sub * S, const char * item, size_t len)
{
	char v[CONF_PATH_MAX], why[256], kinds[200];
	size_t klen, vlen;
	int bit, kind;

	if ((bit = conf_sub_which(S, item, len, &klen, &kind)) == 0)
		return (conf_sub_bad(S, item, len,
		    conf_sub_expected(S, why, sizeof(why))));
	if (S->seen & bit) {
		if (bit == SUB_FILE)
			snprintf(why, sizeof(why), "give one of %s, once",
			    conf_kinds(kinds, sizeof(kinds), " and "));
		return (conf_sub_bad(S, item, len, (bit == SUB_FILE) ? why :
		    "given twice: give it once"));
	}
	S->seen |= bit;
	vlen = len - klen;
	if (vlen >= sizeof(v))
		return (conf_sub_bad(S, item, len, "too long"));
	memcpy(v, item + klen, vlen);
	v[vlen] = '\0';
	return (conf_sub_value(S, bit, kind, item, len, v, vlen));
}

/* Apply the sub-options after the first ',' of ${S}->show's value ${s}. */
static int
conf_subs(struct conf_sub * S, const char * s)
{
	const char * item;
	size_t len;

	if ((item = strchr(s, ',')) == NULL)
		return (0);
	do {
		item++;
		len = strcspn(item, ",");
		if (conf_sub_one(S, item, len))
			return (-1);
		item += len;
	} while (*item == ',');
	return (0);
}

/* --normal/--hidden HOST:PORT[,idle=DUR][,proxy=V] (--hidden: [,name=]). */
int
conf_backend(struct conf_backend * B, struct conf_route * R, const char * opt,
    const char * s, const char * show)
{
	struct conf_sub S = { opt, show, SUB_IDLE | SUB_PROXY, 0, B, R, 0 };

	if (R != NULL)
		S.allowed |= SUB_NAME;
	if (conf_hostport(B, opt, s, show))
		return (-1);
	return (conf_subs(&S, s));
}

/* --route HOST:PORT,key-file=PATH|knock-file=PATH[,name=][,idle=][,proxy=]. */
int
conf_route(struct conf * C, const char * s, const char * show)
{
	struct conf_route * R = &C->routes[C->nroutes];
	struct conf_sub S = { "--route", show, SUB_IDLE | SUB_PROXY |
	    SUB_NAME | SUB_FILE, 0, &R->b, R, 0 };
	char kinds[200];

	if (C->nroutes == CONF_ROUTES_MAX) {
		conf_err("too many hidden routes at --route '%.64s': at most %d "
		    "in all (--hidden and --route)", show != NULL ? show :
		    "(not shown)", CONF_ROUTES_MAX);
		return (-1);
	}
	memset(R, 0, sizeof(*R));
	if (conf_hostport(&R->b, "--route", s, show) || conf_subs(&S, s))
		return (-1);
	if (!(S.seen & SUB_FILE)) {
		conf_err("--route '%.64s' has no %s: give one of them",
		    show != NULL ? show : "(not shown)",
		    conf_kinds(kinds, sizeof(kinds), " or "));
		return (-1);
	}
	R->kind = S.kind;
	C->nroutes++;
	return (0);
}


/* Most ports --backend-ports may name (one Landlock rule each). */
#define CONF_BIND_PORTS_MAX	16384

/* --backend-ports LO-HI: 1024-65535, LO <= HI, at most the maximum. */
int
conf_port_range(struct conf * C, const char * s, const char * show)
{
	char lo[8];
	const char * dash = strchr(s, '-');
	unsigned long long a, b;

	if (dash == NULL || (size_t)(dash - s) >= sizeof(lo))
		goto bad;
	memcpy(lo, s, (size_t)(dash - s));
	lo[dash - s] = '\0';
	if (parse_uint(lo, 1024, 65535, &a) ||
	    parse_uint(dash + 1, 1024, 65535, &b) || a > b ||
	    b - a + 1 > CONF_BIND_PORTS_MAX)
		goto bad;
	C->bind_lo = (uint16_t)a;
	C->bind_hi = (uint16_t)b;
	return (0);

bad:
	return (conf_bad("--backend-ports", show, "a port range LO-HI within "
	    "1024-65535, at most " CONF_STR(CONF_BIND_PORTS_MAX) " ports"));
}

/* --token-window DUR: whole seconds, 1 s to TOKEN_WINDOW_MAX. */
int
conf_window(struct conf * C, const char * s, const char * show)
{
	uint64_t ms;

	if (parse_duration(s, &ms) || ms % 1000 != 0 ||
	    ms / 1000 < CONF_WINDOW_MIN || ms / 1000 > TOKEN_WINDOW_MAX)
		return (conf_bad("--token-window", show, "a whole number of "
		    "seconds from 1s to 10m, such as 30s or 2m"));
	C->window_s = ms / 1000;
	return (0);
}

/* --replay-store HOST:PORT: no sub-options. */
int
conf_replay_store(struct conf * C, const char * s, const char * show)
{

	if (strchr(s, ',') != NULL)
		return (conf_bad("--replay-store", show, "HOST:PORT, IPV4:PORT "
		    "or [IPV6]:PORT with PORT 1-65535 (no options)"));
	if (conf_hostport(&C->replay_store, "--replay-store", s, show))
		return (-1);
	C->have_replay_store = 1;
	return (0);
}

/* --accept-proxy CIDR: one more network whose clients send PROXY headers. */
int
conf_accept_proxy(struct conf * C, const char * s, const char * show)
{

	if (C->naccept_proxy == CONF_ACCEPT_PROXY_MAX) {
		conf_err("too many --accept-proxy networks at '%s': at most %d",
		    show != NULL ? show : "(not shown)", CONF_ACCEPT_PROXY_MAX);
		return (-1);
	}
	if (cidr_parse(s, &C->accept_proxy[C->naccept_proxy]))
		return (conf_bad("--accept-proxy", show, "an IPv4 or IPv6 "
		    "network ADDR/BITS (no host bits set) or one ADDR"));
	C->naccept_proxy++;
	return (0);
}
