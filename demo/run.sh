#!/bin/sh
# make demo: the relay on 127.0.0.1:4443 in front of two demo backends.
# Ctrl-C stops all of it.
set -u
KNOCK=open-sesame
NORMAL=18080
HIDDEN=18022
LISTEN=4443

[ "$(id -u)" -eq 0 ] && install -d -m 0755 -o root -g root /var/empty

pids=
cleanup() {
	[ -n "$pids" ] && kill $pids 2>/dev/null
	wait 2>/dev/null
}
trap cleanup EXIT
trap 'exit 0' INT TERM

build/demo_backend http $NORMAL & pids="$pids $!"
build/demo_backend ssh $HIDDEN & pids="$pids $!"
sleep 0.3
for p in $pids; do
	kill -0 "$p" 2>/dev/null || { echo "demo: a backend could not start (ports $NORMAL/$HIDDEN in use?)" >&2; exit 1; }
done

cat <<MSG
=====================================================================
 l7knockknock demo: listening on 127.0.0.1:$LISTEN
   normal backend  127.0.0.1:$NORMAL  (answers like a web server)
   hidden backend  127.0.0.1:$HIDDEN  (greets like an SSH server)
   knock           $KNOCK

 In another terminal:
   curl http://127.0.0.1:$LISTEN/                         -> normal backend
   (printf '$KNOCK'; cat) | nc -N 127.0.0.1 $LISTEN  -> hidden backend
        (type a line, the hidden backend echoes it; Ctrl-D ends:
         nc -N passes the end of input on, plain nc would wait)
   printf 'open-sesamX' | nc -N 127.0.0.1 $LISTEN         -> wrong knock: normal

 Ctrl-C here stops the relay and both backends.
=====================================================================
MSG
./l7knockknock --listen 127.0.0.1:$LISTEN --normal 127.0.0.1:$NORMAL \
    --hidden 127.0.0.1:$HIDDEN --knockTimeout 2s "$KNOCK"
