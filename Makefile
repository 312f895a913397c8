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
#   make docker-test   the Dockerfile built with buildah (no Docker daemon), its poolguard run

CC ?= cc
PKGS := libmicrohttpd libcjson yaml-0.1 openssl libcurl gnutls libpq
# What the tests link on top of PKGS.
TEST_PKGS := cmocka libcurl
CFLAGS ?= -O2 -g
# Messages are cut to fit their buffers on purpose, so truncation is not a warning.
WARNINGS := -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror -Wno-format-truncation
CPPFLAGS += -D_GNU_SOURCE -Iinclude
BUILD := build

# `make` alone builds the program, whatever targets the fragments included below define first.
.DEFAULT_GOAL := all

# Debian packages the build, the tests and `make run` need.
DEB_PACKAGES := gcc make pkg-config openssl curl ca-certificates \
	libmicrohttpd-dev libcjson-dev libyaml-dev libssl-dev libgnutls28-dev \
	libcmocka-dev libcurl4-openssl-dev libpq-dev prometheus valgrind \
	postgresql pgbouncer
# make e2e: the load balancer in front of two replicas (tests/e2e/replicas.sh).
DEB_PACKAGES += haproxy

include tests/fuzz/fuzz.mk
DEB_PACKAGES += $(FUZZ_DEB_PACKAGES)
# make bench and make soak (wrk, nginx, OPA from the Go module proxy): tests/bench/bench.mk
# (the Dockerfile copies both fragments: make reads them even when it only builds the program)
include tests/bench/bench.mk
include tests/spring/spring.mk

# Expanded where a rule needs them, after pkg-check has named any missing library, so that
# `make deps` and `make clean` work on a machine without them.
PKG_CFLAGS = $(shell pkg-config --print-errors --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --print-errors --libs $(PKGS))
TEST_LIBS = $(PKG_LIBS) $(shell pkg-config --print-errors --libs $(TEST_PKGS)) -lm

