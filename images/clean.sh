#!/usr/bin/env bash
# Empties the private image store (images, layers, buildah's layer cache) and the smoke-test
# bundles. The Debian root file system, the npm tarball, npm's download cache and hadolint stay.
set -euo pipefail
# shellcheck source=images/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

prepare_store
lock
bah rm --all >/dev/null
bah rmi --all --force >/dev/null 2>&1 || true
rm -rf "$STORAGE_ROOT" "$STORAGE_RUNROOT" "$IMAGES_CACHE/keys" "$IMAGES_CACHE/smoke" \
  "$IMAGES_CACHE/logs" "$PRIVATE_VARLIB"
say "emptied the private store in $IMAGES_CACHE"
