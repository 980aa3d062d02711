#!/bin/sh
# bench/run.sh -- the body of `make bench` (see bench/README.md).
#
# Runs on 127.0.0.1 only, in a private network namespace when the kernel
# allows it (no clash with other loopback users, and a wide ephemeral port
# range without touching the host's sysctls).  Every workload runs against
# direct, l7knockknock, haproxy and nginx stream, interleaved run by run;
# each figure is the median of the runs.  Prints a markdown table and writes
# it to bench/results.md.
#
# Environment: BENCH_QUICK=1 (about 3 minutes; a full run 7-9), BENCH_REPS, BENCH_DUR
# (seconds per run), BENCH_OUT (the results file), BENCH_NETNS=0 (stay in
# the host's network namespace), BENCH_PORT (first port; default 20000).
set -u

SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
cd "$(dirname "$SELF")/.." || exit 1

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: run as root: the relay is measured as users run it" \
	    "(chroot, unprivileged user, seccomp)" >&2
	exit 1
fi

# A private network namespace: its own loopback, ports and sysctls.
if [ -z "${BENCH_IN_NETNS:-}" ] && [ "${BENCH_NETNS:-1}" = 1 ] &&
    unshare -n true 2>/dev/null; then
	BENCH_IN_NETNS=1 exec unshare -n sh "$SELF" "$@"
fi
NETNS=host
if [ -n "${BENCH_IN_NETNS:-}" ]; then
	ip link set lo up || exit 1
	# Ephemeral ports above ours, and twice the usual range.
	sysctl -qw net.ipv4.ip_local_port_range="12000 65535" || true
	NETNS=private
fi

BIN=./l7knockknock
KL=./build/bench/knockload
for f in "$BIN" "$KL"; do
	[ -x "$f" ] || { echo "bench: $f missing: run 'make bench'" >&2; exit 1; }
done
for t in haproxy nginx iperf3 wrk ss; do
	command -v $t >/dev/null 2>&1 ||
	    { echo "bench: $t missing: run 'make bench'" >&2; exit 1; }
done

# Bounded: a full run takes under 10 minutes on a 2-core machine.
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	REPS=${BENCH_REPS:-3}; DUR=${BENCH_DUR:-1}; IDLE_REPS=${BENCH_IDLE_REPS:-1}
else
	REPS=${BENCH_REPS:-5}; DUR=${BENCH_DUR:-2}; IDLE_REPS=${BENCH_IDLE_REPS:-1}
fi
OUT=${BENCH_OUT:-bench/results.md}
CONNS=50		# wrk and knockload concurrency
IDLE_N=5000		# idle connections through each relay
# Ports: below the ephemeral range (12000- in the private namespace, the
# kernel default 32768- on the host).
if [ -n "${BENCH_IN_NETNS:-}" ]; then BASE=${BENCH_PORT:-10000}
else BASE=${BENCH_PORT:-20000}; fi

# Room for 9,000 relayed idle connections (2 or more descriptors each) in
# every process: the relays, the backend and the load tool.
ulimit -n "$(ulimit -Hn)" 2>/dev/null
NOFILE=$(ulimit -n)
[ "$NOFILE" = unlimited ] && NOFILE=1048576
[ "$NOFILE" -ge 19500 ] ||
    { echo "bench: RLIMIT_NOFILE $NOFILE is too low for 9,000 idle connections" >&2; exit 1; }

# The knock: 8 bytes, CR LF four times.  nginx skips empty lines before a
# request line, so the hidden backend answers the same whether the knock is
# stripped (l7knockknock) or forwarded (haproxy cannot strip it).
KNOCK=$(printf '\r\n\r\n\r\n\r\nx'); KNOCK=${KNOCK%x}
KNOCK_HEX=0d0a0d0a0d0a0d0a

TMP=$(mktemp -d /tmp/l7bench.XXXXXX) || exit 1
chmod 0755 "$TMP"
RAW=$TMP/raw		# lines: KEY TARGET RUN VALUE
NOTES=$TMP/notes
: >"$RAW"; : >"$NOTES"
PIDS=
cleanup() {
	trap - EXIT INT TERM
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	i=0
	while [ $i -lt 20 ]; do
		alive=
		for p in $PIDS; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ -z "$alive" ] && break
		sleep 0.1; i=$((i + 1))
	done
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	[ -n "${BENCH_KEEP_TMP:-}" ] && echo "bench: kept $TMP" >&2 ||
	    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

say() { printf '%s\n' "$*" >&2; }
note() { echo "- $*" >>"$NOTES"; say "  note: $*"; }
put() { echo "$1 $2 $3 $4" >>"$RAW"; }
die() { say "bench: $*"; exit 1; }

# bg NAME CMD...: start CMD in the background, logging to $TMP/NAME.log;
# its pid in LASTPID.
bg() {
	_n=$1; shift
	"$@" >"$TMP/$_n.log" 2>&1 &
	LASTPID=$!
	PIDS="$PIDS $LASTPID"
}

