#!/usr/bin/env bash
# Builds jobchannel's container images without a Docker daemon and writes them as OCI archives:
# the local bases (base.sh), relay/worker/operator from their Dockerfiles with buildah (chroot
# isolation, private store under the cache), and the node's support images (support.sh). Every
# image is rebuilt only when its inputs changed, and re-exported only when the image changed.
#
#   images/build.sh                 everything (make images)
#   images/build.sh relay redis     only these (the bases are built as needed)
#
# Output: $IMAGES_OUT/<name>.oci.tar (default .images/ at the repository root), each holding one
# image whose org.opencontainers.image.ref.name is its full reference, and manifest.json.
set -euo pipefail
# shellcheck source=images/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=images/base.sh
source "$IMAGES_SRC/base.sh"
# shellcheck source=images/support.sh
source "$IMAGES_SRC/support.sh"

ALL_IMAGES=(relay worker operator pause coredns redis prime-count)
MANIFEST="$IMAGES_OUT/manifest.json"
# Above this size the store drops its dangling images (old builds and buildah's layer cache).
# @default 6144
STORE_LIMIT_MB="${IMAGES_STORE_LIMIT_MB:-6144}"

ref_of() { image_ref "$1" || die "unknown image $1 (known: ${ALL_IMAGES[*]})"; }

# dockerfile_inputs DOCKERFILE : the build-context paths its COPY instructions read.
dockerfile_inputs() {
  awk '$1 == "COPY" && $0 !~ /--from=/ {
    n = 0
    for (i = 2; i <= NF; i++) if ($i !~ /^--/) args[++n] = $i
    for (i = 1; i < n; i++) print args[i]
  }' "$1"
}

# build_component NAME : relay, worker or operator from <name>/Dockerfile on the local Node base.
build_component() {
  local name="$1" ref dockerfile version key
  ref="$(ref_of "$name")"
  dockerfile="$REPO_DIR/$name/Dockerfile"
  version="$(jq -r .version "$REPO_DIR/$name/package.json")"
  local inputs
  mapfile -t inputs < <(cd "$REPO_DIR" && dockerfile_inputs "$dockerfile")
  local files
  mapfile -t files < <(repo_files "$name/Dockerfile" .dockerignore "${inputs[@]}")
  key="$(hash_text "$(printf '%s\n' "$(hash_files "${files[@]}")" "$(image_id "$REF_NODE_BASE")" \
    "$version" "$(declare -f build_component)")")"
  if fresh "$name" "$key" "$ref"; then
    say "reusing $ref (cache key $key matches)"
    return
  fi
  say "building $ref from $name/Dockerfile (${#files[@]} input files, cache key $key)"
  local args=(--layers --pull=never --isolation chroot --format oci
    --signature-policy "$POLICY"
    --build-arg "NODE_IMAGE=$REF_NODE_BASE" --build-arg "VERSION=$version"
    --build-arg "SOURCE_URL=$SOURCE_URL"
    -f "$dockerfile" -t "$ref")
  if [[ -n "$BUILD_CA" ]]; then
    [[ -f "$BUILD_CA" ]] || die "IMAGES_BUILD_CA / NODE_EXTRA_CA_CERTS names a missing file: $BUILD_CA"
    args+=(--secret "id=ca,src=$BUILD_CA")
  fi
  local log="$IMAGES_CACHE/logs/$name.log"
  mkdir -p "$(dirname "$log")"
  if ! bah bud "${args[@]}" "$REPO_DIR" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "building $ref failed; the log is $log"
  fi
  remember "$name" "$key" "$ref"
  say "built $ref"
}

# build_prime_count : the add-a-job-type tutorial's image, worker/examples/Dockerfile on the worker image.
build_prime_count() {
  local key
  [[ -n "$(image_id "$REF_WORKER")" ]] || build_component worker
  key="$(hash_text "$(printf '%s\n' "$(hash_files "$REPO_DIR/worker/examples/Dockerfile" \
    "$REPO_DIR/worker/examples/prime-count.ts")" "$(image_id "$REF_WORKER")" \
    "$(declare -f build_prime_count)")")"
  if fresh prime-count "$key" "$REF_PRIME_COUNT"; then
    say "reusing $REF_PRIME_COUNT (cache key $key matches)"
    return
  fi
  local log="$IMAGES_CACHE/logs/prime-count.log"
  mkdir -p "$(dirname "$log")"
  if ! bah bud --layers --pull=never --isolation chroot --format oci --signature-policy "$POLICY" \
    --build-arg "WORKER_IMAGE=$REF_WORKER" -f "$REPO_DIR/worker/examples/Dockerfile" \
    -t "$REF_PRIME_COUNT" "$REPO_DIR" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    die "building $REF_PRIME_COUNT failed; the log is $log"
  fi
  remember prime-count "$key" "$REF_PRIME_COUNT"
  say "built $REF_PRIME_COUNT"
}

