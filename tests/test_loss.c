/*
 * Nothing lost, nothing cut while it moves: a
 * slow reader behind small socket buffers gets every byte, since a
 * connection is idle only when no byte moved in the kernel either; and a
 * close that loses bytes is a reset, never a clean FIN, with the lost bytes
 * in the log line.  Each test runs in a network namespace of its own with
 * 16 KiB TCP buffers (h_small_buffers), relay and backends inside it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define KNOCK	"open-sesame"
#define KLEN	(sizeof(KNOCK) - 1)

/* What the normal route's client sends: not a knock, decided at once. */
#define REQUEST	"GET / HTTP/1.0\r\n\r\n"

static struct h_backend normal, hidden;
static struct h_relay relay;

/* One client reading on its own schedule: what it got, how it ended. */
struct reader {
	int fd;
	uint64_t got;
	uint64_t hash;
	int closed;		/* EOF or an error seen. */
	int err;		/* The error (ECONNRESET...), 0 for an EOF. */
};

/*
 * Enter a namespace of our own with small buffers; start the backends
 * (normal: ${nmode}, hidden: ${hmode}, each sending ${n} bytes of the
 * stream of seed 1 and 2) and a relay with ${extra}.
 */
static void
setup(enum h_mode nmode, enum h_mode hmode, uint64_t n,
    const char * const * extra)
{

	if (h_small_buffers())
		cr_skip_test("no network namespace of our own: %s",
		    strerror(errno));
	h_backend_start(&normal, &(struct h_backend_conf){ .mode = nmode,
	    .n = n, .seed = 1 });
	h_backend_start(&hidden, &(struct h_backend_conf){ .mode = hmode,
	    .n = n, .seed = 2 });
	h_relay_start(&relay, &(struct h_relay_conf){ .normal = normal.port,
	    .hidden = hidden.port, .extra = extra, .knock = KNOCK });
}

static void
teardown(void)
{

	h_relay_down(&relay);
	h_backend_stop(&normal);
	h_backend_stop(&hidden);
}

/* Connect ${r} to the relay and send ${first} (the knock, or a request). */
static void
reader_open(struct reader * r, const char * first)
{

	memset(r, 0, sizeof(*r));
	r->hash = H_HASH_INIT;
	r->fd = h_connect(AF_INET, relay.port);
	h_send_all(r->fd, first, strlen(first));
}

/* Read at most ${max} bytes of what ${r} has now, without waiting. */
static void
reader_step(struct reader * r, size_t max)
{
	uint8_t buf[65536];
	ssize_t n;

	if (r->closed)
		return;
	if (max > sizeof(buf))
		max = sizeof(buf);
	n = recv(r->fd, buf, max, MSG_DONTWAIT);
	if (n > 0) {
		r->got += (uint64_t)n;
		r->hash = h_hash(r->hash, buf, (size_t)n);
	} else if (n == 0) {
		r->closed = 1;
	} else if (errno != EAGAIN && errno != EINTR) {
		r->closed = 1;
		r->err = errno;
	}
}

/*
 * Part 1.  A response of 60,000 bytes (several times the 16 KiB buffers
 * and the relay's 4 s idle timeout's worth at that pace) read at about
 * 2.5 KB/s (250 bytes every 100 ms), by two clients at once: one from a
 * backend that half-closes after its last byte (normal route), one from a
 * backend that stays open (hidden route).  The relay writes to such a
 * client only when a third of its send buffer drained, which at this pace
 * takes longer than -o, while the kernel delivers bytes the whole time:
 * before, the relay closed both as idle after about 16 KB.  Every byte
 * must arrive, intact, and the half-closed one must end with a clean EOF.
 */
