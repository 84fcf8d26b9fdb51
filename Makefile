# Thin wrapper over CMake. `make demo` and `make check` install what is
# missing first (scripts/install-deps.sh), so they work on a fresh Debian 12.
BUILD      ?= build
BUILD_SAN  ?= build-san
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=

.PHONY: all deps build build-san check test test-san demo clean format

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null

$(BUILD_SAN)/Makefile: CMakeLists.txt
	cmake -S . -B $(BUILD_SAN) -DCMAKE_BUILD_TYPE=Debug -DCARNET_SANITIZE=ON $(CMAKE_ARGS) >/dev/null

build: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS)

build-san: deps $(BUILD_SAN)/Makefile
	cmake --build $(BUILD_SAN) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-san: build-san
	cd $(BUILD_SAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS)

# The whole suite twice: a normal build, then AddressSanitizer + UBSan.
check: test test-san

demo: build
	@scripts/demo.sh $(BUILD)/bin/carnet

clean:
	rm -rf $(BUILD) $(BUILD_SAN)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
