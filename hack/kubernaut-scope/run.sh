#!/usr/bin/env bash
# Run by hand, not by `make test`: compares rrguard's management scope
# (gateway/scope) with kubernaut's own (pkg/shared/scope) on the same
# targets and objects.
#
#   hack/kubernaut-scope/run.sh /path/to/kubernaut
#
# The expected differences, argued in docs/design.md §3: a Secret's and a
# ConfigMap's own label, which rrguard never reads (kubernaut's own gateway
# cannot read a Secret's either: its RBAC has none, so its Get is refused and
# the namespace decides, as in rrguard).
set -euo pipefail
src=${1:?usage: $0 KUBERNAUT_SOURCE_TREE}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/kscope"
for f in manager.go checker.go cache.go namespace.go; do
  sed 's/^package scope$/package kscope/' "$src/pkg/shared/scope/$f" >"$work/kscope/$f"
done
sed '/^\/\/go:build ignore$/d' "$root/hack/kubernaut-scope/compare.go" >"$work/main.go"
cat >"$work/go.mod" <<MOD
module scopecmp

go 1.26

require github.com/rrguard/rrguard v0.0.0

replace github.com/rrguard/rrguard => $root
MOD
cd "$work"
GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1
go run .
