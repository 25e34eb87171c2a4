#!/usr/bin/env bash
# Builds the pinned Kubernetes binary (etcd, control plane, node components, kubectl), helm, containerd, CoreDNS and SeaweedFS's weed (the worker's S3 test server) into a cache outside the repo, then links them into bin/; fetches the pinned upstream CRDs the chart's server-side dry-run installs into bin/crds/.
#
# The cache lives in ${JOBCHANNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jobchannel} so that a fresh
# clone on the same machine (CI) reuses the build. Each tool sits under <tool>/<key>/, where the key
# is the sha256 of everything that decides the binary: the module files, the wrapper's source, the
# pinned versions, the link flags and the Go toolchain. A matching key means no build at all.
set -euo pipefail

# Pinned versions. go.mod pins the modules; these stamp the binaries and enter the cache key.
KUBERNETES_VERSION=v1.35.4
HELM_VERSION=v4.3.1
CONTAINERD_VERSION=v2.4.2
COREDNS_VERSION=v1.14.7
# SeaweedFS publishes no module versions: e2e/seaweedfs/go.mod pins this pseudo-version.
SEAWEEDFS_VERSION=v0.0.0-20261109003541-7506e5f91cd6
# Upstream CRDs, fetched (not built) from their Go modules. gateway-api v1.7.0 needs Go 1.27.
PROMETHEUS_OPERATOR_VERSION=v0.85.0
GATEWAY_API_VERSION=v1.6.3

E2E_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_DIR="$(cd "$E2E_DIR/.." && pwd)"
BIN_DIR="${JOBCHANNEL_BIN_DIR:-$REPO_DIR/bin}"
CACHE_DIR="${JOBCHANNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jobchannel}"

say() { printf 'build-tools: %s\n' "$*" >&2; }

