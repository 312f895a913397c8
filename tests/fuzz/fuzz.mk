# fuzz.mk - libFuzzer targets for poolguard: build, run, and a short smoke run for `make test`.
#
# Included by the top Makefile (`include tests/fuzz/fuzz.mk`) or used alone from the repository
# root: `make -f tests/fuzz/fuzz.mk fuzz-smoke`.
#
#   make fuzz-build                 build/fuzz/fuzz_{review,config,manifest,spring,lease}
#   make fuzz [FUZZ_SECONDS=60]     run each fuzzer that long; a crash, leak or UB fails
#   make fuzz-smoke                 each for 10 s; ends with "N passed, N failed"
#   make fuzz-regress               replay tests/fuzz/regressions/ once
#   make fuzz FUZZERS=review        only some of them
#
# The fuzzers link build/fuzz/libpoolguard.a, the Makefile's `fuzz` flavour: src/*.c but
# src/main.c built by the Makefile's one set of rules with clang and
# -fsanitize=fuzzer-no-link,address,undefined (coverage and sanitizers, no libFuzzer main), the
# Makefile's -D_GNU_SOURCE -Iinclude and pkg-config flags; each target is then linked with
# -fsanitize=fuzzer. Alone, this file hands its targets to the top Makefile. Runs work on a copy
# of the seeds in build/fuzz/corpus-NAME, so the committed corpora in tests/fuzz/corpus/ stay as
# they are; crashes land in build/fuzz/artifacts-NAME/.
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
FUZZERS ?= review config manifest spring lease
FUZZ_OUT ?= $(FUZZ_ROOT)$(if $(BUILD),$(BUILD),build)/fuzz

FUZZ_PKG_LIBS = $(shell pkg-config --print-errors --libs $(PKGS))
# -fno-sanitize-recover makes undefined behaviour stop the run like a crash, instead of a line
# in the log that nobody reads.
FUZZ_SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FUZZ_CFLAGS ?= -g -O1
# The Makefile's warnings without -Werror: a clang-only warning in src/ must not stop a fuzz run.
FUZZ_WARNINGS := -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes

# The flavour the Makefile's rules build (FLAVOURS += fuzz there).
fuzz_DIR := $(FUZZ_OUT)
fuzz_CC = $(FUZZ_CC)
fuzz_WARNINGS = $(FUZZ_WARNINGS)
fuzz_CFLAGS = $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(FUZZ_SANITIZE)

FUZZ_HEADERS := $(wildcard $(FUZZ_ROOT)include/poolguard/*.h)
FUZZ_BINS := $(FUZZERS:%=$(FUZZ_OUT)/fuzz_%)
FUZZ_RUN = FUZZ_MAX_LEN='$(FUZZ_MAX_LEN)' FUZZ_TIMEOUT='$(FUZZ_TIMEOUT)' \
	FUZZ_RSS_LIMIT_MB='$(FUZZ_RSS_LIMIT_MB)' FUZZ_ARGS='$(FUZZ_ARGS)' sh $(FUZZ_DIR)/run.sh

.PHONY: fuzz-build fuzz fuzz-smoke fuzz-regress

ifneq ($(FUZZ_STANDALONE),)
fuzz-build fuzz fuzz-smoke fuzz-regress:
	@$(MAKE) --no-print-directory -C $(abspath $(FUZZ_DIR)/../..) -f Makefile $@
else
fuzz-build: $(FUZZ_BINS)

$(FUZZ_BINS): $(FUZZ_OUT)/fuzz_%: $(FUZZ_DIR)/fuzz_%.c $(fuzz_DIR)/libpoolguard.a $(FUZZ_HEADERS) \
		$(FUZZ_DIR)/fuzz.mk | pkg-check
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_WARNINGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(FUZZ_SANITIZE) \
		$(PKG_CFLAGS) -o $@ $< $(fuzz_DIR)/libpoolguard.a $(FUZZ_PKG_LIBS) -lm -lpthread

fuzz: fuzz-build
	@$(FUZZ_RUN) run $(FUZZ_SECONDS) $(FUZZ_OUT) $(FUZZERS)

# 10 s unless FUZZ_SECONDS is given on the command line.
fuzz-smoke: FUZZ_SECONDS = 10
fuzz-smoke: fuzz-build
	@$(FUZZ_RUN) run $(FUZZ_SECONDS) $(FUZZ_OUT) $(FUZZERS)

fuzz-regress: fuzz-build
	@$(FUZZ_RUN) regress 0 $(FUZZ_OUT) $(FUZZERS)
endif

ifneq ($(FUZZ_STANDALONE),)
.DEFAULT_GOAL := fuzz-build
else
.DEFAULT_GOAL := $(FUZZ_SAVED_GOAL)
endif