# stop PID: end one process we started, and wait for it.
stop() {
	kill "$1" 2>/dev/null
	_i=0
	while kill -0 "$1" 2>/dev/null && [ $_i -lt 30 ]; do
		sleep 0.1; _i=$((_i + 1))
	done
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

listening() { [ -n "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }

# wait_port PORT PID NAME: until PORT listens, or fail if PID died.
wait_port() {
	_i=0
	while ! listening "$1"; do
		kill -0 "$2" 2>/dev/null ||
		    { tail -n 5 "$TMP/$3.log" >&2; say "bench: $3 exited at start"; return 1; }
		[ $_i -ge 100 ] && { say "bench: $3 does not listen on $1"; return 1; }
		sleep 0.05; _i=$((_i + 1))
	done
}

if [ "$NETNS" = host ]; then
	# Shared loopback: move up until a block of ports is free.
	while :; do
		busy=
		for o in 0 1 2 10 11 12 13 20 21 22 23; do
			listening $((BASE + o)) && busy=1
		done
		[ -z "$busy" ] && break
		BASE=$((BASE + 300))
		[ $BASE -gt 30000 ] && die "no free port block below 30000"
	done
fi
NB=$BASE; HB=$((BASE + 1)); IPB=$((BASE + 2))
IDLE_PORT=$((BASE + 100))

WORKERS=
if $BIN --help 2>&1 | grep -q -- '--workers'; then
	WORKERS=1
fi

install -d -m 0755 /var/empty

# ---- backends ------------------------------------------------------------
# nginx http: 1 worker, normal on NB and hidden on HB, same size bodies.
cat >"$TMP/backend.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile 19500;
daemon off;
pid $TMP/backend.pid;
error_log $TMP/backend.err crit;
events { worker_connections 19000; }
http {
	access_log off;
	client_body_temp_path $TMP/b_body; proxy_temp_path $TMP/b_proxy;
	fastcgi_temp_path $TMP/b_fcgi; uwsgi_temp_path $TMP/b_uwsgi;
	scgi_temp_path $TMP/b_scgi;
	keepalive_requests 100000000;
	keepalive_timeout 600s;
	client_header_timeout 600s;
	default_type text/plain;
	server {
		listen 127.0.0.1:$NB backlog=4096;
		location / { return 200 "normal backend: a small body of 64 bytes..........\n"; }
	}
	server {
		listen 127.0.0.1:$HB backlog=4096;
		location / { return 200 "hidden backend: a small body of 64 bytes..........\n"; }
	}
}
EOF
bg backend nginx -p "$TMP" -c "$TMP/backend.conf" -e "$TMP/backend.err"
BACKEND_PID=$LASTPID
wait_port $NB $BACKEND_PID backend || exit 1
wait_port $HB $BACKEND_PID backend || exit 1

bg iperf3 iperf3 -s -B 127.0.0.1 -p $IPB
wait_port $IPB $LASTPID iperf3 || exit 1

# ---- relays --------------------------------------------------------------
# start_l7k NAME PORT NORMAL HIDDEN [ARGS...]  ($L7K_BIN: another binary)
start_l7k() {
	_n=$1 _p=$2 _nb=$3 _hb=$4; shift 4
	bg "$_n" ${L7K_BIN:-$BIN} --listen 127.0.0.1:$_p --normal 127.0.0.1:$_nb \
	    --hidden 127.0.0.1:$_hb -q "$@" "$KNOCK"
	RELAYPID=$LASTPID
	wait_port $_p $LASTPID "$_n"
}

# start_haproxy NAME PORT NORMAL HIDDEN: TCP mode, routing by the payload.
start_haproxy() {
	cat >"$TMP/$1.cfg" <<EOF
global
	nbthread 1
	maxconn 7500
defaults
	mode tcp
	option splice-auto
	timeout connect 5s
	timeout client 600s
	timeout server 600s
frontend fe
	bind 127.0.0.1:$2
	tcp-request inspect-delay 2s
	tcp-request content accept if { req.len ge 8 }
	use_backend hidden if { req.payload(0,8) -m bin $KNOCK_HEX }
	default_backend normal
backend normal
	server normal 127.0.0.1:$3
backend hidden
	server hidden 127.0.0.1:$4
EOF
	bg "$1" haproxy -db -f "$TMP/$1.cfg"
	RELAYPID=$LASTPID
	wait_port $2 $LASTPID "$1"
}

# start_nginx NAME PORT NORMAL: stream, 1 worker, proxy_pass (no routing).
start_nginx() {
	mkdir -p "$TMP/$1"
	cat >"$TMP/$1.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
worker_rlimit_nofile 19500;
daemon off;
pid $TMP/$1.pid;
error_log $TMP/$1.err crit;
events { worker_connections 19000; }
stream {
	server {
		listen 127.0.0.1:$2 backlog=4096;
		proxy_pass 127.0.0.1:$3;
		proxy_timeout 600s;
	}
}
EOF
	bg "$1" nginx -p "$TMP/$1" -c "$TMP/$1.conf" -e "$TMP/$1.err"
	wait_port $2 $LASTPID "$1" || return 1
	# The worker holds the connections, not the master.
	_i=0 RELAYPID=
	while [ -z "$RELAYPID" ] && [ $_i -lt 50 ]; do
		RELAYPID=$(awk -v p=$LASTPID '$4 == p { print $1 }' \
		    /proc/[0-9]*/stat 2>/dev/null | head -n 1)
		[ -z "$RELAYPID" ] && sleep 0.1
		_i=$((_i + 1))
	done
	[ -n "$RELAYPID" ] || { say "bench: no nginx stream worker"; return 1; }
}

TARGETS="direct l7k haproxy nginx"
[ -n "$WORKERS" ] && TARGETS="direct l7k l7k2 haproxy nginx"

# Two sets of relays: bulk ones in front of iperf3, http ones in front of
# the nginx backend (normal) and its second server (hidden).
P=$((BASE + 10))
start_l7k bulk_l7k $P $IPB $HB || exit 1; BULK_l7k=$P BULKPID_l7k=$RELAYPID
start_haproxy bulk_haproxy $((P + 1)) $IPB $HB || exit 1
BULK_haproxy=$((P + 1)) BULKPID_haproxy=$RELAYPID
start_nginx bulk_nginx $((P + 2)) $IPB || exit 1
BULK_nginx=$((P + 2)) BULKPID_nginx=$RELAYPID
BULK_direct=$IPB
P=$((BASE + 20))
start_l7k http_l7k $P $NB $HB || exit 1; HTTP_l7k=$P
HTTPPID_l7k=$RELAYPID
start_haproxy http_haproxy $((P + 1)) $NB $HB || exit 1; HTTP_haproxy=$((P + 1))
HTTPPID_haproxy=$RELAYPID
start_nginx http_nginx $((P + 2)) $NB || exit 1; HTTP_nginx=$((P + 2))
HTTPPID_nginx=$RELAYPID
HTTP_direct=$NB
if [ -n "$WORKERS" ]; then
	BULK_l7k2=$((BASE + 13)) HTTP_l7k2=$((BASE + 23))
	if start_l7k bulk_l7k2 $BULK_l7k2 $IPB $HB --workers 2 &&
	    BULKPID_l7k2=$RELAYPID &&
	    start_l7k http_l7k2 $HTTP_l7k2 $NB $HB --workers 2; then
		HTTPPID_l7k2=$RELAYPID
	else
		note "--workers 2 did not start: 1 worker only"
		WORKERS= TARGETS="direct l7k haproxy nginx"
	fi
fi
# A token route: the same relay with --key-file instead of the
# knock; knockload -K mints a fresh token per connection.  Entries of the
# replay cache live until t + window: at the bench's thousands of logins a
# second a 30 s window would need a cache of 32 MiB, whose cache misses
# alone cost the relay about 4 us a connection; a 5 s window and 2 MiB
# (13% full at 7,000 a second) keep it the size a real one has.
TOKENS=
if $BIN --help 2>&1 | grep -q -- '--key-file'; then
	KEYF=$TMP/bench.key
	( umask 077; head -c 32 /dev/urandom | base64 >"$KEYF" )
	HTTP_tok=$((BASE + 25))
	bg http_tok $BIN --listen 127.0.0.1:$HTTP_tok --normal 127.0.0.1:$NB \
	    --hidden 127.0.0.1:$HB -q --key-file "$KEYF" \
	    --token-window 5s --replay-cache 262144
	if wait_port $HTTP_tok $LASTPID http_tok; then
		TOKENS=1 HTTPPID_tok=$LASTPID
	else
		note "the token relay did not start: no token figures"
	fi
fi
# BENCH_BASE_BIN: a column for another build (say, the previous commit's),
# measured in the same interleaved runs: the way to tell whether a change
# wins on a noisy machine.
BASE_BIN=${BENCH_BASE_BIN:-}
if [ -n "$BASE_BIN" ]; then
	[ -x "$BASE_BIN" ] || die "BENCH_BASE_BIN $BASE_BIN is not executable"
	BULK_base=$((BASE + 14)) HTTP_base=$((BASE + 24))
	L7K_BIN=$BASE_BIN start_l7k bulk_base $BULK_base $IPB $HB || exit 1
	BULKPID_base=$RELAYPID
	L7K_BIN=$BASE_BIN start_l7k http_base $HTTP_base $NB $HB || exit 1
	HTTPPID_base=$RELAYPID
	TARGETS="$TARGETS base"
fi
# rotated gives each target each place in a round once only with at least
# as many rounds as targets: with a base build's sixth target and five
# rounds, l7knockknock ran later in its rounds than haproxy on average,
# and later runs are slower (see rotated).  Unless BENCH_REPS says, or a
# quick run is asked for.
_nt=$(echo $TARGETS | wc -w)
[ -z "${BENCH_REPS:-}" ] && [ "${BENCH_QUICK:-0}" != 1 ] &&
    [ "$REPS" -lt "$_nt" ] && REPS=$_nt
# BENCH_ONLY: run only these workloads (bulk rr cr knock idle; default all).
ONLY=${BENCH_ONLY:-bulk rr cr knock idle}
only() { case " $ONLY " in *" $1 "*) return 0 ;; esac; return 1; }

# Every relay must route: a plain request to the normal backend, the knock
# to the hidden one (checked by the body each backend returns).
for t in $TARGETS; do
	eval "p=\$HTTP_$t"
	r=$($KL -c 1 -d 0.3 -m normal 127.0.0.1:$p)
	case $r in conns=[1-9]*bad=0) ;; *) die "$t: no normal route: $r" ;; esac
	[ "$t" = nginx ] || [ "$t" = direct ] && continue
	r=$($KL -c 1 -d 0.3 -x $KNOCK_HEX -m hidden 127.0.0.1:$p)
	case $r in conns=[1-9]*bad=0) ;; *) die "$t: no knocked route: $r" ;; esac
