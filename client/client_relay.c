/*
 * Relay stdin -> socket and socket -> stdout with poll(2), read(2) and
 * write(2), one static buffer per direction (no heap inside the sandbox).
 * Each direction ends on its own: EOF passes on as shutdown(SHUT_WR) on
 * the socket or as closing stdout, so ssh sees the server go at once and
 * the server sees ssh's half-close.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "client.h"
#include "knock.h"
#include "log.h"

/* Bytes read per direction at a time. */
#define CLIENT_BUFLEN	65536

/* One direction of the relay. */
struct client_dir {
	int in, out;		/* Read from, write to. */
	size_t off, len;	/* Bytes of buf written, read. */
	int eof;		/* ${in} gave EOF (or failed). */
	int done;		/* The EOF was passed on; nothing more to do. */
	uint8_t buf[CLIENT_BUFLEN];
};

/* Up is stdin -> socket, down is socket -> stdout. */
static struct client_dir client_up, client_down;

/* The errno that ended the connection (a reset...), or 0: an orderly end. */
static int client_lost;

/* Pass the end of direction ${D} on: shut the socket down or close stdout. */
static void
client_relay_finish(struct client_dir * D)
{

	if (D->done)
		return;
	if (D->out == CLIENT_SOCK_FD)
		(void)shutdown(CLIENT_SOCK_FD, SHUT_WR);
	else
		(void)close(D->out);
	D->done = 1;
	D->len = D->off = 0;
}

/*
 * The socket failed (a reset from the server or the relay, or another
 * error): say so once, nothing more goes up; down writes what it holds.
 */
static void
client_relay_dead(void)
{

	if (client_lost == 0) {
		client_lost = errno;
		log_errno(LOG_ERR, "connection lost");
	}
	client_relay_finish(&client_up);
	client_down.eof = 1;
}

/* Read into ${D}'s empty buffer. */
static void
client_relay_read(struct client_dir * D)
{
	ssize_t n;

	if ((n = read(D->in, D->buf, sizeof(D->buf))) > 0) {
		D->off = 0;
		D->len = (size_t)n;
	} else if (n == 0) {
		D->eof = 1;
	} else if (errno != EAGAIN && errno != EINTR) {
		if (D->in == CLIENT_SOCK_FD)
			client_relay_dead();
		D->eof = 1;
	}
}

/* Write what ${D} holds. */
static void
client_relay_write(struct client_dir * D)
{
	ssize_t n;

	if ((n = write(D->out, D->buf + D->off, D->len - D->off)) > 0) {
		D->off += (size_t)n;
		if (D->off == D->len)
			D->off = D->len = 0;
	} else if (n == -1 && errno != EAGAIN && errno != EINTR) {
		/* The reader is gone: nothing more can go this way. */
		if (D->out == CLIENT_SOCK_FD)
			client_relay_dead();
		client_relay_finish(D);
	}
}

/* Move bytes along ${D} after poll said ${rin} of its input, ${rout}. */
static void
client_relay_step(struct client_dir * D, short rin, short rout)
{
	int fresh = 0;

	if (D->done)
		return;
	if (D->len == 0 && !D->eof && (rin & (POLLIN | POLLHUP | POLLERR))) {
		client_relay_read(D);
		fresh = 1;
	}

	/* Write what was just read at once: it usually goes without a poll. */
	if (D->len > 0 && !D->done &&
	    (fresh || (rout & (POLLOUT | POLLHUP | POLLERR))))
		client_relay_write(D);
	if (D->len == 0 && D->eof)
		client_relay_finish(D);
}

/* What ${D} waits for on its input and its output. */
static void
client_relay_events(const struct client_dir * D, short * in, short * out)
{

	if (D->done)
		return;
	if (D->len == 0 && !D->eof)
		*in |= POLLIN;
	if (D->len > 0)
		*out |= POLLOUT;
}

/* Relay until both directions are done. */
static void
client_relay_loop(void)
{
	struct pollfd pfd[3];
	int i;

	while (!client_up.done || !client_down.done) {
		pfd[0].fd = STDIN_FILENO;
		pfd[1].fd = client_down.done ? -1 : STDOUT_FILENO;
		pfd[2].fd = CLIENT_SOCK_FD;
		for (i = 0; i < 3; i++)
			pfd[i].events = pfd[i].revents = 0;
		client_relay_events(&client_up, &pfd[0].events,
		    &pfd[2].events);
		client_relay_events(&client_down, &pfd[2].events,
		    &pfd[1].events);
		/* No events: poll would still report HUP on it, and spin. */
		for (i = 0; i < 3; i++)
			if (pfd[i].events == 0)
				pfd[i].fd = -1;
		if (poll(pfd, 3, -1) == -1) {
			if (errno == EINTR)
				continue;
			log_errp("poll");
			return;
		}
		client_relay_step(&client_up, pfd[0].revents, pfd[2].revents);
		client_relay_step(&client_down, pfd[2].revents,
		    pfd[1].revents);
	}
}

/* Write all of ${buf} to the socket, waiting as needed. */
int
client_send_all(const void * buf, size_t len)
{
	const uint8_t * p = buf;
	struct pollfd pfd = { CLIENT_SOCK_FD, POLLOUT, 0 };
	size_t off = 0;
	ssize_t n;

	while (off < len) {
		if ((n = write(CLIENT_SOCK_FD, p + off, len - off)) > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return (-1);
		if (poll(&pfd, 1, -1) == -1 && errno != EINTR)
			return (-1);
	}
	return (0);
}

/* Send the secret, with what stdin gives within CLIENT_COALESCE_MS. */
static int
client_relay_first(struct knock * secret)
{
	struct client_dir * D = &client_up;
	struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
	size_t slen = secret->len;
	ssize_t n = 0;
	int rc;

	memcpy(D->buf, secret->buf, slen);
	knock_wipe(secret);
	if (poll(&pfd, 1, CLIENT_COALESCE_MS) == 1 &&
	    (n = read(STDIN_FILENO, D->buf + slen, sizeof(D->buf) - slen)) == 0)
		D->eof = 1;
	if (n < 0)
		n = 0;
	rc = client_send_all(D->buf, slen + (size_t)n);
	explicit_bzero(D->buf, slen + (size_t)n);
	if (rc) {
		log_errp("cannot send the knock");
		return (CLIENT_ERR_PEER);
	}
	return (0);
}

/* Relay stdin and stdout through the socket. */
int
client_relay(struct knock * secret)
{

	client_up.in = STDIN_FILENO;
	client_up.out = CLIENT_SOCK_FD;
	client_down.in = CLIENT_SOCK_FD;
	client_down.out = STDOUT_FILENO;
	if (secret != NULL && client_relay_first(secret))
		return (CLIENT_ERR_PEER);
	client_relay_loop();
	return (client_lost != 0 ? CLIENT_ERR_LOST : 0);
}
