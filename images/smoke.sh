#!/usr/bin/env bash
# Checks the exported images without a Docker daemon: each .images/<name>.oci.tar is read with
# skopeo (user, entrypoint, command, environment, ports, labels), unpacked with umoci into a
# runtime bundle, and run with runc as the image's user on a read-only root file system (tmpfs
# on /tmp) in the host's network namespace:
#   relay     GET /healthz and /readyz without REDIS_URL
#   worker    GET /healthz; a job of each built-in type completes with the right result
#   operator  --help; a missing kubeconfig exits 2; with none it serves /healthz
#   pause     stays up
#   redis     answers PING on the port it is given
#   coredns   -version (when its archive exists)
# and the long-running ones end with status 0 soon after SIGTERM to their PID 1.
#
#   images/smoke.sh [name...]      (make images-smoke; needs make images first)
set -euo pipefail
# shellcheck source=images/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MANIFEST="$IMAGES_OUT/manifest.json"
SMOKE_DIR="$IMAGES_CACHE/smoke"
RUNC_ROOT="$SMOKE_DIR/runc"
NODE="$REPO_DIR/node_modules/.bin/node"
failures=0
current=""

fail() {
  say "FAIL $current: $*"
  failures=$((failures + 1))
}
pass() { say "ok   $current: $*"; }

free_port() {
  "$NODE" -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => {
    console.log(s.address().port); s.close(); });'
}

# config_of NAME : the image configuration in NAME's archive (skopeo inspect --config).
config_of() { skopeo_c inspect --config "oci-archive:$IMAGES_OUT/$1.oci.tar" | jq .config; }

# expect_config NAME JQ_FILTER... : every filter must be true of the image configuration.
expect_config() {
  local name="$1" config filter
  shift
  config="$(config_of "$name")"
  for filter in "$@"; do
    if [[ "$(jq -r "$filter" <<<"$config")" == "true" ]]; then
      pass "config: $filter"
    else
      fail "config: $filter is false in $(jq -c . <<<"$config")"
    fi
  done
}

# unpack NAME : a runtime bundle of NAME's image in $SMOKE_DIR/NAME, with a read-only root,
# tmpfs /tmp and the host network, running as the image's user.
unpack() {
  local name="$1" layout="$SMOKE_DIR/$1.layout" bundle="$SMOKE_DIR/$1"
  rm -rf "$layout" "$bundle"
  mkdir -p "$layout"
  tar -xf "$IMAGES_OUT/$name.oci.tar" -C "$layout"
  # umoci takes a plain tag; the archive names the image with its full reference.
  jq '.manifests[0].annotations["org.opencontainers.image.ref.name"] = "smoke"' \
    "$layout/index.json" >"$layout/index.json.tmp"
  mv "$layout/index.json.tmp" "$layout/index.json"
  umoci unpack --image "$layout:smoke" "$bundle" >/dev/null
  rm -rf "$layout"
  jq --arg id "jobchannel-smoke-$name" '
    .root.readonly = true
    | .process.terminal = false
    | .mounts += [{destination: "/tmp", type: "tmpfs", source: "tmpfs",
                   options: ["nosuid", "nodev", "mode=1777", "size=64m"]}]
    | .linux.namespaces |= map(select(.type != "network"))
    | .linux.cgroupsPath = "/jobchannel-smoke/" + $id' \
    "$bundle/config.json" >"$bundle/config.json.tmp"
  mv "$bundle/config.json.tmp" "$bundle/config.json"
}

# set_process NAME JQ_FILTER : edits the bundle's process (args, env).
set_process() {
  local config="$SMOKE_DIR/$1/config.json"
  jq "$2" "$config" >"$config.tmp"
  mv "$config.tmp" "$config"
}

container_id() { printf 'jobchannel-smoke-%s\n' "$1"; }

