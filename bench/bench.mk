# `make bench`: l7knockknock side by side with a direct connection, haproxy
# and nginx stream, on loopback.  See bench/README.md.  Never part of
# `make test`: no test passes or fails on speed.

BENCH_DEPS = haproxy nginx-light libnginx-mod-stream iperf3 wrk iproute2 gnuplot-nox

.PHONY: bench

bench:
	@sh tools/deps.sh $(BUILD_DEPS) $(BENCH_DEPS)
	@$(MAKE) --no-print-directory $(PROG) build/bench/knockload
	@sh bench/run.sh

# Own flags: the load tool must not break when the relay's flags change.
# Its connections are driven by the tests' client (the parts of the
# harness free of Criterion).
# -K mints tokens with src/token.c (libsodium).
KNOCKLOAD_SRCS = bench/knockload.c tests/harness_client.c tests/harness_stream.c \
	src/token.c src/log.c

build/bench/knockload: $(KNOCKLOAD_SRCS) tests/harness.h src/token.h $(FLAGS_STAMP)
	@mkdir -p build/bench
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -D_GNU_SOURCE -Itests -Isrc -o $@ \
	    $(KNOCKLOAD_SRCS) $$(pkg-config --cflags --libs libsodium)

# `make bench-sockmap`: the BPF sockmap probe (bench/sockmap/README.md),
# measured beside a direct connection and l7knockknock.  Not part of the
# relay: it records why the relay has no kernel path.
SOCKMAP_MULTIARCH = $(shell gcc -print-multiarch 2>/dev/null)

.PHONY: bench-sockmap

bench-sockmap: $(PROG) build/bench/sockmap/probe build/bench/sockmap/relay.bpf.o
	@sh bench/sockmap/run.sh

build/bench/sockmap/relay.bpf.o: bench/sockmap/relay.bpf.c
	@mkdir -p build/bench/sockmap
	clang -O2 -g -target bpf -I/usr/include/$(SOCKMAP_MULTIARCH) -c -o $@ \
	    bench/sockmap/relay.bpf.c

build/bench/sockmap/probe: bench/sockmap/probe.c
	@mkdir -p build/bench/sockmap
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -D_GNU_SOURCE -o $@ \
	    bench/sockmap/probe.c -lbpf -lpthread
