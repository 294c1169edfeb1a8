#!/usr/bin/env bash
# Explore with random seeds, outside CI: build the libFuzzer targets (clang) and run each
# for SECONDS (default 600) from a seed libFuzzer picks at random, starting from the corpus.
# A crash is kept in build-fuzz/tests/fuzz/<target>.crashes/; once fixed, copy the input to
# tests/fuzz/corpus/<target>/ so every build replays it (CI fuzzes from a fixed seed only).
#
#   scripts/fuzz-explore.sh [SECONDS [TARGET...]]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
dir=${LABCTL_BUILD_ROOT:-$PWD}/build-fuzz
CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DLABCTL_FUZZ=ON >/dev/null
cmake --build "$dir" --target labctl_fuzzers
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
	# Every target tests/fuzz/CMakeLists.txt builds.
	for exe in "$dir"/tests/fuzz/fuzz_*; do
		[[ -x $exe ]] && targets+=("${exe##*/fuzz_}")
	done
fi
status=0
for t in "${targets[@]}"; do
	crashes=$dir/tests/fuzz/$t.crashes
	mkdir -p "$crashes" "$dir/tests/fuzz/$t.explore"
	echo "fuzz-explore: $t for $seconds s"
	# -seed=0: libFuzzer picks a random seed and prints it ("Seed: N") to reproduce the run.
	if ! "$dir/tests/fuzz/fuzz_$t" -seed=0 -max_total_time="$seconds" -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/" \
		"$dir/tests/fuzz/$t.explore" "tests/fuzz/corpus/$t"; then
		echo "fuzz-explore: $t failed; inputs in $crashes" >&2
		status=1
	fi
done
exit "$status"
