# poolguard - connection-budget admission webhook for a shared PostgreSQL cluster.
#
#   make          build build/poolguard
#   make test     install what is missing, build, run every test
#   make run      install what is missing, build, make certificates, serve the sample budget
#   make certs    development CA and serving certificate in certs/out/
#   make e2e      against a real kube-apiserver, etcd and kubectl built from the Go module proxy
#   make bench    throughput and latency against nginx and OPA, memory, instructions per admission
#   make soak     60 s at 256 connections with restarts, garbage budgets and certificate rotation
#   make fuzz     the libFuzzer targets, 60 s each
#   make lint     clang-format check and the banned-function check

CC ?= cc
PKGS := libmicrohttpd libcjson yaml-0.1 openssl libcurl gnutls libpq
CFLAGS ?= -O2 -g
# Messages are cut to fit their buffers on purpose, so truncation is not a warning.
WARNINGS := -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror -Wno-format-truncation
CPPFLAGS += -D_GNU_SOURCE -Iinclude
BUILD := build

# Debian packages the build, the tests and `make run` need.
DEB_PACKAGES := gcc make pkg-config openssl curl ca-certificates \
	libmicrohttpd-dev libcjson-dev libyaml-dev libssl-dev libgnutls28-dev \
	libcmocka-dev libcurl4-openssl-dev libpq-dev prometheus valgrind \
	postgresql pgbouncer

include tests/fuzz/fuzz.mk
DEB_PACKAGES += $(FUZZ_DEB_PACKAGES)
# make bench and make soak (wrk, nginx, OPA from the Go module proxy): tests/bench/bench.mk
include tests/bench/bench.mk
include tests/spring/spring.mk

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ALL_CFLAGS = $(WARNINGS) $(CFLAGS) $(PKG_CFLAGS)

