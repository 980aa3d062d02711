#!/bin/sh
# deps.sh PACKAGE...: install the Debian packages that are missing (as root),
# or print the exact apt-get line and fail.
missing=
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
	    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "missing packages; run as root:  apt-get install$missing" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# The tests run their own servers (nginx, haproxy, sshd) on loopback ports:
# installing them must not start the system's copies (port 80, 22, ...).
# policy-rc.d(8) tells the packages' scripts not to start services; one
# the admin has is left alone.
norc=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	norc=/usr/sbin/policy-rc.d
	printf '#!/bin/sh\n# tools/deps.sh: no service starts while it installs\nexit 101\n' >"$norc"
	chmod 0755 "$norc"
	trap 'rm -f "$norc"' EXIT INT TERM
fi
apt-get update -q >/dev/null && apt-get install -y -q $missing >/dev/null || {
	echo "apt-get install$missing failed" >&2
	exit 1
}
