#!/usr/bin/env python3
"""How long a slot-exhaustion attack stops service.

Usage (root: the relay runs as users run it, sandboxed, -q):
    sudo bench/attack.py [BIN [BASE_BIN]]      # about 4 minutes
    sudo ATTACK_ONLY="silent flood" bench/attack.py
BIN defaults to ./l7knockknock; BASE_BIN, if given, is measured the same
way in the same run (main's build, say) and printed beside it.

Each relay runs with its default options under RLIMIT_NOFILE 4096 (1530
slots), on 127.0.0.1, before a greeting hidden backend and an echoing
normal backend (one thread, epoll).  A probe from 127.0.0.1 knocks every
100 ms and counts as served if its greeting comes within 1 s.  Scenarios:

  silent    one host (127.0.0.2) opens 2000 silent connections at once and
            holds them
  drip      one host opens 2000 connections that send 18 non-knock bytes
            at once (routed to the normal backend at once) and then 1 byte
            each per second
  drip9     the same from 9 hosts (127.0.0.2-10), 250 connections each:
            more hosts than the default per-source limit (an eighth of the
            slots) holds off
  flood     240 hosts (127.0.0.10-249) open silent connections at a
            steady rate (800/s) and hold them
  flood200  the same at 200/s: slow enough for them to outlive the knock
            timeout and be routed to the normal backend

Printed per scenario: the attacker's connections per second, the seconds
of the run in which probes failed ("service lost"), the longest outage,
and for flood the longest stall of an ssh-like session established before
the attack (a 4-byte echo every 100 ms).  Standard library only.
"""

import os
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time

KNOCK = b"open-sesame-bench"
JUNK = b"GET / HTTP/1.0\r\n\r\n"
GREETING = b"GREET hidden\n"
NOFILE = 4096
RUN_S = 20.0


def listener(addr="127.0.0.1"):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 0))
    s.listen(4096)
    s.setblocking(False)
    return s


class Backends(threading.Thread):
    """The normal backend echoes; the hidden one greets, then echoes."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sel = selectors.DefaultSelector()
        self.normal = listener()
        self.hidden = listener()
        self.sel.register(self.normal, selectors.EVENT_READ, "n")
        self.sel.register(self.hidden, selectors.EVENT_READ, "h")
        self.stop = False

    def run(self):
        while not self.stop:
            for key, _ in self.sel.select(0.2):
                if key.data in ("n", "h"):
                    self.accept(key.fileobj, key.data == "h")
                else:
                    self.echo(key.fileobj)

    def accept(self, lst, greet):
        while True:
            try:
                c, _ = lst.accept()
            except (BlockingIOError, OSError):
                return
            c.setblocking(False)
            if greet:
                try:
                    c.send(GREETING)
                except OSError:
                    pass
            self.sel.register(c, selectors.EVENT_READ, "c")

    def echo(self, c):
        try:
            d = c.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            d = b""
        if d:
            try:
                c.send(d)
            except OSError:
                pass
            return
        self.sel.unregister(c)
        c.close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_relay(binary, backends):
    for _ in range(20):
        port = free_port()
        args = ["prlimit", "--nofile=%d:%d" % (NOFILE, NOFILE), binary,
                "-q", "--listen", "127.0.0.1:%d" % port,
                "--normal", "127.0.0.1:%d" % backends.normal.getsockname()[1],
                "--hidden", "127.0.0.1:%d" % backends.hidden.getsockname()[1],
                KNOCK.decode()]
        p = subprocess.Popen(args, stderr=subprocess.DEVNULL)
        for _ in range(50):
            time.sleep(0.1)
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                return p, port
            except OSError:
                if p.poll() is not None:
                    break
        p.kill()
        p.wait()
    raise SystemExit("the relay %s did not start" % binary)


def probe(port):
    """Served: a knock gets the hidden backend's greeting within 1 s."""
    try:
        s = socket.create_connection(("127.0.0.1", port), 1.0)
    except OSError:
        return False
    try:
        s.settimeout(1.0)
        s.sendall(KNOCK)
        got = b""
        while len(got) < len(GREETING):
            d = s.recv(64)
            if not d:
                break
            got += d
        return got == GREETING
    except OSError:
        return False
    finally:
        s.close()


def attacker(src, port):
    s = socket.socket()
    s.setblocking(False)
    s.bind((src, 0))
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    except OSError:
        s.close()
        return None
    return s


