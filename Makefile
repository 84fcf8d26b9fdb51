# Thin wrapper over CMake. `make demo` and `make check` install what is
# missing first (scripts/install-deps.sh), so they work on a fresh Debian 12.
BUILD      ?= build
BUILD_SAN  ?= build-san
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=

.PHONY: all deps build build-san check lint test test-san demo clean format fuzz bench sim install uninstall deb

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

# Before the suites: the C lines a change touches are formatted
# (scripts/dev/format-check.sh: against the merge base with main on a
# branch, the last commit on main), and the library and the commands build
# with clang and -Werror (compile only, no tests: a minute or two).
BUILD_CLANG ?= build-clang
lint: deps
	scripts/dev/format-check.sh
	CC=clang CXX=clang++ cmake -S . -B $(BUILD_CLANG) -DCMAKE_BUILD_TYPE=Debug -DBUILD_TESTING=OFF \
	  -DCARNET_WERROR=ON $(CMAKE_ARGS) >/dev/null
	cmake --build $(BUILD_CLANG) -j $(JOBS)

# The checks above, then the whole suite twice: a normal build, then
# AddressSanitizer + UBSan.
check: lint test test-san

demo: build
	@scripts/demo.sh $(BUILD)/bin/carnet
	@scripts/demo-crm.sh $(BUILD)/bin/carnet

# Benchmarks: workload W (../shared/WORKLOAD.md) on Carnet plus the machine's
# raw limits; prints JSON lines and a table (bench/RESULTS.md). Never part of
# `make check`, never fails on time. `make bench GROWTH=1` adds W1 at N = 10k,
# 100k and 1M (GROWTH_MAX caps N); BENCH_N, BENCH_M, BENCH_ARGS change the rest.
BENCH_N    ?= 100000
BENCH_M    ?= 1000
GROWTH     ?=
GROWTH_MAX ?= 1000000
BENCH_ARGS ?=
bench: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS) --target carnet-bench carnet-cli
	$(BUILD)/bench/carnet-bench --n $(BENCH_N) --m $(BENCH_M) --raw \
	  $(if $(GROWTH),--growth --growth-max $(GROWTH_MAX)) $(BENCH_ARGS)

# Install the library, headers, carnet.pc, the CMake package, the carnet
# binary, man pages, completion and the systemd unit under PREFIX (default
# /usr/local); DESTDIR stages them elsewhere (cmake --install honours it).
# `make uninstall` removes what the last install wrote.
PREFIX ?= /usr/local
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

uninstall:
	@test -f $(BUILD)/install_manifest.txt || { echo "make uninstall: nothing installed from $(BUILD)"; exit 1; }
	sed 's|^|$(DESTDIR)|' $(BUILD)/install_manifest.txt | xargs -d '\n' rm -f --

clean:
	rm -rf $(BUILD) $(BUILD_SAN) $(BUILD_CLANG)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# libFuzzer on every decoder (clang); FUZZ_SECONDS each.
FUZZ_SECONDS ?= 60
BUILD_FUZZ   ?= build-fuzz
fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B $(BUILD_FUZZ) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCARNET_SANITIZE=ON -DCARNET_LIBFUZZER=ON >/dev/null
	cmake --build $(BUILD_FUZZ) -j $(JOBS) --target $$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$$//' | tr '\n' ' ')
	@for t in tests/fuzz/fuzz_*.c; do n=$$(basename $$t .c); c=$${n#fuzz_}; \
	  mkdir -p $(BUILD_FUZZ)/corpus/$$c; \
	  echo "== $$n ($(FUZZ_SECONDS) s)"; \
	  $(BUILD_FUZZ)/fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    $(BUILD_FUZZ)/corpus/$$c tests/fuzz/corpus/$$c 2>&1 | grep -E 'stat::number_of_executed_units|ERROR|SUMMARY' || exit 1; \
	done

# The deterministic simulation over many seeds (tests/sim/, carnet-sim):
# SEEDS seeds from SEED_FIRST, split in two halves run in parallel (two
# cores); SIM_ARGS adds options (--steps S, --broken, --replicas 3..50,
# --topology star|mesh|mixed...). A failing seed is printed with the command
# line that replays it.
SEEDS      ?= 1000
SEED_FIRST ?= 1
SIM_ARGS   ?=
sim: deps $(BUILD)/Makefile
	cmake --build $(BUILD) -j $(JOBS) --target carnet-sim
	@half=$$(( $(SEEDS) / 2 )); rest=$$(( $(SEEDS) - half )); \
	  start=$$(date +%s); \
	  $(BUILD)/tests/carnet-sim --first $(SEED_FIRST) --count $$half $(SIM_ARGS) & p1=$$!; \
	  $(BUILD)/tests/carnet-sim --first $$(( $(SEED_FIRST) + half )) --count $$rest $(SIM_ARGS) & p2=$$!; \
	  rc=0; wait $$p1 || rc=1; wait $$p2 || rc=1; \
	  echo "make sim: $(SEEDS) seeds from $(SEED_FIRST) in $$(( $$(date +%s) - start )) s: $$( [ $$rc = 0 ] && echo all passed || echo FAILURES above)"; \
	  exit $$rc

# Debian packages (packaging/CPack.cmake): libcarnet0, libcarnet-dev and
# carnet, from a build of their own (no tests, installed under /usr), then
# the paths of the .deb files made. Older .deb files are removed first so
# that what is listed is what this run made.
BUILD_DEB ?= build-deb
deb: deps
	cmake -S . -B $(BUILD_DEB) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF \
	  -DCMAKE_INSTALL_PREFIX=/usr $(CMAKE_ARGS) >/dev/null
	cmake --build $(BUILD_DEB) -j $(JOBS)
	rm -f $(BUILD_DEB)/*.deb
	cd $(BUILD_DEB) && cpack -G DEB
	@ls -1 $(abspath $(BUILD_DEB))/*.deb
