#!/usr/bin/env bash
# leftovers.sh TMPDIR STAMP: fail when the test suite that ran with TMPDIR left anything
# behind: a process (QEMU, the fake QEMU, labctl, a guest step) whose command line or
# working directory is under TMPDIR, a file in TMPDIR (STAMP aside), or a labctl
# temporary folder in /tmp newer than STAMP (something that ignored TMPDIR).
set -uo pipefail
tmp=$1 stamp=$2
status=0

for proc in /proc/[0-9]*; do
	pid=${proc#/proc/}
	[[ $pid == "$$" ]] && continue
	cmdline=$(tr '\0' ' ' <"$proc/cmdline" 2>/dev/null) || continue
	cwd=$(readlink "$proc/cwd" 2>/dev/null || true)
	if [[ $cmdline == *"$tmp"* || $cwd == "$tmp"* ]]; then
		echo "leftovers: process $pid still runs: ${cmdline:0:300}" >&2
		status=1
	fi
done

while IFS= read -r -d '' left; do
	echo "leftovers: $left was not removed" >&2
	status=1
done < <(find "$tmp" -mindepth 1 -maxdepth 1 ! -path "$stamp" -print0)

while IFS= read -r -d '' left; do
	echo "leftovers: $left was created outside TMPDIR and not removed" >&2
	status=1
done < <(find /tmp -mindepth 1 -maxdepth 1 -name 'labctl*' -newer "$stamp" ! -path "$tmp" -print0)

[[ $status == 0 ]] && echo "leftovers: none (no process, no temporary file)"
exit "$status"
