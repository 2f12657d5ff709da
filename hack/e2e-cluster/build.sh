#!/usr/bin/env bash
# Builds what the one-node cluster needs and is not built yet, into bin/e2e/:
# the Kubernetes node and control-plane commands, containerd 2.x, cert-manager,
# the image builder, the pause binary, then the image tarballs (rrguard's from
# the working tree's Docker build context every run). One build at a time, each under nice -n 19.
# Cold: about 40 minutes on 2 idle cores (most of it Kubernetes); warm: under
# a minute.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

gobuild() { # gobuild MODULE_DIR OUT_DIR [go build args...]
  local dir=$1 out=$2; shift 2
  mkdir -p "$out"
  (cd "$dir" && CGO_ENABLED=0 nice -n 19 go build -trimpath -o "$out/" "$@")
}

built() { # built what dir files...: true when every file is there
  local what=$1 dir=$2; shift 2
  local f
  for f in "$@"; do [[ -x "$dir/$f" ]] || return 1; done
  note "$what: built ($dir)"
}

timed() { # timed WHAT CMD...: runs CMD and says how long it took
  local what=$1 start=$SECONDS; shift
  note "$what: building (nice -n 19)..."
  "$@"
  note "$what: built in $((SECONDS - start))s"
}

step "build: etcd and Alertmanager (hack/testbin.sh)"
K8S_ASSETS=$(nice -n 19 "$ROOT/hack/testbin.sh")
note "etcd: $K8S_ASSETS"

step "build: kube-apiserver, kubelet, kube-controller-manager, kube-scheduler, kube-proxy, kubectl $KUBE_VERSION"
# Stamped with their version (as Kubernetes' own build does), so that the
# node, the API server and cert-manager's discovery see v1.37.x rather than
# v0.0.0-master; the packages come from the build cache that hack/testbin.sh
# filled for kube-apiserver.
minor=$(cut -d. -f2 <<<"$KUBE_VERSION")
kube_ldflags="-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1"
kube_ldflags+=" -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
built kubernetes "$KUBE_BIN" kube-apiserver kubelet kube-controller-manager kube-scheduler kube-proxy kubectl ||
  timed "kubernetes $KUBE_VERSION (about 15 min cold on 2 cores after hack/testbin.sh)" gobuild "$ROOT/tools/cluster" "$KUBE_BIN" \
    -ldflags="$kube_ldflags" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl
ln -sf "$K8S_ASSETS/etcd" "$KUBE_BIN/etcd"

step "build: containerd $CONTAINERD_VERSION (the kubelet of $KUBE_VERSION needs containerd 2.x)"
built containerd "$CONTAINERD_BIN" containerd containerd-shim-runc-v2 ctr ||
  timed "containerd (about 4 min cold)" gobuild "$ROOT/tools/containerd" "$CONTAINERD_BIN" -tags no_btrfs \
    github.com/containerd/containerd/v2/cmd/containerd \
    github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
    github.com/containerd/containerd/v2/cmd/ctr

step "build: cert-manager $CERT_MANAGER_VERSION controller, cainjector, webhook"
built cert-manager "$CERT_MANAGER_BIN" controller cainjector webhook ||
  timed "cert-manager (about 8 min cold)" gobuild "$ROOT/tools/certmanager" "$CERT_MANAGER_BIN" \
    github.com/cert-manager/cert-manager/cmd/controller \
    github.com/cert-manager/cert-manager/cmd/cainjector \
    github.com/cert-manager/cert-manager/cmd/webhook

step "build: the image builder (tools/ociimage) and the pause binary"
built ociimage "$E2E_BIN" ociimage || timed ociimage gobuild "$ROOT/tools/ociimage" "$E2E_BIN" .
if ! built pause "$E2E_BIN" pause; then
  # The pause container from Kubernetes' own C source (build/pause in the
  # k8s.io/kubernetes module), linked statically.
  pause_src=$(cd "$ROOT/tools/cluster" && go mod download -json k8s.io/kubernetes | jq -r .Dir)/build/pause/linux/pause.c
  timed pause nice -n 19 gcc -Os -Wall -Werror -static -DVERSION=v3.10.2-rrguard-e2e -o "$E2E_BIN/pause" "$pause_src"
fi

step "build: rrguard's webhook and gateway from the Docker build context (the Dockerfile's build stage)"
# Not a go build of the working tree: hack/imagebuild copies what
# .dockerignore lets through, places it as the Dockerfile's COPYs do, and
# runs the Dockerfile's go build there, as internal/imagebuild's test does.
mkdir -p "$E2E_BIN/rrguard"
timed rrguard bash -c 'cd "$1" && CGO_ENABLED=0 nice -n 19 go run ./hack/imagebuild -o "$2"' _ "$ROOT" "$E2E_BIN/rrguard"

step "build: image tarballs (static binaries on an empty base, user 65532)"
mkdir -p "$IMAGES"
img() { # img FILE REF ENTRYPOINT SRC=DST...
  local file=$1 ref=$2 entry=$3; shift 3
  "$E2E_BIN/ociimage" -o "$IMAGES/$file" -ref "$ref" -entrypoint "$entry" "$@"
  note "$ref -> $IMAGES/$file ($(du -h "$IMAGES/$file" | cut -f1))"
}
img pause.tar "$PAUSE_IMAGE" /pause "$E2E_BIN/pause=/pause"
img rrguard.tar "$RRGUARD_IMAGE" /webhook "$E2E_BIN/rrguard/webhook=/webhook" "$E2E_BIN/rrguard/gateway=/gateway"
for c in controller cainjector webhook; do
  img "cert-manager-$c.tar" "$CERT_MANAGER_IMAGE_PREFIX-$c:$CERT_MANAGER_VERSION" "/$c" "$CERT_MANAGER_BIN/$c=/$c"
done
am_version=$(awk '$1=="require" && $2=="github.com/prometheus/alertmanager" {print $3}' "$ROOT/tools/alertmanager/go.mod")
img alertmanager.tar "$ALERTMANAGER_IMAGE" /alertmanager "$ROOT/bin/alertmanager-$am_version/alertmanager=/alertmanager"
