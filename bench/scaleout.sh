#!/bin/sh
# bench/scaleout.sh -- three relays behind haproxy sharing one redis-server
# replay store (--replay-store), beside one relay, in one run.
#
#   sh bench/scaleout.sh            # about 40 s: 3 runs of 2 s per figure
#   SCALE_DUR=1 SCALE_REPS=1 sh bench/scaleout.sh   # a sanity run, ~12 s
#
# Prints a markdown table of medians and ratios:
#   - new connections per second without a knock and with a fresh token
#     (knockload -K, one token per connection), through haproxy in front of
#     three relays (round robin: an L4 balancer that cannot see the
#     payload, which is what the store is for), through haproxy in front of
#     one relay (the balancer's own cost), and to one relay directly;
#   - the latency a token's claim in the store adds: one connection at a
#     time (knockload -c 1), p50 with --replay-store beside p50 of the same
#     relay without it.
# The machine has few cores and the relays, haproxy, redis, nginx and the
# load tool share them: the ratios show the cost of scaling out, not a
# speed-up.
#
# Hosts: as root, everything runs in a private network namespace (the
# balancer's side: haproxy, the backends, redis, the load tool) and each of
# the three relays in a network namespace of its own, a host at 10.77.0.11-13
# behind a veth pair on a bridge (10.77.0.1); if the namespaces cannot be
# made, each relay listens on an address of its own (127.0.0.11-13) on
# loopback.  haproxy sends no PROXY header
# (--accept-proxy is another branch's): the relays see haproxy's address.
#
# Needs: ./l7knockknock, build/bench/knockload (make build/bench/knockload),
# haproxy, nginx (nginx-light), redis-server, ss.  Environment: SCALE_REPS,
# SCALE_DUR (seconds per run), SCALE_CONNS (knockload loops, default 20),
# SCALE_KEEP_TMP=1, SCALE_LOGOPT (the relays' log option, default -q).
set -u

SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$SELF")/.." || exit 1

if [ -z "${SCALE_IN_NETNS:-}" ] && [ "$(id -u)" -eq 0 ] &&
    unshare -n true 2>/dev/null; then
	SCALE_IN_NETNS=1 exec unshare -n sh "$SELF" "$@"
fi
NETNS=host
if [ -n "${SCALE_IN_NETNS:-}" ]; then
	ip link set lo up || exit 1
	NETNS=private
fi

BIN=./l7knockknock
KL=./build/bench/knockload
for f in "$BIN" "$KL"; do
	[ -x "$f" ] || { echo "scaleout: $f missing: make l7knockknock build/bench/knockload" >&2; exit 1; }
done
for t in haproxy nginx redis-server ss; do
	command -v $t >/dev/null 2>&1 ||
	    { echo "scaleout: $t missing (Debian: haproxy nginx-light redis-server iproute2)" >&2; exit 1; }
done
$BIN --help 2>&1 | grep -q -- '--replay-store' ||
    { echo "scaleout: $BIN has no --replay-store" >&2; exit 1; }

REPS=${SCALE_REPS:-3}
DUR=${SCALE_DUR:-2}
CONNS=${SCALE_CONNS:-20}
TO=$((DUR + 20))		# hard bound on one knockload run

