#!/usr/bin/env bash
# Starts the one-node cluster: host packages, a bridge network, etcd,
# kube-apiserver, containerd 2.x (with the images imported), the kubelet,
# kube-controller-manager, kube-scheduler and kube-proxy; waits for the node to
# be Ready. down.sh undoes all of it. About 1 minute.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$HERE/pki.sh"

host_cgroups() {
  step "host: cgroups (the kubelet's root cgroup /$CGROUP_ROOT in every v1 hierarchy)"
  if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
    note "cgroup v2 (unified) host"
    mkdir -p "/sys/fs/cgroup/$CGROUP_ROOT"
  else
    note "cgroup v1 host (v2 only at /sys/fs/cgroup/unified, controllers: $(cat /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null || echo none))"
    note "the kubelet runs with failCgroupV1: false; cgroup v2 cannot be had here: the memory controller is bound to the v1 hierarchy, which holds this sandbox's own cgroups"
    local h
    for h in /sys/fs/cgroup/*/; do
      [[ "$h" == */unified/ ]] && continue
      mkdir -p "$h$CGROUP_ROOT"
    done
    # A new v1 cpuset is empty and admits no task: give it its parent's.
    cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset/$CGROUP_ROOT/cpuset.cpus"
    cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset/$CGROUP_ROOT/cpuset.mems"
  fi
  evidence "$(ls -d /sys/fs/cgroup/*/$CGROUP_ROOT 2>/dev/null | wc -l) hierarchies hold /$CGROUP_ROOT"
}

