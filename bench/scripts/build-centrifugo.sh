#!/usr/bin/env bash
# Builds Centrifugo (the version bench/centrifugo/go.mod pins) into the project's Go build cache and
# links it to bin/centrifugo. Called by `make bench` only; `make test` never builds it.
#
# The cache is the one e2e/scripts/build-tools.sh uses:
# ${JOBCHANNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jobchannel}/centrifugo/<key>/centrifugo, where the key
# is the sha256 of go.mod, go.sum, the version, the link flags and the Go toolchain. A matching key
# means no build at all; a cold build takes many minutes on 2 cores.
set -euo pipefail

CENTRIFUGO_VERSION=v6.9.1

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
MODULE_DIR="$BENCH_DIR/centrifugo"
BIN_DIR="${JOBCHANNEL_BIN_DIR:-$REPO_DIR/bin}"
CACHE_DIR="${JOBCHANNEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jobchannel}"

say() { printf 'build-centrifugo: %s\n' "$*" >&2; }

GO="${GO:-$(command -v go || true)}"
if [[ -z "$GO" && -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go; fi
if [[ -z "$GO" ]]; then
  say "no Go toolchain found: put go on PATH or set GO=/path/to/go"
  exit 1
fi

LDFLAGS="-s -w -X github.com/centrifugal/centrifugo/v6/internal/build.Version=${CENTRIFUGO_VERSION#v}"
key="$({
  printf '%s\n' "centrifugo=$CENTRIFUGO_VERSION ldflags=$LDFLAGS" "$("$GO" env GOVERSION GOOS GOARCH | tr '\n' ' ')"
  cat "$MODULE_DIR/go.mod" "$MODULE_DIR/go.sum"
} | sha256sum | cut -c1-16)"
dir="$CACHE_DIR/centrifugo/$key"

mkdir -p "$CACHE_DIR"
exec 9>"$CACHE_DIR/.build-centrifugo.lock"
flock 9

if [[ -x "$dir/centrifugo" ]]; then
  say "reusing Centrifugo $CENTRIFUGO_VERSION from $dir (cache key $key matches)"
else
  say "building Centrifugo $CENTRIFUGO_VERSION (no cached build for key $key); a cold build takes many minutes on 2 cores"
  start=$SECONDS
  tmp="$CACHE_DIR/centrifugo/.tmp-$key-$$"
  mkdir -p "$tmp"
  # shellcheck disable=SC2064 # expanded now
  trap "rm -rf '$tmp'" EXIT
  (cd "$MODULE_DIR" && CGO_ENABLED=0 "$GO" build -mod=readonly -buildvcs=false -trimpath \
    -ldflags "$LDFLAGS" -o "$tmp/centrifugo" github.com/centrifugal/centrifugo/v6)
  rm -rf "$dir"
  mv "$tmp" "$dir"
  trap - EXIT
  say "built Centrifugo $CENTRIFUGO_VERSION in $((SECONDS - start))s into $dir"
  # Keep the three newest builds.
  # shellcheck disable=SC2012
  ls -1dt "$CACHE_DIR/centrifugo"/*/ 2>/dev/null | tail -n +4 | xargs -r rm -rf
fi
mkdir -p "$BIN_DIR"
rm -f "$BIN_DIR/centrifugo"
ln "$dir/centrifugo" "$BIN_DIR/centrifugo" 2>/dev/null || cp "$dir/centrifugo" "$BIN_DIR/centrifugo"
say "ready: $BIN_DIR/centrifugo ($("$BIN_DIR/centrifugo" version 2>/dev/null || echo "$CENTRIFUGO_VERSION"))"
