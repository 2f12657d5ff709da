#!/usr/bin/env bash
# Shared settings and helpers of hack/e2e-cluster/*.sh; sourced, never run.
# Every path the cluster writes is under $STATE, $RUN or $LOGS, so that
# down.sh can remove all of it and check that nothing is left.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$ROOT/hack/e2e-cluster"

# What the builds produce (bin/ is not committed).
KUBE_VERSION=$(awk '$1=="require" && $2=="k8s.io/kubernetes" {print $3}' "$ROOT/tools/cluster/go.mod")
CONTAINERD_VERSION=$(awk '$1=="require" && $2=="github.com/containerd/containerd/v2" {print $3}' "$ROOT/tools/containerd/go.mod")
CERT_MANAGER_VERSION=$(awk '$1=="require" && $2=="github.com/cert-manager/cert-manager" {print $3}' "$ROOT/tools/certmanager/go.mod")
E2E_BIN="$ROOT/bin/e2e"
KUBE_BIN="$E2E_BIN/kubernetes-$KUBE_VERSION"
CONTAINERD_BIN="$E2E_BIN/containerd-$CONTAINERD_VERSION"
CERT_MANAGER_BIN="$E2E_BIN/cert-manager-$CERT_MANAGER_VERSION"
IMAGES="$E2E_BIN/images"
KUBECTL="$KUBE_BIN/kubectl"

# Where the running cluster lives.
STATE=/var/lib/rrguard-e2e          # etcd, containerd, kubelet, CNI state
RUN=/run/rrguard-e2e                # sockets and pid files
WORK=${E2E_WORK:-/tmp/rrguard-e2e}  # PKI, kubeconfigs, configs, logs (kept after down.sh)
LOGS="$WORK/logs"
PKI="$WORK/pki"
CGROUP_ROOT=rrguard-e2e             # the kubelet's --cgroup-root, in every v1 hierarchy

# The cluster's own network: a bridge we create, whose address is the node's
# and the API server's, so that all cluster traffic stays on this machine.
BRIDGE=rrge2e0
NODE_IP=10.244.77.1
POD_CIDR=10.244.77.0/24
SERVICE_CIDR=10.96.77.0/24
KUBERNETES_SVC_IP=10.96.77.1
APISERVER="https://$NODE_IP:6443"
ETCD_CLIENT=http://127.0.0.1:32379
ETCD_PEER=http://127.0.0.1:32380
NODE_NAME=rrguard-e2e
CONTAINERD_SOCK="$RUN/containerd/containerd.sock"

# Image references; a non-latest tag so that the kubelet never tries a pull.
PAUSE_IMAGE=rrguard-e2e.local/pause:3.10.2
RRGUARD_IMAGE=rrguard-e2e.local/rrguard:e2e
CERT_MANAGER_IMAGE_PREFIX=rrguard-e2e.local/cert-manager
ALERTMANAGER_IMAGE=rrguard-e2e.local/alertmanager:e2e

export KUBECONFIG="$WORK/admin.kubeconfig"
export PATH="$CONTAINERD_BIN:$KUBE_BIN:$PATH"

# step prints a numbered heading; evidence prints what proves a step.
step() { printf '\n\033[1m== [%s] %s\033[0m\n' "$(date +%H:%M:%S)" "$*"; }
evidence() { printf '   \033[32mevidence:\033[0m %s\n' "$*"; }
note() { printf '   %s\n' "$*"; }
fail() { printf '\033[31mFAIL:\033[0m %s\n' "$*" >&2; exit 1; }

# wait_for SECONDS WHAT CONDITION: evaluates the shell text CONDITION (in
# single quotes, so that it is expanded anew each time) until it succeeds, or
# fails the run after SECONDS.
wait_for() {
  local seconds=$1 what=$2 cond=$3
  local deadline=$((SECONDS + seconds))
  until eval "$cond" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then fail "timed out after ${seconds}s waiting for $what"; fi
    sleep 1
  done
}

# start_daemon NAME CMD... runs CMD in the background with its log in
# $LOGS/NAME.log and its pid in $RUN/NAME.pid; down.sh stops it by that pid.
start_daemon() {
  local name=$1; shift
  mkdir -p "$LOGS" "$RUN"
  setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
  note "started $name (pid $!, log $LOGS/$name.log)"
}

# host_packages installs the Debian packages the cluster and the builds need.
host_packages() {
  [[ -z "${E2E_PACKAGES_DONE:-}" ]] || return 0
  export E2E_PACKAGES_DONE=1
  step "host: Debian packages (runc, CNI plugins, nftables, iptables, conntrack, openssl, jq, curl, envsubst, gcc)"
  local pkgs=(runc containernetworking-plugins nftables iptables conntrack openssl util-linux jq curl gettext-base gcc libc6-dev)
  local missing=()
  local p
  for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if ((${#missing[@]})); then
    note "installing ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  evidence "$(runc --version | head -1); CNI plugins in /usr/lib/cni: $(ls /usr/lib/cni | tr '\n' ' ')"
}

ctr_() { ctr --address "$CONTAINERD_SOCK" --namespace k8s.io "$@"; }
