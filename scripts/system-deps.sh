#!/usr/bin/env bash
# Installs the system programs the test suites run for real (Redis, Prometheus, Chromium, OpenSSL,
# the local Kubernetes node's runc, CNI plugins, iptables, conntrack, the daemonless image tools
# buildah, umoci, skopeo and mmdebstrap, and shellcheck for make lint-shell) when they are
# missing: with apt-get as root on Debian, otherwise it says what to install.
set -euo pipefail

declare -A packages=(
  [redis-server]=redis-server
  [prometheus]=prometheus
  [promtool]=prometheus
  [chromium]=chromium
  [openssl]=openssl
  [runc]=runc
  [/usr/lib/cni/bridge]=containernetworking-plugins
  [iptables]=iptables
  [conntrack]=conntrack
  [nsenter]=util-linux
  [ip]=iproute2
  [buildah]=buildah
  [umoci]=umoci
  [skopeo]=skopeo
  [mmdebstrap]=mmdebstrap
  [shellcheck]=shellcheck
)

missing=()
for cmd in "${!packages[@]}"; do
  if [[ "$cmd" == /* ]]; then
    [[ -e "$cmd" ]] || missing+=("${packages[$cmd]}")
  else
    command -v "$cmd" >/dev/null 2>&1 || missing+=("${packages[$cmd]}")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: installing ${missing[*]} (needed by the test suites)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts the packaged services; the tests start their own on free ports.
  for svc in redis-server prometheus; do
    if command -v systemctl >/dev/null 2>&1; then systemctl disable --now "$svc" >/dev/null 2>&1 || true; fi
    if command -v service >/dev/null 2>&1; then service "$svc" stop >/dev/null 2>&1 || true; fi
  done
else
  echo "system-deps: missing ${missing[*]}." >&2
  echo "  Install them with your package manager (Debian: sudo apt-get install -y ${missing[*]})," >&2
  echo "  then run the tests again." >&2
  exit 1
fi
