#!/usr/bin/env bash
# Fails when the generated files (deepcopy, CRD) differ from what
# `make generate` produces, so a stale CRD cannot reach a test or a cluster.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
paths=(api/v1alpha1/zz_generated.deepcopy.go manifests/crd/bases)
before=$(mktemp -d)
trap 'rm -rf "$before"' EXIT
cp -r --parents "${paths[@]}" "$before"
make -s generate
if ! diff -r "$before/manifests/crd/bases" manifests/crd/bases >/dev/null ||
   ! diff "$before/api/v1alpha1/zz_generated.deepcopy.go" api/v1alpha1/zz_generated.deepcopy.go >/dev/null; then
  echo "generated files were stale and have been regenerated: review and commit them" >&2
  git --no-pager diff --stat -- "${paths[@]}" >&2 || true
  exit 1
fi
echo ">> generated files are up to date"
