#!/bin/sh
# test_deb.sh DIR: check the package `make deb` built in DIR.
#   - dpkg -x into a scratch root: the exact file list and modes;
#   - the conffiles, the package's own postinst step (/etc/l7knockknock
#     0700) and systemd-sysusers --root creating the l7knockknock user, in
#     the scratch root only (the host is never touched);
#   - the maintainer scripts carry the sysusers, systemd and AppArmor parts;
#   - lintian on the .deb and the .changes: no error, no warning.
# Exits non-zero after naming every failure.  L7KK_DEB_NO_APPARMOR=1 skips
# the dh_apparmor check, for a build made without dh-apparmor installed
# (dpkg-buildpackage -d); `make deb` installs it, so CI never sets it.
set -eu
dir=${1:-build/deb}
deb=$(ls "$dir"/l7knockknock_*_*.deb 2>/dev/null | head -n 1)
changes=$(ls "$dir"/l7knockknock_*_*.changes 2>/dev/null | head -n 1)
[ -n "$deb" ] && [ -n "$changes" ] || { echo "test_deb: no package in $dir (make deb)" >&2; exit 1; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT INT TERM
fails=0
fail() { echo "test_deb: FAIL: $*" >&2; fails=$((fails + 1)); }

# 1. Files and modes (the client and its man page are optional).
dpkg -x "$deb" "$root/fs"
(cd "$root/fs" && find . -mindepth 1 \( -type f -o -type l \) -printf '%m %p\n' | sort) \
    > "$root/files"
grep -v -e '/l7knockknock-client' "$root/files" > "$root/files.core" || true
cat > "$root/want" <<'LIST'
644 ./etc/apparmor.d/usr.sbin.l7knockknock
644 ./etc/default/l7knockknock
644 ./lib/systemd/system/l7knockknock.service
644 ./lib/systemd/system/l7knockknock.socket
644 ./usr/lib/sysusers.d/l7knockknock.conf
644 ./usr/share/doc/l7knockknock/changelog.gz
644 ./usr/share/doc/l7knockknock/copyright
644 ./usr/share/doc/l7knockknock/fail2ban/filter.d/l7knockknock.conf
644 ./usr/share/doc/l7knockknock/fail2ban/jail.d/l7knockknock.conf
644 ./usr/share/man/man8/l7knockknock.8.gz
755 ./usr/sbin/l7knockknock
LIST
diff -u "$root/want" "$root/files.core" >&2 || fail "file list or modes differ (- wanted, + got)"
if grep -q 'l7knockknock-client' "$root/files"; then
	grep -q '^755 ./usr/bin/l7knockknock-client$' "$root/files" ||
	    fail "the client is not 0755 in /usr/bin"
fi
(cd "$root/fs" && find . -type d ! -perm 755 -printf '%m %p\n') > "$root/dirs"
[ -s "$root/dirs" ] && fail "directories not 0755: $(cat "$root/dirs")"
[ -d "$root/fs/var" ] && fail "the package ships /var"
cmp -s "$root/fs/lib/systemd/system/l7knockknock.service" systemd/l7knockknock.service ||
    fail "the packaged service is not systemd/l7knockknock.service"

# 2. Control data.
dpkg-deb --ctrl-tarfile "$deb" | tar -xf - -C "$root" ./conffiles ./postinst ./postrm
printf '%s\n' /etc/apparmor.d/usr.sbin.l7knockknock /etc/default/l7knockknock |
    cmp -s - "$root/conffiles" || fail "conffiles: $(cat "$root/conffiles")"
grep -q '^L7KK_OPTS=' "$root/fs/etc/default/l7knockknock" ||
    fail "/etc/default/l7knockknock sets no L7KK_OPTS"
grep -q 'systemd-sysusers.*l7knockknock.conf' "$root/postinst" || fail "postinst: no systemd-sysusers"
grep -q "deb-systemd-helper enable 'l7knockknock.socket'" "$root/postinst" ||
    fail "postinst: the socket is not enabled"
grep -q "deb-systemd-helper enable 'l7knockknock.service'" "$root/postinst" &&
    ! grep -q "debian-installed 'l7knockknock.service'" "$root/postinst" &&
    fail "postinst: the service is enabled on its own"
if [ "${L7KK_DEB_NO_APPARMOR:-0}" != 1 ]; then
	grep -q 'apparmor_parser' "$root/postinst" || fail "postinst: no dh_apparmor part"
fi

# 3. The package's own postinst step, and the user, in the scratch root.
sed -n '1,/^# Automatically added/p' "$root/postinst" > "$root/own"
DPKG_ROOT="$root/fs" sh "$root/own" configure
[ "$(stat -c %a "$root/fs/etc/l7knockknock")" = 700 ] || fail "/etc/l7knockknock is not 0700"
mkdir -p "$root/fs/etc"
systemd-sysusers --root="$root/fs" l7knockknock.conf
grep -q '^l7knockknock:x:[0-9]*:[0-9]*:[^:]*:/nonexistent:/usr/sbin/nologin$' \
    "$root/fs/etc/passwd" || fail "no l7knockknock system user: $(cat "$root/fs/etc/passwd")"
uid=$(awk -F: '$1 == "l7knockknock" { print $3 }' "$root/fs/etc/passwd")
[ -n "$uid" ] && [ "$uid" -gt 0 ] && [ "$uid" -lt 1000 ] || fail "uid $uid is not a system uid"

# 4. lintian: informational tags may stay, nothing worse.
lintian -I "$deb" "$changes" > "$root/lintian" 2>&1 || true
grep -E '^[EW]: ' "$root/lintian" >&2 && fail "lintian errors or warnings"
grep -E '^[IP]: ' "$root/lintian" || true

[ "$fails" -eq 0 ] || { echo "test_deb: $fails failure(s)" >&2; exit 1; }
echo "test_deb: OK ($deb)"
