# l7knockknock -- see README.md.  `make`, `make test`, `make demo`.

PROG	 = l7knockknock
VERSION	 = 0.3.0
PREFIX	?= /usr/local
DESTDIR	?=
SBINDIR	 = $(PREFIX)/sbin
MANDIR	 = $(PREFIX)/share/man/man8

CC	?= cc
PKGS	 = libseccomp libcap-ng libsodium
# Debian packages the build and the tests need (see tools/deps.sh).
BUILD_DEPS = gcc make pkg-config libseccomp-dev libcap-ng-dev libsodium-dev
# The real peers of the integration tests: nginx and haproxy (PROXY
# protocol), fail2ban-regex, systemd-socket-activate and systemd-analyze,
# strace, nft, python3 (an independent token maker), ip (network namespaces).
TEST_DEPS  = libcriterion-dev apparmor nginx-light haproxy fail2ban systemd redis-server \
	     strace nftables python3 iproute2
DEMO_DEPS  = curl netcat-openbsd

WARN	 = -Wall -Wextra -Werror -Wshadow -Wpointer-arith -Wstrict-prototypes \
	   -Wmissing-prototypes -Wformat=2
CFLAGS	?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -D_FORTIFY_SOURCE=2 -fstack-protector-strong \
	   -fPIE -D_GNU_SOURCE -DVERSION='"$(VERSION)"' -Isrc -Ibuild \
	   $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
ALL_LDFLAGS = -pie -Wl,-z,relro,-z,now $(LDFLAGS)
LDLIBS	 = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# make SECCOMP_DEBUG=1: trap instead of kill and name the syscall (never ship).
ifeq ($(SECCOMP_DEBUG),1)
ALL_CFLAGS += -DSECCOMP_DEBUG=1
endif
# make test VALGRIND=1: the relay runs under valgrind memcheck in the
# integration tests; seccomp is not loaded in that build (valgrind cannot
# run seccomp(2)); every other layer is.  Never ship it.
ifeq ($(VALGRIND),1)
ALL_CFLAGS += -DVALGRIND_BUILD=1
TEST_ENV = L7KK_VALGRIND=1
endif
# make test SANITIZE=1: AddressSanitizer + UndefinedBehaviorSanitizer.
ifeq ($(SANITIZE),1)
ALL_CFLAGS += -DSANITIZE=1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	   -fno-sanitize-recover=all
ALL_LDFLAGS += -fsanitize=address,undefined
endif