done
if [ -n "$TOKENS" ]; then
	r=$($KL -c 1 -d 0.3 -K "$KEYF" -m hidden 127.0.0.1:$HTTP_tok)
	case $r in conns=[1-9]*bad=0) ;; *) die "l7k: no token route: $r" ;; esac
fi

# ---- workloads -----------------------------------------------------------
TO=$((DUR + 20))	# hard bound on one client run

# wrk latency "1.23ms" / "456.78us" / "1.20s" -> ms
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); print v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); print v + 0 }
		else if (v ~ /m$/) { sub(/m$/, "", v); print v * 60000 }
		else if (v ~ /s$/) { sub(/s$/, "", v); print v * 1000 }
		else print "" }'
}

# Where a bulk run's time went: the relay's time runnable but waiting for
# a CPU (schedstat), and the machine's CPU time left idle (/proc/stat), in
# percent.  A relay that waits while CPUs idle is placed, not slow.
bulk_marks() {	# prints: ns-now relay-wait-ns idle-ticks all-ticks
	{ date +%s%N
	  [ -n "$1" ] && tree_pids $1 | while read -r _q; do
		cat /proc/$_q/task/*/schedstat 2>/dev/null; done
	  head -n 1 /proc/stat
	} | awk 'NR == 1 { t = $1; next } $1 == "cpu" { for (i = 2; i <= 9; i++) {
		a += $i; if (i == 5 || i == 6) z += $i } next } { w += $2 }
		END { printf("%s %.0f %.0f %.0f\n", t, w, z, a) }'
}
pct() {	# A0 A1 T0 T1: 100 * (A1 - A0) / (T1 - T0)
	awk -v a=$1 -v b=$2 -v s=$3 -v e=$4 \
	    'BEGIN { x = 0; if (e > s) x = 100 * (b - a) / (e - s); print x }'
}
run_bulk() {	# KEY TARGET RUN
	shift
	eval "_p=\$BULK_$1 _bp=\${BULKPID_$1:-}"
	_try=0
	while [ $_try -lt 2 ]; do
		_b0=$(bulk_marks "$_bp")
		timeout -k 2 $TO iperf3 -c 127.0.0.1 -p $_p -t $DUR -O 1 -f g \
		    >"$TMP/last.out" 2>&1
		_b1=$(bulk_marks "$_bp")
		_v=$(awk '/receiver/ { for (i = 1; i <= NF; i++)
		    if ($i == "Gbits/sec") print $(i - 1) }' "$TMP/last.out")
		if [ -n "$_v" ]; then
			put bulk $1 $2 "$_v"
			set -- "$1" "$2" $_b0 $_b1
			[ -n "$_bp" ] && put bulk_wait $1 $2 "$(pct $4 $8 $3 $7)"
			put bulk_idle $1 $2 "$(pct $5 $9 $6 ${10})"
			return
		fi
		_try=$((_try + 1)); sleep 1
	done
	note "bulk $1 run $2 failed: $(tail -n 1 "$TMP/last.out")"
}

# PID and its children, one per line.
tree_pids() {
	{ echo "$1"; cat /proc/$1/task/*/children 2>/dev/null | tr ' ' '\n'; } |
	    grep -v '^$'
}

# CPU time (clock ticks, user + system) of PID and its children.
tree_ticks() {
	tree_pids $1 | while read -r _q; do
		sed 's/.*) //' /proc/$_q/stat 2>/dev/null
	    done | awk '{ t += $12 + $13 } END { print t + 0 }'
}

run_wrk() {	# KEY TARGET RUN [wrk args]
	_k=$1 _t=$2 _r=$3; shift 3
	eval "_p=\$HTTP_$_t _rp=\${HTTPPID_$_t:-}"
	[ -n "$_rp" ] && _c0=$(tree_ticks $_rp)
	timeout -k 2 $TO wrk -t 1 -c $CONNS -d ${DUR}s --latency "$@" \
	    http://127.0.0.1:$_p/ >"$TMP/last.out" 2>&1
	[ -n "$_rp" ] && _c1=$(tree_ticks $_rp)
	_v=$(awk '/^Requests\/sec:/ { print $2 }' "$TMP/last.out")
	_l=$(awk '$1 == "99%" { print $2 }' "$TMP/last.out")
	if [ -z "$_v" ] || [ -z "$_l" ]; then
		note "$_k $_t run $_r failed: $(tail -n 2 "$TMP/last.out" | tr '\n' ' ')"
		return
	fi
	put $_k $_t $_r "$_v"
	put ${_k}_p99 $_t $_r "$(to_ms "$_l")"
	# The relay's own CPU time per request, in microseconds.
	_n=$(awk '/requests in/ { print $1 }' "$TMP/last.out")
	[ -n "$_rp" ] && [ -n "$_n" ] && [ "$_n" -gt 0 ] &&
	    put ${_k}_cpu $_t $_r "$(awk -v a=$_c0 -v b=$_c1 -v n=$_n \
		-v hz=$(getconf CLK_TCK) 'BEGIN { print (b - a) * 1e6 / hz / n }')"
	_e=$(grep -E 'Socket errors|Non-2xx' "$TMP/last.out" | tr -s ' \n' ' ')
	[ -n "$_e" ] && note "$_k $_t run $_r: wrk:$_e"
	return 0
}

run_kl() {	# KEY TARGET RUN PORT MATCH [knockload args]; $KL_PID: the relay
	_k=$1 _t=$2 _r=$3 _p=$4 _m=$5; shift 5
	[ -n "${KL_PID:-}" ] && _c0=$(tree_ticks $KL_PID)
	_o=$(timeout -k 2 $TO $KL -c $CONNS -d $DUR -m "$_m" "$@" 127.0.0.1:$_p)
	# The relay's own CPU time per connection, in microseconds.
	_n=$(echo "$_o" | sed -n 's/^conns=\([0-9]*\) .*/\1/p')
	[ -n "${KL_PID:-}" ] && [ -n "$_n" ] && [ "$_n" -gt 0 ] &&
	    put ${_k}_cpu $_t $_r "$(awk -v a=$_c0 -v b=$(tree_ticks $KL_PID) \
		-v n=$_n -v hz=$(getconf CLK_TCK) 'BEGIN { print (b - a) * 1e6 / hz / n }')"
	_v=$(echo "$_o" | sed -n 's/.* rate=\([0-9.]*\) .*/\1/p')
	_l=$(echo "$_o" | sed -n 's/.* p99_ms=\([0-9.]*\) .*/\1/p')
	if [ -z "$_v" ]; then
		note "$_k $_t run $_r failed: $_o"
		return
	fi
	put $_k $_t $_r "$_v"
	put ${_k}_p99 $_t $_r "$_l"
	case $_o in
	*" errors=0 bad=0") ;;
	*) note "$_k $_t run $_r: knockload: $_o" ;;
	esac
}

# The machine is shared: wait (up to BENCH_WAIT_QUIET seconds, default 120)
# for other work to stop, and say in the results how busy it was.
cpu_busy() {	# percent of CPU time not idle over one second
	_a=$(head -n 1 /proc/stat); sleep 1; _b=$(head -n 1 /proc/stat)
	echo "$_a $_b" | awk '{ n = (NF - 2) / 2; t = 0; i = 0
		for (k = 2; k <= n + 1; k++) { d = $(k + n + 1) - $k; t += d
			if (k == 5 || k == 6) i += d }
		print t ? int(100 * (t - i) / t) : 0 }'
}
BUSY0=$(cpu_busy) _w=0
while [ "$BUSY0" -gt 15 ] && [ $_w -lt ${BENCH_WAIT_QUIET:-120} ]; do
	[ $_w = 0 ] && say "bench: the machine is $BUSY0% busy: waiting for it to quieten"
	sleep 4; BUSY0=$(cpu_busy); _w=$((_w + 5))
