# Fuzzing (`make fuzz`) and static analysis (`make lint`).  Included by the
# Makefile; see tests/fuzz/README.md.
#
#   make fuzz                    every harness for FUZZ_SECONDS (30) each
#   make fuzz FUZZ_SECONDS=600   longer
#   make fuzz FUZZ_HARNESSES=knock   one harness
#   make fuzz-build              build the harnesses only
#   make lint                    cppcheck and clang-tidy on src/*.c
#
# The harnesses are built with clang and libFuzzer (Debian: clang and
# libclang-rt-14-dev), straight from src/*.c with AddressSanitizer and
# UndefinedBehaviorSanitizer, apart from the gcc objects in build/.
# Each run starts from the seeds in tests/fuzz/corpus/NAME, copied into
# build/fuzz/corpus/NAME, where the corpus grows (the repository is never
# written).  A finding is saved as build/fuzz/artifacts/NAME-crash-...,
# the log of every run is build/fuzz/NAME.log, and `make fuzz` fails.

FUZZ_SECONDS	?= 30
FUZZ_CC		?= clang
FUZZ_HARNESSES	?= knock parse hostport knockfile cmdline
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
FUZZ_SRCS_knockfile	= src/knockfile.c src/knock.c src/log.c
FUZZ_SRCS_cmdline	= src/conf.c src/parse.c src/net.c src/knock.c src/log.c

FUZZ_BINS	= $(FUZZ_HARNESSES:%=build/fuzz/fuzz_%)

.PHONY: fuzz fuzz-build lint lint-cppcheck lint-clang-tidy

fuzz-build: $(FUZZ_BINS)

.SECONDEXPANSION:
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $$(FUZZ_SRCS_$$*) $(wildcard src/*.h)
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_SRCS_$*)

fuzz: fuzz-build
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

# Static analysis of src/*.c: both tools must be clean.
LINT_SRCS	?= $(wildcard src/*.c)
LINT_DEFS	 = -D_GNU_SOURCE -DVERSION='"lint"' -Isrc

# cppcheck: warnings, style, performance and portability; one exclusion:
#   variableScope  STYLE puts every local at the top of its function (BSD
#                  style, as in spiped); cppcheck would move them inward.
# System headers are not given to cppcheck (it does not need them, and
# parsing glibc's would only slow it down), hence missingIncludeSystem.
CPPCHECK_FLAGS	 = --enable=warning,style,performance,portability \
		   --error-exitcode=1 --inline-suppr --quiet --std=c11 \
		   --suppress=variableScope --suppress=missingIncludeSystem

# clang-tidy: the clang static analyzer (clang-analyzer-*: null
# dereferences, leaks, use after free, uninitialised reads, dead stores,
# insecure APIs) and bugprone-*, minus:
#   bugprone-easily-swappable-parameters  flags every function taking two
#       ints or two pointers of one type (parse_uint's min/max, every
#       (buf, len) pair); it is a design hint, not a bug.
#   bugprone-reserved-identifier  flags the include guards (KNOCK_H_ ...) and
#       _GNU_SOURCE; these names are the house style and do not collide.
#   bugprone-assignment-in-if-condition  "if ((fd = open(...)) == -1)" is
#       the house style (STYLE, after spiped), always fully parenthesised.
#   clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling
#       asks for C11 Annex K (memcpy_s, snprintf_s), which glibc lacks.
#   clang-analyzer-security.insecureAPI.strcpy  the two strcpy calls copy
#       the literal "127.0.0.1" into 256-byte buffers.
CLANG_TIDY	?= clang-tidy
CLANG_TIDY_CHECKS = -*,clang-analyzer-*,bugprone-*,\
-bugprone-easily-swappable-parameters,\
-bugprone-reserved-identifier,\
-bugprone-assignment-in-if-condition,\
-clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling,\
-clang-analyzer-security.insecureAPI.strcpy

lint: lint-cppcheck lint-clang-tidy

lint-cppcheck:
	cppcheck $(CPPCHECK_FLAGS) $(LINT_DEFS) $(LINT_SRCS)

lint-clang-tidy:
	$(CLANG_TIDY) --quiet --checks='$(CLANG_TIDY_CHECKS)' \
	    --warnings-as-errors='*' $(LINT_SRCS) -- \
	    -std=gnu11 $(LINT_DEFS) \
	    $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
