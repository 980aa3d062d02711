#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "net.h"
#include "resp.h"
#include "store.h"

/* Longest SET command: the prefix, 32 hex digits, a 20-digit TTL. */
#define STORE_CMD_MAX	(64 + sizeof(STORE_PREFIX) + 32 + 20)

/* Most claims whose bytes may wait unsent in the send buffer. */
#define STORE_UNSENT_MAX	1024

/* Reconnect back-off (ms): first, most. */
#define STORE_BACKOFF_MIN	100
#define STORE_BACKOFF_MAX	5000

/* Bytes read per recv. */
#define STORE_READ	4096

/* The connection's state. */
#define ST_DOWN		0	/* No socket: reconnect at retry_at. */
#define ST_CONNECTING	1	/* connect() in progress. */
#define ST_UP		2	/* Connected. */

/* A request whose reply is awaited. */
struct store_wait {
	uint32_t slot, gen;	/* The connection, for the callback. */
	int auth;		/* AUTH, not a claim. */
};

struct store {
	struct store_conf conf;
	int fd;
	int state;
	int wr;				/* Writable (until EAGAIN). */
	struct store_wait * ring;	/* Requests sent or queued, in order. */
	size_t cap, head, n;
	uint8_t * out;			/* Bytes to send: [out_off, out_len). */
	size_t out_cap, out_off, out_len;
	uint8_t * auth;			/* The AUTH command, or NULL. */
	size_t auth_len;
	struct resp_parser P;
	uint64_t retry_at;		/* ST_DOWN: reconnect then. */
	uint64_t backoff;		/* The next back-off. */
	int lost;			/* Given up since last connected. */
	struct log_rate log_down, log_refused, log_reply;
	char name[NET_ADDRSTR_MAX];	/* The server, for the log. */
};

/* Build the AUTH command from the password. */
static int
store_init_auth(struct store * S, const struct store_conf * conf)
{
	const uint8_t * argv[2] = { (const uint8_t *)"AUTH", conf->password };
	size_t lens[2] = { 4, conf->password_len };
	size_t cap = conf->password_len + 64;

	if ((S->auth = malloc(cap)) == NULL) {
		log_errp("cannot allocate the replay store's AUTH");
		return (-1);
	}
	S->auth_len = resp_encode(S->auth, cap, argv, lens, 2);
	return (0);
}

/*
 * Drop the socket, if any, with what was to be sent and the reply being
 * read; the ring is left to store_fail_all (its claims must be failed).
 */
static void
store_close(struct store * S)
{

	if (S->fd != -1)
		close(S->fd);
	S->fd = -1;
	S->state = ST_DOWN;
	S->wr = 0;
	S->out_off = S->out_len = 0;
	resp_parse_init(&S->P);
}

/* Put a request for ${slot}/${gen} at the ring's end. */
static void
store_push(struct store * S, uint32_t slot, uint32_t gen, int auth)
{
	struct store_wait * W = &S->ring[(S->head + S->n) % S->cap];

	W->slot = slot;
	W->gen = gen;
	W->auth = auth;
	S->n++;
}

/* Send what waits, while the socket takes it.  Return 0, or -1 (errno). */
static int
store_flush(struct store * S)
{
	ssize_t w;

	while (S->state == ST_UP && S->wr && S->out_off < S->out_len) {
		w = send(S->fd, S->out + S->out_off, S->out_len - S->out_off,
		    0);
		if (w == -1) {
			if (errno == EAGAIN || errno == EINTR) {
				S->wr = (errno == EINTR);
				continue;
			}
			return (-1);
		}
		S->out_off += (size_t)w;
	}
	if (S->out_off == S->out_len)
		S->out_off = S->out_len = 0;
	return (0);
}

