#!/usr/bin/env bash
# Builds jobchannel's images with Docker (BuildKit) under the references `make images` gives them,
# from the same Dockerfiles, build arguments and Redis recipe (images/common.sh); for kind
# (e2e/scripts/kind.sh) and skaffold's kind profile. Behind a TLS-intercepting proxy, the CA in
# IMAGES_BUILD_CA or NODE_EXTRA_CA_CERTS goes to npm as the build secret `ca`, as in build.sh.
#
#   images/docker-build.sh NAME...           NAME: relay worker operator prime-count redis
#   images/docker-build.sh --skaffold NAME   one image as skaffold's custom builder asks: tagged
#                                            $IMAGE, and pushed when $PUSH_IMAGE is true
set -euo pipefail
IMAGES_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$IMAGES_SRC/.." && pwd)"
# shellcheck source=images/common.sh
source "$IMAGES_SRC/common.sh"
# The base of the Redis image (build.sh uses its own Debian base instead). @default debian:bookworm-slim
DEBIAN_IMAGE="${DEBIAN_IMAGE:-debian:bookworm-slim}"

say() { printf 'docker-build: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

# docker_build REF ARGS... : `docker build -t REF ARGS...`, with the CA secret when one is set.
docker_build() {
  local ref="$1"
  shift
  local secret=()
  if [[ -n "$BUILD_CA" ]]; then
    [[ -f "$BUILD_CA" ]] || die "IMAGES_BUILD_CA / NODE_EXTRA_CA_CERTS names a missing file: $BUILD_CA"
    secret=(--secret "id=ca,src=$BUILD_CA")
  fi
  say "building $ref"
  DOCKER_BUILDKIT=1 docker build "${secret[@]}" -t "$ref" "$@"
}

# build_component NAME REF : relay, worker or operator from NAME/Dockerfile, with the build
# arguments build.sh passes (except NODE_IMAGE: Docker uses the Dockerfile's node:24-bookworm-slim).
build_component() {
  local version
  version="$(jq -r .version "$REPO_DIR/$1/package.json")"
  docker_build "$2" -f "$REPO_DIR/$1/Dockerfile" --build-arg "VERSION=$version" \
    --build-arg "SOURCE_URL=$SOURCE_URL" "$REPO_DIR"
}

# build_redis REF : the Redis recipe of images/common.sh as a Dockerfile on $DEBIAN_IMAGE.
build_redis() {
  local context status=0
  context="$(mktemp -d)"
  printf '%s' "$REDIS_SETUP" >"$context/setup.sh"
  cat >"$context/Dockerfile" <<DOCKERFILE
FROM $DEBIAN_IMAGE
RUN --mount=type=bind,source=setup.sh,target=/tmp/setup.sh sh -eu /tmp/setup.sh
USER $REDIS_USER
WORKDIR $REDIS_WORKDIR
EXPOSE $REDIS_PORT
CMD $REDIS_CMD
LABEL org.opencontainers.image.title="$REDIS_TITLE" \\
      org.opencontainers.image.description="$REDIS_DESCRIPTION" \\
      org.opencontainers.image.source="$SOURCE_URL"
DOCKERFILE
  docker_build "$1" "$context" || status=$?
  rm -rf "$context"
  return "$status"
}

# build_one NAME REF
build_one() {
  case "$1" in
    relay | worker | operator) build_component "$1" "$2" ;;
    prime-count)
      docker_build "$2" -f "$REPO_DIR/worker/examples/Dockerfile" \
        --build-arg "WORKER_IMAGE=$REF_WORKER" "$REPO_DIR"
      ;;
    redis) build_redis "$2" ;;
    *) die "unknown image $1 (known: relay worker operator prime-count redis)" ;;
  esac
}

# ref_of NAME : the reference `make images` gives NAME, for the images this script builds.
ref_of() {
  [[ "$1" =~ ^(relay|worker|operator|prime-count|redis)$ ]] ||
    die "unknown image $1 (known: relay worker operator prime-count redis)"
  image_ref "$1"
}

main() {
  [[ $# -gt 0 ]] || die "usage: images/docker-build.sh NAME... | --skaffold NAME"
  command -v docker >/dev/null || die "docker is missing"
  command -v jq >/dev/null || die "jq is missing (Debian: apt-get install jq)"
  if [[ "$1" == --skaffold ]]; then
    [[ $# -eq 2 ]] || die "usage: images/docker-build.sh --skaffold NAME"
    [[ -n "${IMAGE:-}" ]] || die "--skaffold needs IMAGE, the reference skaffold asks for"
    build_one "$2" "$IMAGE"
    if [[ "${PUSH_IMAGE:-false}" == true ]]; then docker push "$IMAGE"; fi
    return
  fi
  local name
  for name in "$@"; do ref_of "$name" >/dev/null; done
  for name in "$@"; do build_one "$name" "$(ref_of "$name")"; done
}

main "$@"
