#!/usr/bin/env bash
# Builds the local base images into the private buildah store, each only when its inputs changed:
#   localhost/jobchannel/debian-base:bookworm  Debian bookworm minbase + ca-certificates (mmdebstrap)
#   localhost/jobchannel/node-base:24          the above + a node user (uid 1000), the workspace's
#                                              Node 24 binary and the npm that Node release ships,
#                                              laid out as in node:24-bookworm-slim (/usr/local)
# Sourced by build.sh; run alone (bash images/base.sh) it builds both.
set -euo pipefail
# shellcheck source=images/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEBIAN_SUITE=bookworm
DEBIAN_MIRRORS=(
  "deb http://deb.debian.org/debian bookworm main"
  "deb http://deb.debian.org/debian bookworm-updates main"
  "deb http://deb.debian.org/debian-security bookworm-security main"
)
# As in Debian's -slim images: no manuals, documentation (but copyrights) or translations.
DEBIAN_DPKG_OPTS=(
  "path-exclude=/usr/share/man/*"
  "path-exclude=/usr/share/doc/*"
  "path-include=/usr/share/doc/*/copyright"
  "path-exclude=/usr/share/info/*"
  "path-exclude=/usr/share/locale/*"
  "path-exclude=/usr/share/lintian/*"
)
# The npm that Node 24.21.0 ships (its changelog: "upgrade npm to 11.19.0"); the npm package
# `node` in node_modules carries the node binary only.
NPM_VERSION=11.19.0
NPM_INTEGRITY="sha512-SDd/hHg3KqHE5Ht2NHWxNYNtqCQ2pXAPLl6OtQhPyED5PHsRfrOtO199MZTIG2cQoQ1ZRI9t28shrD+2cr3AAw=="

# prune_keyed DIR : keeps the two newest key directories under DIR.
prune_keyed() {
  local old
  # shellcheck disable=SC2012 # ls -t orders by time; the names are hex cache keys
  old="$(ls -1dt "$1"/*/ 2>/dev/null | tail -n +3)"
  [[ -z "$old" ]] || echo "$old" | xargs rm -rf
}

# debian_rootfs : prints the path of the Debian root file system tarball, made by mmdebstrap when
# no tarball for the current inputs is cached (the network step: about 2 minutes).
debian_rootfs() {
  local key dir
  key="$(hash_text "$(printf '%s\n' "$DEBIAN_SUITE" "${DEBIAN_MIRRORS[@]}" "${DEBIAN_DPKG_OPTS[@]}" \
    "$(mmdebstrap --version)" "$(declare -f debian_rootfs)")")"
  dir="$IMAGES_CACHE/debian-rootfs/$key"
  if [[ ! -f "$dir/rootfs.tar" ]]; then
    say "building the Debian $DEBIAN_SUITE root file system with mmdebstrap (key $key); about 2 minutes"
    mkdir -p "$dir"
    local args=(--variant=minbase --include=ca-certificates --format=tar --quiet
      --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr)
    local opt
    for opt in "${DEBIAN_DPKG_OPTS[@]}"; do args+=("--dpkgopt=$opt"); done
    mmdebstrap "${args[@]}" "$DEBIAN_SUITE" "$dir/rootfs.tar.tmp" "${DEBIAN_MIRRORS[@]}" \
      >"$dir/mmdebstrap.log" 2>&1 || {
      tail -n 30 "$dir/mmdebstrap.log" >&2
      die "mmdebstrap failed; the log is $dir/mmdebstrap.log"
    }
    mv "$dir/rootfs.tar.tmp" "$dir/rootfs.tar"
    prune_keyed "$IMAGES_CACHE/debian-rootfs"
  fi
  printf '%s\n' "$dir/rootfs.tar"
}