TMP=$(mktemp -d /tmp/l7scale.XXXXXX) || exit 1
chmod 0755 "$TMP"
PIDS=
cleanup() {
	trap - EXIT INT TERM
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	for n in ${NSNAMES:-}; do ip netns del $n 2>/dev/null; done
	[ -n "${SCALE_KEEP_TMP:-}" ] && echo "scaleout: kept $TMP" >&2 ||
	    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say() { printf '%s\n' "$*" >&2; }
die() { say "scaleout: $*"; exit 1; }

# bg NAME CMD...: start CMD in the background, logging to $TMP/NAME.log.
bg() {
	_n=$1; shift
	"$@" >"$TMP/$_n.log" 2>&1 &
	LASTPID=$!
	PIDS="$PIDS $LASTPID"
}

# listening ADDR PORT
listening() { [ -n "$(ss -Hltn "src $1:$2" 2>/dev/null)" ]; }

# wait_port ADDR PORT PID NAME
wait_port() {
	_i=0
	while ! listening "$1" "$2"; do
		kill -0 "$3" 2>/dev/null ||
		    { tail -n 5 "$TMP/$4.log" >&2; die "$4 exited at start"; }
		[ $_i -ge 100 ] && die "$4 does not listen on $1:$2"
		sleep 0.05; _i=$((_i + 1))
	done
}

# Hosts: network namespaces on a bridge if possible, else loopback
# addresses.  BK: where the backends and the store listen; H1-H3: the
# relays' addresses; NSX1-3: the command prefix that runs in that host.
BK=127.0.0.1 H1=127.0.0.11 H2=127.0.0.12 H3=127.0.0.13 NSX1= NSX2= NSX3=
HOSTS="loopback addresses"
NSNAMES=
hosts_netns() {
	ip link add l7sbr type bridge 2>/dev/null || return 1
	ip addr add 10.77.0.1/24 dev l7sbr && ip link set l7sbr up || return 1
	for i in 1 2 3; do
		_ns=l7scale$$-h$i
		ip netns add $_ns || return 1
		NSNAMES="$NSNAMES $_ns"
		ip link add l7sv$i type veth peer name eth0 netns $_ns &&
		ip link set l7sv$i master l7sbr up &&
		ip -n $_ns addr add 10.77.0.1$i/24 dev eth0 &&
		ip -n $_ns link set eth0 up &&
		ip -n $_ns link set lo up || return 1
		eval "NSX$i=\"ip netns exec $_ns\""
	done
	BK=10.77.0.1 H1=10.77.0.11 H2=10.77.0.12 H3=10.77.0.13
	HOSTS="3 network namespaces on a bridge"
}
if [ "$NETNS" = private ] && ! hosts_netns; then
	say "scaleout: no network namespaces for the hosts: loopback addresses"
	for n in $NSNAMES; do ip netns del $n 2>/dev/null; done
	NSNAMES= NSX1= NSX2= NSX3=
	BK=127.0.0.1 H1=127.0.0.11 H2=127.0.0.12 H3=127.0.0.13
fi

# A port free on every address we use (the host's loopback is shared).
NEXT=${SCALE_PORT:-21000}
port() {
	while [ -n "$(ss -Hltn "sport = :$NEXT" 2>/dev/null)" ]; do
		NEXT=$((NEXT + 1))
	done
	PORT=$NEXT
	NEXT=$((NEXT + 1))
}

# ---- backends and the store ----------------------------------------------
port; NB=$PORT
port; HB=$PORT
cat >"$TMP/backend.conf" <<EOF
worker_processes 1;
daemon off;
pid $TMP/backend.pid;
error_log $TMP/backend.err crit;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $TMP/b_body; proxy_temp_path $TMP/b_proxy;
	fastcgi_temp_path $TMP/b_fcgi; uwsgi_temp_path $TMP/b_uwsgi;
	scgi_temp_path $TMP/b_scgi;
	default_type text/plain;
	server {
		listen $BK:$NB backlog=4096;
		location / { return 200 "normal backend\n"; }
	}
	server {
		listen $BK:$HB backlog=4096;
		location / { return 200 "hidden backend\n"; }
	}
}
EOF
bg backend nginx -p "$TMP" -c "$TMP/backend.conf" -e "$TMP/backend.err"
wait_port $BK $NB $LASTPID backend
wait_port $BK $HB $LASTPID backend

port; RP=$PORT
# No protected mode: the relays' hosts are not its loopback (without this,
# redis answers -DENIED and the relays refuse every token, as they should).
bg redis redis-server --port $RP --bind $BK --save '' --appendonly no \
    --protected-mode no
wait_port $BK $RP $LASTPID redis

KEYF=$TMP/bench.key
( umask 077; head -c 32 /dev/urandom | base64 >"$KEYF" )

