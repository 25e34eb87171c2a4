#!/usr/bin/env bash
# skaffold's custom builder in the local-node profile of skaffold.yaml: builds the image skaffold
# asks for the way `make images` does (images/build.sh: buildah, no Docker), copies it into the
# Docker daemon where skaffold looks it up, and loads it into the running local node under both
# references skaffold uses.
#
# skaffold passes IMAGE, the reference to produce. The profile's tag policy (envTemplate `dev`)
# makes that a reference `make images` builds (localhost/jobchannel/<name>:dev, from
# images/common.sh); anything else is refused, as is PUSH_IMAGE=true (the node has no registry).
# skaffold's local builder needs a Docker daemon whatever the builder: it checks for one before
# any build, reads the image's ID from it after a custom build, and deploys the image as
# <repository>:<that ID without "sha256:">. The node gets the image under IMAGE and under that
# reference.
set -euo pipefail
# shellcheck source=images/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

main() {
  [[ -n "${IMAGE:-}" ]] || die "IMAGE is not set; skaffold's custom builder sets it (skaffold dev -p local-node)"
  local name="" candidate
  for candidate in relay worker operator; do
    if [[ "$IMAGE" == "$(image_ref "$candidate")" ]]; then name="$candidate"; fi
  done
  [[ -n "$name" ]] || die "IMAGE=$IMAGE: the local-node profile builds $REF_RELAY, $REF_WORKER and $REF_OPERATOR only (its tag policy gives the tag dev; --default-repo or --tag would change IMAGE)"
  [[ "${PUSH_IMAGE:-false}" != true ]] ||
    die "PUSH_IMAGE=true: the local node has no registry; its images are loaded into it (run skaffold with --push=false)"
  local node="$REPO_DIR/node_modules/.bin/node" cli="$REPO_DIR/e2e/src/cluster-cli.ts"
  "$node" "$cli" status >/dev/null 2>&1 ||
    die "the local node is not running (make cluster-up); the chart would run an image it does not have"

  bash "$IMAGES_SRC/build.sh" "$name"
  local archive="$IMAGES_OUT/$name.oci.tar"
  say "copying $IMAGE into the Docker daemon, where skaffold looks it up"
  skopeo_c copy --quiet "oci-archive:$archive" "docker-daemon:$IMAGE"
  local id deployed tagged
  id="$(docker image inspect --format '{{.Id}}' "$IMAGE")"
  deployed="${IMAGE%:*}:${id#sha256:}"
  # Beside the archives, where the node's mount namespace sees it; not *.oci.tar, which
  # `cluster-cli load-images` would otherwise pick up with the others.
  tagged="$IMAGES_OUT/.skaffold-$name.tmp"
  rm -f "$tagged"
  skopeo_c copy --quiet "oci-archive:$archive" "oci-archive:$tagged:$deployed"
  say "loading $IMAGE and $deployed into the running local node"
  "$node" "$cli" load-images "$archive" "$tagged"
  rm -f "$tagged"
}

main "$@"
