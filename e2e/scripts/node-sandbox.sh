#!/usr/bin/env bash
# Makes and removes the network and mount namespaces, cgroups and private folders the local Kubernetes node runs in.
#
#   node-sandbox.sh create DIR ID   namespaces bound at DIR/ns/{net,mnt}; cgroup /jobchannel-node-ID
#   node-sandbox.sh destroy DIR ID  kills what runs in the cgroups, unmounts, removes cgroups and DIR
#   node-sandbox.sh check DIR ID    exits 1 and says what is left (process, mount, cgroup, folder)
#
# Inside the namespaces: a tmpfs on /run; DIR/var-lib and DIR/var-log bound on /var/lib and /var/log;
# loopback up; a veth pair carrying the node address (no dummy driver needed) and the route to the
# Service range; IP forwarding and
# bridge netfilter on, as kube-proxy needs them; no default route, so nothing leaves. The host's
# network, iptables, /run, /var/lib and /var/log are never touched. Needs root.
set -euo pipefail

NODE_CIDR="${JOBCHANNEL_NODE_CIDR:-172.30.0.2/24}"
# The Service range (e2e/src/control-plane.ts): routed to the veth so that kube-proxy's rules
# translate the cluster IPs of Services for processes of the node itself (the host bridge).
SERVICE_CIDR="${JOBCHANNEL_SERVICE_CIDR:-10.0.0.0/24}"

usage() {
  echo "usage: node-sandbox.sh create|destroy|check DIR ID" >&2
  exit 2
}
[[ $# -eq 3 ]] || usage
command="$1"
dir="$2"
id="$3"
[[ "$id" =~ ^[a-z0-9-]+$ ]] || {
  echo "node-sandbox: ID must be lowercase letters, digits and dashes" >&2
  exit 2
}
cgroup_name="jobchannel-node-$id"

# The cgroup v1 controllers mounted on this host (cgroup v2 has one folder, handled the same way).
cgroup_roots() {
  local root
  for root in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    [[ -f "$root/cgroup.procs" ]] && echo "${root%/}"
  done
}

create() {
  if [[ "$(id -u)" -ne 0 ]]; then
    echo "node-sandbox: the local node needs root (namespaces, mounts, cgroups)" >&2
    exit 1
  fi
  mkdir -p "$dir/ns" "$dir/var-lib" "$dir/var-log"
  # Namespace files must sit on a private mount, or binding a mount namespace there loops.
  if ! mountpoint -q "$dir/ns"; then
    mount --bind "$dir/ns" "$dir/ns"
  fi
  mount --make-private "$dir/ns"
  touch "$dir/ns/net" "$dir/ns/mnt"
  # shellcheck disable=SC2016 # $1, $2 and $3 are the inner bash's arguments
  unshare --net="$dir/ns/net" --mount="$dir/ns/mnt" --propagation private -- bash -euo pipefail -c '
    mount -t tmpfs -o mode=755 tmpfs /run
    mount --bind "$1/var-lib" /var/lib
    mount --bind "$1/var-log" /var/log
    ip link set lo up
    ip link add jc-node0 type veth peer name jc-node1
    ip addr add "$2" dev jc-node0
    ip link set jc-node0 up
    ip link set jc-node1 up
    ip route add "$3" dev jc-node0
    sysctl -qw net.ipv4.ip_forward=1
    sysctl -qw net.bridge.bridge-nf-call-iptables=1
    sysctl -qw net.ipv4.conf.all.route_localnet=1
  ' sandbox "$dir" "$NODE_CIDR" "$SERVICE_CIDR"
  local root cpus mems
  for root in $(cgroup_roots); do
    mkdir -p "$root/$cgroup_name"
    if [[ -f "$root/cpuset.cpus" ]]; then
      # A v1 cpuset cgroup takes no process until it has CPUs and memory nodes.
      cpus="$(cat "$root/cpuset.cpus")"
      mems="$(cat "$root/cpuset.mems")"
      echo "$cpus" >"$root/$cgroup_name/cpuset.cpus"
      echo "$mems" >"$root/$cgroup_name/cpuset.mems"
    fi
  done
  echo "node-sandbox: created $dir (node address ${NODE_CIDR%/*}, cgroup /$cgroup_name)"
}

# Every pid in the sandbox cgroup trees.
sandbox_pids() {
  local root
  for root in $(cgroup_roots); do
    [[ -d "$root/$cgroup_name" ]] || continue
    find "$root/$cgroup_name" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -un
}

destroy() {
  local pids root
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    pids="$(sandbox_pids | grep -vx "$$" || true)"
    [[ -z "$pids" ]] && break
    # shellcheck disable=SC2086 # one pid per word
    kill -KILL $pids 2>/dev/null || true
    sleep 0.5
  done
  for root in $(cgroup_roots); do
    [[ -d "$root/$cgroup_name" ]] || continue
    # Deepest first: a cgroup folder is removed with rmdir once its children are gone.
    find "$root/$cgroup_name" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  if [[ -d "$dir/ns" ]]; then
    umount "$dir/ns/mnt" 2>/dev/null || true
    umount "$dir/ns/net" 2>/dev/null || true
    umount "$dir/ns" 2>/dev/null || true
  fi
  # Mounts that leaked to the host under DIR (none should), deepest first, then the folder.
  local target
  for target in $(findmnt -rn -o TARGET | grep -F "$dir/" | sort -r || true); do
    umount -l "$target" 2>/dev/null || true
  done
  rm -rf "$dir"
  check
}

check() {
  local left=0 root
  if [[ -n "$(sandbox_pids)" ]]; then
    echo "node-sandbox: processes left in /$cgroup_name: $(sandbox_pids | tr '\n' ' ')" >&2
    left=1
  fi
  for root in $(cgroup_roots); do
    if [[ -d "$root/$cgroup_name" ]]; then
      echo "node-sandbox: cgroup left: $root/$cgroup_name" >&2
      left=1
    fi
  done
  if findmnt -rn -o TARGET | grep -qF "$dir"; then
    echo "node-sandbox: mounts left under $dir" >&2
    left=1
  fi
  if [[ -e "$dir" ]]; then
    echo "node-sandbox: folder left: $dir" >&2
    left=1
  fi
  return "$left"
}

case "$command" in
  create) create ;;
  destroy) destroy ;;
  check) check ;;
  *) usage ;;
esac
