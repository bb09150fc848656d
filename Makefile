# The commands a new user runs: `make run` and `make test`.
# Each installs the Debian packages it needs first (scripts/install-deps).

BUILD  ?= build
CONFIG ?= plugins.conf
JOBS   ?= $(shell nproc)
FUZZ_SECONDS ?= 60

.PHONY: all deps build run test unit e2e bench fuzz clean

all: build

deps:
	@./scripts/install-deps

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/crier serve -c $(CONFIG)

test: build
	@./scripts/run-tests $(BUILD)

unit: build
	@cd $(BUILD) && ctest --output-on-failure -L unit

e2e: build
	@./scripts/run-tests $(BUILD) e2e

bench: build
	@./bench/run $(BUILD)

# Each fuzz target runs FUZZ_SECONDS (default 60) in BUILD-fuzz.
fuzz: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) ./scripts/fuzz $(BUILD)

clean:
	rm -rf $(BUILD)