# ---- relays ----------------------------------------------------------------
# relay NAME NSX ADDR PORT [ARGS...]: a token relay on ADDR:PORT, run with
# the prefix NSX ("" or "ip netns exec NS": in that host).
relay() {
	_n=$1 _x=$2 _a=$3 _p=$4; shift 4
	bg "$_n" $_x $BIN --listen $_a:$_p --normal $BK:$NB \
	    --hidden $BK:$HB ${SCALE_LOGOPT:--q} --key-file "$KEYF" \
	    --token-window 5s --replay-cache 262144 "$@"
	_i=0
	while [ -z "$($_x ss -Hltn "src $_a:$_p" 2>/dev/null)" ]; do
		kill -0 $LASTPID 2>/dev/null ||
		    { tail -n 5 "$TMP/$_n.log" >&2; die "$_n exited at start"; }
		[ $_i -ge 100 ] && die "$_n does not listen on $_a:$_p"
		sleep 0.05; _i=$((_i + 1))
	done
}

STORE="--replay-store $BK:$RP"
port; RPORT=$PORT		# the three hosts share one port number
relay r1 "$NSX1" $H1 $RPORT $STORE
relay r2 "$NSX2" $H2 $RPORT $STORE
relay r3 "$NSX3" $H3 $RPORT $STORE
port; ONE=$PORT
relay one "" 127.0.0.1 $ONE $STORE
port; BARE=$PORT
relay bare "" 127.0.0.1 $BARE

# haproxy NAME PORT SERVERS...: round robin over ADDR:PORT servers.
haproxy_start() {
	_n=$1 _p=$2; shift 2
	{
		printf 'global\n\tnbthread 1\n\tmaxconn 4096\n'
		printf 'defaults\n\tmode tcp\n\ttimeout connect 5s\n'
		printf '\ttimeout client 60s\n\ttimeout server 60s\n'
		printf 'frontend fe\n\tbind 127.0.0.1:%s\n' "$_p"
		printf '\tdefault_backend relays\n'
		printf 'backend relays\n\tbalance roundrobin\n'
		_k=1
		for s in "$@"; do
			printf '\tserver r%s %s\n' $_k "$s"
			_k=$((_k + 1))
		done
	} >"$TMP/$_n.cfg"
	bg "$_n" haproxy -db -f "$TMP/$_n.cfg"
	wait_port 127.0.0.1 $_p $LASTPID "$_n"
}
port; HA3=$PORT
haproxy_start ha3 $HA3 $H1:$RPORT $H2:$RPORT $H3:$RPORT
port; HA1=$PORT
haproxy_start ha1 $HA1 127.0.0.1:$ONE

# A request of more than a token's 54 bytes: the relay decides at once
# (a mismatch) instead of waiting for the knock timeout.
REQ='GET / HTTP/1.0\r\nHost: bench.example\r\nUser-Agent: knockload-scaleout/1\r\n\r\n'

# Every set-up must route: plain to normal, a token to hidden.
for p in $HA3 $HA1 $ONE $BARE; do
	r=$(timeout $TO $KL -c 1 -d 0.3 -r "$REQ" -m normal 127.0.0.1:$p)
	case $r in conns=[1-9]*bad=0) ;; *) die "port $p: no normal route: $r" ;; esac
	r=$(timeout $TO $KL -c 1 -d 0.3 -K "$KEYF" -m hidden 127.0.0.1:$p)
	case $r in conns=[1-9]*bad=0) ;; *) die "port $p: no token route: $r" ;; esac
done
# The store is shared: a token used through one relay is refused by another.
# probe.py KEYFILE ADDR PORT ADDR PORT: one fresh token (minted from
# DESIGN.md's text) sent to each; the route each answered from.
cat >"$TMP/probe.py" <<'EOF'
import base64, hashlib, hmac, os, socket, sys, time
k = base64.b64decode(open(sys.argv[1]).read())
n = os.urandom(16)
tb = int(time.time()).to_bytes(8, "big")
pad = hmac.new(k, b"l7kk-time-v1" + n, hashlib.sha256).digest()[:8]
tag = hmac.new(k, b"l7kk-tag-v1" + n + tb, hashlib.sha256).digest()[:16]
tok = base64.urlsafe_b64encode(n + bytes(a ^ b for a, b in zip(tb, pad))
                               + tag).rstrip(b"=")