# manifest_entry NAME FIELD : a field of NAME's entry in manifest.json, or nothing.
manifest_entry() {
  [[ -f "$MANIFEST" ]] || return 0
  jq -r --arg name "$1" --arg field "$2" \
    '.images[]? | select(.name == $name) | .[$field] // empty' "$MANIFEST"
}

# archive_path NAME : the archive's path as manifest.json gives it (relative to the repository
# root when inside it).
archive_path() {
  local path="$IMAGES_OUT/$1.oci.tar"
  printf '%s\n' "${path#"$REPO_DIR"/}"
}

# export_image NAME : writes $IMAGES_OUT/NAME.oci.tar and its manifest.json entry, unless both
# already hold the image now in the store.
export_image() {
  local name="$1" ref id archive
  ref="$(ref_of "$name")"
  id="$(image_id "$ref")"
  [[ -n "$id" ]] || die "$ref is not in the store"
  archive="$IMAGES_OUT/$name.oci.tar"
  if [[ -f "$archive" && "$(manifest_entry "$name" imageId)" == "$id" &&
    "$(manifest_entry "$name" bytes)" == "$(stat -c %s "$archive")" ]]; then
    say "reusing $(archive_path "$name") (holds image ${id:7:12})"
    return
  fi
  local tmp="$IMAGES_OUT/.$name.oci.tar.tmp"
  rm -f "$tmp" "$tmp.digest"
  # oci-archive:PATH:REF names the image in index.json (org.opencontainers.image.ref.name) with
  # its full reference, which `ctr images import` keeps as the image's name.
  bah push --quiet --format oci --signature-policy "$POLICY" --digestfile "$tmp.digest" \
    "$ref" "oci-archive:$tmp:$ref"
  mv "$tmp" "$archive"
  local digest
  digest="$(cat "$tmp.digest")"
  rm -f "$tmp.digest"
  record_manifest "$name" "$ref" "$digest" "$id" "$(stat -c %s "$archive")"
  say "wrote $(archive_path "$name") ($ref, $digest)"
}

# record_manifest NAME REF DIGEST IMAGE_ID BYTES : adds or replaces NAME's manifest.json entry.
record_manifest() {
  local current='{"images": []}'
  [[ -f "$MANIFEST" ]] && current="$(cat "$MANIFEST")"
  jq --arg name "$1" --arg ref "$2" --arg archive "$(archive_path "$1")" --arg digest "$3" \
    --arg id "$4" --argjson bytes "$5" '
    .images = ([.images[]? | select(.name != $name)] + [{
      name: $name, reference: $ref, archive: $archive, format: "oci-archive",
      digest: $digest, imageId: $id, bytes: $bytes
    }] | sort_by(.name))' <<<"$current" >"$MANIFEST.tmp"
  mv "$MANIFEST.tmp" "$MANIFEST"
}

# build_one NAME : builds and exports one image (CoreDNS only when its binary is there).
build_one() {
  case "$1" in
    relay | worker | operator) build_component "$1" ;;
    coredns)
      if [[ ! -e "$COREDNS_BINARY" ]]; then
        say "skipping $REF_COREDNS: no CoreDNS binary at $COREDNS_BINARY (set COREDNS_BINARY, or build the node's tools first)"
        return 0
      fi
      build_coredns
      ;;
    prime-count) build_prime_count ;;
    *) "build_$1" ;;
  esac
  export_image "$1"
}

# trim_store : keeps the private store under $STORE_LIMIT_MB; the next build of a changed image
# then starts without buildah's layer cache (npm's download cache survives in $TMPDIR).
trim_store() {
  local size
  size="$(du -sm "$STORAGE_ROOT" | cut -f1)"
  if ((size > STORE_LIMIT_MB)); then
    say "private store holds ${size} MiB (over ${STORE_LIMIT_MB}): removing dangling images"
    bah rmi --prune >/dev/null
  fi
}

summary() {
  say "images in $MANIFEST:"
  jq -r '.images[] | "  \(.reference)  \(.archive)  \(.bytes / 1048576 | floor) MiB  \(.digest)"' \
    "$MANIFEST" >&2
  say "private store: $(du -sh "$STORAGE_ROOT" 2>/dev/null | cut -f1) in $STORAGE_ROOT"
}

main() {
  local wanted=("$@")
  [[ ${#wanted[@]} -gt 0 ]] || wanted=("${ALL_IMAGES[@]}")
  local name
  for name in "${wanted[@]}"; do ref_of "$name" >/dev/null; done
  for tool in buildah mmdebstrap jq unshare readelf; do
    command -v "$tool" >/dev/null || die "$tool is missing (Debian: apt-get install buildah mmdebstrap jq util-linux binutils)"
  done
  local start=$SECONDS
  prepare_store
  lock
  phase debian-base build_debian_base
  local needs_node=false
  for name in "${wanted[@]}"; do [[ "$name" =~ ^(relay|worker|operator|prime-count)$ ]] && needs_node=true; done
  if $needs_node; then phase node-base build_node_base; fi
  for name in "${wanted[@]}"; do phase "$name" build_one "$name"; done
  trim_store
  summary
  say "all done in $((SECONDS - start))s"
}

main "$@"
