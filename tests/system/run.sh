#!/bin/sh
# tests/system/run.sh (make test-system): the Debian package on a booted
# Debian 12, run as an admin runs it.
#
# A minimal bookworm root is made with debootstrap from the mirror this
# machine's apt uses (read from its sources now; cached in build/system/,
# so a rerun starts in seconds), copied afresh, and booted with
#   systemd-nspawn --boot --private-network --keep-unit --register=no
# (this host runs no systemd and no D-Bus); nsenter into its PID 1 drives
# it.  In it, the README's Debian section, literally (the lines marked
# "admin:"), then everything it promises:
#   curl to nginx through 443; ssh through l7knockknock-client with a
#   token; a replayed token answered by nginx; a reload with a rotated key
#   while an ssh session stays open; a reload of a broken file failing
#   visibly, the old key still working; a start that fails retried
#   without closing 443, served again once fixed; fail2ban banning a
#   replaying source (127.0.0.3) while another (127.0.0.2) is served;
#   stop and start; the relay's confinement in /proc; systemd-analyze
#   security at most 1.0; purge leaving no secret.
# Every wait is bounded.  Where nspawn cannot run, it says so and exits
# non-zero: it never passes without having run.
set -eu
cd "$(dirname "$0")/../.."

T0=$(date +%s)
DIR=build/system
CACHE=$DIR/bookworm
ROOT=$DIR/root
CONSOLE=$DIR/console.log
PACKAGES=systemd,systemd-sysv,dbus,libsodium23,nginx-light,openssh-server,openssh-client,fail2ban,python3-systemd,nftables,curl,openssl,procps,iproute2
CONF=/etc/l7knockknock/l7knockknock.conf
NSPID=
PID1=
OVERLAY=

say() { echo "test-system: $*"; }
fail() {
	echo "test-system: FAIL: $*" >&2
	if [ -n "$PID1" ]; then
		echo "test-system: the relay's journal (last 40 lines):" >&2
		ct 'journalctl --no-pager -n 40 -u l7knockknock.service -u l7knockknock.socket' >&2 || true
	fi
	exit 1
}

# ---- 0. What the test needs on this host -------------------------------
[ "$(id -u)" -eq 0 ] || fail "needs root (debootstrap, systemd-nspawn, nsenter)"
for t in debootstrap systemd-nspawn nsenter timeout; do
	command -v "$t" >/dev/null || fail "$t is missing (apt-get install debootstrap systemd-container util-linux coreutils)"
done
DEB=$(ls build/deb/l7knockknock_*_*.deb 2>/dev/null | head -n 1) || true
[ -n "$DEB" ] || fail "no package in build/deb (make deb)"

# ---- 1. The root: debootstrap once, then a fresh copy -------------------
# The mirror: the first non-security URI of apt's sources on this host.
mirror() {
	{
		sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | tr ' ' '\n'
		awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break } }' \
		    /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null
	} | grep -v -e security -e '^$' | head -n 1
}
if [ "$(cat "$CACHE/.l7kk-packages" 2>/dev/null)" != "$PACKAGES" ]; then
	M=$(mirror)
	[ -n "$M" ] || fail "no Debian mirror in /etc/apt/sources.list or /etc/apt/sources.list.d/"
	say "debootstrap bookworm from $M (once; cached in $CACHE)"
	rm -rf "$CACHE" "$CACHE.tmp"
	mkdir -p "$DIR"
	timeout 900 debootstrap --variant=minbase --include="$PACKAGES" bookworm \
	    "$CACHE.tmp" "$M" > "$DIR/debootstrap.log" 2>&1 ||
	    fail "debootstrap failed (see $DIR/debootstrap.log)"
	echo "$PACKAGES" > "$CACHE.tmp/.l7kk-packages"
	mv "$CACHE.tmp" "$CACHE"