/* Room for ${len} more bytes in the send buffer (compacted), or -1. */
static int
store_room(struct store * S, size_t len)
{

	if (S->out_cap - S->out_len >= len)
		return (0);
	memmove(S->out, S->out + S->out_off, S->out_len - S->out_off);
	S->out_len -= S->out_off;
	S->out_off = 0;
	return ((S->out_cap - S->out_len >= len) ? 0 : -1);
}

/* Register the socket with the relay's epoll set. */
static int
store_watch(struct store * S)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	ev.data.u64 = S->conf.ev_data;
	return (epoll_ctl(S->conf.epoll_fd, EPOLL_CTL_ADD, S->fd, &ev));
}

/* Start connecting; queue AUTH first.  Return 0, or -1 with errno set. */
static int
store_connect(struct store * S)
{
	const struct net_addr * a = S->conf.addr;
	int one = 1, err;

	store_close(S);
	if ((S->fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, IPPROTO_TCP)) == -1)
		return (-1);
	if (setsockopt(S->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		log_errno(LOG_DEBUG, "TCP_NODELAY on the replay store");
	if (connect(S->fd, (const struct sockaddr *)&a->ss, a->len) &&
	    errno != EINPROGRESS)
		goto err;
	if (store_watch(S))
		goto err;
	S->state = ST_CONNECTING;
	if (S->auth != NULL) {
		memcpy(S->out, S->auth, S->auth_len);
		S->out_len = S->auth_len;
		store_push(S, 0, 0, 1);
	}
	return (0);

err:
	err = errno;
	store_close(S);
	errno = err;
	return (-1);
}

/* Allocate the client; start connecting. */
struct store *
store_init(const struct store_conf * conf, uint64_t now)
{
	struct store * S;

	if ((S = calloc(1, sizeof(*S))) == NULL) {
		log_errp("cannot allocate the replay store client");
		goto err0;
	}
	S->conf = *conf;
	S->fd = -1;
	S->cap = conf->pending + 1;	/* And AUTH. */
	if ((S->ring = calloc(S->cap, sizeof(S->ring[0]))) == NULL) {
		log_errp("cannot allocate %zu replay store requests", S->cap);
		goto err1;
	}
	S->out_cap = ((conf->pending < STORE_UNSENT_MAX) ? conf->pending :
	    STORE_UNSENT_MAX) * STORE_CMD_MAX + conf->password_len + 64;
	if ((S->out = malloc(S->out_cap)) == NULL) {
		log_errp("cannot allocate the replay store's send buffer");
		goto err2;
	}
	if (conf->password != NULL && store_init_auth(S, conf))
		goto err3;
	S->conf.password = NULL;
	(void)net_format((const struct sockaddr *)&conf->addr->ss, S->name,
	    sizeof(S->name));
	resp_parse_init(&S->P);
	S->backoff = STORE_BACKOFF_MIN;
	if (store_connect(S)) {
		log_errno(LOG_WARN, "replay store %s: cannot connect (tokens "
		    "go to the normal route until it answers)", S->name);
		S->retry_at = now + S->backoff;
		S->lost = 1;
	}

	/* Success! */
	return (S);

err3:
	free(S->out);
err2:
	free(S->ring);
err1:
	free(S);
err0:
	/* Failure! */
	return (NULL);
}

/* The hex digits of a tag. */
static void
store_hex(char * p, const uint8_t * tag, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		p[2 * i] = hex[tag[i] >> 4];
		p[2 * i + 1] = hex[tag[i] & 0xf];
	}
}

/* The decimal digits of ${n} into ${p} (room for 20); their count. */
static size_t
store_dec(char * p, uint64_t n)
{
	char d[20];
	size_t k = 0, i;

	do {
		d[k++] = (char)('0' + n % 10);
		n /= 10;
	} while (n > 0);
	for (i = 0; i < k; i++)
		p[i] = d[k - 1 - i];
	return (k);
}

