# Fuzzing (`make fuzz`) and static analysis (`make lint`).  Included by the
# Makefile; see tests/fuzz/README.md.
#
#   make fuzz                    every harness for FUZZ_SECONDS (30) each
#   make fuzz FUZZ_SECONDS=600   longer
#   make fuzz FUZZ_HARNESSES=knock   one harness
#   make fuzz-build              build the harnesses only
#   make fuzz-coverage           line coverage of src/ by each harness's
#                                corpus in build/fuzz/corpus (llvm-cov)
#   make lint                    cppcheck, clang-tidy and gcc -fanalyzer
#                                on src/*.c
#
# The harnesses are built with clang and libFuzzer (Debian: clang and
# libclang-rt-14-dev), straight from src/*.c with AddressSanitizer and
# UndefinedBehaviorSanitizer, apart from the gcc objects in build/.
# Each run starts from the seeds in tests/fuzz/corpus/NAME, copied into
# build/fuzz/corpus/NAME, where the corpus grows (the repository is never
# written).  A finding is saved as build/fuzz/artifacts/NAME-crash-...,
# the log of every run is build/fuzz/NAME.log, and `make fuzz` fails.

FUZZ_SECONDS	?= 30
# Debian packages (installed by tools/deps.sh as root, else named).
FUZZ_DEPS	 = clang libclang-rt-14-dev libsodium-dev
LINT_DEPS	 = cppcheck clang-tidy gcc pkg-config libseccomp-dev libcap-ng-dev libsodium-dev
FUZZ_CC		?= clang
FUZZ_HARNESSES	?= knock parse hostport knockfile cmdline token proxyhdr proxyparse resp
FUZZ_CFLAGS	 = -std=gnu11 -g -O1 -fno-omit-frame-pointer \
		   -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		   -Wall -Wextra -D_GNU_SOURCE -DVERSION='"fuzz"' -Isrc
# libFuzzer options of every run: inputs up to 4 KiB (a command line, a
# knock file of KNOCK_MAX + 3 bytes and more), a hang is a finding after
# 10 s, and the statistics at the end.
FUZZ_FLAGS	?= -max_len=4096 -timeout=10 -print_final_stats=1

# The modules each harness links (log.c for those that report).
FUZZ_SRCS_knock		= src/knock.c
FUZZ_SRCS_parse		= src/parse.c
FUZZ_SRCS_hostport	= src/parse.c src/net.c src/log.c
FUZZ_SRCS_knockfile	= src/knockfile.c src/secretfile.c src/knock.c src/log.c
# cmdline links routes.c for its kind table (--knock-file, --key-file...)
# and, with it, the modules its loaders call (never reached: no file is
# read while parsing but --config).
FUZZ_SRCS_cmdline	= src/conf.c src/conf_values.c src/conf_file.c src/routes.c \
			  src/cidr.c src/parse.c src/net.c src/knock.c src/log.c \
			  src/proxyhdr.c src/keyfile.c src/knockfile.c \
			  src/knockset.c src/replay.c src/secretfile.c src/token.c
FUZZ_SRCS_token		= src/token.c src/log.c
# Libraries a harness links besides its sources.
FUZZ_LIBS_token		= -lsodium
FUZZ_LIBS_cmdline	= -lsodium
FUZZ_SRCS_proxyhdr	= src/proxyhdr.c
FUZZ_SRCS_resp		= src/resp.c
FUZZ_SRCS_proxyparse	= src/proxyparse.c src/proxyhdr.c

FUZZ_BINS	= $(FUZZ_HARNESSES:%=build/fuzz/fuzz_%)

.PHONY: fuzz fuzz-build fuzz-coverage lint lint-cppcheck lint-clang-tidy lint-gcc-analyzer

fuzz-build: $(FUZZ_BINS)

