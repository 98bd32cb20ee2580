# Patron - one Makefile (see docs/operations.md for the targets).
#
#   make            build build/patron
#   make run        install missing Debian packages, build, run the demo job
#   make test       install, build, run every test; then again under ASan+UBSan
#   make bench      the benchmarks of bench/ (not tests: no timing thresholds)
#   make fuzz       build the libFuzzer targets (clang) into build/fuzz/
#   make format     clang-format the C sources
#   make lint       our own rules (scripts/lint)

BUILD   ?= build
CC      ?= cc
OPT     ?= -O2
SAN     ?=
PKGS    :=
WARN    := -Wall -Wextra -Werror -Wshadow -Wconversion -Wsign-conversion \
           -Wstrict-prototypes -Wmissing-prototypes -Wno-error=unused-function
CFLAGS  ?= $(OPT) -g
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -fvisibility=hidden $(WARN) $(CFLAGS) -Isrc -MMD -MP
LDLIBS   = $(shell pkg-config --libs libmicrohttpd jansson sqlite3 libsodium gsl libqrencode libpng libcurl) -lroaring -lpthread -lm

ifeq ($(SAN),1)
ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS    += -fsanitize=address,undefined
endif

LIB_SRC := $(wildcard src/util/*.c src/core/*.c src/ingest/*.c src/rfm/*.c src/gen/*.c src/store/*.c src/engine/*.c src/http/*.c src/clv/*.c src/segment/*.c src/loyalty/*.c src/automation/*.c)
CLI_SRC := $(wildcard src/cli/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REPLAY := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/replay_%)

.PHONY: all run test test-one bench fuzz format lint clean deps

all: $(BUILD)/patron

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libpatron.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/patron: $(CLI_OBJ) $(BUILD)/libpatron.a
	$(CC) $(LDFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libpatron.a $(LDLIBS)

# Unit tests: Criterion, one binary per module.
$(BUILD)/tests/test_%: tests/unit/test_%.c $(wildcard tests/unit/*.h) $(BUILD)/libpatron.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ $< $(BUILD)/libpatron.a \
	    $(shell pkg-config --libs criterion) $(LDLIBS)

# Fuzz-corpus replay: the fuzz target linked with a main that runs each file.
$(BUILD)/tests/replay_%: tests/fuzz/%.c tests/fuzz/replay_main.c $(BUILD)/libpatron.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Wno-missing-prototypes $(LDFLAGS) -o $@ $< tests/fuzz/replay_main.c \
	    $(BUILD)/libpatron.a $(LDLIBS)

deps:
	@scripts/install-deps

run: deps all
	@scripts/demo $(BUILD)/patron

# (LDLIBS is expanded when a recipe runs, after `deps` has installed the libraries.)
# Every test, then the same under AddressSanitizer + UndefinedBehaviorSanitizer.
test: deps
	@scripts/lint
	@$(MAKE) -j2 --no-print-directory test-one BUILD=build
	@$(MAKE) -j2 --no-print-directory test-one BUILD=build-san SAN=1 OPT=-O1
	@echo "make test: all suites passed (plain and ASan+UBSan)"

test-one: $(BUILD)/patron $(UNIT_BIN) $(FUZZ_REPLAY)
	@scripts/run-tests $(BUILD)

bench: deps all
	@scripts/install-deps --bench
	@bench/rfm/run.sh $(BUILD)/patron
	@bench/serve/run.sh $(BUILD)/patron
	@bench/clv/run.sh $(BUILD)/patron
	@bench/segment/run.sh $(BUILD)/patron
	@bench/loyalty/run.sh $(BUILD)/patron
	@bench/automation/run.sh $(BUILD)/patron

fuzz:
	@mkdir -p $(BUILD)/fuzz
	for f in $(FUZZ_SRC); do \
	    n=$$(basename $$f .c); \
	    clang -std=c11 -D_GNU_SOURCE -g -O1 -Isrc -fsanitize=fuzzer,address,undefined \
	        -o $(BUILD)/fuzz/$$n $$f $(LIB_SRC) $(LDLIBS) || exit 1; \
	done
	@echo "run e.g.: $(BUILD)/fuzz/fuzz_csv tests/fuzz/corpus/csv -max_total_time=60"

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

lint:
	@scripts/lint

clean:
	rm -rf build build-san

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
