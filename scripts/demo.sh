#!/usr/bin/env bash
# Fresh machine to a verdict: install dependencies, build, and boot the shipped
# debugcon scenario end to end. Extra args go to `labctl run`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
exec build/cli/labctl run scenarios/debugcon.json "$@"
