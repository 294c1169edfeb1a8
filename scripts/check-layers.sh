#!/usr/bin/env bash
# Check that cli/src's layers point one way: a file in folder F includes only F's own
# headers and those of folders drawn below F in ARCHITECTURE.md's first picture (the one
# place the order is written down), and that every folder is in that picture.
set -euo pipefail
cd "$(dirname "$0")/.."

# The picture's folders, top (highest layer) first.
mapfile -t layers < <(awk '/^```/ { n++; next } n == 1 && /^[a-z]+\/ / { sub(/\/.*/, ""); print }' ARCHITECTURE.md)
declare -A rank
for i in "${!layers[@]}"; do rank[${layers[$i]}]=$i; done

status=0
for dir in cli/src/*/; do
  folder=$(basename "$dir")
  if [[ -z ${rank[$folder]+x} ]]; then
    echo "check-layers: cli/src/$folder/ is not in ARCHITECTURE.md's picture" >&2
    status=1
    continue
  fi
  while IFS=: read -r file line include; do
    target=${include#*\"}
    target=${target%%/*}
    if [[ -z ${rank[$target]+x} ]]; then
      echo "check-layers: $file:$line: includes $target/, which is not a layer" >&2
      status=1
    elif ((rank[$target] < rank[$folder])); then
      echo "check-layers: $file:$line: $folder/ includes $target/, a layer above it" >&2
      status=1
    fi
  done < <(grep -Hn '^#include "[a-z_]*/' "$dir"* || true)
done
exit $status
