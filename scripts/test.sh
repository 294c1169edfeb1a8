#!/usr/bin/env bash
# Fresh machine to green: install dependencies, build, run the whole test suite
# (unit tests, end-to-end tests that boot the real kernel).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
cd build
ctest --output-on-failure --timeout 900 -j "$(nproc)"