GO="${GO:-$(command -v go || true)}"
if [[ -z "$GO" && -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go; fi
if [[ -z "$GO" ]]; then
  say "no Go toolchain found: put go on PATH or set GO=/path/to/go"
  exit 1
fi
GO_IDENTITY="$("$GO" env GOVERSION GOOS GOARCH | tr '\n' ' ')"

k8s_minor="${KUBERNETES_VERSION#v1.}"
k8s_minor="${k8s_minor%%.*}"
K8S_LDFLAGS="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  K8S_LDFLAGS+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
  K8S_LDFLAGS+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit="
done
HELM_LDFLAGS="-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
CONTAINERD_LDFLAGS="-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION"
# containerd's own release tags for a static build; the shim needs no gRPC server (upstream's Makefile adds no_grpc for it too).
CONTAINERD_TAGS="urfave_cli_no_docs osusergo netgo static_build"
COREDNS_LDFLAGS="-s -w"
SEAWEEDFS_LDFLAGS="-s -w"

# cache_key FILE... : sha256 over the named files and the given version strings.
cache_key() {
  local versions="$1"
  shift
  {
    printf '%s\n' "$versions" "$GO_IDENTITY"
    for f in "$@"; do
      printf '== %s\n' "${f#"$E2E_DIR"/}"
      cat "$f"
    done
  } | sha256sum | cut -c1-16
}

# build_tool NAME KEY DESCRIPTION MODULE_DIR LDFLAGS TAGS PACKAGE... : builds the packages into
# $CACHE_DIR/NAME/KEY/ (each executable named after its package) unless $CACHE_DIR/NAME/KEY/NAME is there.
build_tool() {
  local name="$1" key="$2" what="$3" module_dir="$4" ldflags="$5" tags="$6"
  shift 6
  local dir="$CACHE_DIR/$name/$key"
  if [[ -x "$dir/$name" ]]; then
    say "reusing $what from $dir (cache key $key matches)"
    return
  fi
  local reason="no cached build for key $key"
  if [[ -d "$CACHE_DIR/$name" ]] && compgen -G "$CACHE_DIR/$name/*/$name" >/dev/null; then
    reason="$reason (the cached builds have other keys: pinned versions, go.mod/go.sum, the wrapper or Go changed)"
  fi
  say "building $what because $reason; a cold build takes minutes on 2 cores"
  local start=$SECONDS tmp="$CACHE_DIR/$name/.tmp-$key-$$"
  mkdir -p "$tmp"
  # shellcheck disable=SC2064 # expanded now: $tmp is local, gone by the time EXIT fires
  trap "rm -rf '$tmp'" EXIT
  (cd "$module_dir" && CGO_ENABLED=0 "$GO" build -mod=readonly -buildvcs=false -trimpath \
    -tags "$tags" -ldflags "$ldflags" -o "$tmp/" "$@")
  rm -rf "$dir"
  mv "$tmp" "$dir"
  trap - EXIT
  say "built $what in $((SECONDS - start))s into $dir"
  prune "$name"
}

# prune NAME : keeps the three newest cached builds of a tool (other branches may still want theirs).
prune() {
  local old
  # shellcheck disable=SC2012 # ls -t orders by time; the names are hex cache keys
  old="$(ls -1dt "$CACHE_DIR/$1"/*/ 2>/dev/null | tail -n +4)"
  if [[ -n "$old" ]]; then
    say "removing older cached builds of $1: $(echo "$old" | xargs -n1 basename | tr '\n' ' ')"
    echo "$old" | xargs rm -rf
  fi
}

# link_into_bin SOURCE NAME : puts SOURCE at bin/NAME (hard link when possible, else a copy).
link_into_bin() {
  local source="$1" name="$2"
  mkdir -p "$BIN_DIR"
  rm -f "$BIN_DIR/$name"
  ln "$source" "$BIN_DIR/$name" 2>/dev/null || cp "$source" "$BIN_DIR/$name"
}

# fetch_crds NAME MODULE VERSION FOLDER FILE... : copies FOLDER/FILE... of the Go module
# MODULE@VERSION (downloaded through GOPROXY and checked against the Go checksum database) into
# $CACHE_DIR/crds/NAME-VERSION/ unless they are there, and links bin/crds/NAME to that folder.
fetch_crds() {
  local name="$1" module="$2" version="$3" folder="$4"
  shift 4
  local dir="$CACHE_DIR/crds/$name-$version"
  if [[ -f "$dir/.complete" ]]; then
    say "reusing $module@$version's CRDs from $dir"
  else
    say "fetching $module@$version (go mod download) for its $folder"
    local json source tmp="$CACHE_DIR/crds/.tmp-$name-$$"
    # Outside any module, so that no go.mod of this repository takes part.
    json="$(cd "$CACHE_DIR" && GOFLAGS=-mod=mod "$GO" mod download -json "$module@$version")" || true
    source="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$json")"
    if grep -q '"Error"' <<<"$json" || [[ -z "$source" || ! -d "$source/$folder" ]]; then
      say "$module@$version gave no $folder: $json"
      exit 1
    fi
    rm -rf "$tmp"
    mkdir -p "$tmp"
    for file in "$@"; do cp "$source/$folder/$file" "$tmp/"; done
    chmod u+w "$tmp"/*
    touch "$tmp/.complete"
    rm -rf "$dir"
    mv "$tmp" "$dir"
  fi
  mkdir -p "$BIN_DIR/crds"
  ln -sfn "$dir" "$BIN_DIR/crds/$name"
}

mkdir -p "$CACHE_DIR"
# One build at a time per cache: a second caller waits, then finds the build done.
exec 9>"$CACHE_DIR/.build-tools.lock"
flock 9

controlplane_key="$(cache_key "kubernetes=$KUBERNETES_VERSION ldflags=$K8S_LDFLAGS" \
  "$E2E_DIR/controlplane/go.mod" "$E2E_DIR/controlplane/go.sum" "$E2E_DIR/controlplane/main.go")"
helm_key="$(cache_key "helm=$HELM_VERSION ldflags=$HELM_LDFLAGS" \
  "$E2E_DIR/helm/go.mod" "$E2E_DIR/helm/go.sum")"
containerd_key="$(cache_key "containerd=$CONTAINERD_VERSION ldflags=$CONTAINERD_LDFLAGS tags=$CONTAINERD_TAGS" \
  "$E2E_DIR/containerd/go.mod" "$E2E_DIR/containerd/go.sum")"
coredns_key="$(cache_key "coredns=$COREDNS_VERSION ldflags=$COREDNS_LDFLAGS" \
  "$E2E_DIR/coredns/go.mod" "$E2E_DIR/coredns/go.sum" "$E2E_DIR/coredns/main.go")"
seaweedfs_key="$(cache_key "seaweedfs=$SEAWEEDFS_VERSION ldflags=$SEAWEEDFS_LDFLAGS" \
  "$E2E_DIR/seaweedfs/go.mod" "$E2E_DIR/seaweedfs/go.sum")"

phase_start=$SECONDS
build_tool controlplane "$controlplane_key" \
  "controlplane $KUBERNETES_VERSION (etcd, control plane, kubelet, kube-proxy, kubectl)" \
  "$E2E_DIR/controlplane" "$K8S_LDFLAGS" "" .
build_tool helm "$helm_key" "helm $HELM_VERSION" "$E2E_DIR/helm" "$HELM_LDFLAGS" "" helm.sh/helm/v4/cmd/helm
# The `tool` pattern builds the module's tool directives: containerd, containerd-shim-runc-v2 and ctr.
build_tool containerd "$containerd_key" "containerd $CONTAINERD_VERSION (containerd, containerd-shim-runc-v2, ctr)" \
  "$E2E_DIR/containerd" "$CONTAINERD_LDFLAGS" "$CONTAINERD_TAGS" tool
build_tool coredns "$coredns_key" "CoreDNS $COREDNS_VERSION" "$E2E_DIR/coredns" "$COREDNS_LDFLAGS" "" .
build_tool weed "$seaweedfs_key" "SeaweedFS weed $SEAWEEDFS_VERSION" "$E2E_DIR/seaweedfs" "$SEAWEEDFS_LDFLAGS" "" tool

link_into_bin "$CACHE_DIR/controlplane/$controlplane_key/controlplane" controlplane
link_into_bin "$CACHE_DIR/helm/$helm_key/helm" helm
for tool in containerd containerd-shim-runc-v2 ctr; do
  link_into_bin "$CACHE_DIR/containerd/$containerd_key/$tool" "$tool"
done
link_into_bin "$CACHE_DIR/coredns/$coredns_key/coredns" coredns
link_into_bin "$CACHE_DIR/weed/$seaweedfs_key/weed" weed
# The controlplane binary runs as kubectl when called by that name.
ln -sfn controlplane "$BIN_DIR/kubectl"
fetch_crds prometheus-operator github.com/prometheus-operator/prometheus-operator \
  "$PROMETHEUS_OPERATOR_VERSION" example/prometheus-operator-crd \
  monitoring.coreos.com_servicemonitors.yaml monitoring.coreos.com_podmonitors.yaml \
  monitoring.coreos.com_prometheusrules.yaml
fetch_crds gateway-api sigs.k8s.io/gateway-api "$GATEWAY_API_VERSION" config/crd/standard \
  gateway.networking.k8s.io_gatewayclasses.yaml gateway.networking.k8s.io_gateways.yaml \
  gateway.networking.k8s.io_httproutes.yaml gateway.networking.k8s.io_referencegrants.yaml
say "ready in $((SECONDS - phase_start))s: $BIN_DIR/controlplane, kubectl ($KUBERNETES_VERSION), helm ($HELM_VERSION), containerd ($CONTAINERD_VERSION), coredns ($COREDNS_VERSION), weed (SeaweedFS $SEAWEEDFS_VERSION); bin/crds: prometheus-operator ($PROMETHEUS_OPERATOR_VERSION), gateway-api ($GATEWAY_API_VERSION)"
