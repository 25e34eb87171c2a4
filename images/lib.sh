# Shared settings and helpers of images/*.sh: paths, the private buildah store, cache keys, timing.
# Sourced, not run. Everything buildah or skopeo keeps lives under $IMAGES_CACHE; the host's
# /var/lib/containers, /run/containers and /etc/containers are neither read nor written: the
# configuration comes from images/containers/, and the tools run with a private /var/lib (see
# contained) because as root they keep their blob-info cache in /var/lib/containers/cache whatever
# --root says.
# The variables are set for the scripts that source this file, so SC2034 (unused) does not apply.
# shellcheck shell=bash disable=SC2034

IMAGES_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$IMAGES_SRC/.." && pwd)"
CACHE_DIR="${JOBCHANNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jobchannel}"
IMAGES_CACHE="$CACHE_DIR/images"
# Where the OCI archives and manifest.json are written. @default <repo>/.images
IMAGES_OUT="${IMAGES_OUT:-$REPO_DIR/.images}"

STORAGE_ROOT="$IMAGES_CACHE/storage"
STORAGE_RUNROOT="$IMAGES_CACHE/run"
# overlay needs a kernel overlayfs on a backing file system that supports it; vfs always works
# (every layer a full copy: slower, bigger). @default overlay
STORAGE_DRIVER="${IMAGES_STORAGE_DRIVER:-overlay}"
POLICY="$IMAGES_SRC/containers/policy.json"

# Every containers/* tool reads these instead of the host's files; TMPDIR also holds buildah's
# RUN --mount=type=cache directories, so the npm cache survives between builds.
export CONTAINERS_CONF="$IMAGES_SRC/containers/containers.conf"
export CONTAINERS_REGISTRIES_CONF="$IMAGES_SRC/containers/registries.conf"
export CONTAINERS_STORAGE_CONF="$IMAGES_CACHE/storage.conf"
export BUILDAH_ISOLATION=chroot
export TMPDIR="$IMAGES_CACHE/tmp"
export REGISTRY_AUTH_FILE="$IMAGES_CACHE/auth.json"
# Bind-mounted on /var/lib for the containers tools, in a mount namespace of their own.
PRIVATE_VARLIB="$IMAGES_CACHE/var-lib"

# shellcheck source=images/common.sh
source "$IMAGES_SRC/common.sh"

say() { printf 'images: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

# phase NAME COMMAND... : runs COMMAND and prints how long it took.
phase() {
  local name="$1" start=$SECONDS
  shift
  say "phase $name: start"
  "$@"
  say "phase $name: done in $((SECONDS - start))s"
}

# prepare_store : creates the private store and its storage.conf (idempotent).
prepare_store() {
  mkdir -p "$STORAGE_ROOT" "$STORAGE_RUNROOT" "$TMPDIR" "$IMAGES_OUT" "$PRIVATE_VARLIB"
  [[ -f "$REGISTRY_AUTH_FILE" ]] || printf '{"auths": {}}\n' >"$REGISTRY_AUTH_FILE"
  local conf
  conf="$(printf '[storage]\ndriver = "%s"\ngraphroot = "%s"\nrunroot = "%s"\n' \
    "$STORAGE_DRIVER" "$STORAGE_ROOT" "$STORAGE_RUNROOT")"
  if [[ ! -f "$CONTAINERS_STORAGE_CONF" || "$(cat "$CONTAINERS_STORAGE_CONF")" != "$conf" ]]; then
    printf '%s\n' "$conf" >"$CONTAINERS_STORAGE_CONF"
  fi
}

# contained COMMAND... : runs COMMAND in a private mount namespace where /var/lib is
# $PRIVATE_VARLIB, so that nothing it writes there reaches the host.
contained() {
  # shellcheck disable=SC2016 # $0 and $@ are the inner shell's
  unshare --mount --propagation private -- \
    /bin/sh -c 'mount --bind "$0" /var/lib && exec "$@"' "$PRIVATE_VARLIB" "$@"
}

# bah ARGS... : buildah on the private store.
bah() {
  contained buildah --root "$STORAGE_ROOT" --runroot "$STORAGE_RUNROOT" \
    --storage-driver "$STORAGE_DRIVER" "$@"
}

# skopeo_c ARGS... : skopeo with the private policy, /var/lib and store configuration.
skopeo_c() { contained skopeo --policy "$POLICY" "$@"; }

# image_id REF : the image's ID in the private store, or nothing.
image_id() {
  bah images --quiet --no-trunc "$1" 2>/dev/null | head -n1 || true
}

# fresh NAME KEY REF : true when REF was built from KEY and is still the image recorded for it.
fresh() {
  local record="$IMAGES_CACHE/keys/$1" id
  id="$(image_id "$3")"
  [[ -n "$id" && -f "$record" && "$(cat "$record")" == "$2 $id" ]]
}

# remember NAME KEY REF : records that REF was built from KEY.
remember() {
  mkdir -p "$IMAGES_CACHE/keys"
  printf '%s %s\n' "$2" "$(image_id "$3")" >"$IMAGES_CACHE/keys/$1"
}

# hash_files FILE... : sha256 over the files' names and contents (names relative to the repo).
hash_files() {
  local f
  for f in "$@"; do
    printf '== %s\n' "${f#"$REPO_DIR"/}"
    cat "$f"
  done | sha256sum | cut -c1-16
}

# hash_text TEXT : sha256 of a string, first 16 hex digits.
hash_text() { printf '%s' "$1" | sha256sum | cut -c1-16; }

# repo_files PATH... : the files under PATHs that git tracks or would track (ignored ones left out),
# sorted, as absolute paths.
repo_files() {
  (cd "$REPO_DIR" && git ls-files --cached --others --exclude-standard -- "$@" | sort -u |
    while read -r f; do [[ -f "$f" ]] && printf '%s\n' "$REPO_DIR/$f"; done)
}

# lock : one build at a time per cache; a second caller waits, then finds the work done.
lock() {
  mkdir -p "$IMAGES_CACHE"
  exec 9>"$IMAGES_CACHE/.lock"
  if ! flock -n 9; then
    say "another image build holds $IMAGES_CACHE/.lock; waiting"
    flock 9
  fi
}
