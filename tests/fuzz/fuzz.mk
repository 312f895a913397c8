# fuzz.mk - libFuzzer targets for poolguard: build, run, and a short smoke run for `make test`.
#
# Included by the top Makefile (`include tests/fuzz/fuzz.mk`) or used alone from the repository
# root: `make -f tests/fuzz/fuzz.mk fuzz-smoke`.
#
#   make fuzz-build                 build/fuzz/fuzz_{review,config,manifest,spring}
#   make fuzz [FUZZ_SECONDS=60]     run each fuzzer that long; a crash, leak or UB fails
#   make fuzz-smoke                 each for 10 s; ends with "N passed, N failed"
#   make fuzz-regress               replay tests/fuzz/regressions/ once
#   make fuzz FUZZERS=review        only some of them
#
# Each fuzzer compiles src/*.c but src/main.c together with its target under
# -fsanitize=fuzzer,address,undefined, with the Makefile's -D_GNU_SOURCE -Iinclude and pkg-config
# flags. Runs work on a copy of the seeds in build/fuzz/corpus-NAME, so the committed corpora in
# tests/fuzz/corpus/ stay as they are; crashes land in build/fuzz/artifacts-NAME/.
#
# Debian packages needed on top of the build's: clang libclang-rt-14-dev (the libFuzzer and
# sanitizer runtimes; bookworm's clang only recommends it). FUZZ_DEB_PACKAGES lists them for the
# Makefile's deps target: DEB_PACKAGES += $(FUZZ_DEB_PACKAGES).

# Where this fragment is, so it works included, alone, or with make -C elsewhere -f PATH.
FUZZ_DIR := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
FUZZ_ROOT := $(patsubst %tests/fuzz,%,$(FUZZ_DIR))
# Included, it must not take the including Makefile's default goal; alone, it builds.
FUZZ_STANDALONE := $(filter 1,$(words $(MAKEFILE_LIST)))
FUZZ_SAVED_GOAL := $(.DEFAULT_GOAL)

FUZZ_DEB_PACKAGES := clang libclang-rt-14-dev

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_MAX_LEN ?= 65536
FUZZ_TIMEOUT ?= 10
FUZZ_RSS_LIMIT_MB ?= 2048
FUZZ_ARGS ?=
FUZZERS ?= review config manifest spring
FUZZ_OUT ?= $(FUZZ_ROOT)$(if $(BUILD),$(BUILD),build)/fuzz

# The Makefile's pkg-config packages: its PKGS when included, read from it when alone.
FUZZ_PKGS = $(or $(PKGS),$(shell sed -n 's/^PKGS *:*= *//p' $(FUZZ_ROOT)Makefile), \
	libmicrohttpd libcjson yaml-0.1 openssl libcurl gnutls)
FUZZ_PKG_FLAGS = $(shell pkg-config --cflags --libs $(FUZZ_PKGS))
# -fno-sanitize-recover makes undefined behaviour stop the run like a crash, instead of a line
# in the log that nobody reads.
FUZZ_SANITIZE := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FUZZ_CFLAGS ?= -g -O1
# The Makefile's warnings without -Werror: a clang-only warning in src/ must not stop a fuzz run.
FUZZ_WARNINGS := -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
FUZZ_CPPFLAGS := -D_GNU_SOURCE -I$(FUZZ_ROOT)include

FUZZ_LIB_SRC = $(filter-out $(FUZZ_ROOT)src/main.c,$(wildcard $(FUZZ_ROOT)src/*.c))
FUZZ_HEADERS = $(wildcard $(FUZZ_ROOT)include/poolguard/*.h)
FUZZ_BINS := $(FUZZERS:%=$(FUZZ_OUT)/fuzz_%)
FUZZ_RUN = FUZZ_MAX_LEN='$(FUZZ_MAX_LEN)' FUZZ_TIMEOUT='$(FUZZ_TIMEOUT)' \
	FUZZ_RSS_LIMIT_MB='$(FUZZ_RSS_LIMIT_MB)' FUZZ_ARGS='$(FUZZ_ARGS)' sh $(FUZZ_DIR)/run.sh

.PHONY: fuzz-build fuzz fuzz-smoke fuzz-regress

fuzz-build: $(FUZZ_BINS)

$(FUZZ_BINS): $(FUZZ_OUT)/fuzz_%: $(FUZZ_DIR)/fuzz_%.c $(FUZZ_LIB_SRC) $(FUZZ_HEADERS) \
		$(FUZZ_DIR)/fuzz.mk
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_WARNINGS) $(FUZZ_CFLAGS) $(FUZZ_SANITIZE) -o $@ \
		$< $(FUZZ_LIB_SRC) $(FUZZ_PKG_FLAGS) -lm -lpthread

fuzz: fuzz-build
	@$(FUZZ_RUN) run $(FUZZ_SECONDS) $(FUZZ_OUT) $(FUZZERS)

# 10 s unless FUZZ_SECONDS is given on the command line.
fuzz-smoke: FUZZ_SECONDS = 10
fuzz-smoke: fuzz-build
	@$(FUZZ_RUN) run $(FUZZ_SECONDS) $(FUZZ_OUT) $(FUZZERS)

fuzz-regress: fuzz-build
	@$(FUZZ_RUN) regress 0 $(FUZZ_OUT) $(FUZZERS)

ifneq ($(FUZZ_STANDALONE),)
.DEFAULT_GOAL := fuzz-build
else
.DEFAULT_GOAL := $(FUZZ_SAVED_GOAL)
endif