host_network() {
  step "host: the bridge $BRIDGE ($NODE_IP, pods $POD_CIDR, services $SERVICE_CIDR) and its CNI config"
  mkdir -p "$WORK"
  # Kept for down.sh, which puts them back.
  sysctl -n net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables >"$WORK/sysctl.orig"
  ip netns list | awk '{print $1}' >"$WORK/netns.before"
  nft list tables >"$WORK/nft.before"
  # The shims' sockets and fifos go to /run/containerd/{s,fifo} whatever the
  # configuration says; down.sh removes that folder if it was not there.
  [[ -e /run/containerd ]] && touch "$WORK/run-containerd.before"
  ip link add "$BRIDGE" type bridge
  ip addr add "$NODE_IP/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # The host's own connections to Services (the API server calling a
  # webhook) leave from the node address, over the bridge.
  ip route add "$SERVICE_CIDR" dev "$BRIDGE" src "$NODE_IP"
  sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1
  mkdir -p "$STATE/cni/net.d" "$STATE/cni/ipam"
  cat >"$STATE/cni/net.d/10-rrguard-e2e.conflist" <<CNI
{
  "cniVersion": "1.0.0",
  "name": "rrguard-e2e",
  "plugins": [
    {
      "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {"type": "host-local", "dataDir": "$STATE/cni/ipam",
               "ranges": [[{"subnet": "$POD_CIDR", "rangeStart": "10.244.77.10", "gateway": "$NODE_IP"}]],
               "routes": [{"dst": "0.0.0.0/0"}]}
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
CNI
  evidence "$(ip -4 -o addr show dev "$BRIDGE" | awk '{print $2, $4}'); ip_forward=$(sysctl -n net.ipv4.ip_forward)"
}

control_plane() {
  step "control plane: etcd and kube-apiserver $KUBE_VERSION"
  start_daemon etcd etcd --name rrguard-e2e --data-dir "$STATE/etcd" \
    --listen-client-urls "$ETCD_CLIENT" --advertise-client-urls "$ETCD_CLIENT" \
    --listen-peer-urls "$ETCD_PEER" --initial-advertise-peer-urls "$ETCD_PEER" \
    --initial-cluster "rrguard-e2e=$ETCD_PEER" --unsafe-no-fsync
  local sa_issuer=https://kubernetes.default.svc.cluster.local
  start_daemon kube-apiserver kube-apiserver --etcd-servers "$ETCD_CLIENT" \
    --advertise-address "$NODE_IP" --bind-address "$NODE_IP" --secure-port 6443 \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$PKI/ca.crt" --kubelet-preferred-address-types InternalIP \
    --service-account-issuer "$sa_issuer" --api-audiences "$sa_issuer" \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --profiling=false
  wait_for 120 "kube-apiserver /readyz" 'kubectl get --raw /readyz'
  evidence "kube-apiserver ready at $APISERVER: $(kubectl version -o json | sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p' | tail -1)"
}

containerd_up() {
  step "node: containerd $CONTAINERD_VERSION on runc, images imported from tarballs (no registry)"
  mkdir -p "$WORK" "$RUN/containerd"
  local restrict_oom=false
  if ! (echo -1 >/proc/self/oom_score_adj) 2>/dev/null; then
    restrict_oom=true
    note "no CAP_SYS_RESOURCE here (CapEff $(awk '/CapEff/{print $2}' /proc/self/status)): oom_score_adj cannot go below 0; containerd's restrict_oom_score_adj = true"
  fi
  cat >"$WORK/containerd.toml" <<TOML
version = 3
root = "$STATE/containerd"
state = "$RUN/containerd/state"
[grpc]
  address = "$CONTAINERD_SOCK"
[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "$PAUSE_IMAGE"
[plugins.'io.containerd.cri.v1.runtime']
  # This sandbox lacks CAP_SYS_RESOURCE, so no process may lower its
  # oom_score_adj below containerd's (0): without this, runc fails every pod
  # sandbox (-998) with "failed to update /proc/self/oom_score_adj:
  # Permission denied".
  restrict_oom_score_adj = $restrict_oom
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
      BinaryName = "$(command -v runc)"
      Root = "$RUN/runc"
      SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "$STATE/cni/net.d"
TOML
  start_daemon containerd containerd --config "$WORK/containerd.toml"
  wait_for 60 "containerd" 'ctr --address "$CONTAINERD_SOCK" version'
  local t
  for t in "$IMAGES"/*.tar; do
    ctr_ images import "$t" >/dev/null 2>>"$LOGS/ctr.log"
  done
  evidence "containerd $(ctr --address "$CONTAINERD_SOCK" version 2>>"$LOGS/ctr.log" | awk '/Server/{s=1} s&&/Version/{print $2; exit}'); images:"
  ctr_ images ls -q 2>>"$LOGS/ctr.log" | grep -v '^sha256:' | sed 's/^/     /'
}

node_up() {
  step "node: kubelet $KUBE_VERSION, kube-controller-manager, kube-scheduler, kube-proxy (nftables)"
  cat >"$WORK/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /$CGROUP_ROOT
containerRuntimeEndpoint: unix://$CONTAINERD_SOCK
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10348
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
failSwapOn: false
serializeImagePulls: false
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%}
YAML
  start_daemon kubelet kubelet --config "$WORK/kubelet.yaml" --kubeconfig "$WORK/kubelet.kubeconfig" \
    --root-dir "$STATE/kubelet" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP"
  start_daemon kube-controller-manager kube-controller-manager \
    --kubeconfig "$WORK/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$WORK/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$WORK/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 10357 --leader-elect=false \
    --use-service-account-credentials --root-ca-file "$PKI/ca.crt" \
    --service-account-private-key-file "$PKI/sa.key" --service-cluster-ip-range "$SERVICE_CIDR"
  start_daemon kube-scheduler kube-scheduler --kubeconfig "$WORK/scheduler.kubeconfig" \
    --authentication-kubeconfig "$WORK/scheduler.kubeconfig" \
    --authorization-kubeconfig "$WORK/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port 10359 --leader-elect=false
  cat >"$WORK/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
clientConnection: {kubeconfig: $WORK/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
clusterCIDR: $POD_CIDR
metricsBindAddress: 127.0.0.1:10349
healthzBindAddress: 127.0.0.1:10356
conntrack: {maxPerCore: 0}
YAML
  start_daemon kube-proxy kube-proxy --config "$WORK/kube-proxy.yaml"
  wait_for 180 "node $NODE_NAME Ready" 'kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=5s'
  evidence "node Ready:"
  kubectl get nodes -o wide | sed 's/^/     /'
  wait_for 60 "the default ServiceAccount" 'kubectl -n default get serviceaccount default'
  wait_for 60 "the kube-root-ca.crt ConfigMap" 'kubectl -n default get configmap kube-root-ca.crt'
}

main() {
  [[ $EUID -eq 0 ]] || fail "run as root: the cluster needs network namespaces, cgroups and mounts"
  [[ ! -e "$RUN" ]] || fail "$RUN exists: a cluster is running (or was not torn down); run hack/e2e-cluster/down.sh"
  rm -rf "$WORK" && mkdir -p "$WORK" "$LOGS"
  host_packages
  host_cgroups
  host_network
  step "PKI: a CA, serving and client certificates, kubeconfigs (openssl)"
  write_pki
  evidence "$(ls "$PKI"/*.crt | wc -l) certificates in $PKI; admin kubeconfig $KUBECONFIG"
  control_plane
  containerd_up
  node_up
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then main "$@"; fi