# start NAME : runs NAME's bundle in the background; output in $SMOKE_DIR/NAME.log, exit status
# in $SMOKE_DIR/NAME.status once it ends.
start() {
  local id
  id="$(container_id "$1")"
  runc --root "$RUNC_ROOT" delete --force "$id" >/dev/null 2>&1 || true
  rm -f "$SMOKE_DIR/$1.status"
  (
    cd "$SMOKE_DIR/$1"
    status=0
    runc --root "$RUNC_ROOT" run "$id" >"$SMOKE_DIR/$1.log" 2>&1 </dev/null || status=$?
    echo "$status" >"$SMOKE_DIR/$1.status"
  ) &
  local deadline=$((SECONDS + 10))
  until [[ -n "$(status_of "$1")" ]] || ((SECONDS >= deadline)); do sleep 0.2; done
}

status_of() { runc --root "$RUNC_ROOT" state "$(container_id "$1")" 2>/dev/null | jq -r .status; }

# run_to_end NAME SECONDS : runs NAME's bundle in the foreground, bounded; prints its exit status.
run_to_end() {
  local id status=0
  id="$(container_id "$1")"
  (cd "$SMOKE_DIR/$1" && timeout "$2" runc --root "$RUNC_ROOT" run "$id" \
    >"$SMOKE_DIR/$1.log" 2>&1 </dev/null) || status=$?
  runc --root "$RUNC_ROOT" delete --force "$id" >/dev/null 2>&1 || true
  printf '%s\n' "$status"
}

# wait_http URL SECONDS : true once URL answers 2xx.
wait_http() {
  local deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do
    curl -fsS --max-time 2 "$1" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}

# expect_single_process NAME : Node is the container's only process (PID 1, no re-executed
# child to forward signals to).
expect_single_process() {
  local pids
  pids="$(runc --root "$RUNC_ROOT" ps --format json "$(container_id "$1")" | jq -c .)"
  if [[ "$(jq length <<<"$pids")" == 1 ]]; then pass "one process in the container ($pids)"; else fail "processes: $pids"; fi
}

# stop_with_sigterm NAME SECONDS : SIGTERM to the container's PID 1; true if it exits with
# status 0 in time.
stop_with_sigterm() {
  local id deadline=$((SECONDS + $2))
  id="$(container_id "$1")"
  runc --root "$RUNC_ROOT" kill "$id" TERM >/dev/null 2>&1 || true
  while ((SECONDS < deadline)); do
    if [[ -f "$SMOKE_DIR/$1.status" ]]; then
      runc --root "$RUNC_ROOT" delete --force "$id" >/dev/null 2>&1 || true
      [[ "$(cat "$SMOKE_DIR/$1.status")" == 0 ]] && return 0
      say "$1 exited with status $(cat "$SMOKE_DIR/$1.status") after SIGTERM"
      return 1
    fi
    sleep 0.3
  done
  return 1
}

