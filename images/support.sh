#!/usr/bin/env bash
# Builds the images the local Kubernetes node needs besides jobchannel's own, from files:
#   localhost/jobchannel/pause:3.10      e2e/images/pause (a static Go program), user 65535
#   localhost/jobchannel/coredns:1.14.7  the static binary at $COREDNS_BINARY (or bin/coredns), user 65532
#   localhost/jobchannel/redis:7         Debian's redis-server on the Debian base, user 999
# Each is rebuilt only when its inputs changed. Sourced by build.sh (which needs the Debian base
# first); `bash images/support.sh pause|coredns|redis` builds one into the private store.
set -euo pipefail
# shellcheck source=images/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PAUSE_DIR="$REPO_DIR/e2e/images/pause"
# The CoreDNS binary, built by the local node's tooling (make tools links it into bin/).
# @default $CACHE/coredns/current/coredns, else bin/coredns when that exists
if [[ -z "${COREDNS_BINARY:-}" ]]; then
  COREDNS_BINARY="$CACHE_DIR/coredns/current/coredns"
  if [[ ! -e "$COREDNS_BINARY" && -e "$REPO_DIR/bin/coredns" ]]; then
    COREDNS_BINARY="$REPO_DIR/bin/coredns"
  fi
fi

# is_static FILE : true for an executable ELF file without a program interpreter.
is_static() {
  [[ -x "$1" ]] && readelf -h "$1" >/dev/null 2>&1 && ! readelf -l "$1" 2>/dev/null | grep -q 'INTERP'
}

go_tool() {
  local go="${GO:-$(command -v go || true)}"
  [[ -n "$go" || ! -x /usr/local/go/bin/go ]] || go=/usr/local/go/bin/go
  [[ -n "$go" ]] || die "no Go toolchain found: put go on PATH or set GO=/path/to/go"
  printf '%s\n' "$go"
}

# oci_labels TITLE DESCRIPTION VERSION : buildah config arguments for the OCI labels.
oci_labels() {
  printf '%s\n' --label "org.opencontainers.image.title=$1" \
    --label "org.opencontainers.image.description=$2" \
    --label "org.opencontainers.image.source=$SOURCE_URL" \
    --label "org.opencontainers.image.version=$3"
}

build_pause() {
  local go key dir
  go="$(go_tool)"
  local ldflags="-s -w"
  key="$(hash_text "$(printf '%s\n' "$(hash_files "$PAUSE_DIR/go.mod" "$PAUSE_DIR/main.go")" \
    "$("$go" env GOVERSION GOOS GOARCH)" "$ldflags" "$(declare -f build_pause)")")"
  if fresh pause "$key" "$REF_PAUSE"; then
    say "reusing $REF_PAUSE (cache key $key matches)"
    return
  fi
  dir="$IMAGES_CACHE/pause/$key"
  if [[ ! -x "$dir/pause" ]]; then
    mkdir -p "$dir"
    (cd "$PAUSE_DIR" && CGO_ENABLED=0 "$go" build -mod=readonly -buildvcs=false -trimpath \
      -ldflags "$ldflags" -o "$dir/pause.tmp" .)
    mv "$dir/pause.tmp" "$dir/pause"
  fi
  is_static "$dir/pause" || die "$dir/pause is not a static executable"
  local ctr labels
  ctr="$(bah from --signature-policy "$POLICY" scratch)"
  bah copy --quiet --chmod 0755 "$ctr" "$dir/pause" /pause >/dev/null
  mapfile -t labels < <(oci_labels jobchannel-pause \
    "Sandbox container of the local Kubernetes node's pods: holds the namespaces, reaps orphans" 3.10)
  bah config --entrypoint '["/pause"]' --cmd '[]' --user 65535:65535 --workingdir / \
    "${labels[@]}" "$ctr"
  bah commit --quiet --rm --format oci "$ctr" "$REF_PAUSE" >/dev/null
  remember pause "$key" "$REF_PAUSE"
  say "built $REF_PAUSE"
}

