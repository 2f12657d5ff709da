#!/usr/bin/env bash
# Usage: hack/kubernaut-check/run.sh KUBERNAUT_SOURCE_TREE [check flags...]
#
# Builds kubernaut's gateway (cmd/gateway) from the source tree, and
# rrguard's webhook and rrguard-scan from this repository, then runs the
# check (check_test.go, build tag kubernautcheck) with the flags given,
# e.g. -webhook=false, -resend-5xx, -failure-policy=Ignore -outage=60s.
# Not part of `make test`. KUBEBUILDER_ASSETS must name the control plane
# (`make testbin` builds it into bin/k8s).
set -euo pipefail
src=${1:?usage: $0 KUBERNAUT_SOURCE_TREE [check flags...]}
shift
src=$(cd "$src" && pwd)
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${KUBERNAUT_CHECK_BIN:-$repo/bin/kubernaut-check}
mkdir -p "$out"
if [[ -z "${KUBEBUILDER_ASSETS:-}" ]]; then
	KUBEBUILDER_ASSETS=$(ls -d "$repo"/bin/k8s/kube-apiserver-* 2>/dev/null | tail -1)
	export KUBEBUILDER_ASSETS
fi
echo ">> building kubernaut's gateway from $src (a cold build fetches its modules: many minutes)"
(cd "$src" && nice go build -o "$out/kubernaut-gateway" ./cmd/gateway)
echo ">> building rrguard's webhook and rrguard-scan"
(cd "$repo" && go build -o "$out/" ./cmd/webhook ./cmd/rrguard-scan)
crd="$src/config/crd/bases/kubernaut.ai_remediationrequests.yaml"
cd "$repo"
exec go test -tags kubernautcheck -count=1 -timeout 0 -v -run TestKubernautGateway ./hack/kubernaut-check \
	-args -kubernaut-gateway="$out/kubernaut-gateway" -kubernaut-crd="$crd" -rrguard-bin="$out" "$@"
