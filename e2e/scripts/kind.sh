#!/usr/bin/env bash
# make e2e-kind: the end-to-end suite on a kind cluster instead of the local node. Builds the
# images with Docker under the references `make images` gives them (images/docker-build.sh),
# creates the cluster from e2e/kind/cluster.yaml, loads the images with `kind load docker-image`,
# and runs the suite with JOBCHANNEL_E2E_CLUSTER=kind and KUBECONFIG set; the suite installs the
# chart with charts/jobchannel/values-kind.yaml (e2e/src/kind-cluster.ts). The cluster is deleted
# on exit unless KEEP_CLUSTER=1.
#
#   e2e/scripts/kind.sh [TEST_FILE...]   @default e2e/test/release.integration.test.ts
#
#   KIND_CLUSTER_NAME  the cluster's name (its context is kind-<name>). @default jobchannel-e2e
#   KIND_NODE_IMAGE    the node image (kind create cluster --image). @default kind's own
#   KEEP_CLUSTER=1     leave the cluster running; `kind export kubeconfig --name <name>` reaches it
set -euo pipefail
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=images/common.sh
source "$REPO_DIR/images/common.sh"

CLUSTER_NAME="${KIND_CLUSTER_NAME:-jobchannel-e2e}"
KIND_CONFIG="$REPO_DIR/e2e/kind/cluster.yaml"
NODE="$REPO_DIR/node_modules/.bin/node"
# The images the suite runs, in build order (prime-count builds on the worker image).
IMAGES=(relay worker operator prime-count redis)

say() { printf 'e2e-kind: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

# need COMMAND WHAT : fails with WHAT when COMMAND is not on PATH.
need() { command -v "$1" >/dev/null || die "$1 is missing: $2"; }

WORK="$(mktemp -d)"
cleanup() {
  local status=$?
  if [[ -n "${CREATED:-}" ]]; then
    if [[ "${KEEP_CLUSTER:-}" == 1 ]]; then
      say "keeping the cluster $CLUSTER_NAME (KEEP_CLUSTER=1); delete it with: kind delete cluster --name $CLUSTER_NAME"
    else
      say "deleting the cluster $CLUSTER_NAME"
      kind delete cluster --name "$CLUSTER_NAME" || status=1
    fi
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT

# suite_tools : the folder the suite takes kubectl and helm from (JOBCHANNEL_BIN_DIR): the one
# already set, else bin/ when `make tools` built them, else a folder linking those on PATH.
suite_tools() {
  local dir="${JOBCHANNEL_BIN_DIR:-}" tool
  if [[ -z "$dir" && -x "$REPO_DIR/bin/kubectl" && -x "$REPO_DIR/bin/helm" ]]; then
    dir="$REPO_DIR/bin"
  elif [[ -z "$dir" ]]; then
    dir="$WORK/bin"
    mkdir -p "$dir"
    for tool in kubectl helm; do
      need "$tool" "the suite runs kubectl and helm 4: make tools builds the pinned ones into bin/, or put them on PATH"
      ln -s "$(command -v "$tool")" "$dir/$tool"
    done
  fi
  for tool in kubectl helm; do
    [[ -x "$dir/$tool" ]] || die "no $tool in $dir"
  done
  "$dir/helm" version --short 2>/dev/null | grep -q '^v4\.' ||
    die "$dir/helm is not helm 4 ($("$dir/helm" version --short 2>&1 || true)); the chart needs Helm 4"
  printf '%s\n' "$dir"
}

main() {
  local tests=("$@")
  [[ ${#tests[@]} -gt 0 ]] || tests=("$REPO_DIR/e2e/test/release.integration.test.ts")
  need kind "install kind (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)"
  need docker "kind runs its node in Docker; install Docker Engine with BuildKit (buildx)"
  need jq "Debian: apt-get install jq"
  docker info >/dev/null 2>&1 || die "docker cannot reach a Docker daemon (is it running, and may this user use it?)"
  [[ -x "$NODE" ]] || die "no $NODE: run make install"
  local bin
  bin="$(suite_tools)"

  say "building ${IMAGES[*]} with Docker"
  bash "$REPO_DIR/images/docker-build.sh" "${IMAGES[@]}"

  local kubeconfig="$WORK/kubeconfig"
  CREATED=1
  local clusters
  clusters="$(kind get clusters 2>/dev/null || true)"
  if grep -qx "$CLUSTER_NAME" <<<"$clusters"; then
    say "reusing the running cluster $CLUSTER_NAME"
    kind export kubeconfig --name "$CLUSTER_NAME" --kubeconfig "$kubeconfig"
  else
    local image=()
    [[ -z "${KIND_NODE_IMAGE:-}" ]] || image=(--image "$KIND_NODE_IMAGE")
    say "creating the cluster $CLUSTER_NAME from ${KIND_CONFIG#"$REPO_DIR"/}"
    kind create cluster --name "$CLUSTER_NAME" --config "$KIND_CONFIG" --kubeconfig "$kubeconfig" \
      --wait 180s "${image[@]}"
  fi

  local refs=() name
  for name in "${IMAGES[@]}"; do refs+=("$(image_ref "$name")"); done
  say "loading ${refs[*]}"
  kind load docker-image --name "$CLUSTER_NAME" "${refs[@]}"

  say "running ${tests[*]#"$REPO_DIR"/}"
  (cd "$REPO_DIR" && JOBCHANNEL_E2E_CLUSTER=kind KUBECONFIG="$kubeconfig" JOBCHANNEL_BIN_DIR="$bin" \
    "$NODE" --test --test-concurrency=1 --test-reporter=spec "${tests[@]}")
}

main "$@"