fi
cleanup() {
	if [ -n "$NSPID" ] && kill -0 "$NSPID" 2>/dev/null; then
		kill -TERM "$NSPID" 2>/dev/null || true	# nspawn: poweroff
		i=0
		while kill -0 "$NSPID" 2>/dev/null && [ $i -lt 30 ]; do
			sleep 1
			i=$((i + 1))
		done
		kill -KILL "$NSPID" 2>/dev/null || true
	fi
	[ -z "$OVERLAY" ] || umount "$ROOT" 2>/dev/null || umount -l "$ROOT" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 1' INT TERM
# A fresh root: an overlay on the cache (a copy where overlayfs is not).
! mountpoint -q "$ROOT" || umount "$ROOT" || fail "cannot unmount $ROOT"
rm -rf "$ROOT" "$DIR/upper" "$DIR/work"
mkdir -p "$ROOT" "$DIR/upper" "$DIR/work"
if mount -t overlay overlay -o "lowerdir=$PWD/$CACHE,upperdir=$PWD/$DIR/upper,workdir=$PWD/$DIR/work" "$ROOT" 2>/dev/null; then
	OVERLAY=1
else
	rmdir "$ROOT"
	cp -a "$CACHE" "$ROOT"
fi
cp "$DEB" "$ROOT/root/"
DEBNAME=$(basename "$DEB")

# ---- 2. Boot it ---------------------------------------------------------

systemd-nspawn --boot --private-network --keep-unit --register=no \
    -D "$ROOT" > "$CONSOLE" 2>&1 < /dev/null &
NSPID=$!
i=0
while [ -z "$PID1" ] && [ $i -lt 100 ]; do
	kill -0 "$NSPID" 2>/dev/null ||
	    fail "systemd-nspawn cannot run here: $(tail -n 5 "$CONSOLE")"
	PID1=$(ps -o pid= --ppid "$NSPID" | tr -d ' ' | head -n 1)
	sleep 0.1
	i=$((i + 1))
done
[ -n "$PID1" ] || fail "systemd-nspawn started no PID 1 in 10 s: $(tail -n 5 "$CONSOLE")"

# ct SCRIPT: run SCRIPT with sh in the container, as root, within 120 s.
ct() {
	timeout 120 nsenter -t "$PID1" -a -r -w env -i \
	    PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
	    sh -c "$1"
}
# as_alice SCRIPT: the same as the user alice, the laptop's user.
as_alice() {
	timeout 120 nsenter -t "$PID1" -a -r -w env -i \
	    PATH=/usr/bin:/bin HOME=/home/alice LANG=C.UTF-8 \
	    setpriv --reuid=alice --regid=alice --init-groups sh -c "cd; $1"
}
# wait_for SECONDS SCRIPT: until SCRIPT succeeds in the container.
wait_for() {
	end=$(($(date +%s) + $1))
	until ct "$2" >/dev/null 2>&1; do
		[ "$(date +%s)" -lt "$end" ] || return 1
		sleep 0.5
	done
}

# Until PID 1's bus is up, systemctl cannot ask; then it waits for boot.
end=$(($(date +%s) + 60))
while :; do
	state=$(ct 'systemctl is-system-running --wait' 2>&1) || true
	case $state in
	running|degraded) break ;;
	esac
	[ "$(date +%s)" -lt "$end" ] ||
	    fail "the container did not boot in 60 s: '$state'; $(tail -n 5 "$CONSOLE")"
	sleep 0.5
done
say "booted in $(($(date +%s) - T0)) s (PID 1 is $PID1)"

# ---- 3. The machine the admin has: a website, sshd, a user -------------
ct 'echo l7kk-system-test-website > /var/www/html/index.html
    useradd -m -s /bin/sh alice
    install -d -m 0700 -o alice -g alice /home/alice/.ssh /home/alice/.config /home/alice/.config/l7knockknock
    setpriv --reuid=alice --regid=alice --init-groups ssh-keygen -q -t ed25519 -N "" -f /home/alice/.ssh/id_ed25519
    install -m 0600 -o alice -g alice /home/alice/.ssh/id_ed25519.pub /home/alice/.ssh/authorized_keys
    printf "Host vm\n  HostName 127.0.0.1\n  Port 443\n  User alice\n  BatchMode yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n  ConnectTimeout 10\n  ServerAliveInterval 5\n" > /home/alice/.ssh/config
    chown alice:alice /home/alice/.ssh/config
    systemctl start nginx ssh' || fail "the container's nginx, sshd or user alice"

# ---- 4. The README's Debian section, literally -------------------------
feature_missing() {
	ct "l7knockknock --help 2>&1" | grep -q -e "--$1" ||
	    fail "the relay has no --$1: the package cannot be set up as README.Debian says"
}
say "admin: apt install ./$DEBNAME"
ct "cd /root && apt install -y -q ./$DEBNAME 2>&1 >/dev/null | grep -v -e 'stable CLI' -e '^\$' -e debconf" || true
ct 'dpkg-query -W -f="\${Status}" l7knockknock' | grep -q 'install ok installed' || fail "apt install ./$DEBNAME"
ct 'systemctl is-active l7knockknock.socket' >/dev/null 2>&1 &&
    fail "the socket listens before a key exists"
