# tests/bench/bench.mk - `make bench` and `make soak`.
#
# Debian packages (for the Makefile's deps):
#   BENCH_DEB_PACKAGES := wrk nginx-light libnginx-mod-http-echo curl valgrind
#   optional, for profiling by hand: linux-perf
# nginx-light pulls in libnginx-mod-http-echo (echo_read_request_body); it is listed
# anyway because the benchmark loads that module. OPA is built with Go (>= 1.26, the
# go line of tests/bench/opa/go.mod) from the Go module proxy; without Go the OPA rows
# are left out and the run fails.
#
#   make bench   poolguard, nginx and OPA under wrk on 127.0.0.1 (about 4 minutes):
#                a table of req/s and latency, memory, instructions per admission,
#                latency by inventory size, and the targets met or missed.
#                BENCH_SECONDS=10 per case; see tests/bench/bench.sh for the rest.
#   make soak    poolguard at 256 connections for SOAK_SECONDS=60 with zero errors and
#                flat memory, a SIGKILL and restart, a garbage budget and a new
#                certificate under load; ends with "N passed, N failed".
#
# The top Makefile includes this file (include tests/bench/bench.mk); it also works on
# its own from the repository root: make -f tests/bench/bench.mk bench

BENCH_DEB_PACKAGES := wrk nginx-light libnginx-mod-http-echo curl valgrind
BENCH_DEB_OPTIONAL := linux-perf

# The repository root: two levels above this file.
BENCH_MK := $(lastword $(MAKEFILE_LIST))
BENCH_ROOT := $(patsubst %/,%,$(dir $(abspath $(BENCH_MK)/../..)))

# Included by the top Makefile: its own `all` and `certs`; alone: the top Makefile's,
# through a plain make in the root.
ifeq ($(firstword $(MAKEFILE_LIST)),$(BENCH_MK))
BENCH_BUILD = $(MAKE) -C $(BENCH_ROOT) --no-print-directory -f Makefile all certs
else
BENCH_BUILD = $(MAKE) --no-print-directory all certs
endif

.PHONY: bench soak bench-deps

bench-deps:
	@missing=""; \
	for p in $(BENCH_DEB_PACKAGES); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" -ne 0 ]; then \
			echo "missing Debian packages:$$missing (run 'make bench-deps' as root)"; exit 1; \
		fi; \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

bench: bench-deps
	@$(BENCH_BUILD)
	@cd $(BENCH_ROOT) && BENCH_PKGS="$(PKGS)" bash tests/bench/bench.sh

soak: bench-deps
	@$(BENCH_BUILD)
	@cd $(BENCH_ROOT) && bash tests/bench/soak.sh
