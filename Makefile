# l7knockknock -- see README.md.  `make`, `make test`, `make demo`.

PROG	 = l7knockknock
VERSION	 = 0.2.0
PREFIX	?= /usr/local
DESTDIR	?=
SBINDIR	 = $(PREFIX)/sbin
MANDIR	 = $(PREFIX)/share/man/man8

CC	?= cc
PKGS	 = libseccomp libcap-ng
# Debian packages the build and the tests need (see tools/deps.sh).
BUILD_DEPS = gcc make pkg-config libseccomp-dev libcap-ng-dev
TEST_DEPS  = libcriterion-dev apparmor
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
OBJS	 = $(SRCS:src/%.c=build/%.o) build/policy_table.o
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

check: $(PROG) build/test_all
	apparmor_parser -QK apparmor/usr.sbin.l7knockknock
	cd build && $(TEST_ENV) ./test_all --jobs 2 $(TEST_ARGS)

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

# Benchmarks (make bench) and fuzzing/static analysis (make fuzz, make lint)
# live in their own files.
-include bench/bench.mk
-include tests/fuzz/fuzz.mk