SRCS	 = $(wildcard src/*.c)
OBJS	 = $(SRCS:src/%.c=build/%.o) build/policy_table.o \
	   build/supervisor_policy_table.o
LIBOBJS	 = $(filter-out build/main.o,$(OBJS))
HDRS	 = $(wildcard src/*.h)

TEST_SRCS = $(wildcard tests/test_*.c)
TEST_HELPERS = $(filter-out $(TEST_SRCS),$(wildcard tests/*.c))
TEST_OBJS = $(TEST_SRCS:tests/%.c=build/tests/%.o) $(TEST_HELPERS:tests/%.c=build/tests/%.o)

.PHONY: all deps test check demo install install-apparmor uninstall clean FORCE

all: $(PROG)

# build/.flags holds the compiler and its flags, rewritten only when they
# change (make CC=clang, SANITIZE=1, CFLAGS=...): everything built depends
# on it, so a switch rebuilds without `make clean`.
FLAGS_STAMP = build/.flags
FLAGS_NOW = $(subst ','\'',$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $(LDLIBS))

$(FLAGS_STAMP): FORCE | build
	@if [ '$(FLAGS_NOW)' != "$$(cat $@ 2>/dev/null)" ]; then \
	    echo '$(FLAGS_NOW)' > $@; fi

$(PROG): $(OBJS) $(FLAGS_STAMP)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

build/%.o: src/%.c $(HDRS) $(FLAGS_STAMP) | build
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The seccomp allowlist is data (policy/seccomp.policy) compiled into C.
build/policy_table.c: policy/seccomp.policy tools/policy2c.awk | build
	awk -f tools/policy2c.awk policy/seccomp.policy > $@.tmp && mv $@.tmp $@

build/policy_table.o: build/policy_table.c $(HDRS) $(FLAGS_STAMP)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The --workers supervisor's allowlist (policy/supervisor-seccomp.policy).
build/supervisor_policy_table.c: policy/supervisor-seccomp.policy \
    tools/policy2c.awk | build
	awk -v table=supervisor_policy_table -f tools/policy2c.awk \
	    policy/supervisor-seccomp.policy > $@.tmp && mv $@.tmp $@

build/supervisor_policy_table.o: build/supervisor_policy_table.c $(HDRS) \
    $(FLAGS_STAMP)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

build:
	mkdir -p build build/tests

build/tests/%.o: tests/%.c $(HDRS) $(wildcard tests/*.h) $(FLAGS_STAMP) | build
	$(CC) $(ALL_CFLAGS) -Itests -c -o $@ $<

build/test_all: $(TEST_OBJS) $(LIBOBJS) $(FLAGS_STAMP)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(TEST_OBJS) $(LIBOBJS) \
	    $(LDLIBS) -lcriterion -lpthread

build/demo_backend: demo/demo_backend.c $(FLAGS_STAMP) | build
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $<

# Install what is missing (as root), or say exactly what to install.
deps:
	@sh tools/deps.sh $(BUILD_DEPS) $(TEST_DEPS)

# The README's test command: dependencies, build, every test.
test: deps
	@$(MAKE) --no-print-directory check

# Every test has a time bound (tests/main.c: 60 s unless it says, x4 with
# VALGRIND=1, x2 with SANITIZE=1), so a regression fails, never hangs.
check: $(PROG) build/test_all
	apparmor_parser -QK apparmor/usr.sbin.l7knockknock
	cd build && $(TEST_ENV) ./test_all --jobs 2 $(TEST_ARGS)
	@$(MAKE) --no-print-directory check-deb

# The README's demo command: a relay on 127.0.0.1:4443 with two backends.
demo:
	@sh tools/deps.sh $(BUILD_DEPS) $(DEMO_DEPS)
	@$(MAKE) --no-print-directory $(PROG) build/demo_backend
	@sh demo/run.sh

install: $(PROG)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)
	install -m 0755 $(PROG) $(DESTDIR)$(SBINDIR)/$(PROG)
	install -m 0644 $(PROG).8 $(DESTDIR)$(MANDIR)/$(PROG).8
	install -d -m 0755 $(DESTDIR)/var/empty

# The AppArmor profile confines /usr/sbin/l7knockknock (PREFIX=/usr).
install-apparmor:
	install -d $(DESTDIR)/etc/apparmor.d
	install -m 0644 apparmor/usr.sbin.l7knockknock \
	    $(DESTDIR)/etc/apparmor.d/usr.sbin.l7knockknock

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/$(PROG) $(DESTDIR)$(MANDIR)/$(PROG).8

clean:
	rm -rf build $(PROG)

# systemd units, the Debian package.  `make deb` builds in a copy
# of the tree under build/deb/, where the .deb, .changes and .buildinfo land;
# `make test-deb` checks the built package (file list, modes, lintian).
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system
DEB_DEPS   = $(BUILD_DEPS) debhelper dh-apparmor dpkg-dev lintian
DEB_SRC    = build/deb/$(PROG)-$(VERSION)

.PHONY: install-systemd deb test-deb check-deb

install-systemd:
	install -d $(DESTDIR)$(SYSTEMDDIR)
	install -m 0644 systemd/l7knockknock.service systemd/l7knockknock.socket \
	    $(DESTDIR)$(SYSTEMDDIR)/

deb:
	@sh tools/deps.sh $(DEB_DEPS)
	rm -rf build/deb && mkdir -p $(DEB_SRC)
	tar -cf - --exclude=./build --exclude=./.git --exclude=./$(PROG) . | \
	    tar -xf - -C $(DEB_SRC)
	# A clean environment: the package is built as Debian builds it (gcc,
	# its flags), not with this make's CC=, SANITIZE= or VALGRIND=.
	cd $(DEB_SRC) && env -i PATH="$$PATH" HOME="$$HOME" \
	    dpkg-buildpackage -us -uc -b
	@ls -l build/deb/*.deb

test-deb:
	sh tests/test_deb.sh build/deb

# The booted-system test: the package built by `make deb`, installed and
# run as README.Debian says on a Debian 12 that debootstrap makes (from
# this machine's apt mirror, once: cached in build/system/) and
# systemd-nspawn boots.  Root only; fails, never skips, where nspawn
# cannot run.
SYSTEM_DEPS = debootstrap systemd-container
.PHONY: test-system
test-system:
	@sh tools/deps.sh $(SYSTEM_DEPS)
	sh tests/system/run.sh

# In `make check` only where the package tools are there (about 15 s).
check-deb:
	@if command -v dpkg-buildpackage >/dev/null && \
	    command -v dh_apparmor >/dev/null && command -v lintian >/dev/null; \
	then $(MAKE) --no-print-directory deb test-deb; \
	else echo "check-deb: skipped (dpkg-buildpackage, dh_apparmor or" \
	    "lintian missing: make deb test-deb installs them)"; fi

# Benchmarks (make bench) and fuzzing/static analysis (make fuzz, make lint)
# live in their own files.
-include bench/bench.mk
-include tests/fuzz/fuzz.mk

# ---- l7knockknock-client: client/, policy/client-seccomp.policy ----
# A second binary for the ssh side (ProxyCommand, ProxyUseFdpass), built by
# `make`.  Its own sources are in client/; it shares a few pure modules of
# src/.  client/main.c is left out of the tests, which link the rest.
CLIENT	 = l7knockknock-client
BINDIR	 = $(PREFIX)/bin
MAN1DIR	 = $(PREFIX)/share/man/man1
CLIENT_SRCS = $(wildcard client/*.c)
CLIENT_HDRS = $(wildcard client/*.h)
CLIENT_OBJS = $(CLIENT_SRCS:client/%.c=build/client/%.o) \
	   build/client_policy_table.o
CLIENT_LIBOBJS = $(filter-out build/client/main.o,$(CLIENT_OBJS))
CLIENT_SHARED = build/log.o build/knock.o build/knockfile.o build/parse.o \
	   build/net.o build/secretfile.o build/keyfile.o build/token.o \
	   build/sanitize.o build/seccompbpf.o
CLIENT_LDLIBS = $(shell pkg-config --libs libseccomp libsodium 2>/dev/null)

# The client's ssh login tests run Debian's sshd and ssh.
TEST_DEPS += openssh-client openssh-server

ALL_CFLAGS += -Iclient
LIBOBJS	+= $(CLIENT_LIBOBJS)
LINT_SRCS += $(CLIENT_SRCS)

.PHONY: install-client uninstall-client clean-client

all: $(CLIENT)
check: $(CLIENT)
install: install-client
uninstall: uninstall-client
clean: clean-client

$(CLIENT): $(CLIENT_OBJS) $(CLIENT_SHARED) $(FLAGS_STAMP)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(CLIENT_OBJS) \
	    $(CLIENT_SHARED) $(CLIENT_LDLIBS)

build/client/%.o: client/%.c $(CLIENT_HDRS) $(HDRS) $(FLAGS_STAMP) | build
	@mkdir -p build/client
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

build/client_policy_table.c: policy/client-seccomp.policy tools/policy2c.awk | build
	awk -v table=client_policy_table -f tools/policy2c.awk \
	    policy/client-seccomp.policy > $@.tmp && mv $@.tmp $@

build/client_policy_table.o: build/client_policy_table.c $(CLIENT_HDRS) $(HDRS) \
    $(FLAGS_STAMP)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

build/tests/test_client.o: $(CLIENT_HDRS)
# LIBOBJS is extended above after the test_all rule read its prerequisites.
build/test_all: $(CLIENT_LIBOBJS)

install-client: $(CLIENT)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MAN1DIR)
	install -m 0755 $(CLIENT) $(DESTDIR)$(BINDIR)/$(CLIENT)
	install -m 0644 $(CLIENT).1 $(DESTDIR)$(MAN1DIR)/$(CLIENT).1

uninstall-client:
	rm -f $(DESTDIR)$(BINDIR)/$(CLIENT) $(DESTDIR)$(MAN1DIR)/$(CLIENT).1

clean-client:
	rm -f $(CLIENT)