for f in config gen-key check; do feature_missing "$f"; done
say "admin: l7knockknock --gen-key /etc/l7knockknock/ssh.key"
ct 'l7knockknock --gen-key /etc/l7knockknock/ssh.key' || fail "--gen-key"
[ "$(ct 'stat -c %a:%U /etc/l7knockknock/ssh.key')" = "600:l7knockknock" ] ||
    fail "the key is $(ct 'stat -c %a:%U /etc/l7knockknock/ssh.key'), not 600:l7knockknock"
ct 'l7knockknock --gen-key /etc/l7knockknock/ssh.key' 2>/dev/null &&
    fail "--gen-key overwrote an existing key"
say "admin: sed -i 's/^normal .*/normal 127.0.0.1:80/' $CONF"
ct "sed -i 's/^normal .*/normal 127.0.0.1:80/' $CONF" || fail "sed"
say "admin: systemctl start l7knockknock.socket"
ct 'systemctl start l7knockknock.socket' || fail "systemctl start l7knockknock.socket"
# The client's key, "copied to the laptop".
ct 'install -m 0600 -o alice -g alice /etc/l7knockknock/ssh.key /home/alice/.config/l7knockknock/vm.key'

# ---- 5. The website and ssh through 443 ---------------------------------
web() { ct "curl -sS --max-time 10 ${1:+--interface $1} http://127.0.0.1:443/"; }
[ "$(web)" = l7kk-system-test-website ] || fail "curl through 443 did not reach nginx"
say "curl through 443: nginx"
PROXY="ProxyCommand=l7knockknock-client --key-file ~/.config/l7knockknock/vm.key %h %p"
ssh_vm() { as_alice "ssh -o '$PROXY' vm $1"; }
[ "$(ssh_vm 'echo hidden:\$USER')" = hidden:alice ] ||
    fail "ssh through l7knockknock-client did not log in"
say "ssh through l7knockknock-client with a token: logged in"