/* Queue a claim. */
int
store_claim(struct store * S, const uint8_t tag[16], uint64_t ttl_ms,
    uint32_t slot, uint32_t gen, uint64_t now)
{
	char key[sizeof(STORE_PREFIX) - 1 + 32], ttl[20];
	const uint8_t * argv[6] = { (const uint8_t *)"SET",
	    (const uint8_t *)key, (const uint8_t *)"1", (const uint8_t *)"NX",
	    (const uint8_t *)"PX", (const uint8_t *)ttl };
	size_t lens[6] = { 3, sizeof(key), 1, 2, 2, 0 };
	size_t len;

	if (S->state == ST_DOWN) {
		log_rate(&S->log_refused, now, LOG_WARN, "replay store %s is "
		    "down: a token goes to the normal route", S->name);
		return (-1);
	}
	if (S->n == S->cap || store_room(S, STORE_CMD_MAX)) {
		log_rate(&S->log_refused, now, LOG_WARN, "replay store %s: "
		    "too many claims waiting: a token goes to the normal "
		    "route", S->name);
		return (-1);
	}
	memcpy(key, STORE_PREFIX, sizeof(STORE_PREFIX) - 1);
	store_hex(key + sizeof(STORE_PREFIX) - 1, tag, 16);
	lens[5] = store_dec(ttl, ttl_ms);
	len = resp_encode(S->out + S->out_len, S->out_cap - S->out_len, argv,
	    lens, 6);
	S->out_len += len;
	store_push(S, slot, gen, 0);
	/* A send error is found by the next event (EPOLLERR). */
	(void)store_flush(S);
	return (0);
}

/* Fail every waiting claim; empty the ring. */
static void
store_fail_all(struct store * S, store_reply_fn * fn, void * cookie)
{
	size_t head = S->head, n = S->n, i;
	const struct store_wait * W;

	S->head = S->n = 0;
	for (i = 0; i < n; i++) {
		W = &S->ring[(head + i) % S->cap];
		if (!W->auth)
			fn(cookie, W->slot, W->gen, STORE_FAILED);
	}
}

/* Give the connection up; reconnect later. */
void
store_fail(struct store * S, const char * why, uint64_t now,
    store_reply_fn * fn, void * cookie)
{

	log_rate(&S->log_down, now, LOG_WARN, "replay store %s: %s: waiting "
	    "tokens go to the normal route; reconnecting in %llu ms", S->name,
	    why, (unsigned long long)S->backoff);
	store_close(S);
	S->lost = 1;
	store_fail_all(S, fn, cookie);
	S->retry_at = now + S->backoff;
	S->backoff = (S->backoff * 2 < STORE_BACKOFF_MAX) ? S->backoff * 2 :
	    STORE_BACKOFF_MAX;
}

/*
 * One complete reply: the ring's first request's.  Return 0, or -1 with
 * ${*why} set.
 */
static int
store_reply(struct store * S, const struct resp_reply * R, uint64_t now,
    store_reply_fn * fn, void * cookie, const char ** why)
{
	struct store_wait W;

	if (S->n == 0) {
		/* Redis's protected mode says -DENIED so, for one. */
		log_rate(&S->log_reply, now, LOG_ERR, "replay store %s: a reply "
		    "to nothing asked%s%s", S->name, R->msg[0] != '\0' ? ": " :
		    "", R->msg);
		*why = "a reply to nothing asked";
		return (-1);
	}
	W = S->ring[S->head];
	S->head = (S->head + 1) % S->cap;
	S->n--;
	if (W.auth) {
		if (R->kind == RESP_OK)
			return (0);
		log_rate(&S->log_reply, now, LOG_ERR, "replay store %s refused "
		    "AUTH: %s", S->name, R->msg);
		*why = "AUTH refused";
		return (-1);
	}
	S->backoff = STORE_BACKOFF_MIN;
	if (R->kind == RESP_OK) {
		fn(cookie, W.slot, W.gen, STORE_FRESH);
	} else if (R->kind == RESP_NULL) {
		fn(cookie, W.slot, W.gen, STORE_USED);
	} else {
		log_rate(&S->log_reply, now, LOG_ERR, "replay store %s: "
		    "unexpected reply to SET%s%s: a token goes to the normal "
		    "route", S->name, R->msg[0] != '\0' ? ": " : "", R->msg);
		fn(cookie, W.slot, W.gen, STORE_FAILED);
	}
	return (0);
}