LIB_SRC := $(filter-out src/main.c,$(wildcard src/*.c))
HEADERS := $(wildcard include/poolguard/*.h)
UNIT_SRC := $(wildcard tests/unit/*_test.c)
UNIT_HEADERS := $(wildcard tests/unit/*.h)
INTEGRATION_SRC := $(wildcard tests/integration/*_test.c)
INTEGRATION_HEADERS := $(wildcard tests/integration/*.h)
# Programs tests/db/db_test.sh runs besides poolguard (holdconn, jsonget).
DB_TOOL_SRC := $(wildcard tests/db/*.c)

# Flavours of the build, each in its own directory with the same rules:
#   plain  build/       CFLAGS (-O2 -g): the program `make` builds and the image ships
#   asan   build/asan/  AddressSanitizer and UndefinedBehaviorSanitizer
#   tsan   build/tsan/  ThreadSanitizer
#   fuzz   build/fuzz/  clang, libFuzzer's coverage, ASan and UBSan (tests/fuzz/fuzz.mk)
# NAME_DIR is where it goes, NAME_CFLAGS what it compiles and links with; NAME_CC and
# NAME_WARNINGS, when set, replace CC and WARNINGS.
FLAVOURS := plain asan tsan fuzz
plain_DIR := $(BUILD)
plain_CFLAGS = $(CFLAGS)
asan_DIR := $(BUILD)/asan
asan_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all
tsan_DIR := $(BUILD)/tsan
tsan_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=thread

# $(call flavour,NAME): the rules of one flavour, for src/, the library, the program, the unit
# and integration tests and the tests/db tools, and the lists NAME_UNIT, NAME_INTEGRATION and
# NAME_DB_TOOLS of its test programs.
define flavour
$(1)_CC ?= $$(CC)
$(1)_WARNINGS ?= $$(WARNINGS)
$(1)_OBJ := $$(LIB_SRC:src/%.c=$$($(1)_DIR)/obj/%.o)
$(1)_UNIT := $$(UNIT_SRC:tests/unit/%.c=$$($(1)_DIR)/tests/unit_%)
$(1)_INTEGRATION := $$(INTEGRATION_SRC:tests/integration/%.c=$$($(1)_DIR)/tests/integration_%)
$(1)_DB_TOOLS := $$(DB_TOOL_SRC:tests/db/%.c=$$($(1)_DIR)/tests/db_%)
$(1)_COMPILE = $$($(1)_CC) $$(CPPFLAGS) $$($(1)_WARNINGS) $$($(1)_CFLAGS) $$(PKG_CFLAGS)

$$($(1)_DIR)/obj/%.o: src/%.c $$(HEADERS) | pkg-check
	@mkdir -p $$(@D)
	$$($(1)_COMPILE) -c -o $$@ $$<

$$($(1)_DIR)/libpoolguard.a: $$($(1)_OBJ)
	@rm -f $$@
	$$(AR) rcs $$@ $$^

$$($(1)_DIR)/poolguard: $$($(1)_DIR)/obj/main.o $$($(1)_DIR)/libpoolguard.a
	$$($(1)_CC) $$($(1)_CFLAGS) $$(LDFLAGS) -o $$@ $$^ $$(PKG_LIBS) -lm -lpthread

$$($(1)_DIR)/tests/unit_%: tests/unit/%.c $$(UNIT_HEADERS) $$($(1)_DIR)/libpoolguard.a \
		| pkg-check pkg-check-tests
	@mkdir -p $$(@D)
	$$($(1)_COMPILE) -Itests $$(LDFLAGS) -o $$@ $$< $$($(1)_DIR)/libpoolguard.a $$(TEST_LIBS)

$$($(1)_DIR)/tests/integration_%: tests/integration/%.c $$(INTEGRATION_HEADERS) \
		$$($(1)_DIR)/libpoolguard.a | pkg-check pkg-check-tests
	@mkdir -p $$(@D)
	$$($(1)_COMPILE) -Itests $$(LDFLAGS) -o $$@ $$< $$($(1)_DIR)/libpoolguard.a $$(TEST_LIBS)

$$($(1)_DIR)/tests/db_%: tests/db/%.c | pkg-check
	@mkdir -p $$(@D)
	$$($(1)_COMPILE) $$(LDFLAGS) -o $$@ $$< $$(PKG_LIBS)
endef
$(foreach f,$(FLAVOURS),$(eval $(call flavour,$(f))))

# Under ThreadSanitizer: every unit and integration test (the server's threads, the reloader's,
# the webhook's concurrent scale-ups), about 25 s. Not limits_test: it asserts an answer within
# 100 ms with 500 connections open, which TSan's slowdown misses under load (127 ms seen).
TSAN_TESTS := $(filter-out %/integration_limits_test,$(tsan_UNIT) $(tsan_INTEGRATION))
# The runner's self-test: a program with a data race that the TSan pass must catch.
$(tsan_DIR)/tests/tsan_racy: tests/tsan/racy.c
	@mkdir -p $(@D)
	$(tsan_COMPILE) $(LDFLAGS) -o $@ $< -lpthread
TSAN_LOG = $(CURDIR)/$(BUILD)/test-logs/tsan
# Every report is logged (one file per process that has any) and counted by tests/tsan/check.sh;
# no suppressions: none of the reports seen so far lies wholly inside an uninstrumented library.
TSAN_ENV = TSAN_OPTIONS="log_path=$(TSAN_LOG) halt_on_error=0 second_deadlock_stack=1"

.PHONY: all deps test e2e run certs lint clean pkg-check pkg-check-tests docker-test

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

# Every compile waits for these: a missing library stops the build with pkg-config's own
# message naming it, not with a missing header or an undefined symbol later.
pkg-check:
	@pkg-config --print-errors --exists $(PKGS) || { \
		echo "make: pkg-config cannot find a library poolguard needs (named above);" \
			"'make deps' installs them" >&2; exit 1; }

pkg-check-tests:
	@pkg-config --print-errors --exists $(TEST_PKGS) || { \
		echo "make: pkg-config cannot find a library the tests need (named above);" \
			"'make deps' installs them" >&2; exit 1; }

certs: certs/out/serving.crt

certs/out/serving.crt: certs/make-certs.sh
	sh certs/make-certs.sh certs/out

# Every test three ways: plain; with ASan and UBSan; under valgrind memcheck (the unit tests
# themselves, the integration tests with the server and the CLI under it; any error or definite
# leak fails the run); then under ThreadSanitizer, where any report fails;
# `make lint`; the Makefile and the Dockerfile (tests/docker/check.sh); the database tests
# against real PostgreSQL and PgBouncer, the alert rules, and the fuzzers' regressions and
# 10 s of each fuzzer.
test: deps
	@$(MAKE) --no-print-directory all $(plain_UNIT) $(plain_INTEGRATION) $(plain_DB_TOOLS)
	@$(MAKE) --no-print-directory -s $(asan_DIR)/poolguard $(asan_UNIT) $(asan_INTEGRATION)
	@$(MAKE) --no-print-directory -s $(tsan_DIR)/poolguard $(TSAN_TESTS) \
		$(tsan_DIR)/tests/tsan_racy
	@sh tests/run.sh --reset
	@$(MAKE) --no-print-directory -s lint > $(BUILD)/test-logs/lint.log 2>&1; \
		st=$$?; [ $$st -eq 0 ] && echo "1 passed, 0 failed" >> $(BUILD)/test-logs/lint.log; \
		sh tests/run.sh --count "make lint" $$st $(BUILD)/test-logs/lint.log
	@bash tests/docker/check.sh > $(BUILD)/test-logs/build-check.log 2>&1; \
		sh tests/run.sh --count "Makefile and Dockerfile (tests/docker/check.sh)" $$? \
		$(BUILD)/test-logs/build-check.log
	@sh tests/run.sh --suite plain $(plain_UNIT) $(plain_INTEGRATION)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
		POOLGUARD_BIN=$(asan_DIR)/poolguard sh tests/run.sh --suite asan \
		$(asan_UNIT) $(asan_INTEGRATION)
	@sh tests/run.sh --suite valgrind --memcheck $(plain_UNIT)
	@POOLGUARD_VALGRIND=1 sh tests/run.sh --suite valgrind $(plain_INTEGRATION)
	@sh tests/valgrind-logs.sh
	@sh tests/tsan/check.sh selftest $(tsan_DIR)/tests/tsan_racy
	@$(TSAN_ENV) POOLGUARD_BIN=$(tsan_DIR)/poolguard sh tests/run.sh --suite tsan $(TSAN_TESTS)
	@sh tests/tsan/check.sh logs $(TSAN_LOG)
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

# The image: the Dockerfile built by buildah (no Docker daemon) on a debian:bookworm base made by
# debootstrap, then the image's poolguard run; see tests/docker/image-build.sh.
DOCKER_DEB_PACKAGES := buildah debootstrap

docker-test:
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(DOCKER_DEB_PACKAGES)"
	@bash tests/docker/image-build.sh

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