done
[ "$BUSY0" -gt 15 ] &&
    note "the machine was $BUSY0% busy with other work when the runs started: treat the figures with care"
LOAD0=$(cut -d " " -f 1-3 /proc/loadavg)
T0=$(date +%s)

# Other work on the machine during each run: CPU time of the whole machine
# (/proc/stat) minus that of this benchmark: the processes in its network
# namespace plus its finished clients (the shell's `times`).  Only in the
# private namespace, where our processes can be told from the others.
NSID=$(readlink /proc/self/ns/net); NSID=${NSID#*[}; NSID=${NSID%]}
cpu_mark() {	# prints: busy total ours (clock ticks); `times >$TMP/times` first
	{ head -n 1 /proc/stat
	  find /proc -maxdepth 3 -path '/proc/[0-9]*/ns/net' -lname "*$NSID*" \
	      2>/dev/null | cut -d / -f 3 | while read -r _p; do
		echo "pid $(cat /proc/$_p/stat 2>/dev/null)"; done
	  sed -n 2p "$TMP/times" | sed 's/\([0-9]*\)m\([0-9.]*\)s/\1 \2/g; s/^/times /'
	} | awk '$1 == "cpu" { for (i = 2; i <= 9; i++) { t += $i; if (i != 5 && i != 6) b += $i } }
		$1 == "pid" { sub(/.*\) /, ""); o += $12 + $13 }
		$1 == "times" { o += ($2 * 60 + $3 + $4 * 60 + $5) * 100 }
		END { printf("%d %d %d\n", b, t, o) }'
}
# measured KEY TARGET RUN CMD...: run CMD, note the others' CPU share.
measured() {
	_mk=$1 _mt=$2 _mr=$3; shift 3
	if [ "$NETNS" != private ]; then "$@"; return; fi
	times >"$TMP/times"; _m0=$(cpu_mark)
	"$@"
	times >"$TMP/times"; _m1=$(cpu_mark)
	echo "$_m0 $_m1" | awk -v k=$_mk -v t=$_mt -v r=$_mr '{
		x = (($4 - $1) - ($6 - $3)) / ($5 - $2) * 100; if (x < 0) x = 0
		printf("%s %s %s %.0f\n", k, t, r, x) }' >>"$TMP/cpuother"
}
say "bench: $REPS interleaved runs of ${DUR}s per workload; targets: $TARGETS"
say "bench: network namespace: $NETNS; ports from $BASE; tmp $TMP"

# rotated RUN: the targets, turned by RUN - 1 places.  Each run of a
# workload goes through every target, and each target takes each place in
# turn: a machine that slows down within a run (TIME_WAIT sockets pile up
# over thousands of connections a second: the first target of a run was
# measured up to 30% faster than the last) favours none of them.
rotated() {
	echo $TARGETS | awk -v r="$1" '{ for (i = 0; i < NF; i++)
		printf("%s%s", $((i + r - 1) % NF + 1), i + 1 < NF ? " " : "\n") }'
}

# pair RUN OUT1 OUT2 F1 F2 [ARGS...]: run F1 ARGS and F2 ARGS at once
# (shell functions), each bounded by TO, their output (stdout and stderr)
# in OUT1 and OUT2; which one starts first alternates with RUN.  Side by
# side, both see the machine as it is in that second: the drift between
# runs a few seconds apart (a rate moves by 15-30% from one run to the
# next here) stays out of their ratio; how the scheduler shares the CPUs
# between the two enters it.
pair() {
	_pr=$1 _po1=$2 _po2=$3 _pf1=$4 _pf2=$5; shift 5
	if [ $((_pr % 2)) = 0 ]; then
		_pt=$_pf1 _pf1=$_pf2 _pf2=$_pt _pt=$_po1 _po1=$_po2 _po2=$_pt
	fi
	$_pf1 "$@" >"$_po1" 2>&1 &
	_pp=$!
	PIDS="$PIDS $_pp"
	$_pf2 "$@" >"$_po2" 2>&1
	wait $_pp
}