LIB_SRC := $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJ := $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
HEADERS := $(wildcard include/poolguard/*.h)

UNIT_SRC := $(wildcard tests/unit/*_test.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit_%)
INTEGRATION_SRC := $(wildcard tests/integration/*_test.c)
INTEGRATION_BIN := $(INTEGRATION_SRC:tests/integration/%.c=$(BUILD)/tests/integration_%)
TEST_LIBS = $(PKG_LIBS) $(shell pkg-config --libs cmocka libcurl 2>/dev/null) -lm

# The same program and tests built with AddressSanitizer and UndefinedBehaviorSanitizer.
ASAN := $(BUILD)/asan
ASAN_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all
ASAN_OBJ := $(LIB_SRC:src/%.c=$(ASAN)/obj/%.o)
ASAN_TESTS := $(UNIT_SRC:tests/unit/%.c=$(ASAN)/tests/unit_%) \
	$(INTEGRATION_SRC:tests/integration/%.c=$(ASAN)/tests/integration_%)

.PHONY: all deps test e2e run certs lint clean

all: $(BUILD)/poolguard

deps:
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" -ne 0 ]; then \
			echo "missing Debian packages:$$missing (run 'make deps' as root)"; exit 1; \
		fi; \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

$(BUILD)/obj/%.o: src/%.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libpoolguard.a: $(LIB_OBJ)
	$(AR) rcs $@ $^

$(BUILD)/poolguard: $(BUILD)/obj/main.o $(BUILD)/libpoolguard.a
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(PKG_LIBS) -lm -lpthread

$(BUILD)/tests/unit_%: tests/unit/%.c tests/unit/*.h $(BUILD)/libpoolguard.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests $(ALL_CFLAGS) -o $@ $< $(BUILD)/libpoolguard.a $(TEST_LIBS)

$(BUILD)/tests/integration_%: tests/integration/%.c tests/integration/*.h $(BUILD)/libpoolguard.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests $(ALL_CFLAGS) -o $@ $< $(BUILD)/libpoolguard.a $(TEST_LIBS)

$(ASAN)/obj/%.o: src/%.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(WARNINGS) $(ASAN_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(ASAN)/libpoolguard.a: $(ASAN_OBJ)
	$(AR) rcs $@ $^

$(ASAN)/poolguard: src/main.c $(ASAN)/libpoolguard.a
	$(CC) $(CPPFLAGS) $(WARNINGS) $(ASAN_CFLAGS) $(PKG_CFLAGS) -o $@ $^ $(PKG_LIBS) -lm -lpthread

$(ASAN)/tests/unit_%: tests/unit/%.c tests/unit/*.h $(ASAN)/libpoolguard.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests $(WARNINGS) $(ASAN_CFLAGS) $(PKG_CFLAGS) -o $@ $< \
		$(ASAN)/libpoolguard.a $(TEST_LIBS)

$(ASAN)/tests/integration_%: tests/integration/%.c tests/integration/*.h $(ASAN)/libpoolguard.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests $(WARNINGS) $(ASAN_CFLAGS) $(PKG_CFLAGS) -o $@ $< \
		$(ASAN)/libpoolguard.a $(TEST_LIBS)

certs: certs/out/serving.crt

certs/out/serving.crt: certs/make-certs.sh
	sh certs/make-certs.sh certs/out

# Every test three ways: plain; with ASan and UBSan; the integration tests with the
# server and the CLI under valgrind memcheck (any error or definite leak fails the run);
# then the database tests against real PostgreSQL and PgBouncer, the alert rules, and the
# fuzzers' regressions and 10 s of each fuzzer.
test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN) $(INTEGRATION_BIN)
	@$(MAKE) --no-print-directory -s $(ASAN)/poolguard $(ASAN_TESTS)
	@sh tests/run.sh --reset
	@sh tests/run.sh --suite plain $(UNIT_BIN) $(INTEGRATION_BIN)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		POOLGUARD_BIN=$(ASAN)/poolguard sh tests/run.sh --suite asan $(ASAN_TESTS)
	@POOLGUARD_VALGRIND=1 sh tests/run.sh --suite valgrind $(INTEGRATION_BIN)
	@sh tests/valgrind-logs.sh
	@POOLGUARD_TOTALS=$(BUILD)/test-logs/totals bash tests/db/db_test.sh \
		> $(BUILD)/test-logs/db.log 2>&1; st=$$?; grep -E '^(ok|not ok)' $(BUILD)/test-logs/db.log \
		| sed 's/^/    db: /' | grep 'not ok' ; echo "db   real PostgreSQL and PgBouncer: \
		$$(tail -n 1 $(BUILD)/test-logs/db.log) (exit $$st)"
	@sh manifests/monitoring/check-rules.sh > $(BUILD)/test-logs/rules.log 2>&1; \
		st=$$?; [ $$st -eq 0 ] && echo "1 passed, 0 failed" >> $(BUILD)/test-logs/rules.log; \
		sh tests/run.sh --count "promtool check rules + test rules" $$st \
		$(BUILD)/test-logs/rules.log
	@$(MAKE) --no-print-directory -s fuzz-regress > $(BUILD)/test-logs/fuzz-regress.log 2>&1; \
		sh tests/run.sh --count fuzz-regress $$? $(BUILD)/test-logs/fuzz-regress.log
	@$(MAKE) --no-print-directory -s fuzz-smoke > $(BUILD)/test-logs/fuzz-smoke.log 2>&1; \
		sh tests/run.sh --count fuzz-smoke $$? $(BUILD)/test-logs/fuzz-smoke.log
	@sh tests/run.sh --summary

e2e: deps
	@$(MAKE) --no-print-directory all certs
	@bash tests/e2e/run.sh

run: deps
	@$(MAKE) --no-print-directory all certs
	$(BUILD)/poolguard serve --config manifests/budget-configmap.yaml \
		--inventory manifests/examples/inventory.yaml \
		--tls-cert certs/out/serving.crt --tls-key certs/out/serving.key \
		--listen 127.0.0.1:8443

lint:
	@if grep -nE '\b(sprintf|strcpy|strcat|strtok|atoi|sscanf)[[:space:]]*\(' \
		src/*.c include/poolguard/*.h tests/*/*.c tests/*/*.h | grep -v snprintf; then \
		echo "lint: banned function used (see STYLE.md)"; exit 1; fi
	@echo "lint: no banned functions"
	@if command -v clang-format >/dev/null; then \
		n=$$(for f in src/*.c include/poolguard/*.h; do \
			clang-format --dry-run "$$f" 2>&1 | grep -c 'warning:'; done | \
			awk '{s += $$1} END {print s + 0}'); \
		echo "lint: $$n places where the code differs from .clang-format (advisory)"; \
	fi

clean:
	rm -rf $(BUILD)
