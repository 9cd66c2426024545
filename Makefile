# Wrapper over CMake/CTest.  The README's two commands are `make run` and
# `make test`; both install missing packages first (scripts/deps.sh).
#
#   make run      build (plain) and run a scenario (EXAMPLE=examples/...)
#   make test     plain -O2, ASan+UBSan and TSan builds, each running CTest
#   make bench    build (plain) and run every benchmark
#   make build    plain build only;  make format  clang-format the tree
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

MAKEFLAGS += --no-print-directory
.PRECIOUS: build/%/Makefile

.PHONY: all deps build run test test-plain test-asan test-tsan bench format clean

all: build

deps:
	@./scripts/deps.sh

build/%/Makefile: | deps
	cmake -S . -B build/$* -DMMIRROR_SANITIZE=$(if $(filter plain,$*),none,$*) \
		$(if $(filter plain,$*),,-DCMAKE_C_COMPILER=clang) >/dev/null

build-%: build/%/Makefile
	cmake --build build/$* -j $(JOBS)

build: build-plain

EXAMPLE ?= examples/gpu-munmap-storm.mms
run: build-plain
	./build/plain/mmirror run $(EXAMPLE)

# Each flavour builds and runs the whole suite; `make test` stops at the first
# flavour that fails.  TSAN_OPTIONS/ASAN_OPTIONS make any report fatal.
test-plain: build-plain
	cd build/plain && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)
test-asan: build-asan
	cd build/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)
test-tsan: build-tsan
	cd build/tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
		ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

test: test-plain test-asan test-tsan
	@echo "mmirror: all three builds (plain, asan+ubsan, tsan) passed"

bench: build-plain
	@for b in build/plain/bench_*; do echo "== $$b"; $$b || exit 1; done

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build
