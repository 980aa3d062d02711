# `make bench`: l7knockknock side by side with a direct connection, haproxy
# and nginx stream, on loopback.  See bench/README.md.  Never part of
# `make test`: no test passes or fails on speed.

BENCH_DEPS = haproxy nginx-light libnginx-mod-stream iperf3 wrk iproute2

.PHONY: bench

bench:
	@sh tools/deps.sh $(BUILD_DEPS) $(BENCH_DEPS)
	@$(MAKE) --no-print-directory $(PROG) build/bench/knockload
	@sh bench/run.sh

# Own flags: the load tool must not break when the relay's flags change.
build/bench/knockload: bench/knockload.c $(FLAGS_STAMP)
	@mkdir -p build/bench
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -o $@ bench/knockload.c
