#ifndef SDLISTEN_H_
#define SDLISTEN_H_

#include <stddef.h>

/* The first descriptor a service manager passes (SD_LISTEN_FDS_START). */
#define SDLISTEN_FD_START	3

/**
 * sdlisten_take(fds, max, n):
 * Take the listening sockets a service manager passed by socket activation
 * (the protocol of sd_listen_fds(3), implemented here without libsystemd):
 * if $LISTEN_PID is this process's pid and $LISTEN_FDS is a count, check
 * that each descriptor from 3 on is a listening TCP socket, IPv4 or IPv6,
 * make it non-blocking and close-on-exec with TCP_NODELAY and SO_OOBINLINE
 * (accepted clients inherit them), and store them in ${fds} (at most
 * ${max}) and their count in ${n}.  $LISTEN_PID, $LISTEN_FDS and
 * $LISTEN_FDNAMES are unset in every case, so no child inherits them.
 * Return 0 (${n} is 0 when the process was not socket-activated), or -1
 * after reporting (a bad or unusable descriptor: a configuration error).
 */
int sdlisten_take(int *, size_t, size_t *);

#endif /* !SDLISTEN_H_ */
