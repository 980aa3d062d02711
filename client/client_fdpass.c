/*
 * --fdpass (ssh's ProxyUseFdpass): send the knock, then give the connected
 * socket to ssh over stdout with SCM_RIGHTS and one byte of data, as ssh's
 * mm_receive_fd() expects.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "client.h"
#include "knock.h"
#include "log.h"

/* Is stdout a socket? */
int
client_fdpass_check(void)
{
	struct stat st;

	if (fstat(STDOUT_FILENO, &st) || !S_ISSOCK(st.st_mode)) {
		log_err("--fdpass needs a UNIX socket on stdout "
		    "(ssh's ProxyUseFdpass yes)");
		return (-1);
	}
	return (0);
}

/* Pass the socket to stdout's peer; 0 or -1. */
static int
client_fdpass_give(void)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct cmsghdr * c;
	struct msghdr msg;
	struct iovec iov;
	char byte = '\0';
	int fd = CLIENT_SOCK_FD;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = &byte;
	iov.iov_len = 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do {
		n = sendmsg(STDOUT_FILENO, &msg, 0);
	} while (n == -1 && errno == EINTR);
	return ((n == 1) ? 0 : -1);
}

/* Send the secret, then pass the socket on. */
int
client_fdpass(struct knock * secret)
{
	int rc;

	if (secret != NULL) {
		rc = client_send_all(secret->buf, secret->len);
		knock_wipe(secret);
		if (rc) {
			log_errp("cannot send the knock");
			return (CLIENT_ERR_PEER);
		}
	}
	if (client_fdpass_give()) {
		log_errp("cannot pass the socket on stdout");
		return (CLIENT_ERR_SYS);
	}
	return (0);
}
