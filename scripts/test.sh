#!/usr/bin/env bash
# Fresh machine to green: install dependencies, check the scripts, then four builds and
# their tests.
#
#   build/       RelWithDebInfo: unit, fuzz-corpus replay, end-to-end (VM and VM-less)
#   build-asan/  ASan + UBSan (Debug): unit, replay and the VM-less end-to-end tests (e2e-novm)
#   build-tsan/  ThreadSanitizer (Debug): unit and e2e-novm (run -j, the scenario pool, signals)
#   build-fuzz/  clang + libFuzzer: each fuzz target for LABCTL_FUZZ_RUNS runs from a fixed seed
#
# Everything the tests create goes under one fresh TMPDIR; at the end the suite checks
# that no process it started and no temporary file it made is left (scripts/leftovers.sh).
# LABCTL_BUILD_ROOT puts the build folders elsewhere (default: the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
root=${LABCTL_BUILD_ROOT:-$PWD}
jobs=$(nproc)
started=$(date +%s)

stage() { echo "test.sh: [$(($(date +%s) - started)) s] $*"; }

scripts/setup.sh

TMPDIR=$(mktemp -d /tmp/labctl-test.XXXXXX)
export TMPDIR
stamp=$TMPDIR/.started
touch "$stamp"
finish() {
	local status=$?
	stage "checking for leftovers"
	scripts/leftovers.sh "$TMPDIR" "$stamp" || status=1
	rm -rf "$TMPDIR"
	stage "done, exit $status"
	exit "$status"
}
trap finish EXIT

stage "checks: shellcheck, clang-format, layers, checkpatch"
shellcheck initrd/*.sh scripts/*.sh .ci/run
# labctl's C++ only: the kernel modules' C (and their headers) follow the kernel's style,
# which checkpatch checks below.
# shellcheck disable=SC2046 # one argument per file on purpose
clang-format --dry-run -Werror $(git ls-files '*.cpp' '*.h' ':!:kmod/' ':!:tests/kmod/')
scripts/check-layers.sh
# The kernel's checkpatch.pl (extracted from linux-source-6.1 into the build folder) on the
# modules in kmod/ and tests/kmod/; scripts/checkpatch.sh says which options and why.
scripts/checkpatch.sh "$root/build/checkpatch"

stage "build: RelWithDebInfo"
LABCTL_BUILD_DIR="$root/build" scripts/build.sh
stage "tests: unit, replay, e2e"
(cd "$root/build" && ctest --output-on-failure --timeout 900 -j "$jobs")

# Debug (-O0): instrumented -O2 compiles three times slower, and these tests wait on I/O.
stage "build: ASan + UBSan"
LABCTL_BUILD_DIR="$root/build-asan" scripts/build.sh -DLABCTL_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
stage "tests under ASan + UBSan: unit, replay, e2e-novm"
(cd "$root/build-asan" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ctest --output-on-failure --timeout 900 -j "$jobs" -L 'unit|replay|e2e-novm')

stage "build: ThreadSanitizer"
LABCTL_BUILD_DIR="$root/build-tsan" scripts/build.sh -DLABCTL_SANITIZE=thread -DCMAKE_BUILD_TYPE=Debug
stage "tests under ThreadSanitizer: unit, e2e-novm"
# Without the tests that push 10 to 200 MiB through one thread to check limits and exact
# bytes: they test no concurrency, and under TSan that volume outlasts their step timeouts.
(cd "$root/build-tsan" && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	ctest --output-on-failure --timeout 900 -j "$jobs" -L 'unit|e2e-novm' \
	-E 'Faults\.(TenMebibytesOfOutputComeBackExactly|OutputBeyondTheProtocolLimit|ConsoleFlood)')

stage "build: libFuzzer (clang)"
CC=clang CXX=clang++ cmake -S . -B "$root/build-fuzz" -G Ninja -DLABCTL_FUZZ=ON >/dev/null
cmake --build "$root/build-fuzz" --target labctl_fuzzers
stage "fuzzing"
(cd "$root/build-fuzz" && ctest --output-on-failure -j "$jobs" -L fuzz)