.SECONDEXPANSION:
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $$(FUZZ_SRCS_$$*) $(wildcard src/*.h)
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRCS_$*) $(FUZZ_LIBS_$*)

fuzz:
	@sh tools/deps.sh $(FUZZ_DEPS)
	@$(MAKE) --no-print-directory fuzz-build
	@mkdir -p build/fuzz/artifacts; fail=0; \
	for h in $(FUZZ_HARNESSES); do \
		mkdir -p build/fuzz/corpus/$$h; \
		cp tests/fuzz/corpus/$$h/* build/fuzz/corpus/$$h/; \
		dict=; \
		if [ -f tests/fuzz/$$h.dict ]; then \
			dict=-dict=tests/fuzz/$$h.dict; fi; \
		echo "fuzz_$$h: $(FUZZ_SECONDS) s (log: build/fuzz/$$h.log)"; \
		if ./build/fuzz/fuzz_$$h $(FUZZ_FLAGS) $$dict \
		    -max_total_time=$(FUZZ_SECONDS) \
		    -artifact_prefix=build/fuzz/artifacts/$$h- \
		    build/fuzz/corpus/$$h > build/fuzz/$$h.log 2>&1; then \
			grep -E '^#[0-9]+[[:space:]]+DONE' build/fuzz/$$h.log | \
			    sed "s/^/fuzz_$$h: /"; \
		else \
			fail=1; \
			echo "fuzz_$$h: FINDING"; \
			tail -n 60 build/fuzz/$$h.log; \
		fi; \
	done; \
	exit $$fail

# Coverage builds: the same harnesses without sanitizers, with clang's
# source-based coverage; each replays its corpus once (-runs=0).
FUZZ_COV_CFLAGS	 = -std=gnu11 -g -O0 -fsanitize=fuzzer \
		   -fprofile-instr-generate -fcoverage-mapping \
		   -D_GNU_SOURCE -DVERSION='"fuzz"' -Isrc
LLVM_PROFDATA	?= llvm-profdata
LLVM_COV	?= llvm-cov

build/fuzz/cov/fuzz_%: tests/fuzz/fuzz_%.c $$(FUZZ_SRCS_$$*) $(wildcard src/*.h)
	@mkdir -p build/fuzz/cov
	$(FUZZ_CC) $(FUZZ_COV_CFLAGS) -o $@ $< $(FUZZ_SRCS_$*) $(FUZZ_LIBS_$*)

fuzz-coverage: $(FUZZ_HARNESSES:%=build/fuzz/cov/fuzz_%)
	@for h in $(FUZZ_HARNESSES); do \
		mkdir -p build/fuzz/corpus/$$h; \
		cp tests/fuzz/corpus/$$h/* build/fuzz/corpus/$$h/; \
		LLVM_PROFILE_FILE=build/fuzz/cov/$$h.profraw \
		    ./build/fuzz/cov/fuzz_$$h -runs=0 build/fuzz/corpus/$$h \
		    > build/fuzz/cov/$$h.log 2>&1 || exit 1; \
		$(LLVM_PROFDATA) merge -o build/fuzz/cov/$$h.profdata \
		    build/fuzz/cov/$$h.profraw || exit 1; \
		echo "fuzz_$$h: $$(ls build/fuzz/corpus/$$h | wc -l) inputs"; \
		$(LLVM_COV) report build/fuzz/cov/fuzz_$$h \
		    -instr-profile=build/fuzz/cov/$$h.profdata \
		    -ignore-filename-regex='tests/' | \
		    awk '$$1 ~ /\.c$$/ { printf "  %-12s lines %5s of %3d, branches %5s\n", \
		    $$1, $$10, $$8, $$13 }'; \
	done

# Static analysis of src/*.c: both tools must be clean, on the shipped
# configuration and on the debug builds' one (make SECCOMP_DEBUG=1,
# VALGRIND=1, SANITIZE=1: the only #ifdefs in src/).
LINT_SRCS	?= $(wildcard src/*.c)
LINT_DEFS	 = -D_GNU_SOURCE -DVERSION='"lint"' -Isrc
LINT_DEBUG_DEFS	 = -DSECCOMP_DEBUG=1 -DVALGRIND_BUILD=1 -DSANITIZE=1
LINT_DEBUG_SRCS	 = $(shell grep -l -E 'SECCOMP_DEBUG|VALGRIND_BUILD|SANITIZE' \
		   $(LINT_SRCS) 2>/dev/null)

# cppcheck: warnings, style, performance and portability, with:
#   variableScope  off: STYLE puts every local at the top of its function
#                  (BSD style, as in spiped); cppcheck would move them in.
#   missingIncludeSystem  off: glibc's headers are not given to cppcheck
#                  (it does not need them).
#   unreachableCode in src/sandbox_seccomp_debug.c  off: a false positive.
#                  std.cfg says raise() "maybe" returns, yet cppcheck takes
#                  the _exit() after raise(SIGSYS) in the SIGSYS handler
#                  for dead code; it runs if the signal is ever delivered
#                  late (SECCOMP_DEBUG builds only).
CPPCHECK_FLAGS	 = --enable=warning,style,performance,portability \
		   --error-exitcode=1 --inline-suppr --quiet --std=c11 \
		   --suppress=variableScope --suppress=missingIncludeSystem \
		   --suppress=unreachableCode:src/sandbox_seccomp_debug.c

# clang-tidy: the clang static analyzer (clang-analyzer-*: null
# dereferences, leaks, use after free, uninitialised reads, dead stores,
# insecure APIs) and bugprone-*, minus:
#   bugprone-easily-swappable-parameters  flags every function taking two
#       ints or two pointers of one type (parse_uint's min/max, every
#       (buf, len) pair); a design hint, not a bug (10 hits in src/).
#   clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling
#       asks for C11 Annex K (memcpy_s, snprintf_s), which glibc lacks
#       (24 hits, on memcpy, memset, snprintf and the like).
#   clang-analyzer-security.insecureAPI.strcpy  flags every strcpy without
#       looking at bounds; src/ copies only literals ("127.0.0.1" into 256
#       bytes, conf.c) or a name whose length was refused just before when
#       too long (sandbox_priv.c, the one hit).
#   clang-analyzer-valist.Uninitialized  a known false positive of clang 14
#       on x86-64, where va_list is an array and decays to a pointer when
#       handed to a function: log_errno() calls va_start() and then
#       log_vwrite(..., ap), whose vsnprintf() it reports as using an
#       uninitialised va_list, though va_start() is on every path to it
#       (the analyzer's va_list tracking, llvm/llvm-project#40656; libexpat
#       turned the check off for the same reason).
# and one name allowed to bugprone-reserved-identifier:
#   __asan_default_options  the hook AddressSanitizer calls for its
#       defaults (src/sanitize.c, SANITIZE builds): its name is the API.
CLANG_TIDY	?= clang-tidy
CLANG_TIDY_CHECKS = -*,clang-analyzer-*,bugprone-*,\
-bugprone-easily-swappable-parameters,\
-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling,\
-clang-analyzer-security.insecureAPI.strcpy,\
-clang-analyzer-valist.Uninitialized
CLANG_TIDY_CONFIG = {Checks: '$(CLANG_TIDY_CHECKS)', \
		     WarningsAsErrors: '*', \
		     CheckOptions: [{key: bugprone-reserved-identifier.AllowedIdentifiers, \
		     value: __asan_default_options}]}
CLANG_TIDY_CFLAGS = -std=gnu11 $(LINT_DEFS) \
		    $(shell pkg-config --cflags $(PKGS) 2>/dev/null)

# gcc -fanalyzer (gcc 12): a third, independent path-sensitive analysis
# (leaks, double close, use after free, NULL dereference); no exclusions.
GCC_ANALYZER	?= gcc
GCC_ANALYZER_FLAGS = -std=gnu11 -O1 -fanalyzer -Werror $(LINT_DEFS) \
		   $(shell pkg-config --cflags $(PKGS) 2>/dev/null)

lint:
	@sh tools/deps.sh $(LINT_DEPS)
	@$(MAKE) --no-print-directory lint-cppcheck lint-clang-tidy \
	    lint-gcc-analyzer
	@echo "lint: cppcheck, clang-tidy and gcc -fanalyzer clean"

lint-cppcheck:
	cppcheck $(CPPCHECK_FLAGS) $(LINT_DEFS) $(LINT_SRCS)
	cppcheck $(CPPCHECK_FLAGS) $(LINT_DEFS) $(LINT_DEBUG_DEFS) $(LINT_SRCS)

lint-clang-tidy:
	$(CLANG_TIDY) --quiet --config="$(CLANG_TIDY_CONFIG)" $(LINT_SRCS) \
	    -- $(CLANG_TIDY_CFLAGS)
	if [ -n "$(LINT_DEBUG_SRCS)" ]; then \
	    $(CLANG_TIDY) --quiet --config="$(CLANG_TIDY_CONFIG)" \
	    $(LINT_DEBUG_SRCS) -- $(CLANG_TIDY_CFLAGS) $(LINT_DEBUG_DEFS); fi

lint-gcc-analyzer:
	@for f in $(LINT_SRCS); do \
		echo "$(GCC_ANALYZER) -fanalyzer $$f"; \
		$(GCC_ANALYZER) $(GCC_ANALYZER_FLAGS) -c -o /dev/null $$f || exit 1; \
		$(GCC_ANALYZER) $(GCC_ANALYZER_FLAGS) $(LINT_DEBUG_DEFS) \
		    -c -o /dev/null $$f || exit 1; \
	done