out = []
for i in (2, 4):
    s = socket.create_connection((sys.argv[i], int(sys.argv[i + 1])), 5)
    s.sendall(tok + b"GET / HTTP/1.0\r\n\r\n")
    s.shutdown(socket.SHUT_WR)
    d = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        d += b
    # The normal server answers the token's bytes with a 400: any reply
    # but the hidden one's is the normal route.
    out.append("hidden" if b"hidden backend" in d else "normal" if d
               else "none")
print(" ".join(out))
EOF
r=$(timeout 10 python3 "$TMP/probe.py" "$KEYF" $H1 $RPORT $H2 $RPORT)
[ "$r" = "hidden normal" ] ||
    die "the store is not shared: relays 1 and 2 gave '$r' (expected 'hidden normal')"
say "shared store: a token used on relay 1 is refused on relay 2"

# ---- runs -------------------------------------------------------------------
RAW=$TMP/raw; : >"$RAW"
# kl KEY PORT [ARGS...]: one knockload run, its rate and p50 into $RAW.
kl() {
	_k=$1 _p=$2; shift 2
	_o=$(timeout $TO $KL -d $DUR "$@" 127.0.0.1:$_p)
	case $_o in
	conns=*bad=0)
		_r=${_o#*rate=}; _r=${_r%% *}
		_l=${_o#*p50_ms=}; _l=${_l%% *}
		echo "$_k $_r $_l" >>"$RAW" ;;
	*) say "  $_k: $_o" ;;
	esac
}
say "scaleout: $REPS runs of $DUR s per figure (hosts: $HOSTS)"
i=0
while [ $i -lt $REPS ]; do
	kl plain_ha3 $HA3 -c $CONNS -r "$REQ" -m normal
	kl plain_ha1 $HA1 -c $CONNS -r "$REQ" -m normal
	kl plain_one $ONE -c $CONNS -r "$REQ" -m normal
	kl tok_ha3 $HA3 -c $CONNS -K "$KEYF" -m hidden
	kl tok_ha1 $HA1 -c $CONNS -K "$KEYF" -m hidden
	kl tok_one $ONE -c $CONNS -K "$KEYF" -m hidden
	kl lat_store $ONE -c 1 -K "$KEYF" -m hidden
	kl lat_bare $BARE -c 1 -K "$KEYF" -m hidden
	i=$((i + 1))
done

# med KEY FIELD: the median of a field (2: rate, 3: p50 ms).
med() {
	awk -v k=$1 -v f=$2 '$1 == k { print $f }' "$RAW" | sort -g |
	    awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'
}
ratio() { { [ -z "$1" ] || [ -z "$2" ]; } && echo "–" ||
    awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "–" }'; }

P3=$(med plain_ha3 2) P1=$(med plain_ha1 2) PO=$(med plain_one 2)
T3=$(med tok_ha3 2) T1=$(med tok_ha1 2) TO1=$(med tok_one 2)
LS=$(med lat_store 3) LB=$(med lat_bare 3)
ADD=$( { [ -z "$LS" ] || [ -z "$LB" ]; } && echo "–" ||
    awk -v a="$LS" -v b="$LB" 'BEGIN { printf "%.3f", a - b }')

echo
echo "| | haproxy + 3 relays | haproxy + 1 relay | 1 relay | 3 relays ÷ 1 relay | 3 relays ÷ haproxy + 1 |"
echo "|---|---|---|---|---|---|"
echo "| new connections, no knock, conn/s | $P3 | $P1 | $PO | $(ratio "$P3" "$PO") | $(ratio "$P3" "$P1") |"
echo "| token connections (store claim), conn/s | $T3 | $T1 | $TO1 | $(ratio "$T3" "$TO1") | $(ratio "$T3" "$T1") |"
echo
echo "| one token at a time, 1 relay | p50 ms |"
echo "|---|---|"
echo "| with --replay-store | $LS |"
echo "| without | $LB |"
echo "| added by the store's claim | $ADD (ratio $(ratio "$LS" "$LB")) |"
echo
echo "Medians of $REPS runs of $DUR s, $CONNS loops (knockload); hosts: $HOSTS; every relay has --replay-store $BK:$RP except the 'without' one; haproxy balances round robin, no PROXY header; all on one $(nproc)-core machine, so this shows cost, not speed-up."