# run_side KEY RUN [wrk args]: l7knockknock and haproxy side by side,
# $CONNS / 2 connections each, loaded at the same time for DUR.
side_wrk() {	# PORT [wrk args]
	_swp=$1; shift
	timeout -k 2 $TO wrk -t 1 -c $((CONNS / 2)) -d ${DUR}s "$@" \
	    http://127.0.0.1:$_swp/
}
side_wrk_l7k() { side_wrk $HTTP_l7k "$@"; }
side_wrk_haproxy() { side_wrk $HTTP_haproxy "$@"; }
run_side() {
	_sk=$1 _sr=$2; shift 2
	[ -n "${HTTP_haproxy:-}" ] || return 0
	_sc0="$(tree_ticks $HTTPPID_l7k) $(tree_ticks $HTTPPID_haproxy)"
	pair $_sr "$TMP/side.l7k" "$TMP/side.haproxy" side_wrk_l7k \
	    side_wrk_haproxy "$@"
	_sc1="$(tree_ticks $HTTPPID_l7k) $(tree_ticks $HTTPPID_haproxy)"
	_sl=$(awk '/^Requests\/sec:/ { print $2 }' "$TMP/side.l7k")
	_sh=$(awk '/^Requests\/sec:/ { print $2 }' "$TMP/side.haproxy")
	if [ -z "$_sl" ] || [ -z "$_sh" ] || [ "${_sh%.*}" = 0 ]; then
		note "$_sk side by side run $_sr failed: $(tail -n 1 "$TMP/side.l7k") / $(tail -n 1 "$TMP/side.haproxy")"
		return
	fi
	for _t in l7k haproxy; do
		_e=$(grep -E 'Socket errors|Non-2xx' "$TMP/side.$_t" | tr -s ' \n' ' ')
		[ -n "$_e" ] && note "$_sk side by side $_t run $_sr: wrk:$_e"
	done
	put ${_sk}side l7k $_sr "$_sl"
	put ${_sk}side haproxy $_sr "$_sh"
	put ${_sk}sratio l7k $_sr "$(awk -v a="$_sl" -v b="$_sh" 'BEGIN { print a / b }')"
	side_cpu $_sk $_sr l7k ${_sc0% *} ${_sc1% *}
	side_cpu $_sk $_sr haproxy ${_sc0#* } ${_sc1#* }
}
# side_cpu KEY RUN TARGET TICKS0 TICKS1: what the relay's CPU time was in
# a side-by-side run: µs per request, and a share of one CPU (each wrk
# keeps its requests in flight, so the share follows from the rate).
side_cpu() {
	_n=$(awk '/requests in/ { print $1 }' "$TMP/side.$3")
	[ -n "$_n" ] && [ "$_n" -gt 0 ] || return 0
	put ${1}side_cpu $3 $2 "$(awk -v a=$4 -v b=$5 -v n=$_n \
	    -v hz=$(getconf CLK_TCK) 'BEGIN { print (b - a) * 1e6 / hz / n }')"
	put ${1}side_share $3 $2 "$(awk -v a=$4 -v b=$5 -v d=$DUR \
	    -v hz=$(getconf CLK_TCK) 'BEGIN { print (b - a) * 100 / hz / d }')"
}

# runs KEY LABEL FUNC [ARGS...]: REPS runs of FUNC KEY TARGET RUN ARGS for
# every target in turn, unless BENCH_ONLY leaves KEY out.  With SIDE=1,
# each round also runs l7knockknock and haproxy side by side (run_side),
# before the others in odd rounds and after them in even ones.
runs() {
	_rk=$1 _rl=$2 _rf=$3; shift 3
	only $_rk || return 0
	say "$_rl"
	_rr=1
	while [ $_rr -le $REPS ]; do
		[ -n "${SIDE:-}" ] && [ $((_rr % 2)) = 1 ] &&
		    measured ${_rk}side l7k $_rr run_side $_rk $_rr "$@"
		for _rt in $(rotated $_rr); do
			measured $_rk $_rt $_rr $_rf $_rk $_rt $_rr "$@"
		done
		[ -n "${SIDE:-}" ] && [ $((_rr % 2)) = 0 ] &&
		    measured ${_rk}side l7k $_rr run_side $_rk $_rr "$@"
		_rr=$((_rr + 1))
	done
}
runs bulk "bulk (iperf3, 1 stream)" run_bulk
SIDE=1 runs rr "request/response (wrk, $CONNS keep-alive connections)" run_wrk
SIDE=1 runs cr "connection rate (wrk, Connection: close)" run_wrk -H 'Connection: close'
only knock && say "new connections with and without the knock (knockload, $CONNS loops)"
r=1
only knock || r=$((REPS + 1))
# The token route, next to the static knock it is held to: before it in
# odd runs, after it in even ones (see rotated).
run_kt() {
	[ -n "$TOKENS" ] || return 0
	KL_PID=$HTTPPID_tok
	measured kt l7k $1 run_kl kt l7k $1 $HTTP_tok hidden -K "$KEYF"
	KL_PID=
}
# run_ktside RUN: the static-knock and the token relay side by side (see
# pair), $CONNS / 2 loops each, for the same DUR.  Both clocks start at
# one wall-clock time (-A), after the token run has minted its tokens, so
# that neither runs a moment alone.
side_kk() {	# LOOPS START
	timeout -k 2 $TO $KL -c $1 -d $DUR -m hidden -x $KNOCK_HEX -A $2 \
	    127.0.0.1:$HTTP_l7k
}
side_kt() {	# LOOPS START
	timeout -k 2 $TO $KL -c $1 -d $DUR -m hidden -K "$KEYF" -A $2 \
	    127.0.0.1:$HTTP_tok
}
run_ktside() {
	[ -n "$TOKENS" ] || return 0
	_at=$(awk -v t="$(date +%s.%N)" 'BEGIN { printf("%.3f", t + 1.5) }')
	pair $1 "$TMP/side.kk" "$TMP/side.kt" side_kk side_kt \
	    $((CONNS / 2)) $_at
	_sk=$(sed -n 's/.* rate=\([0-9.]*\) .*/\1/p' "$TMP/side.kk")
	_st=$(sed -n 's/.* rate=\([0-9.]*\) .*/\1/p' "$TMP/side.kt")
	if [ -z "$_sk" ] || [ -z "$_st" ] || [ "${_sk%.*}" = 0 ]; then
		note "side-by-side token run $1 failed: $(tail -n 1 "$TMP/side.kk") / $(tail -n 1 "$TMP/side.kt")"
		return
	fi
	# Errors, bad replies (a refused token reaches the normal backend),
	# or a late start: say so.
	for _f in kk kt; do
		grep -q ' errors=0 bad=0$' "$TMP/side.$_f" &&
		    [ "$(wc -l <"$TMP/side.$_f")" = 1 ] ||
		    note "side-by-side $_f run $1: $(tr '\n' ' ' <"$TMP/side.$_f")"
	done
	put kkside l7k $1 "$_sk"
	put ktside l7k $1 "$_st"
	put ktsratio l7k $1 "$(awk -v t="$_st" -v k="$_sk" 'BEGIN { print t / k }')"
}
while [ $r -le $REPS ]; do
	measured ktside l7k $r run_ktside $r
	for t in $(rotated $r); do
		eval "p=\$HTTP_$t"
		measured kl $t $r run_kl kl $t $r $p normal
		case $t in
		direct) measured kk $t $r run_kl kk $t $r $HB hidden ;;
		nginx) ;;
		l7k) [ $((r % 2)) = 1 ] && run_kt $r
		    KL_PID=$HTTPPID_l7k
		    measured kk $t $r run_kl kk $t $r $p hidden -x $KNOCK_HEX
		    KL_PID=
		    [ $((r % 2)) = 0 ] && run_kt $r ;;
		*) measured kk $t $r run_kl kk $t $r $p hidden -x $KNOCK_HEX ;;
		esac
	done
	r=$((r + 1))
done

# ---- idle ----------------------------------------------------------------
# The idle cost is the whole tree's (tree_pids: l7knockknock's supervisor
# and its workers; a master and its worker).
fdcount() {
	for _p in $(tree_pids $1); do ls "/proc/$_p/fd" 2>/dev/null; done |
	    wc -l
}
rsskib() {
	for _p in $(tree_pids $1); do
		awk '/^VmRSS:/ { print $2 }' "/proc/$_p/status" 2>/dev/null
	done | awk '{ t += $1 } END { print t + 0 }'
}

# idle KEY TARGET RUN N: a fresh relay, N idle connections through it.
idle() {
	_ik=$1 _it=$2 _ir=$3 _in=$4
	IDLE_PORT=$((IDLE_PORT + 1))
	case $_it in
	l7k) start_l7k idle_$_it $IDLE_PORT $NB $HB $IDLE_L7K_ARGS ;;
	haproxy) start_haproxy idle_$_it $IDLE_PORT $NB $HB ;;
	nginx) start_nginx idle_$_it $IDLE_PORT $NB ;;
	esac || { note "$_ik $_it run $_ir: the relay did not start"; return; }
	_top=$LASTPID
	# Warm up: one request and a moment, so start-up work is not counted.
	$KL -c 1 -d 0.2 127.0.0.1:$IDLE_PORT >/dev/null
	sleep 0.5
	_f0=$(fdcount $RELAYPID) _m0=$(rsskib $RELAYPID)
	# An unfinished request: routed at once, then the backend waits.
	bg idle_load $KL -I $_in -c 200 -d 300 \
	    -r 'GET / HTTP/1.1\r\nHost: idle\r\n' 127.0.0.1:$IDLE_PORT
	_load=$LASTPID
	_i=0
	while ! grep -q '^ready' "$TMP/idle_load.log" 2>/dev/null; do
		kill -0 $_load 2>/dev/null || break
		[ $_i -ge 600 ] && break
		sleep 0.1; _i=$((_i + 1))
	done
	# Wait until the relay has all its backend connections: the
	# descriptor count stops moving.
	_prev=-1 _same=0 _i=0
	while [ $_same -lt 3 ] && [ $_i -lt 100 ]; do
		_f1=$(fdcount $RELAYPID)
		if [ "$_f1" = "$_prev" ]; then _same=$((_same + 1))
		else _same=0; fi
		_prev=$_f1
		sleep 0.2; _i=$((_i + 1))
	done
	_f1=$(fdcount $RELAYPID) _m1=$(rsskib $RELAYPID)
	if grep -q '^ready' "$TMP/idle_load.log" && kill -0 $_load 2>/dev/null
	then
		put ${_ik}_fd $_it $_ir "$(awk -v a=$_f0 -v b=$_f1 -v n=$_in \
		    'BEGIN { print (b - a) / n }')"
		put ${_ik}_kib $_it $_ir "$(awk -v a=$_m0 -v b=$_m1 -v n=$_in \
		    'BEGIN { print (b - a) / n }')"
		put ${_ik}_base $_it $_ir "$(awk -v a=$_m0 'BEGIN { print a / 1024 }')"
	else
		note "$_ik $_it run $_ir: the idle load failed: $(tail -n 2 "$TMP/idle_load.log" | tr '\n' ' ')"
	fi
	stop $_load
	stop $_top
}

# l7knockknock sizes its connection slots from RLIMIT_NOFILE: see how many.
# Every idle connection comes from 127.0.0.1, which by default may hold
# only an eighth of the slots: no per-source limit for these runs.
IDLE_L7K_ARGS="-o 600s"
if $BIN --help 2>&1 | grep -q -- '--max-conns-per-source'; then
	IDLE_L7K_ARGS="$IDLE_L7K_ARGS --max-conns-per-source 0"
