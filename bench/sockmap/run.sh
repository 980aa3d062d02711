#!/bin/sh
# bench/sockmap/run.sh -- the body of `make bench-sockmap` (README.md here).
#
# Measures a BPF sockmap relay (probe.c + relay.bpf.c) beside a direct
# connection and l7knockknock, interleaved round by round, then checks what
# the relay's guarantees need: bytes in order, backpressure against a
# backend that stops reading, the reply after a half-close, a clean map.
# Environment: SOCKMAP_ROUNDS (default 7), SOCKMAP_DUR (seconds, default 3).
set -u
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$SELF")/../.." || exit 1
[ "$(id -u)" -eq 0 ] || { echo "bench-sockmap: run as root" >&2; exit 1; }
if [ -z "${SM_IN_NETNS:-}" ] && unshare -n true 2>/dev/null; then
	SM_IN_NETNS=1 exec unshare -n sh "$SELF" "$@"
fi
[ -n "${SM_IN_NETNS:-}" ] && ip link set lo up

ROUNDS=${SOCKMAP_ROUNDS:-7}; DUR=${SOCKMAP_DUR:-3}
B=build/bench/sockmap
PROBE=$B/probe; OBJ=$B/relay.bpf.o; BIN=./l7knockknock
KNOCK=$(printf '\r\n\r\n\r\n\r\nx'); KNOCK=${KNOCK%x}
IPB=10002 L7K=10010 SM=10020 XB=10030 XSM=10031 XL7K=10032
TMP=$(mktemp -d /tmp/l7sockmap.XXXXXX) || exit 1
PIDS=
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
bg() { _n=$1; shift; "$@" >"$TMP/$_n.log" 2>&1 & PIDS="$PIDS $!"; LASTPID=$!; }
up() {	# PORT PID NAME
	_i=0
	while [ -z "$(ss -Hltn "sport = :$1")" ]; do
		kill -0 "$2" 2>/dev/null || { wait "$2"; return $?; }
		[ $_i -ge 100 ] && return 1
		sleep 0.05; _i=$((_i + 1))
	done
}

bg iperf3 iperf3 -s -B 127.0.0.1 -p $IPB; up $IPB $LASTPID || exit 1
bg l7k $BIN --listen 127.0.0.1:$L7K --normal 127.0.0.1:$IPB \
    --hidden 127.0.0.1:$IPB -q "$KNOCK"; up $L7K $LASTPID || exit 1
bg sm $PROBE relay $OBJ $SM $IPB; up $SM $LASTPID; rc=$?
if [ $rc -ne 0 ]; then
	cat "$TMP/sm.log" >&2
	echo "bench-sockmap: the kernel refuses the sockmap relay (exit $rc)"
	exit 1
fi
echo "kernel $(uname -r); $(bpftool version 2>/dev/null | head -n 1)"
echo "bulk: iperf3, 1 stream, ${DUR}s, $ROUNDS interleaved rounds (Gbit/s)"

# iperf3's receiver rate; for the sockmap also the sender's, which runs
# ahead when the kernel parks bytes the receiver has not had yet.
for r in $(seq "$ROUNDS"); do
	for t in direct:$IPB l7k:$L7K sockmap:$SM; do
		n=${t%%:*} p=${t#*:}
		timeout $((DUR + 20)) iperf3 -c 127.0.0.1 -p "$p" -t "$DUR" -f g \
		    >"$TMP/last" 2>&1
		rx=$(awk '/receiver/ { for (i = 1; i <= NF; i++)
		    if ($i == "Gbits/sec") print $(i - 1) }' "$TMP/last")
		tx=$(awk '/sender/ { for (i = 1; i <= NF; i++)
		    if ($i == "Gbits/sec") print $(i - 1) }' "$TMP/last")
		echo "$n ${rx:-0} ${tx:-0}" >>"$TMP/bulk"
		# The probe waits up to 4 s for parked bytes at each EOF.
		[ "$n" = sockmap ] && sleep 5
	done
done
awk -v rounds="$ROUNDS" '
function med(a, n,   i, j, t) {
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
		if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2)
}
{ k = $1; n[k]++; rx[k, n[k]] = $2; tx[k, n[k]] = $3; all[k] = all[k] " " $2 }
END {
	for (k in n) { for (i = 1; i <= n[k]; i++) v[i] = rx[k, i]; m[k] = med(v, n[k])
		mn[k] = 1e9; for (i = 1; i <= n[k]; i++) if (rx[k, i] < mn[k]) mn[k] = rx[k, i]
		for (i = 1; i <= n[k]; i++) v[i] = tx[k, i]; mt[k] = med(v, n[k]) }
	printf "| path | median rx | min rx | x direct (median, min) | median tx | rounds rx |\n"
	printf "|---|---|---|---|---|---|\n"
	split("direct l7k sockmap", o, " ")
	for (i = 1; i <= 3; i++) { k = o[i]
		printf "| %s | %.2f | %.2f | %.2f, %.2f | %.2f |%s |\n", k, m[k], mn[k],
		    m[k] / m["direct"], mn[k] / m["direct"], mt[k], all[k] }
}' "$TMP/bulk"

echo
echo "checks (probe xfer: a checked stream, a reply after the client's FIN):"
bg xsm $PROBE relay $OBJ $XSM $XB; up $XSM $LASTPID || exit 1
bg xl7k $BIN --listen 127.0.0.1:$XL7K --normal 127.0.0.1:$XB \
    --hidden 127.0.0.1:$XB -q "$KNOCK"; up $XL7K $LASTPID || exit 1
for t in sockmap:$XSM l7k:$XL7K; do
	n=${t%%:*} p=${t#*:}
	echo "- $n, 64 MiB: $($PROBE xfer "$p" $XB 64 0)"
	echo "- $n, 100 MiB at a backend stalled 3 s:"
	$PROBE xfer "$p" $XB 100 3 | sed 's/^/  /'
done
echo "- the sockmap relay's log (bytes parked in the kernel when the FIN came):"
sed 's/^/  /' "$TMP/xsm.log"