class Attack(threading.Thread):
    def __init__(self, kind, port):
        super().__init__(daemon=True)
        self.kind, self.port = kind, port
        self.socks = []
        self.opened = 0
        self.open_s = 0.0
        self.stop = False

    def run(self):
        t0 = time.monotonic()
        if self.kind in ("silent", "drip", "drip9"):
            for j in range(2000 if self.kind != "drip9" else 2250):
                src = "127.0.0.%d" % (2 + j // 250 if self.kind == "drip9"
                                      else 2)
                s = attacker(src, self.port)
                if s is not None:
                    self.socks.append(s)
                    if self.kind != "silent":
                        # Past the knock phase at once (loopback
                        # connects complete at once).
                        try:
                            s.send(JUNK)
                        except OSError:
                            pass
            self.open_s = time.monotonic() - t0
            self.opened = len(self.socks)
            if self.kind in ("drip", "drip9"):
                while not self.stop:
                    time.sleep(1.0)
                    self.send_all(b"x")
            return
        # flood: 800/s (flood200: 200/s) from 240 hosts, held.
        rate = 200 if self.kind == "flood200" else 800
        i = 0
        while not self.stop and time.monotonic() - t0 < RUN_S - 2:
            due = int((time.monotonic() - t0) * rate)
            while i < due:
                s = attacker("127.0.0.%d" % (10 + i % 240), self.port)
                if s is not None:
                    self.socks.append(s)
                i += 1
            time.sleep(0.005)
        self.open_s = time.monotonic() - t0
        self.opened = i

    def send_all(self, data):
        for s in self.socks:
            try:
                s.send(data)
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.join()
        for s in self.socks:
            s.close()


def session(port, stalls, stop):
    """An established session: 4 bytes echoed every 100 ms."""
    s = socket.create_connection(("127.0.0.1", port), 2.0)
    s.sendall(KNOCK)
    s.settimeout(10.0)
    got = b""
    while len(got) < len(GREETING):
        got += s.recv(64)
    while not stop.is_set():
        t = time.monotonic()
        try:
            s.sendall(b"ping")
            got = b""
            while len(got) < 4:
                d = s.recv(4 - len(got))
                if not d:
                    raise OSError("closed")
                got += d
        except OSError:
            stalls.append(99.0)
            return
        stalls.append(time.monotonic() - t)
        time.sleep(0.1)
    s.close()


def scenario(binary, kind):
    backends = Backends()
    backends.start()
    relay, port = start_relay(binary, backends)
    stalls, stop = [], threading.Event()
    sess = None
    if kind.startswith("flood"):
        sess = threading.Thread(target=session, args=(port, stalls, stop),
                                daemon=True)
        sess.start()
        time.sleep(0.5)
    att = Attack(kind, port)
    t0 = time.monotonic()
    att.start()
    lost, longest, cur, served = 0.0, 0.0, 0.0, 0
    while time.monotonic() - t0 < RUN_S:
        t = time.monotonic()
        ok = probe(port)
        dt = max(time.monotonic() - t, 0.1)
        if ok:
            served += 1
            cur = 0.0
        else:
            lost += dt
            cur += dt
            longest = max(longest, cur)
        time.sleep(max(0.0, 0.1 - (time.monotonic() - t)))
    stop.set()
    att.close()
    if sess is not None:
        sess.join(12)
    relay.terminate()
    relay.wait()
    backends.stop = True
    rate = att.opened / att.open_s if att.open_s > 0 else 0
    return {"rate": rate, "opened": att.opened, "lost": lost,
            "longest": longest, "served": served,
            "stall": max(stalls) if stalls else None}


def main():
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    bins = sys.argv[1:] or ["./l7knockknock"]
    print("| scenario | relay | attacker conns | conns/s | service lost "
          "(of %.0f s) | longest outage | probes served | session stall |"
          % RUN_S)
    print("|---|---|---|---|---|---|---|---|")
    kinds = os.environ.get("ATTACK_ONLY", "silent drip drip9 flood flood200").split()
    for kind in kinds:
        for b in bins:
            r = scenario(b, kind)
            stall = "-" if r["stall"] is None else (
                "cut" if r["stall"] >= 99 else "%.2f s" % r["stall"])
            print("| %s | %s | %d | %.0f | %.1f s | %.1f s | %d | %s |" % (
                kind, b, r["opened"], r["rate"], r["lost"], r["longest"],
                r["served"], stall), flush=True)


if __name__ == "__main__":
    main()