fi
IDLE_PORT=$((IDLE_PORT + 1))
bg slots $BIN --listen 127.0.0.1:$IDLE_PORT --normal 127.0.0.1:$NB \
    --hidden 127.0.0.1:$HB "$KNOCK"
wait_port $IDLE_PORT $LASTPID slots && sleep 0.2
stop $LASTPID
slots=$(sed -n 's/.* \([0-9][0-9]*\) connection slots.*/\1/p' "$TMP/slots.log")
if [ -n "$slots" ] && [ "$slots" -lt 9100 ]; then
	IDLE_L7K_ARGS="$IDLE_L7K_ARGS --max-conns 9100"
	note "l7knockknock sizes its slots from RLIMIT_NOFILE ($NOFILE here): $slots" \
	    "slots, fewer than 9,000 idle connections; the idle runs pass --max-conns 9100"
fi

only idle && say "idle connections ($IDLE_N through each relay; 1,000 and 9,000 too for l7knockknock)"
r=1
only idle || r=$((IDLE_REPS + 1))
while [ $r -le $IDLE_REPS ]; do
	idle idle1k l7k $r 1000
	idle idle l7k $r $IDLE_N
	idle idle9k l7k $r 9000
	idle idle haproxy $r $IDLE_N
	idle idle nginx $r $IDLE_N
	r=$((r + 1))
done
T1=$(date +%s)
LOAD1=$(cut -d " " -f 1-3 /proc/loadavg)

# ---- a syscall profile, for the notes -------------------------------------
# strace -c on the http relays during a short keep-alive run: syscalls per
# request tell where the time goes (the run is slower under strace: not a
# figure of the table).
if command -v strace >/dev/null 2>&1 && [ "${BENCH_STRACE:-1}" = 1 ] &&
    only rr; then
	for t in l7k haproxy; do
		eval "p=\$HTTP_$t"
		eval "pid=\$HTTPPID_$t"
		# Every process of the tree: -f follows only children to come,
		# and l7knockknock's worker is the supervisor's child already.
		strace -c -f $(tree_pids $pid | sed 's/^/-p /') \
		    -o "$TMP/strace_$t" &
		sp=$!
		PIDS="$PIDS $sp"
		sleep 0.5
		wrk -t 1 -c $CONNS -d 2s http://127.0.0.1:$p/ >"$TMP/strace_wrk_$t" 2>&1
		kill -TERM $sp 2>/dev/null; wait $sp 2>/dev/null
		req=$(awk '/requests in/ { print $1 }' "$TMP/strace_wrk_$t")
		[ -s "$TMP/strace_$t" ] && [ -n "$req" ] && [ "$req" -gt 0 ] &&
		    { printf "%s|" $t
		      awk -v req=$req '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {
			printf("%s %.2f\n", $NF, $4 / req) }' "$TMP/strace_$t" |
		      sort -k2,2gr | awk '{ t += $2; s = s (NR <= 8 ? $1 " " $2 ", " : "") }
			END { printf("%.2f|%s\n", t, s) }'
		    } >>"$TMP/strace_sum"
	done
fi

# ---- the table -----------------------------------------------------------
# The token route against the static knock: the median of each run's
# ratio.  The two ran next to each other, on the machine as it was then;
# the ratio of two medians would pair runs minutes apart.
awk '$2 == "l7k" && ($1 == "kt" || $1 == "kk") { v[$1 " " $3] = $4 }
	END { for (k in v) { split(k, a, " ")
		if (a[1] == "kt" && v["kk " a[2]] > 0)
			print "ktratio l7k", a[2], v[k] / v["kk " a[2]] } }' \
    "$RAW" >"$TMP/ktratio"
cat "$TMP/ktratio" >>"$RAW"
# Medians of each KEY TARGET.
sort -k1,1 -k2,2 -k4,4g "$RAW" | awk '
	function flush() { if (n) { m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
		print key, m } n = 0 }
	{ k = $1 " " $2; if (k != key) { flush(); key = k } v[++n] = $4 }
	END { flush() }' >"$TMP/med"

med() { awk -v k="$1" -v t="$2" '$1 == k && $2 == t { print $3 }' "$TMP/med"; }

# fmt VALUE DECIMALS
fmt() { [ -z "$1" ] && echo "–" || awk -v v="$1" -v d="$2" 'BEGIN { printf("%.*f", d, v) }'; }
ratio() { { [ -z "$1" ] || [ -z "$2" ]; } && echo "–" ||
    awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "–"; else printf("%.2f", a / b) }'; }
# check EXPR: awk expression on l7k, hap, dir -> yes/no
check() { { [ -z "${L:-}" ]; } && echo "–" ||
    awk -v l="$L" -v h="${H:-0}" -v d="${D:-0}" -v n="${N:-0}" \
	"BEGIN { p = (h > n) ? h : n; print ($1) ? \"yes\" : \"no\" }"; }

# The knocked/unknocked ratio per target.
for t in $TARGETS; do
	a=$(med kk $t) b=$(med kl $t)
	[ -n "$a" ] && [ -n "$b" ] &&
	    echo "kkratio $t $(awk -v a=$a -v b=$b 'BEGIN { print a / b }')" >>"$TMP/med"
done

