#!/usr/bin/env bash
# Builds the real control plane (kube-apiserver and etcd) from source through
# the Go module proxy into bin/k8s/<versions>/, the folder KUBEBUILDER_ASSETS
# points at, and the Alertmanager the end-to-end test uses into
# bin/alertmanager-<version>/, and the promtool the alerting rules' tests run
# into bin/promtool-<version>/. Skips what is already built, so only a change
# of the pinned versions (tools/controlplane/*/go.mod,
# tools/alertmanager/go.mod, tools/promtool/go.mod) rebuilds. Cold: about 35
# minutes on 2 cores;
# warm: instant. Prints the KUBEBUILDER_ASSETS folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cp_dir="$root/tools/controlplane"

kube_version=$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$cp_dir/kube-apiserver/go.mod")
etcd_version=$(awk '$1=="require" && $2=="go.etcd.io/etcd/server/v3" {print $3}' "$cp_dir/etcd/go.mod")
out="$root/bin/k8s/kube-apiserver-${kube_version}_etcd-${etcd_version}"

if [[ "${1:-}" == "--print-dir" ]]; then
  echo "$out"
  exit 0
fi

mkdir -p "$out"
# -trimpath and no VCS stamping keep the build reproducible and cache-friendly.
if [[ ! -x "$out/etcd" ]]; then
  echo ">> building etcd ${etcd_version} from source (about 1 minute cold)..." >&2
  start=$SECONDS
  (cd "$cp_dir/etcd" && CGO_ENABLED=0 go build -trimpath -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3)
  mv "$out/etcd.tmp" "$out/etcd"
  echo ">> etcd built in $((SECONDS - start))s" >&2
fi
if [[ ! -x "$out/kube-apiserver" ]]; then
  echo ">> building kube-apiserver ${kube_version} from source (about 9 minutes cold on 2 cores)..." >&2
  start=$SECONDS
  (cd "$cp_dir/kube-apiserver" && CGO_ENABLED=0 go build -trimpath -o "$out/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver)
  mv "$out/kube-apiserver.tmp" "$out/kube-apiserver"
  echo ">> kube-apiserver built in $((SECONDS - start))s" >&2
fi

# The real Alertmanager the end-to-end test sends through (test/e2e), into the
# folder that test looks in.
am_version=$(awk '$1=="require" && $2=="github.com/prometheus/alertmanager" {print $3}' "$root/tools/alertmanager/go.mod")
am_dir="$root/bin/alertmanager-${am_version}"
if [[ -n "$am_version" && ! -x "$am_dir/alertmanager" ]]; then
  echo ">> building Alertmanager ${am_version} from source (about 2-4 minutes cold)..." >&2
  start=$SECONDS
  tmp=$(mktemp -d "$root/bin/.alertmanager-XXXXXX")
  (cd "$root/tools/alertmanager" && CGO_ENABLED=0 go build -trimpath -o "$tmp/" \
    github.com/prometheus/alertmanager/cmd/alertmanager github.com/prometheus/alertmanager/cmd/amtool)
  rm -rf "$am_dir" && mv "$tmp" "$am_dir"
  echo ">> Alertmanager built in $((SECONDS - start))s" >&2
fi

# The real promtool the alerting rules' unit tests run (manifests/,
# TestAlertingRules), without the service discoveries it does not need for
# `promtool test rules` (build tag remove_all_sd). Cold: about 21 minutes on
# 2 busy cores.
prom_version=$(awk '$1=="require" && $2=="github.com/prometheus/prometheus" {print $3}' "$root/tools/promtool/go.mod")
prom_dir="$root/bin/promtool-${prom_version}"
if [[ -n "$prom_version" && ! -x "$prom_dir/promtool" ]]; then
  echo ">> building promtool ${prom_version} from source (about 20 minutes cold on 2 busy cores)..." >&2
  start=$SECONDS
  tmp=$(mktemp -d "$root/bin/.promtool-XXXXXX")
  (cd "$root/tools/promtool" && CGO_ENABLED=0 go build -tags remove_all_sd -trimpath -o "$tmp/" \
    github.com/prometheus/prometheus/cmd/promtool)
  rm -rf "$prom_dir" && mv "$tmp" "$prom_dir"
  echo ">> promtool built in $((SECONDS - start))s" >&2
fi
echo "$out"