# ---- 6. A replayed token goes to nginx ----------------------------------
# raw SRC TOKEN DATA: connect from SRC to 443, send TOKEN DATA, print the
# first answer (python3 is fail2ban's; 10 s bound).
raw() {
	ct "python3 -c '
import socket, sys
s = socket.create_connection((\"127.0.0.1\", 443), 10, (\"$1\", 0))
s.settimeout(10)
s.sendall(b\"$2\" + b\"$3\")
out = b\"\"
try:
    while len(out) < 4096:
        b = s.recv(4096)
        if not b: break
        out += b
        if b\"SSH-\" in out or b\"</html>\" in out: break
except socket.timeout:
    pass
sys.stdout.write(out.decode(\"latin-1\"))
'"
}
mint() { ct "sh /usr/share/doc/l7knockknock/examples/l7knockknock-token $1"; }
TOK=$(mint /home/alice/.config/l7knockknock/vm.key)
[ ${#TOK} -eq 54 ] || fail "the token recipe made '$TOK'"
raw 127.0.0.2 "$TOK" "" | grep -q '^SSH-2.0-' || fail "a fresh token (stock-tools recipe) did not reach sshd"
raw 127.0.0.2 "$TOK" 'GET / HTTP/1.0\r\n\r\n' | grep -q 'nginx' ||
    fail "the replayed token was not answered by nginx"
say "the stock-tools token reached sshd; its replay was answered by nginx"

# ---- 7. The relay is confined -------------------------------------------
# The supervisor (MainPID) and its worker.
MAIN=$(ct 'systemctl show -p MainPID --value l7knockknock.service')
[ -n "$MAIN" ] && [ "$MAIN" != 0 ] || fail "l7knockknock.service has no main process"
PIDS="$MAIN $(ct "pgrep -P $MAIN" | tr '\n' ' ')"
[ "$(echo $PIDS | wc -w)" -ge 2 ] || fail "no worker under the supervisor $MAIN"
for p in $PIDS; do
	[ "$(ct "stat -c %U /proc/$p")" = l7knockknock ] || fail "relay process $p is not the user l7knockknock's"
	st=$(ct "grep -E '^(NoNewPrivs|Seccomp|CapEff):' /proc/$p/status" | tr -s '\t ' ' ')
	echo "$st" | grep -q 'NoNewPrivs: 1' && echo "$st" | grep -q 'Seccomp: 2' &&
	    echo "$st" | grep -q 'CapEff: 0000000000000000' ||
	    fail "relay process $p is not confined: $st"
done
ct 'journalctl --no-pager -u l7knockknock.service' | grep -q 'landlock: refused with EPERM' ||
    say "note: no Landlock EPERM warning (this nspawn lets Landlock through)"
say "relay processes: NoNewPrivs 1, Seccomp 2, no capabilities"

# ---- 8. A reload with a rotated key, an ssh session open ---------------
as_alice "ssh -o '$PROXY' vm 'echo session-open; sleep 20; echo session-survived'" \
    > "$DIR/session.out" 2>&1 &
SESSION=$!
i=0
until grep -q session-open "$DIR/session.out" 2>/dev/null; do
	[ $i -lt 100 ] || fail "the long ssh session did not start: $(cat "$DIR/session.out")"
	sleep 0.1
	i=$((i + 1))
done
say "admin: l7knockknock --gen-key /etc/l7knockknock/ssh2.key"
ct 'l7knockknock --gen-key /etc/l7knockknock/ssh2.key' || fail "--gen-key ssh2.key"
say "admin: sed -i 's,/etc/l7knockknock/ssh.key,/etc/l7knockknock/ssh2.key,' $CONF"
ct "sed -i 's,/etc/l7knockknock/ssh.key,/etc/l7knockknock/ssh2.key,' $CONF"
OLD=$(mint /home/alice/.config/l7knockknock/vm.key)	# Unused, still valid.
say "admin: systemctl reload l7knockknock"
ct 'systemctl reload l7knockknock' || fail "systemctl reload with a rotated key"
ct 'install -m 0600 -o alice -g alice /etc/l7knockknock/ssh2.key /home/alice/.config/l7knockknock/vm.key'
# The reload is a signal: the new worker takes over within a moment.
end=$(($(date +%s) + 20))
until raw 127.0.0.2 "$(mint /etc/l7knockknock/ssh2.key)" "" | grep -q '^SSH-2.0-'; do
	[ "$(date +%s)" -lt "$end" ] || fail "a token of the new key did not reach sshd within 20 s of the reload"
	sleep 0.5
done
[ "$(ssh_vm 'echo rotated')" = rotated ] || fail "ssh with the new key after the reload"
raw 127.0.0.2 "$OLD" 'GET / HTTP/1.0\r\n\r\n' | grep -q nginx ||
    fail "a token of the old key still reaches sshd after the rotation"
i=0
while kill -0 "$SESSION" 2>/dev/null; do
	[ $i -lt 600 ] || fail "the long ssh session did not end in 60 s"
	sleep 0.1
	i=$((i + 1))
done
grep -q session-survived "$DIR/session.out" ||
    fail "the ssh session open during the reload was cut: $(cat "$DIR/session.out")"
say "reload with a rotated key: new key in, old key out, the open session went on"

# ---- 9. A reload with a broken file fails visibly ----------------------
say "admin: echo 'frobnicate 1' >> $CONF; systemctl reload l7knockknock"
ct "cp $CONF /root/good.conf; echo 'frobnicate 1' >> $CONF"
ct 'systemctl reload l7knockknock' 2>/dev/null && fail "systemctl reload of a broken file exited 0"
[ "$(ssh_vm 'echo still')" = still ] || fail "the running configuration stopped serving after a refused reload"
ct 'journalctl --no-pager -p err -u l7knockknock.service' | grep -q frobnicate ||
    fail "the refused reload's error is not in journalctl -p err"
say "a broken file: systemctl reload non-zero, the error at priority err, the key in use still works"

# ---- 10. A start that fails does not close 443 --------------------------
ct 'systemctl restart l7knockknock.service' 2>/dev/null && fail "a restart with a broken file succeeded"
sleep 12	# RestartSec=5s: two more failed starts at least
[ "$(ct 'systemctl is-active l7knockknock.socket' || true)" = active ] ||
    fail "the socket is $(ct 'systemctl is-active l7knockknock.socket' || true) after failed starts: port 443 closed"
n=$(ct 'journalctl --no-pager -p err -u l7knockknock.service' | grep -c frobnicate || true)
[ "$n" -ge 3 ] || fail "failed starts were not retried (or not logged at err): $n err lines"
ct "cp /root/good.conf $CONF"
wait_for 20 'curl -sS --max-time 3 http://127.0.0.1:443/ | grep -q l7kk-system-test-website' ||
    fail "443 was not served again within 20 s of the file being fixed"
say "failed starts retried every 5 s, 443 kept listening, served again once fixed"

# ---- 11. fail2ban bans a replaying source -------------------------------
say "admin: cp /usr/share/doc/l7knockknock/fail2ban/filter.d/l7knockknock.conf /etc/fail2ban/filter.d/"
say "admin: cp /usr/share/doc/l7knockknock/fail2ban/jail.d/l7knockknock.conf /etc/fail2ban/jail.d/"
say "admin: printf '[sshd]\\\\nbackend = systemd\\\\n' > /etc/fail2ban/jail.d/sshd-journal.conf"
say "admin: systemctl restart fail2ban"
ct 'cp /usr/share/doc/l7knockknock/fail2ban/filter.d/l7knockknock.conf /etc/fail2ban/filter.d/
    cp /usr/share/doc/l7knockknock/fail2ban/jail.d/l7knockknock.conf /etc/fail2ban/jail.d/
    printf "[sshd]\nbackend = systemd\n" > /etc/fail2ban/jail.d/sshd-journal.conf
    systemctl restart fail2ban' || fail "fail2ban did not start: $(ct 'journalctl --no-pager -n 20 -u fail2ban' || true)"
wait_for 30 'fail2ban-client status l7knockknock' ||
    fail "fail2ban has no jail l7knockknock: $(ct 'journalctl --no-pager -n 20 -u fail2ban' || true)"
TOK=$(mint /etc/l7knockknock/ssh2.key)
raw 127.0.0.3 "$TOK" "" | grep -q '^SSH-2.0-' || fail "a fresh token from 127.0.0.3 did not reach sshd"
for i in 1 2 3 4 5 6; do
	raw 127.0.0.3 "$TOK" 'GET / HTTP/1.0\r\n\r\n' > /dev/null || true
done
wait_for 30 'fail2ban-client status l7knockknock | grep -q 127.0.0.3' ||
    fail "fail2ban did not ban 127.0.0.3 after 6 replays: $(ct 'fail2ban-client status l7knockknock; journalctl --no-pager -n 10 -u fail2ban' || true)"
ct 'nft list ruleset' | grep -q 127.0.0.3 || fail "the ban is not in nftables"
web 127.0.0.3 >/dev/null 2>&1 && fail "the banned 127.0.0.3 still reaches 443"
[ "$(web 127.0.0.2)" = l7kk-system-test-website ] || fail "127.0.0.2 is not served while 127.0.0.3 is banned"
say "fail2ban banned 127.0.0.3 (nftables); 127.0.0.2 is served"

# ---- 12. Stop and start -------------------------------------------------
say "admin: systemctl stop l7knockknock.socket l7knockknock.service"
ct 'systemctl stop l7knockknock.socket l7knockknock.service' || fail "stop"
web >/dev/null 2>&1 && fail "443 still answers after stop"
say "admin: systemctl start l7knockknock.socket"
ct 'systemctl start l7knockknock.socket' || fail "start after stop"
[ "$(web)" = l7kk-system-test-website ] || fail "443 not served after stop and start"
[ "$(ssh_vm 'echo again')" = again ] || fail "ssh after stop and start"
say "stop and start: served again"

# ---- 13. systemd-analyze security ---------------------------------------
level=$(ct 'systemd-analyze security --no-pager l7knockknock.service' |
    sed -n 's/.*Overall exposure level for l7knockknock.service: \([0-9.]*\).*/\1/p')
[ -n "$level" ] || fail "no exposure level from systemd-analyze security"
awk -v l="$level" 'BEGIN { exit !(l <= 1.0) }' || fail "exposure $level > 1.0"
say "systemd-analyze security: $level"

# ---- 14. Purge leaves no secret -----------------------------------------
say "admin: apt purge -y l7knockknock"
ct 'apt purge -y -q l7knockknock >/dev/null 2>&1' || fail "apt purge -y l7knockknock"
ct 'test -e /etc/l7knockknock' && fail "purge left /etc/l7knockknock: $(ct 'ls -la /etc/l7knockknock')"
left=$(ct 'find / -xdev \( -path /home -o -path /proc \) -prune -o -user l7knockknock -print' || true)
[ -z "$left" ] || fail "purge left files of l7knockknock: $left"
ct 'getent passwd l7knockknock' >/dev/null || fail "purge removed the system user (it should stay)"
web >/dev/null 2>&1 && fail "443 still answers after purge"
say "purge: /etc/l7knockknock and its keys gone, the user l7knockknock kept"

say "OK in $(($(date +%s) - T0)) s"