build_debian_base() {
  local rootfs key
  rootfs="$(debian_rootfs)"
  key="$(hash_text "$(printf '%s\n' "$rootfs" "$(declare -f build_debian_base)")")"
  if fresh debian-base "$key" "$REF_DEBIAN_BASE"; then
    say "reusing $REF_DEBIAN_BASE (cache key $key matches)"
    return
  fi
  local ctr
  ctr="$(bah from --signature-policy "$POLICY" scratch)"
  bah add --quiet "$ctr" "$rootfs" / >/dev/null
  bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd '["bash"]' \
    --label org.opencontainers.image.title=jobchannel-debian-base \
    --label org.opencontainers.image.description="Debian $DEBIAN_SUITE minbase with ca-certificates, built by mmdebstrap" \
    --label org.opencontainers.image.source="$SOURCE_URL" "$ctr"
  bah commit --quiet --rm --format oci "$ctr" "$REF_DEBIAN_BASE" >/dev/null
  remember debian-base "$key" "$REF_DEBIAN_BASE"
  say "built $REF_DEBIAN_BASE"
}

# node_binary : the real Node 24 binary behind node_modules/.bin/node.
node_binary() {
  local node="$REPO_DIR/node_modules/.bin/node"
  [[ -x "$node" ]] || die "no $node: run make install first"
  "$node" -p 'process.versions.node.split(".")[0] === "24" && process.arch === "x64" ? process.execPath : ""'
}

# npm_tarball : the pinned npm release from the npm registry, checked against its integrity.
npm_tarball() {
  local dir="$IMAGES_CACHE/npm" file="$IMAGES_CACHE/npm/npm-$NPM_VERSION.tgz"
  if [[ ! -f "$file" ]]; then
    mkdir -p "$dir"
    say "fetching npm $NPM_VERSION from the npm registry"
    (cd "$dir" && npm pack --silent "npm@$NPM_VERSION" >/dev/null)
  fi
  local actual
  actual="sha512-$(openssl dgst -sha512 -binary "$file" | base64 -w0)"
  if [[ "$actual" != "$NPM_INTEGRITY" ]]; then
    rm -f "$file"
    die "npm-$NPM_VERSION.tgz has integrity $actual, expected $NPM_INTEGRITY"
  fi
  printf '%s\n' "$file"
}

build_node_base() {
  local node npm_tgz key
  node="$(node_binary)"
  [[ -n "$node" ]] || die "node_modules/.bin/node is not Node 24 on x64"
  npm_tgz="$(npm_tarball)"
  key="$(hash_text "$(printf '%s\n' "$(image_id "$REF_DEBIAN_BASE")" "$(sha256sum <"$node")" \
    "$NPM_VERSION" "$(declare -f build_node_base)")")"
  if fresh node-base "$key" "$REF_NODE_BASE"; then
    say "reusing $REF_NODE_BASE (cache key $key matches)"
    return
  fi
  local node_version stage="$IMAGES_CACHE/node-base/stage"
  node_version="$("$node" -p process.versions.node)"
  say "building $REF_NODE_BASE: Node $node_version, npm $NPM_VERSION (cache key $key)"
  rm -rf "$stage"
  mkdir -p "$stage/bin" "$stage/lib/node_modules"
  cp "$node" "$stage/bin/node"
  tar -xzf "$npm_tgz" -C "$stage/lib/node_modules"
  mv "$stage/lib/node_modules/package" "$stage/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$stage/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$stage/bin/npx"

  local ctr
  ctr="$(bah from --pull=never --signature-policy "$POLICY" "$REF_DEBIAN_BASE")"
  bah run "$ctr" -- groupadd --gid 1000 node
  bah run "$ctr" -- useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  bah copy --quiet "$ctr" "$stage" /usr/local >/dev/null
  bah run "$ctr" -- sh -c 'node --version && npm --version' >&2
  bah config --env NODE_VERSION="$node_version" --cmd '["node"]' \
    --label org.opencontainers.image.title=jobchannel-node-base \
    --label org.opencontainers.image.description="Debian $DEBIAN_SUITE with Node $node_version and npm $NPM_VERSION, laid out as node:24-bookworm-slim" \
    --label org.opencontainers.image.source="$SOURCE_URL" \
    --label org.opencontainers.image.version="$node_version" "$ctr"
  bah commit --quiet --rm --format oci "$ctr" "$REF_NODE_BASE" >/dev/null
  remember node-base "$key" "$REF_NODE_BASE"
  rm -rf "$stage"
  say "built $REF_NODE_BASE"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  prepare_store
  lock
  phase debian-base build_debian_base
  phase node-base build_node_base
fi