cleanup() {
  local id
  for id in $(runc --root "$RUNC_ROOT" list --quiet 2>/dev/null); do
    runc --root "$RUNC_ROOT" delete --force "$id" >/dev/null 2>&1 || true
  done
  wait
  # runc leaves the (empty) parent cgroup of the containers behind in each hierarchy.
  local dir
  for dir in /sys/fs/cgroup/jobchannel-smoke /sys/fs/cgroup/*/jobchannel-smoke; do
    if [[ -d "$dir" ]]; then rmdir "$dir" 2>/dev/null || true; fi
  done
  [[ -n "$current" ]] && rm -rf "${SMOKE_DIR:?}/$current"
}
trap cleanup EXIT

smoke_relay() {
  expect_config relay '.User == "1000:1000"' \
    '.Entrypoint == ["node", "/app/relay/bin/jobchannel-relay.js"]' '(.Cmd // []) == []' \
    '.ExposedPorts | has("8080/tcp")' '.Env | index("HOME=/tmp") != null' \
    '.Env | index("NODE_ENV=production") != null' \
    '.Labels["org.opencontainers.image.title"] == "jobchannel-relay"' \
    '.Labels["org.opencontainers.image.licenses"] == "Apache-2.0"' \
    '[.Labels["org.opencontainers.image.source", "org.opencontainers.image.version"]] | all(. != null)'
  unpack relay
  local port
  port="$(free_port)"
  set_process relay ".process.env += [\"PORT=$port\"]"
  start relay
  if wait_http "http://127.0.0.1:$port/healthz" 20; then pass "GET /healthz answers on $port"; else fail "no /healthz on $port"; fi
  if wait_http "http://127.0.0.1:$port/readyz" 10; then pass "GET /readyz is ready (in-memory broker)"; else fail "/readyz not ready"; fi
  expect_single_process relay
  if stop_with_sigterm relay 15; then pass "SIGTERM to PID 1 ends it with status 0"; else fail "no clean exit within 15 s of SIGTERM"; fi
  if grep -q '"msg":"stopped"' "$SMOKE_DIR/relay.log"; then pass "logs a graceful stop"; else fail "no graceful stop in the log"; fi
}

# run_job BASE CHANNEL JQ_SUMMARY CURL_ARGS... : posts a job, waits (20 s at most) for it to end,
# prints the summary of its last state.
run_job() {
  local base="$1" channel="$2" summary="$3" job state="" deadline=$((SECONDS + 20))
  shift 3
  job="$(curl -fsS --max-time 5 "$@" "$base/$channel" | jq -r .jobId)" || job=""
  while [[ -n "$job" ]] && ((SECONDS < deadline)); do
    state="$(curl -fsS --max-time 2 "$base/$channel/$job")" || state=""
    [[ "$(jq -r .status <<<"${state:-null}")" =~ ^(completed|failed)$ ]] && break
    sleep 0.5
  done
  if [[ -z "$state" ]]; then echo "no job"; else jq -c "$summary" <<<"$state" 2>/dev/null || echo "$state"; fi
}

# expect_text WHAT ACTUAL EXPECTED
expect_text() {
  if [[ "$2" == "$3" ]]; then pass "$1: $2"; else fail "$1: $2 (expected $3)"; fi
}

# make_pdf FILE : a one-page PDF whose text is "smoke test page".
make_pdf() {
  # shellcheck disable=SC2016 # JavaScript template literals, not shell expansions
  "$NODE" -e '
    const text = "BT /F1 12 Tf 20 50 Td (smoke test page) Tj ET";
    const objects = [
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
      `<< /Length ${text.length} >>\nstream\n${text}\nendstream`,
      "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ];
    let pdf = "%PDF-1.4\n";
    const offsets = objects.map((body, i) => {
      const at = pdf.length;
      pdf += `${i + 1} 0 obj\n${body}\nendobj\n`;
      return at;
    });
    const xref = pdf.length;
    pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
    pdf += offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`).join("");
    pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
    require("node:fs").writeFileSync(process.argv[1], pdf);
  ' "$1"
}

smoke_worker() {
  expect_config worker '.User == "1000:1000"' \
    '.Entrypoint == ["node", "/app/worker/bin/jobchannel-worker.js"]' '(.Cmd // []) == []' \
    '.ExposedPorts | has("8080/tcp")' '.Env | index("HOME=/tmp") != null' \
    '.Labels["org.opencontainers.image.title"] == "jobchannel-worker"' \
    '.Labels["org.opencontainers.image.licenses"] == "Apache-2.0"'
  unpack worker
  local port
  port="$(free_port)"
  set_process worker ".process.env += [\"PORT=$port\"]"
  start worker
  if wait_http "http://127.0.0.1:$port/healthz" 20; then pass "GET /healthz answers on $port"; else fail "no /healthz on $port"; fi
  local base="http://127.0.0.1:$port/api/jobs" state
  state="$(run_job "$base" bulk-upload '{status, rows: .result.rows, invalidRows: .result.invalidRows}' \
    -H 'content-type: application/json' \
    -d '{"userId":"smoke","csv":"name,email\nAda,ada@example.com\nBad,not-an-email\n"}')"
  expect_text "bulk-upload" "$state" '{"status":"completed","rows":2,"invalidRows":1}'
  # The watch-list match proves worker/data is in the image.
  state="$(run_job "$base" job-updates '{status, decision: .result.decision, matches: [.result.matches[].entity] | sort}' \
    -H 'content-type: application/json' \
    -d '{"userId":"smoke","company":{"name":"Greyhaven Maritime Logistics Ltd","country":"XD","directors":["Tobias Wrenfield"]},"financials":{"revenue":20000000,"ebitda":2000000,"netDebt":11000000,"previousRevenue":26000000},"deal":{"enterpriseValue":25000000,"currency":"EUR"}}')"
  expect_text "job-updates" "$state" '{"status":"completed","decision":"review","matches":["Greyhaven Maritime Logistics","Tobias Wrenfield"]}'
  # pdf.js (unpdf) loads its worker code lazily: extract a one-page PDF made here.
  make_pdf "$SMOKE_DIR/smoke.pdf"
  state="$(run_job "$base" pdf-extraction '{status, pages: .result.pages, text: .result.text[0].text}' \
    -F "file=@$SMOKE_DIR/smoke.pdf;type=application/pdf" -F userId=smoke)"
  expect_text "pdf-extraction" "$state" '{"status":"completed","pages":1,"text":"smoke test page"}'
  state="$(run_job "$base" file-upload '{status, sha256: .result.sha256, bytes: .result.bytes}' \
    -F "file=@$SMOKE_DIR/smoke.pdf" -F userId=smoke)"
  expect_text "file-upload" "$state" "$(jq -nc --arg sha "$(sha256sum <"$SMOKE_DIR/smoke.pdf" | cut -d' ' -f1)" \
    --argjson bytes "$(stat -c %s "$SMOKE_DIR/smoke.pdf")" '{status: "completed", sha256: $sha, bytes: $bytes}')"
  expect_single_process worker
  if stop_with_sigterm worker 15; then pass "SIGTERM to PID 1 ends it with status 0"; else fail "no clean exit within 15 s of SIGTERM"; fi
}

smoke_operator() {
  expect_config operator '.User == "1000:1000"' \
    '.Entrypoint == ["node", "/app/operator/bin/jobchannel-operator.js"]' '(.Cmd // []) == []' \
    '.ExposedPorts | has("8080/tcp")' '.Env | index("HOME=/tmp") != null' \
    '.Labels["org.opencontainers.image.title"] == "jobchannel-operator"' \
    '.Labels["org.opencontainers.image.licenses"] == "Apache-2.0"'
  unpack operator
  set_process operator '.process.args += ["--help"]'
  local status
  status="$(run_to_end operator 20)"
  if [[ "$status" == 0 ]] && grep -q JOBCHANNEL_WORKER_IMAGE "$SMOKE_DIR/operator.log"; then
    pass "--help prints the variables"
  else
    fail "--help exited $status: $(head -c 300 "$SMOKE_DIR/operator.log")"
  fi
  # A kubeconfig that does not exist is a configuration error: exit 2, said in the log.
  set_process operator '.process.args = ["node", "/app/operator/bin/jobchannel-operator.js"]
    | .process.env += ["KUBECONFIG=/nonexistent/kubeconfig"]'
  status="$(run_to_end operator 20)"
  if [[ "$status" == 2 ]] && grep -q '"code":"invalid_config"' "$SMOKE_DIR/operator.log"; then
    pass "with a missing kubeconfig it exits 2 with code invalid_config"
  else
    fail "missing kubeconfig: exit $status: $(head -c 300 "$SMOKE_DIR/operator.log")"
  fi
  # With no configuration at all the client's default (http://localhost:8080) is refused before
  # any request: the operator runs, retries its watches, and serves /healthz on PORT.
  local port
  port="$(free_port)"
  set_process operator ".process.env |= map(select(startswith(\"KUBECONFIG=\") | not))
    | .process.env += [\"PORT=$port\", \"LEADER_ELECTION=false\"]"
  start operator
  if wait_http "http://127.0.0.1:$port/healthz" 20; then pass "GET /healthz answers on $port"; else fail "no /healthz on $port"; fi
  expect_single_process operator
  if stop_with_sigterm operator 20; then pass "SIGTERM to PID 1 ends it with status 0"; else fail "no clean exit within 20 s of SIGTERM"; fi
}

smoke_pause() {
  expect_config pause '.User == "65535:65535"' '.Entrypoint == ["/pause"]' '(.Cmd // []) == []'
  unpack pause
  start pause
  sleep 1
  if [[ "$(status_of pause)" == "running" ]]; then pass "stays up"; else fail "not running: $(cat "$SMOKE_DIR/pause.log")"; fi
  if stop_with_sigterm pause 5; then pass "SIGTERM to PID 1 ends it with status 0"; else fail "no clean exit within 5 s of SIGTERM"; fi
  if grep -q 'shutting down' "$SMOKE_DIR/pause.log"; then pass "says it shuts down"; else fail "no shutdown message"; fi
}

smoke_redis() {
  expect_config redis '.User == "999:999"' '(.Entrypoint // []) == []' \
    '.Cmd == ["redis-server", "--protected-mode", "no", "--save", "", "--appendonly", "no"]' \
    '.ExposedPorts | has("6379/tcp")' '.WorkingDir == "/data"'
  unpack redis
  local port
  port="$(free_port)"
  set_process redis ".process.args += [\"--port\", \"$port\", \"--bind\", \"127.0.0.1\"]"
  start redis
  local deadline=$((SECONDS + 10)) answer=""
  while ((SECONDS < deadline)); do
    answer="$(redis-cli -p "$port" ping 2>/dev/null || true)"
    [[ "$answer" == PONG ]] && break
    sleep 0.3
  done
  if [[ "$answer" == PONG ]]; then pass "answers PING on $port"; else fail "no PONG on $port: $(cat "$SMOKE_DIR/redis.log")"; fi
  if stop_with_sigterm redis 10; then pass "SIGTERM to PID 1 ends it with status 0"; else fail "no clean exit within 10 s of SIGTERM"; fi
}

smoke_coredns() {
  expect_config coredns '.User == "65532:65532"' '.Entrypoint == ["/coredns"]' \
    '.ExposedPorts | has("1053/udp")'
  unpack coredns
  set_process coredns '.process.args += ["-version"]'
  local status
  status="$(run_to_end coredns 10)"
  if [[ "$status" == 0 ]]; then pass "-version: $(head -n1 "$SMOKE_DIR/coredns.log")"; else fail "-version exited $status"; fi
}

main() {
  [[ -f "$MANIFEST" ]] || die "no $MANIFEST: run make images first"
  local wanted=("$@") name
  if [[ ${#wanted[@]} -eq 0 ]]; then mapfile -t wanted < <(jq -r '.images[].name' "$MANIFEST"); fi
  for tool in skopeo umoci runc curl jq redis-cli; do
    command -v "$tool" >/dev/null || die "$tool is missing"
  done
  prepare_store
  mkdir -p "$SMOKE_DIR" "$RUNC_ROOT"
  local start=$SECONDS
  for name in "${wanted[@]}"; do
    [[ -f "$IMAGES_OUT/$name.oci.tar" ]] || die "no $IMAGES_OUT/$name.oci.tar"
    if ! declare -F "smoke_${name//-/_}" >/dev/null; then
      say "skipping $name: smoke.sh has no checks for it"
      continue
    fi
    current="$name"
    phase "smoke-$name" "smoke_${name//-/_}"
    rm -rf "${SMOKE_DIR:?}/$name"
  done
  current=""
  if ((failures > 0)); then die "$failures check(s) failed in $((SECONDS - start))s"; fi
  say "every check passed in $((SECONDS - start))s"
}

main "$@"
