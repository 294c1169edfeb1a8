#!/usr/bin/env bash
# Configure and build labctl into build/ (Ninja, RelWithDebInfo). Extra args go to cmake;
# LABCTL_BUILD_DIR picks another folder.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${LABCTL_BUILD_DIR:-build}
cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
cmake --build "$dir"
