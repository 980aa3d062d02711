/*
 * relay.bpf.c -- the sk_skb stream verdict of the sockmap probe
 * (bench/sockmap/README.md): every byte a socket in the map receives is
 * redirected to the egress of its peer, found by the socket's cookie.
 * A socket without a peer keeps its bytes (SK_PASS: user space reads them).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} socks SEC(".maps");

/* Socket cookie -> index of the peer in socks. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u32);
} peer SEC(".maps");

SEC("sk_skb/stream_verdict")
int
verdict(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	__u32 *p;

	if ((p = bpf_map_lookup_elem(&peer, &cookie)) == 0)
		return (SK_PASS);
	return (bpf_sk_redirect_map(skb, &socks, *p, 0));
}

char LICENSE[] SEC("license") = "GPL";
