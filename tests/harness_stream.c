/*
 * The test harness's core, free of Criterion (bench/knockload.c links it
 * too): time, hashes, the byte stream, loopback addresses, a reset.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* ---- time, hashes, the byte stream ---- */

uint64_t
h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

uint64_t
h_hash(uint64_t h, const void * buf, size_t len)
{
	const uint8_t * p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return (h);
}

void
h_fill(void * buf, size_t len, uint64_t seed)
{
	uint8_t * p = buf;
	uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

void
h_stream_block(uint8_t * buf, uint64_t seed, uint64_t i)
{

	h_fill(buf, H_BLK, seed * 1000003 + i);
}

uint64_t
h_stream_hash(uint64_t seed, uint64_t len)
{
	static uint8_t buf[H_BLK];
	uint64_t h = H_HASH_INIT, off, i;
	size_t n;

	for (off = 0, i = 0; off < len; off += n, i++) {
		h_stream_block(buf, seed, i);
		n = (len - off < H_BLK) ? (size_t)(len - off) : H_BLK;
		h = h_hash(h, buf, n);
	}
	return (h);
}

socklen_t
h_loopback(struct sockaddr_storage * ss, int family, uint16_t port)
{
	struct sockaddr_in * sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 * sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = in6addr_loopback;
		return (sizeof(*sin6));
	}
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return (sizeof(*sin));
}

void
h_close_reset(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}