/*
 * Read and act on every reply that came.  Return 0, or -1 with ${*why}
 * set (the connection must be given up).
 */
static int
store_read(struct store * S, uint64_t now, store_reply_fn * fn,
    void * cookie, const char ** why)
{
	uint8_t buf[STORE_READ];
	struct resp_reply R;
	size_t off, used;
	ssize_t n;
	int rc;

	for (;;) {
		if ((n = recv(S->fd, buf, sizeof(buf), 0)) == -1) {
			if (errno == EAGAIN)
				return (0);
			if (errno == EINTR)
				continue;
			*why = strerrordesc_np(errno);
			return (-1);
		}
		if (n == 0) {
			*why = "the server closed the connection";
			return (-1);
		}
		for (off = 0; off < (size_t)n; off += used) {
			rc = resp_parse(&S->P, buf + off, (size_t)n - off,
			    &used, &R);
			if (rc == RESP_BAD) {
				*why = "not a RESP reply";
				return (-1);
			}
			if (rc == RESP_DONE &&
			    store_reply(S, &R, now, fn, cookie, why))
				return (-1);
		}
	}
}

/* A connect finished: check it.  Return 0 or -1 with errno set. */
static int
store_connected(struct store * S)
{
	socklen_t len = sizeof(int);
	int err = 0;

	if (getsockopt(S->fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return (-1);
	if (err != 0) {
		errno = err;
		return (-1);
	}
	S->state = ST_UP;
	if (S->lost)
		log_info("replay store %s: connected again", S->name);
	S->lost = 0;
	return (0);
}

/* Act on the socket's events. */
void
store_event(struct store * S, uint32_t events, uint64_t now,
    store_reply_fn * fn, void * cookie)
{
	const char * why = NULL;

	if (S->state == ST_DOWN)
		return;
	if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		S->wr = 1;
	if (S->state == ST_CONNECTING && (events & (EPOLLOUT | EPOLLERR |
	    EPOLLHUP)) && store_connected(S)) {
		why = strerrordesc_np(errno);
		goto fail;
	}
	if (S->state != ST_UP)
		return;
	if (store_flush(S)) {
		why = strerrordesc_np(errno);
		goto fail;
	}
	if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) &&
	    store_read(S, now, fn, cookie, &why))
		goto fail;
	return;

fail:
	store_fail(S, why != NULL ? why : "error", now, fn, cookie);
}

/* Reconnect when due. */
void
store_tick(struct store * S, uint64_t now)
{

	if (S->state != ST_DOWN || now < S->retry_at)
		return;
	if (store_connect(S)) {
		log_rate_errno(&S->log_down, now, LOG_WARN, "replay store %s: "
		    "cannot connect; retrying in %llu ms", S->name,
		    (unsigned long long)S->backoff);
		S->retry_at = now + S->backoff;
		S->backoff = (S->backoff * 2 < STORE_BACKOFF_MAX) ?
		    S->backoff * 2 : STORE_BACKOFF_MAX;
		return;
	}
	log_debug("replay store %s: reconnecting", S->name);
}

/* Shorten the wait to the next reconnect. */
int
store_wait(const struct store * S, uint64_t now, int wait)
{
	uint64_t left;

	if (S->state != ST_DOWN)
		return (wait);
	left = (S->retry_at > now) ? S->retry_at - now : 0;
	if (wait < 0 || (uint64_t)wait > left)
		wait = (int)left;
	return (wait);
}