Test(loss, slow_reader_behind_small_buffers_gets_every_byte, .timeout = 60)
{
	const uint64_t len = 60000;
	struct reader a, b;
	uint64_t t0, end;

	setup(H_SEND, H_SEND_OPEN, len, (const char *[]){ "-o", "4s", NULL });
	reader_open(&a, REQUEST);
	reader_open(&b, KNOCK);
	t0 = h_now_ms();
	end = t0 + 40000;
	while (h_now_ms() < end && (!a.closed || (!b.closed && b.got < len))) {
		usleep(100000);
		reader_step(&a, 250);
		reader_step(&b, b.got < len ? 250 : 1);
	}
	cr_assert_eq(a.got, len, "half-closing backend: %llu of %llu bytes "
	    "arrived (%s) in %llu ms; log:\n%s", (unsigned long long)a.got,
	    (unsigned long long)len, a.err ? strerror(a.err) : "EOF",
	    (unsigned long long)(h_now_ms() - t0), relay.log);
	cr_assert_eq(a.hash, h_stream_hash(1, len), "the bytes differ");
	cr_assert(a.closed && a.err == 0, "no clean EOF after the last byte: "
	    "%s", a.closed ? strerror(a.err) : "still open");
	cr_assert_eq(b.got, len, "backend staying open: %llu of %llu bytes "
	    "arrived (%s) in %llu ms; log:\n%s", (unsigned long long)b.got,
	    (unsigned long long)len, b.closed ? (b.err ? strerror(b.err) :
	    "EOF") : "open", (unsigned long long)(h_now_ms() - t0),
	    relay.log);
	cr_assert_eq(b.hash, h_stream_hash(2, len), "the bytes differ");
	cr_assert(h_now_ms() - t0 > 15000, "the download took only %llu ms: "
	    "not a slow reader", (unsigned long long)(h_now_ms() - t0));
	cr_assert_eq(h_relay_log_count(&relay, "bytes lost"), 0, "log:\n%s",
	    relay.log);
	close(a.fd);
	close(b.fd);
	teardown();
}

/* Read what ${r} is sent, as fast as it comes, until it ends or ${ms}. */
static void
reader_drain(struct reader * r, int ms)
{
	uint64_t end = h_now_ms() + (uint64_t)ms;
	struct pollfd pfd;

	while (!r->closed && h_now_ms() < end) {
		pfd.fd = r->fd;
		pfd.events = POLLIN;
		(void)poll(&pfd, 1, 100);
		reader_step(r, 65536);
	}
}

/*
 * Part 2.  A client that stops reading a long response is cut by the idle
 * timer (-o 1s) with a reset, not a clean FIN after whatever fitted, and
 * the log line counts the bytes lost.
 */
Test(loss, stopped_reader_is_cut_with_a_reset, .timeout = 40)
{
	struct reader stuck;

	setup(H_SEND_OPEN, H_SEND_OPEN, 4 << 20,
	    (const char *[]){ "-o", "1s", NULL });
	reader_open(&stuck, REQUEST);
	/* Read a little, then nothing: the way fills up, then stands. */
	usleep(300000);
	reader_step(&stuck, 1000);
	cr_assert(stuck.got > 0 && !stuck.closed, "nothing came: %s",
	    stuck.closed ? strerror(stuck.err) : "EAGAIN");
	cr_assert(h_relay_log_wait(&relay, "closed: idle timeout", 10000) == 0,
	    "not cut; log:\n%s", relay.log);
	reader_drain(&stuck, 5000);
	cr_assert(stuck.closed, "no end after the cut");
	cr_assert_eq(stuck.err, ECONNRESET, "a stopped reader cut short ended "
	    "with %s after %llu bytes, not a reset; log:\n%s",
	    stuck.err ? strerror(stuck.err) : "a clean EOF",
	    (unsigned long long)stuck.got, relay.log);
	cr_assert(stuck.got < (4 << 20));
	cr_assert_eq(h_relay_log_count(&relay, "bytes lost ("), 1,
	    "the lost bytes are not in the log:\n%s", relay.log);
	close(stuck.fd);
	teardown();
}

/*
 * The same timer after a complete response (the backend stays open): a
 * clean FIN, since nothing was lost, and no loss in the log.
 */
Test(loss, complete_response_then_idle_ends_with_a_fin, .timeout = 30)
{
	const uint64_t len = 100000;
	struct reader whole;

	setup(H_SEND_OPEN, H_SEND_OPEN, len,
	    (const char *[]){ "-o", "1s", NULL });
	reader_open(&whole, KNOCK);
	reader_drain(&whole, 10000);
	cr_assert_eq(whole.got, len, "got %llu bytes",
	    (unsigned long long)whole.got);
	cr_assert_eq(whole.hash, h_stream_hash(2, len));
	cr_assert(whole.closed && whole.err == 0, "a complete response ended "
	    "with %s, not a FIN", whole.closed ? strerror(whole.err) :
	    "nothing");
	cr_assert(h_relay_log_wait(&relay, "closed: idle timeout", 3000) == 0);
	cr_assert_eq(h_relay_log_count(&relay, "bytes lost"), 0, "log:\n%s",
	    relay.log);
	close(whole.fd);
	teardown();
}
