#!/usr/bin/env bash
# Install everything labctl needs on Debian 12, build and runtime alike.
# Idempotent: packages already present are not touched; a second run only checks.
set -euo pipefail

packages=(
	# build
	build-essential cmake ninja-build pkg-config g++
	libcli11-dev libspdlog-dev libfmt-dev nlohmann-json3-dev
	libboost-dev libboost-filesystem-dev libarchive-dev
	liblzma-dev zlib1g-dev libzstd-dev libdtl-dev libre2-dev libxxhash-dev libdw-dev
	libgtest-dev libgmock-dev
	# checks the suite runs first: shell scripts, C++ formatting, kernel C style
	# (linux-source holds scripts/checkpatch.pl; Debian has no package of its own for it)
	shellcheck clang-format linux-source-6.1
	# fuzzing and sanitizers
	clang libclang-rt-14-dev
	# runtime: the lab itself
	qemu-system-x86 busybox-static linux-image-amd64 linux-headers-amd64
	kmod gdb
	# DKMS source folders: their PATCH[n] are applied with patch -p1, as dkms does
	patch
	# the second kernel series of Debian 12 (the kernel matrix); its kbuild runs pahole
	linux-image-6.12-amd64 linux-headers-6.12-amd64 dwarves
	# tests: pseudo-terminal driving; JSON reports checked against their schema
	tmux python3 python3-jsonschema
	# bench: the article-style baseline initrd is packed with cpio
	cpio
	# packaging: cpack -G DEB (dpkg-shlibdeps from dpkg-dev; file finds the binaries), the
	# man page rendered with man -l (man-db), the CI recipes parsed (python3-yaml)
	dpkg-dev file man-db python3-yaml
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

# Debian DKMS source packages the tests build (never installed: installing a DKMS package
# builds it into the host's /lib/modules); the tests unpack them with dpkg-deb -x.
test_debs_dir=/var/cache/labctl-test/debs
test_debs=(vpoll-dkms dm-writeboost-dkms)
missing_debs=()
for p in "${test_debs[@]}"; do
	if ! compgen -G "$test_debs_dir/${p}_*.deb" >/dev/null; then
		missing_debs+=("$p")
	fi
done

if [[ ${#missing[@]} -eq 0 && ${#missing_debs[@]} -eq 0 ]]; then
	echo "setup: all ${#packages[@]} packages installed, ${#test_debs[@]} test packages in $test_debs_dir"
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
if [[ ${#missing[@]} -gt 0 ]]; then
	echo "setup: installing ${missing[*]}"
	apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
if [[ ${#missing_debs[@]} -gt 0 ]]; then
	echo "setup: downloading ${missing_debs[*]} into $test_debs_dir"
	mkdir -p "$test_debs_dir"
	# apt's sandbox user cannot write there; the download is checked against the archive's
	# signed hashes all the same
	(cd "$test_debs_dir" && apt-get download -q -o APT::Sandbox::User=root "${missing_debs[@]}")
fi
echo "setup: done"
