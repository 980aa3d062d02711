#ifndef NOTIFY_H_
#define NOTIFY_H_

/**
 * notify_open(fd):
 * If $NOTIFY_SOCKET names a service manager's notification socket (a path,
 * or an abstract name written with a leading '@'; sd_notify(3)), connect
 * a non-blocking AF_UNIX datagram socket to it, store it in ${fd} and
 * unset $NOTIFY_SOCKET; without it store -1.  This is done before the
 * sandbox: afterwards only send() on the connected ${fd} is possible.
 * Return 0, or -1 after reporting.
 */
int notify_open(int *);

/**
 * notify_send(fd, msg):
 * Send the state ${msg} ("READY=1", "STOPPING=1") as one datagram on
 * ${fd} (nothing if ${fd} is -1), without blocking.  A failure is logged as
 * a warning: the relay goes on.  Safe inside the sandbox.
 */
void notify_send(int, const char *);

#endif /* !NOTIFY_H_ */
