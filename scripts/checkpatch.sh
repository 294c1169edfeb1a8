#!/usr/bin/env bash
# The kernel's style checker on labctl's modules: kmod/ (the examples users copy), the
# template `labctl new` copies (templates/module/; NAME only in strings and comments there)
# and the test fixtures in tests/kmod/. checkpatch.pl comes from Debian's linux-source-6.1 (there is
# no package of its own); it and the two files it reads beside itself are extracted once
# into DIR (default build/checkpatch).
#
#   --no-tree   no kernel source tree around these files (out-of-tree modules)
#   -f          check whole source files, not a patch
#   --strict    the extra CHECK rules too (the ones kernel subsystems ask of new code)
#   --no-summary --color=never   only the findings, plain, for CI logs
# Any finding (ERROR, WARNING or CHECK) fails.
#
#   usage: scripts/checkpatch.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/checkpatch}
source_tar=/usr/src/linux-source-6.1.tar.xz

if [[ ! -x $dir/scripts/checkpatch.pl ]]; then
	if [[ ! -f $source_tar ]]; then
		echo "checkpatch: $source_tar is missing (apt-get install linux-source-6.1)" >&2
		exit 1
	fi
	mkdir -p "$dir"
	tar -xJf "$source_tar" -C "$dir" --strip-components=1 \
		linux-source-6.1/scripts/checkpatch.pl linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch
fi

checkpatch() {
	"$dir/scripts/checkpatch.pl" --no-tree -f --strict --no-summary --color=never "$@"
}
# Every module source (broken and warning included: their faults are for the compiler,
# and their style is clean) ...
mapfile -t files < <(find kmod templates tests/kmod -name '*.c' -not -name labctl_fault.c | sort)
status=0
checkpatch "${files[@]}" || status=1
# ... but labctl_fault calls BUG() on purpose (its "bug" command is the fault the tests
# need), so AVOID_BUG is the one rule off for that file.
checkpatch --ignore AVOID_BUG tests/kmod/labctl_fault/labctl_fault.c || status=1
exit "$status"