build_coredns() {
  [[ -e "$COREDNS_BINARY" ]] || die "no CoreDNS binary at $COREDNS_BINARY: set COREDNS_BINARY"
  local binary
  binary="$(readlink -f "$COREDNS_BINARY")"
  is_static "$binary" || die "$COREDNS_BINARY is not a static executable; a scratch image cannot run it"
  local key
  key="$(hash_text "$(printf '%s\n' "$(sha256sum <"$binary")" "$(image_id "$REF_DEBIAN_BASE")" \
    "$(declare -f build_coredns)")")"
  if fresh coredns "$key" "$REF_COREDNS"; then
    say "reusing $REF_COREDNS (cache key $key matches)"
    return
  fi
  # The Debian base's CA bundle (CoreDNS forwards over TLS when configured to) and the binary, with
  # no file capability: the cluster's CoreDNS listens on 1053 in its Pod (the kube-dns Service maps
  # 53 to it), so it runs with every capability dropped and no_new_privs, where a file capability
  # would make exec fail with EPERM.
  local stage="$IMAGES_CACHE/coredns-stage"
  rm -rf "$stage"
  mkdir -p "$stage/etc/ssl/certs"
  install -m 0755 "$binary" "$stage/coredns"
  local base
  base="$(bah from --pull=never --signature-policy "$POLICY" "$REF_DEBIAN_BASE")"
  bah run "$base" -- cat /etc/ssl/certs/ca-certificates.crt >"$stage/etc/ssl/certs/ca-certificates.crt"
  bah rm "$base" >/dev/null
  local ctr labels version
  version="${REF_COREDNS##*:}"
  ctr="$(bah from --signature-policy "$POLICY" scratch)"
  bah copy --quiet "$ctr" "$stage/etc" /etc >/dev/null
  bah copy --quiet "$ctr" "$stage/coredns" /coredns >/dev/null
  mapfile -t labels < <(oci_labels jobchannel-coredns \
    "CoreDNS for the local Kubernetes node, packaged from a static binary" "$version")
  bah config --entrypoint '["/coredns"]' --cmd '[]' --user 65532:65532 --workingdir / \
    --port 1053/udp --port 1053/tcp "${labels[@]}" "$ctr"
  bah commit --quiet --rm --format oci "$ctr" "$REF_COREDNS" >/dev/null
  rm -rf "$stage"
  remember coredns "$key" "$REF_COREDNS"
  say "built $REF_COREDNS from $binary"
}

# build_redis : the recipe of images/common.sh, run with buildah on the local Debian base.
build_redis() {
  local key
  key="$(hash_text "$(printf '%s\n' "$(image_id "$REF_DEBIAN_BASE")" "$REDIS_SETUP" "$REDIS_USER" \
    "$REDIS_WORKDIR" "$REDIS_PORT" "$REDIS_CMD" "$REDIS_TITLE" "$REDIS_DESCRIPTION" \
    "$(declare -f build_redis)")")"
  if fresh redis "$key" "$REF_REDIS"; then
    say "reusing $REF_REDIS (cache key $key matches)"
    return
  fi
  local ctr
  ctr="$(bah from --pull=never --signature-policy "$POLICY" "$REF_DEBIAN_BASE")"
  bah run "$ctr" -- sh -euc "$REDIS_SETUP" >&2
  local version labels
  version="$(bah run "$ctr" -- redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p')"
  mapfile -t labels < <(oci_labels "$REDIS_TITLE" "$REDIS_DESCRIPTION" "$version")
  bah config --user "$REDIS_USER" --workingdir "$REDIS_WORKDIR" --port "$REDIS_PORT/tcp" \
    --cmd "$REDIS_CMD" "${labels[@]}" "$ctr"
  bah commit --quiet --rm --format oci "$ctr" "$REF_REDIS" >/dev/null
  remember redis "$key" "$REF_REDIS"
  say "built $REF_REDIS (redis-server $version)"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  [[ $# -eq 1 && "$1" =~ ^(pause|coredns|redis)$ ]] || die "usage: images/support.sh pause|coredns|redis"
  prepare_store
  lock
  "build_$1"
fi