{
echo "| workload | direct | l7knockknock |$([ -n "$WORKERS" ] && echo ' l7k --workers 2 |') haproxy | nginx stream | l7k ÷ haproxy | l7k ÷ nginx | l7k ÷ direct |$([ -n "$BASE_BIN" ] && echo ' base build | l7k ÷ base |') target | met |"
echo "|---|--:|--:|$([ -n "$WORKERS" ] && echo '--:|')--:|--:|--:|--:|--:|$([ -n "$BASE_BIN" ] && echo '--:|--:|')---|---|"
# row KEY LABEL DECIMALS TARGET-TEXT CHECK-EXPR [nginx-text] [direct-text]
row() {
	D=$(med $1 direct) L=$(med $1 l7k) L2=$(med $1 l7k2) H=$(med $1 haproxy) N=$(med $1 nginx)
	B=$(med $1 base)
	_nt=${6:-$(fmt "$N" $3)}
	_dt=${7:-$(fmt "$D" $3)}
	printf '| %s | %s | %s |' "$2" "$_dt" "$(fmt "$L" $3)"
	[ -n "$WORKERS" ] && printf ' %s |' "$(fmt "$L2" $3)"
	# An 8th argument "noratio": the ratio columns would mean nothing.
	if [ "${8:-}" = noratio ]; then
		_rh=– _rn=– _rd=– _rb=–
	else
		_rh=$(ratio "$L" "$H") _rn=$(ratio "$L" "$N")
		_rd=$(ratio "$L" "$D") _rb=$(ratio "$L" "$B")
	fi
	printf ' %s | %s | %s | %s | %s |' "$(fmt "$H" $3)" "$_nt" \
	    "$_rh" "$_rn" "$_rd"
	[ -n "$BASE_BIN" ] && printf ' %s | %s |' "$(fmt "$B" $3)" "$_rb"
	printf ' %s | %s |\n' "$4" "$([ -n "$5" ] && check "$5" || echo)"
}
row bulk "bulk: iperf3, 1 stream, Gbit/s" 2 "≥ 1.1 × max(haproxy, nginx), ≥ 0.75 × direct" "l >= 1.1 * p && l >= 0.75 * d"
row bulk_wait "bulk: relay runnable, waiting for a CPU, % of the run" 0 "" "" "" "–" noratio
row bulk_idle "bulk: the machine's CPU time left idle, %" 0 "" "" "" "" noratio
row rr "request/response: wrk, $CONNS keep-alive, req/s" 0 "≥ 1.0 × haproxy" "l >= h"
row rr_p99 "request/response: p99 ms" 2 "" ""
row rr_cpu "request/response: relay CPU µs per request" 1 "" "" "" "–"
row rrside "request/response side by side, $((CONNS / 2)) connections each, req/s" 0 "" "" "–" "–"
row rrsratio "request/response side by side: median of the runs' l7k ÷ haproxy" 2 "≥ 1.0" "l >= 1" "–" "–"
row rrside_cpu "request/response side by side: relay CPU µs per request" 1 "" "" "–" "–"
row rrside_share "request/response side by side: relay CPU time, % of one CPU" 0 "" "" "–" "–"
row cr "connection rate: wrk, Connection: close, conn/s" 0 "≥ 1.0 × haproxy" "l >= h"
row cr_p99 "connection rate: p99 ms" 2 "" ""
row cr_cpu "connection rate: relay CPU µs per connection" 1 "" "" "" "–"
row crside "connection rate side by side, $((CONNS / 2)) connections each, conn/s" 0 "" "" "–" "–"
row crsratio "connection rate side by side: median of the runs' l7k ÷ haproxy" 2 "≥ 1.0" "l >= 1" "–" "–"
row crside_cpu "connection rate side by side: relay CPU µs per connection" 1 "" "" "–" "–"
row crside_share "connection rate side by side: relay CPU time, % of one CPU" 0 "" "" "–" "–"
row kl "new connections, no knock (knockload), conn/s" 0 "" ""
row kl_p99 "new connections, no knock: p99 ms" 2 "" ""
row kk "knocked connections to hidden (knockload), conn/s" 0 "" "" "n/a: no knock routing" "$(fmt "$(med kk direct)" 0) (no knock)"
row kk_p99 "knocked connections: p99 ms" 2 "" "" "n/a"
row kkratio "knocked ÷ no knock" 2 "≥ 0.95" "l >= 0.95" "n/a"
if [ -n "$TOKENS" ]; then
	row kt "token connections to hidden (knockload -K), conn/s" 0 "" "" "n/a" "–"
	row kt_p99 "token connections: p99 ms" 2 "" "" "n/a" "–"
	row ktratio "token ÷ static knock, in turn (median of the runs' ratios)" 2 "≥ 0.95" "l >= 0.95" "n/a" "–"
	row kkside "side by side, $((CONNS / 2)) loops each: static knock, conn/s" 0 "" "" "n/a" "–"
	row ktside "side by side: token, conn/s" 0 "" "" "n/a" "–"
	row ktsratio "token ÷ static knock, side by side (median of the runs' ratios)" 2 "≥ 0.95" "l >= 0.95" "n/a" "–"
	row kk_cpu "knocked: relay CPU µs per connection" 1 "" "" "n/a" "–"
	row kt_cpu "token: relay CPU µs per connection" 1 "" "" "n/a" "–"
fi
row idle_fd "idle, $IDLE_N conns: relay fds per conn" 2 "≤ 2" "l <= 2" "" "–"
row idle_kib "idle, $IDLE_N conns: relay RSS KiB per conn" 2 "≤ 1 KiB" "l <= 1" "" "–"
row idle_base "idle: relay RSS before the connections, MiB" 1 "" "" "" "–"
row idle1k_fd "idle, 1,000 conns: fds per conn" 2 "" "" "" "–"
row idle1k_kib "idle, 1,000 conns: RSS KiB per conn" 2 "" "" "" "–"
row idle9k_fd "idle, 9,000 conns: fds per conn" 2 "" "" "" "–"
a=$(med idle1k_kib l7k) b=$(med idle9k_kib l7k)
flat=
if [ -n "$a" ] && [ -n "$b" ]; then
	flat=$(awk -v a=$a -v b=$b 'BEGIN { x = b - a; if (x < 0) x = -x
	    print (x <= 0.2 * a || x <= 0.1) ? 1 : 0 }')
fi
row idle9k_kib "idle, 9,000 conns: RSS KiB per conn" 2 \
    "flat: within 20% (or 0.1 KiB) of 1,000" "$flat"
} >"$TMP/table"

# ---- the targets: PASS or FALL-SHORT each -----------------------
# tgt LABEL MEASURED OK: OK is 1, 0 or empty (not measured).
tgt() {
	case $3 in 1) _v=PASS ;; 0) _v=FALL-SHORT ;; *) _v="not measured" ;; esac
	printf '| %s | %s | %s |\n' "$1" "${2:-–}" "$_v"
}
# ratio_ok A B MIN: 1 if A / B >= MIN, 0 if not, empty if either is missing.
ratio_ok() { awk -v a="$1" -v b="$2" -v m="$3" 'BEGIN {
	if (a == "" || b == "" || b == 0) print ""; else print (a / b >= m) ? 1 : 0 }'; }
# rounds KEY: "rounds a, b, ..." of l7knockknock's KEY, in the runs' order.
rounds() { sort -k3,3n "$RAW" | awk -v k="$1" '$1 == k && $2 == "l7k" {
	printf("%s%.2f", n++ ? ", " : "rounds ", $4) }'; }
# at_most A MAX
at_most() { awk -v a="$1" -v m="$2" 'BEGIN { if (a == "") print ""; else print (a <= m) ? 1 : 0 }'; }
BL=$(med bulk l7k) BH=$(med bulk haproxy) BN=$(med bulk nginx) BD=$(med bulk direct)
BP=$(awk -v h="$BH" -v n="$BN" 'BEGIN { if (h == "" && n == "") print ""; else print (h + 0 > n + 0) ? h : n }')
BPN=$(awk -v h="$BH" -v n="$BN" 'BEGIN { print (h + 0 > n + 0) ? "haproxy" : "nginx" }')
BMIN=$(awk '$1 == "bulk" && $2 == "l7k" { print $4 }' "$RAW" | sort -g | head -n 1)
BFLOOR=$(awk -v p="$BP" 'BEGIN { if (p != "") print 0.9 * p }')
KT=$(med ktratio l7k) KTS=$(med ktsratio l7k)
{
echo "| target | measured | verdict |"
echo "|---|---|---|"
tgt "bulk ≥ 1.1 × the better of haproxy and nginx stream" \
    "$(ratio "$BL" "$BP") × $BPN ($(fmt "$BL" 2) vs $(fmt "$BP" 2) Gbit/s)" \
    "$(ratio_ok "$BL" "$BP" 1.1)"
tgt "bulk ≥ 0.75 × direct" "$(ratio "$BL" "$BD") ($(fmt "$BL" 2) vs $(fmt "$BD" 2) Gbit/s)" \
    "$(ratio_ok "$BL" "$BD" 0.75)"
tgt "bulk: no round below 0.9 × the better peer's median" \
    "slowest round $(fmt "$BMIN" 2) vs $(fmt "$BFLOOR" 2) Gbit/s" \
    "$(ratio_ok "$BMIN" "$BFLOOR" 1)"
tgt "connections/s (Connection: close) ≥ 1.0 × haproxy, side by side" \
    "$(fmt "$(med crsratio l7k)" 2) × haproxy ($(rounds crsratio))" \
    "$(ratio_ok "$(med crsratio l7k)" 1 1)"
tgt "the same, in turn (medians of runs seconds apart)" \
    "$(ratio "$(med cr l7k)" "$(med cr haproxy)") × haproxy" \
    "$(ratio_ok "$(med cr l7k)" "$(med cr haproxy)" 1)"
tgt "token-knocked ≥ 0.95 × static-knocked connections/s, side by side" \
    "$(fmt "$KTS" 2) ($(rounds ktsratio))" \
    "$(ratio_ok "$KTS" 1 0.95)"
tgt "the same, in turn (runs seconds apart)" \
    "$(fmt "$KT" 2) ($(rounds ktratio))" \
    "$(ratio_ok "$KT" 1 0.95)"
tgt "request/response ≥ 1.0 × haproxy, side by side" \
    "$(fmt "$(med rrsratio l7k)" 2) × haproxy ($(rounds rrsratio))" \
    "$(ratio_ok "$(med rrsratio l7k)" 1 1)"
tgt "the same, in turn (medians of runs seconds apart)" \
    "$(ratio "$(med rr l7k)" "$(med rr haproxy)") × haproxy" \
    "$(ratio_ok "$(med rr l7k)" "$(med rr haproxy)" 1)"
tgt "idle: ≤ 2 descriptors per connection" "$(fmt "$(med idle_fd l7k)" 2)" \
    "$(at_most "$(med idle_fd l7k)" 2)"
tgt "idle: ≤ 1 KiB per connection" "$(fmt "$(med idle_kib l7k)" 2) KiB" \
    "$(at_most "$(med idle_kib l7k)" 1)"
} >"$TMP/targets"

