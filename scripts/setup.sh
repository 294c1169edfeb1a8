#!/usr/bin/env bash
# Install everything labctl needs on Debian 12, build and runtime alike.
# Idempotent: packages already present are not touched; a second run only checks.
set -euo pipefail

packages=(
	# build
	build-essential cmake ninja-build pkg-config g++
	libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
	libboost-dev libboost-filesystem-dev libarchive-dev
	liblzma-dev zlib1g-dev libzstd-dev libdtl-dev libre2-dev libxxhash-dev
	libgtest-dev libgmock-dev
	# checks the suite runs first: shell scripts, C++ formatting, kernel C style
	# (linux-source holds scripts/checkpatch.pl; Debian has no package of its own for it)
	shellcheck clang-format linux-source-6.1
	# fuzzing and sanitizers
	clang libclang-rt-14-dev
	# runtime: the lab itself
	qemu-system-x86 busybox-static linux-image-amd64 linux-headers-amd64
	kmod gdb
	# tests: pseudo-terminal driving; JSON reports checked against their schema
	tmux python3 python3-jsonschema
	# bench: the article-style baseline initrd is packed with cpio
	cpio
)

if [[ $(id -u) -ne 0 ]]; then
	echo "setup: must run as root (it installs Debian packages)" >&2
	exit 1
fi

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing+=("$p")
	fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
	echo "setup: all ${#packages[@]} packages already installed"
	exit 0
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "setup: done"
