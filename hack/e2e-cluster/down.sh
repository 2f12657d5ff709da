#!/usr/bin/env bash
# Tears the one-node cluster down and checks that nothing is left: every
# process it started (by the pids up.sh recorded, and the processes in its
# cgroups), its mounts, network namespaces, bridge, nftables tables, cgroups
# and state. Safe to run when nothing runs. Logs stay in $WORK/logs.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stop_pid() { # stop_pid NAME: SIGTERM by its pid file, SIGKILL after 20s
  local f="$RUN/$1.pid" pid
  [[ -f "$f" ]] || return 0
  pid=$(cat "$f")
  echo "$1 $pid" >>"$WORK/pids.stopped"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

# cgroup_pids: every process in the kubelet's cgroup tree (the pods).
cgroup_pids() {
  find /sys/fs/cgroup/pids/"$CGROUP_ROOT" /sys/fs/cgroup/memory/"$CGROUP_ROOT" -name cgroup.procs \
    -exec cat {} + 2>/dev/null | sort -u
}

# shim_pids: containerd's shims for our socket.
shim_pids() {
  local p
  for p in $(pgrep -x containerd-shim 2>/dev/null; pgrep -f containerd-shim-runc-v2 2>/dev/null); do
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$CONTAINERD_SOCK" && echo "$p"
  done | sort -u
}

stop_cluster() {
  step "tear-down: stop the pods, then the node and the control plane"
  if [[ -f "$RUN/kube-apiserver.pid" && -f "$RUN/kubelet.pid" ]] && kubectl get --raw /readyz >/dev/null 2>&1; then
    # Let the kubelet stop the pods and their sandboxes (CNI DEL) itself.
    local ns
    for ns in $(kubectl get ns -o jsonpath='{.items[*].metadata.name}'); do
      case $ns in default | kube-system | kube-public | kube-node-lease) ;; *) kubectl delete ns "$ns" --wait=false >/dev/null 2>&1 || true ;; esac
    done
    kubectl delete pods --all -A --grace-period=5 --timeout=90s >/dev/null 2>&1 || true
  fi
  local c
  for c in kube-proxy kube-scheduler kube-controller-manager kubelet; do stop_pid "$c"; done
  if [[ -S "$CONTAINERD_SOCK" ]]; then
    for c in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s KILL "$c" >/dev/null 2>&1 || true; done
    sleep 1
    for c in $(ctr_ containers ls -q 2>/dev/null); do
      ctr_ tasks delete -f "$c" >/dev/null 2>&1 || true
      ctr_ containers delete "$c" >/dev/null 2>&1 || true
    done
  fi
  local p
  for p in $(cgroup_pids) $(shim_pids); do kill -9 "$p" 2>/dev/null || true; done
  for c in containerd kube-apiserver etcd; do stop_pid "$c"; done
}

# clean_netfilter: the tables kube-proxy and the kubelet created (kube-proxy's
# nftables, the kubelet's iptables-nft canaries and KUBE-FIREWALL); in a table
# that was there before the cluster, only the KUBE-* chains and the rules
# that jump to them.
clean_netfilter() {
  local t ipt
  while read -r t; do
    if [[ -f "$WORK/nft.before" ]] && grep -qxF "$t" "$WORK/nft.before"; then continue; fi
    # shellcheck disable=SC2086 # "table FAMILY NAME" is three words
    nft delete $t 2>/dev/null || true
  done < <(nft list tables 2>/dev/null | grep -E '^table (ip|ip6) ')
  for ipt in iptables ip6tables; do
    for t in filter nat mangle; do
      "$ipt" -t "$t" -S 2>/dev/null | grep -E '^-A .* -j KUBE-' | sed 's/^-A/-D/' |
        while read -r rule; do eval "$ipt -t $t $rule" 2>/dev/null || true; done || true
      "$ipt" -t "$t" -S 2>/dev/null | awk '/^-N KUBE-/ {print $2}' |
        while read -r chain; do "$ipt" -t "$t" -F "$chain" 2>/dev/null; "$ipt" -t "$t" -X "$chain" 2>/dev/null || true; done || true
    done
  done
}

clean_host() {
  step "tear-down: mounts, network namespaces, bridge, nftables, cgroups, state"
  local m
  # Deepest first: the kubelet's volume mounts, containerd's rootfs mounts.
  for m in $(awk '{print $5}' /proc/self/mountinfo | grep -E "^($STATE|$RUN)" | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  if [[ -f "$WORK/netns.before" ]]; then
    for m in $(ip netns list | awk '{print $1}' | grep '^cni-' | grep -vxFf "$WORK/netns.before" || true); do
      ip netns delete "$m" 2>/dev/null || true
    done
  fi
  clean_netfilter
  ip link delete "$BRIDGE" 2>/dev/null || true
  if [[ -f "$WORK/sysctl.orig" ]]; then
    { read -r fwd; read -r brnf; } <"$WORK/sysctl.orig"
    sysctl -qw net.ipv4.ip_forward="$fwd" net.bridge.bridge-nf-call-iptables="$brnf"
    rm -f "$WORK/sysctl.orig"
  fi
  local h
  for h in /sys/fs/cgroup/*/"$CGROUP_ROOT"; do
    [[ -d "$h" ]] && find "$h" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  rm -rf "$STATE" "$RUN"
  if [[ -d "$WORK" && ! -e "$WORK/run-containerd.before" && -d /run/containerd ]]; then
    find /run/containerd -depth -type d -empty -delete
  fi
}

verify_clean() {
  step "tear-down: nothing left running"
  local left=()
  local f
  for f in $(cgroup_pids) $(shim_pids); do left+=("process $f: $(tr '\0' ' ' <"/proc/$f/cmdline" 2>/dev/null)"); done
  local name pid exe
  while read -r name pid; do
    kill -0 "$pid" 2>/dev/null && left+=("$name (pid $pid)")
  done < <(cat "$WORK/pids.stopped" 2>/dev/null)
  rm -f "$WORK/pids.stopped"
  # Anything still running a binary built for the cluster (bin/e2e).
  for f in /proc/[0-9]*; do
    exe=$(readlink "$f/exe" 2>/dev/null) || continue
    [[ "$exe" == "$E2E_BIN"/* || "$exe" == "$(realpath "$E2E_BIN")"/* ]] && left+=("pid ${f#/proc/}: $exe")
  done
  grep -qE " ($STATE|$RUN)" /proc/self/mountinfo && left+=("mounts under $STATE or $RUN")
  ip link show "$BRIDGE" >/dev/null 2>&1 && left+=("the bridge $BRIDGE")
  nft list table ip kube-proxy >/dev/null 2>&1 && left+=("the nftables table ip kube-proxy")
  nft list ruleset 2>/dev/null | grep -q 'chain KUBE-' && left+=("KUBE-* netfilter chains")
  ls -d /sys/fs/cgroup/*/"$CGROUP_ROOT" >/dev/null 2>&1 && left+=("cgroups /$CGROUP_ROOT")
  [[ -e "$STATE" || -e "$RUN" ]] && left+=("$STATE or $RUN")
  if ((${#left[@]})); then
    printf '   left: %s\n' "${left[@]}" >&2
    fail "tear-down left something behind"
  fi
  evidence "no process, mount, network namespace, bridge, nftables table, cgroup or state of the cluster is left"
}

stop_cluster
clean_host
verify_clean