# ---- the chart: every column's medians ÷ haproxy's, per workload ----------
SVG=${OUT%.md}.svg
CHART=
if command -v gnuplot >/dev/null 2>&1; then
	for k in bulk rr cr kl kk kt; do
		case $k in
		bulk) l="bulk" ;; rr) l="req/resp" ;; cr) l="conn/s, close" ;;
		kl) l="new conns" ;; kk) l="knocked" ;; kt) l="token" ;;
		esac
		# The token row: l7knockknock's token route ÷ haproxy's knock.
		h=$(med $k haproxy)
		[ $k = kt ] && h=$(med kk haproxy)
		[ -z "$h" ] && continue
		printf '"%s"' "$l"
		for t in direct l7k haproxy nginx; do
			v=$(med $k $t)
			[ $k = kk ] && [ $t = direct ] && v=
			printf ' %s' "$(awk -v v="$v" -v h="$h" 'BEGIN {
			    if (v == "") print "-"; else printf("%.3f", v / h) }')"
		done
		echo
	done >"$TMP/chart.dat"
	if [ -s "$TMP/chart.dat" ] && gnuplot >"$TMP/gnuplot.log" 2>&1 <<EOF
set terminal svg size 820,420 dynamic font "sans,12" background rgb "white"
set output "$TMP/chart.svg"
set title "$(date -u '+%Y-%m-%d'), $(nproc) CPUs: medians of $REPS interleaved runs ÷ haproxy's (higher is better)"
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set yrange [0:*]
set ylabel "÷ haproxy"
set grid ytics
set key top right
set xtics nomirror
set arrow from graph 0, first 1 to graph 1, first 1 nohead dashtype 2 lc rgb "#444444"
plot "$TMP/chart.dat" using 2:xtic(1) title "direct" lc rgb "#9e9e9e", \
     "" using 3 title "l7knockknock" lc rgb "#1f77b4", \
     "" using 4 title "haproxy" lc rgb "#ff7f0e", \
     "" using 5 title "nginx stream" lc rgb "#2ca02c"
EOF
	then
		cp "$TMP/chart.svg" "$SVG" && CHART=$(basename "$SVG")
	else
		note "gnuplot failed: $(tail -n 2 "$TMP/gnuplot.log" | tr '\n' ' ')"
	fi
else
	note "gnuplot missing: no chart (make bench installs it)"
fi

CPU=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
[ -z "$CPU" ] && CPU=$(lscpu 2>/dev/null | awk -F': *' '/Model name/ { print $2; exit }')
VER_L7K=$($BIN --version 2>&1 | head -n 1)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
DIRTY=$(git status --porcelain -- src 2>/dev/null | head -n 1)
[ -n "$DIRTY" ] && COMMIT="$COMMIT + uncommitted src/ changes"

{
echo "# l7knockknock benchmark"
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs, $CPU; Linux $(uname -r);"
echo "$VER_L7K (commit $COMMIT$([ -n "$BASE_BIN" ] && echo "; base build: $BASE_BIN")); $(haproxy -v 2>&1 | awk 'NR == 1 { print $1, $2, $3 }');"
echo "$(nginx -v 2>&1 | sed 's/.*: //'); $(iperf3 --version 2>&1 | awk 'NR == 1 { print $1, $2 }'); $(wrk -v 2>&1 | awk 'NR == 1 { print $1, $2 }')."
echo
echo "Medians of $REPS interleaved runs of ${DUR} s (idle: $IDLE_REPS runs), all on"
echo "127.0.0.1 ($NETNS network namespace), clients, relays and backends sharing"
echo "the machine's CPUs; $(($T1 - $T0)) s in all; load average $LOAD0 at the start"
echo "(CPU $BUSY0% busy before the first run), $LOAD1 at the end. Higher is better except p99"
echo "latencies, descriptors and memory. Ratios compare medians, except the"
echo "lines \"median of the runs' …\", which take the median of each round's ratio;"
echo "compare ratios across runs, not absolute numbers (the machine is shared and noisy)."
[ -n "${BENCH_NOTE:-}" ] && { echo; echo "Note: $BENCH_NOTE"; }
if [ -s "$TMP/cpuother" ]; then
	echo
	printf "Other work's share of the machine's CPU time during the runs, median (max):"
	for k in bulk rr rrside cr crside kl kk kt ktside; do
		awk -v k=$k '$1 == k { print $4 }' "$TMP/cpuother" | sort -n | awk -v k=$k '
			{ v[++n] = $1 } END { if (n) printf(" %s %d%% (%d%%)", k, v[int((n + 1) / 2)], v[n])
			    if (n && v[int((n + 1) / 2)] > 10) printf("- other work took %d%% of the CPU time in the median %s run: the figures of this run are unreliable\n", v[int((n + 1) / 2)], k) >> "/dev/stderr" }' 2>>"$NOTES"
	done
	echo "."
	echo "(bulk, rr: request/response, cr: connection rate, kl/kk: new connections without/with the knock, kt: with a token; …side: the side-by-side runs.)"
fi
echo
[ -n "$CHART" ] && { echo "![Each workload's medians divided by haproxy's]($CHART)"; echo; }
cat "$TMP/table"
echo
echo "Targets, from the medians above (side by side: the median of the rounds' ratios):"
echo
cat "$TMP/targets"
echo
echo "l7knockknock runs as root, chroots into /var/empty, drops to nobody, with"
echo "seccomp (as users run it), with \`-q\`. The knock is 8 bytes (CR LF × 4):"
echo "the hidden nginx server skips them as empty lines, so it answers the same"
echo "whether the relay strips the knock (l7knockknock) or forwards it (haproxy"
echo "routes by \`req.payload(0,8)\` but cannot strip it). nginx stream cannot"
echo "route by a knock: it only relays to the normal backend."
[ -n "$TOKENS" ] && echo "The token rows: the same relay with \`--key-file\` instead of the knock; each connection sends a fresh 54-byte token (minted by knockload with src/token.c before the run's clock starts) and the request."
if [ -s "$TMP/strace_sum" ]; then
	echo
	echo "Syscalls per request during a 2 s keep-alive wrk run under \`strace -c -f\`"
	echo "(slower under strace; counts, not times):"
	echo
	while IFS='|' read -r t tot calls; do
		[ $t = l7k ] && t=l7knockknock
		echo "- $t: $tot syscalls per request: ${calls%, }"
	done <"$TMP/strace_sum"
fi
if [ -s "$NOTES" ]; then
	echo
	echo "Notes from the run:"
	echo
	cat "$NOTES"
fi
echo
echo "<details><summary>Every run (KEY TARGET RUN VALUE)</summary>"
echo
echo '```'
sort -k1,1 -k2,2 -k3,3n "$RAW"
[ -s "$TMP/cpuother" ] && sed 's/^/other_cpu_pct_/' "$TMP/cpuother" | sort -k1,1 -k2,2 -k3,3n
echo '```'
echo "</details>"
} >"$TMP/results.md"

cp "$TMP/results.md" "$OUT"
cat "$TMP/results.md"
say "bench: written to $OUT${CHART:+ and $SVG}"
say "bench: targets:"
sed 's/^/  /' "$TMP/targets" >&2
