# The two commands of the Quick start, and the CI's extra builds.
#   make run   install what is missing, build, run the demo (signpostd/demo.sh)
#   make test  install what is missing, build, run every test through ctest
#   make unikernel  the gateway image (unikernel/build.sh)
# CMake does the building; this file only sequences it.

BUILD ?= build
JOBS ?= $(shell nproc)
# Warnings are errors in CI (CI=true), warnings elsewhere.
WERROR ?= $(if $(CI),ON,OFF)
FUZZ_SECONDS ?= 15

.PHONY: all deps build run test test-asan fuzz unikernel clean

all: build

deps:
	@sh scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSP_WERROR=$(WERROR) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@sh signpostd/demo.sh $(BUILD)/bin

# The system tests boot the gateway image too, so it is built first.
test: build unikernel
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The gateway image, build/unikernel/signpost-gateway.img (docs/unikernel.md).
unikernel: deps
	@sh unikernel/build.sh $(BUILD)/unikernel

# The unit tests again under AddressSanitizer and UBSan.
test-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSP_SANITIZE=ON -DSP_WERROR=$(WERROR) >/dev/null
	@cmake --build build-asan -j $(JOBS)
	@cd build-asan && ctest --output-on-failure -L unit -j $(JOBS)

# libFuzzer targets (clang), each run for FUZZ_SECONDS from its seed corpus.
fuzz: deps
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSP_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS)
	@sh tests/fuzz/run.sh build-fuzz/bin $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) build-asan build-fuzz
