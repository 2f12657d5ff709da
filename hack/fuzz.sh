#!/usr/bin/env bash
# Runs every fuzz target in the module for a short, fixed time each
# (default 5s). A crasher fails the run and is kept under testdata/fuzz by
# go test, to be committed with its fix.
set -euo pipefail
fuzztime=${1:-5s}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
found=0
while IFS= read -r pkg; do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
    found=1
    echo ">> fuzz $pkg $target for $fuzztime"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
  done
done < <(go list ./...)
[[ $found == 1 ]] || echo ">> no fuzz targets yet"
