/*
 * Readiness notification, from sd_notify(3): one datagram per state change
 * on an AF_UNIX socket whose address is in $NOTIFY_SOCKET.  Implemented
 * here without libsystemd.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "log.h"
#include "notify.h"

/* The flags of every send: policy/seccomp.policy allows exactly these. */
#define NOTIFY_SEND_FLAGS	(MSG_NOSIGNAL | MSG_DONTWAIT)

/* Fill ${sun} from ${s}; return the address length, or 0 if unusable. */
static socklen_t
notify_addr(const char * s, struct sockaddr_un * sun)
{
	size_t len = strlen(s);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if ((s[0] != '/' && s[0] != '@') || len < 2 ||
	    len >= sizeof(sun->sun_path))
		return (0);
	memcpy(sun->sun_path, s, len);
	if (s[0] == '@') {
		/* Abstract: a leading NUL and exactly the name's bytes. */
		sun->sun_path[0] = '\0';
		return ((socklen_t)(offsetof(struct sockaddr_un, sun_path) + len));
	}
	return ((socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1));
}

/* Connect to the service manager's socket. */
int
notify_open(int * fd)
{
	struct sockaddr_un sun;
	const char * s;
	socklen_t len;

	*fd = -1;
	if ((s = getenv("NOTIFY_SOCKET")) == NULL)
		return (0);
	if ((len = notify_addr(s, &sun)) == 0) {
		log_err("$NOTIFY_SOCKET is not an absolute path or an "
		    "@abstract name");
		goto err0;
	}
	if ((*fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1) {
		log_errp("notify: socket");
		goto err0;
	}
	if (connect(*fd, (struct sockaddr *)&sun, len)) {
		log_errp("notify: cannot connect to $NOTIFY_SOCKET %s", s);
		goto err1;
	}
	(void)unsetenv("NOTIFY_SOCKET");

	/* Success! */
	return (0);

err1:
	close(*fd);
	*fd = -1;
err0:
	/* Failure! */
	return (-1);
}

/* Tell the service manager ${msg}. */
void
notify_send(int fd, const char * msg)
{

	if (fd == -1)
		return;
	if (send(fd, msg, strlen(msg), NOTIFY_SEND_FLAGS) == -1)
		log_errno(LOG_WARN, "notify: cannot send %s", msg);
}
