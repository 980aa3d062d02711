#!/bin/sh
# test_deb.sh DIR: check the package `make deb` built in DIR.
#   - dpkg -x into a scratch root: the exact file list and modes;
#   - the conffiles, systemd-sysusers --root creating the l7knockknock
#     user, the package's own postinst step (/etc/l7knockknock 0750, group
#     l7knockknock) and postrm purge (removes it, keys and all), in the
#     scratch root only (the host is never touched);
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
644 ./etc/l7knockknock/l7knockknock.conf
644 ./lib/systemd/system/l7knockknock.service
644 ./lib/systemd/system/l7knockknock.socket
644 ./usr/lib/sysusers.d/l7knockknock.conf
644 ./usr/share/doc/l7knockknock/README.Debian
644 ./usr/share/doc/l7knockknock/changelog.gz
644 ./usr/share/doc/l7knockknock/copyright
644 ./usr/share/doc/l7knockknock/examples/l7knockknock-token
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
printf '%s\n' /etc/apparmor.d/usr.sbin.l7knockknock /etc/l7knockknock/l7knockknock.conf |
    cmp -s - "$root/conffiles" || fail "conffiles: $(cat "$root/conffiles")"
grep -q '^route 127.0.0.1:22,key-file=/etc/l7knockknock/ssh.key,name=ssh$' \
    "$root/fs/etc/l7knockknock/l7knockknock.conf" ||
    fail "l7knockknock.conf: no token route to sshd"
grep -q '^ExecStart=/usr/sbin/l7knockknock --config /etc/l7knockknock/l7knockknock.conf$' \
    "$root/fs/lib/systemd/system/l7knockknock.service" || fail "the unit does not run --config"
grep -q '^ExecReload=/usr/sbin/l7knockknock --check --config ' \
    "$root/fs/lib/systemd/system/l7knockknock.service" || fail "the reload does not --check first"
grep -q 'systemd-sysusers.*l7knockknock.conf' "$root/postinst" || fail "postinst: no systemd-sysusers"
grep -q "rm_conffile /etc/default/l7knockknock" "$root/postinst" ||
    fail "postinst: /etc/default/l7knockknock is not removed on upgrade"
grep -q "deb-systemd-helper enable 'l7knockknock.socket'" "$root/postinst" ||
    fail "postinst: the socket is not enabled"
grep -q "deb-systemd-helper enable 'l7knockknock.service'" "$root/postinst" &&
    ! grep -q "debian-installed 'l7knockknock.service'" "$root/postinst" &&
    fail "postinst: the service is enabled on its own"
if [ "${L7KK_DEB_NO_APPARMOR:-0}" != 1 ]; then
	grep -q 'apparmor_parser' "$root/postinst" || fail "postinst: no dh_apparmor part"
fi

# 3. The user, then the package's own postinst step, in the scratch root.
mkdir -p "$root/fs/etc"
systemd-sysusers --root="$root/fs" l7knockknock.conf
grep -q '^l7knockknock:x:[0-9]*:[0-9]*:[^:]*:/nonexistent:/usr/sbin/nologin$' \
    "$root/fs/etc/passwd" || fail "no l7knockknock system user: $(cat "$root/fs/etc/passwd")"
uid=$(awk -F: '$1 == "l7knockknock" { print $3 }' "$root/fs/etc/passwd")
[ -n "$uid" ] && [ "$uid" -gt 0 ] && [ "$uid" -lt 1000 ] || fail "uid $uid is not a system uid"
gid=$(awk -F: '$1 == "l7knockknock" { print $4 }' "$root/fs/etc/passwd")
# Its own step: what follows the last debhelper section.
awk '/^# End automatically added/ { n = NR } { l[NR] = $0 }
    END { for (i = n + 1; i <= NR; i++) print l[i] }' "$root/postinst" > "$root/own"
grep -q chmod "$root/own" || fail "postinst: its own step is not after the debhelper part"
# getent and chgrp would read the host's databases: in the scratch root,
# the group is the number systemd-sysusers gave it.
mkdir "$root/bin"
printf '#!/bin/sh\n[ "$1" = group ] && [ "$2" = l7knockknock ]\n' > "$root/bin/getent"
printf '#!/bin/sh\n[ "$1" = l7knockknock ] && exec chown ":%s" "$2"\n' "$gid" > "$root/bin/chgrp"
chmod 0755 "$root/bin/getent" "$root/bin/chgrp"
PATH="$root/bin:$PATH" DPKG_ROOT="$root/fs" sh "$root/own" configure ||
    fail "postinst: its own step failed"
[ "$(stat -c %a:%g "$root/fs/etc/l7knockknock")" = "750:$gid" ] ||
    fail "/etc/l7knockknock is $(stat -c %a:%g "$root/fs/etc/l7knockknock"), not 750:$gid"
unset -f getent chgrp
# Purge: the directory goes with a key in it.
printf 'secret\n' > "$root/fs/etc/l7knockknock/ssh.key"
sed -n '1,/^#DEBHELPER#\|^# Automatically added/p' "$root/postrm" > "$root/ownrm"
DPKG_ROOT="$root/fs" sh "$root/ownrm" purge
if [ -e "$root/fs/etc/l7knockknock" ]; then
	fail "purge left /etc/l7knockknock: $(ls -la "$root/fs/etc/l7knockknock")"
fi

# 4. lintian: informational tags may stay, nothing worse.
lintian -I "$deb" "$changes" > "$root/lintian" 2>&1 || true
grep -E '^[EW]: ' "$root/lintian" >&2 && fail "lintian errors or warnings"
grep -E '^[IP]: ' "$root/lintian" || true

[ "$fails" -eq 0 ] || { echo "test_deb: $fails failure(s)" >&2; exit 1; }
echo "test_deb: OK ($deb)"
