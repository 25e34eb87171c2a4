// e2e/scripts/kind.sh (make e2e-kind) against stub kind, docker, kubectl and helm: what it builds, creates, loads, runs and deletes, in order, and its errors. No Docker or kind runs here.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { repoRoot } from "../src/paths.ts";

const root = repoRoot();
const script = join(root, "e2e", "scripts", "kind.sh");

/** Stubs that append their command line to $STUB_LOG; kind writes the kubeconfig it is asked for. */
const STUBS: Record<string, string> = {
  kind: `#!/usr/bin/env bash
echo "kind $*" >>"$STUB_LOG"
if [[ "$1 $2" == "get clusters" ]]; then printf '%s\\n' \${STUB_CLUSTERS:-}; fi
while [[ $# -gt 0 ]]; do
  if [[ "$1" == --kubeconfig ]]; then echo "apiVersion: v1" >"$2"; fi
  shift
done
`,
  docker: `#!/usr/bin/env bash
echo "docker $*" >>"$STUB_LOG"
context="\${*: -1}"
if [[ "$1" == build && -f "$context/Dockerfile" ]]; then cp "$context/Dockerfile" "$context/setup.sh" "$STUB_DIR/"; fi
`,
  kubectl: `#!/usr/bin/env bash
echo "kubectl $*" >>"$STUB_LOG"
`,
  helm: `#!/usr/bin/env bash
if [[ "$1" == version ]]; then echo "v4.3.1+gstub"; fi
`,
};

/** A stand-in for the suite: records what it was run with, and fails when FAKE_SUITE_FAILS=1. */
const FAKE_SUITE = `import { appendFileSync, existsSync } from "node:fs";
import { it } from "node:test";
it("records its environment", () => {
  const e = process.env;
  appendFileSync(e["STUB_LOG"]!, "suite " + JSON.stringify({
    cluster: e["JOBCHANNEL_E2E_CLUSTER"], kubeconfigExists: existsSync(e["KUBECONFIG"] ?? ""),
    binDir: e["JOBCHANNEL_BIN_DIR"], cwd: process.cwd(),
  }) + "\\n");
  if (e["FAKE_SUITE_FAILS"] === "1") throw new Error("the suite failed");
});
`;

interface Run {
  status: number | null;
  stderr: string;
  log: string[];
}

describe("e2e/scripts/kind.sh", () => {
  let dir: string;
  let stubs: string;
  let suite: string;
  let ca: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "jobchannel-kind-script-"));
    stubs = join(dir, "stubs");
    await mkdir(stubs);
    for (const [name, text] of Object.entries(STUBS)) {
      await writeFile(join(stubs, name), text);
      await chmod(join(stubs, name), 0o755);
    }
    suite = join(dir, "fake-suite.test.ts");
    await writeFile(suite, FAKE_SUITE);
    ca = join(dir, "proxy-ca.crt");
    await writeFile(ca, "-----BEGIN CERTIFICATE-----\n");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** Runs kind.sh with the stubs first on PATH (and kind left out when `withoutKind`). */
  const run = async (env: Record<string, string>, withoutKind = false): Promise<Run> => {
    const log = join(dir, "log");
    await writeFile(log, "");
    const path = withoutKind ? `${join(dir, "no-kind")}:/usr/bin:/bin` : `${stubs}:/usr/bin:/bin`;
    if (withoutKind) {
      await mkdir(join(dir, "no-kind"), { recursive: true });
      await writeFile(join(dir, "no-kind", "docker"), STUBS["docker"]!);
      await chmod(join(dir, "no-kind", "docker"), 0o755);
    }
    const child = spawn("bash", [script, suite], {
      env: {
        PATH: path,
        HOME: dir,
        STUB_LOG: log,
        STUB_DIR: dir,
        JOBCHANNEL_BIN_DIR: stubs,
        ...env,
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    const status = await new Promise<number | null>((resolve) => child.on("close", resolve));
    return { status, stderr, log: (await readFile(log, "utf8")).split("\n").filter(Boolean) };
  };

  it("builds the images, creates the cluster, loads them, runs the suite on kind, and deletes the cluster", async () => {
    const { status, stderr, log } = await run({ IMAGES_BUILD_CA: ca });
    assert.equal(status, 0, stderr);
    const secret = `--secret id=ca,src=${ca}`;
    const component = (name: string) =>
      `docker build ${secret} -t localhost/jobchannel/${name}:dev -f ${root}/${name}/Dockerfile ` +
      `--build-arg VERSION=0.1.0 --build-arg SOURCE_URL=https://github.com/jobchannel/jobchannel ${root}`;
    const steps = log.filter((line) => !line.startsWith("docker info"));
    const redisBuild = steps[4] ?? "";
    assert.match(
      redisBuild,
      /^docker build --secret id=ca,src=\S+ -t localhost\/jobchannel\/redis:7 \//,
    );
    const suiteLine = steps.find((line) => line.startsWith("suite "));
    const kubeconfig = steps
      .find((line) => line.startsWith("kind create"))
      ?.match(/--kubeconfig (\S+)/)?.[1];
    assert.deepEqual(steps, [
      component("relay"),
      component("worker"),
      component("operator"),
      `docker build ${secret} -t localhost/jobchannel/prime-count:dev -f ${root}/worker/examples/Dockerfile ` +
        `--build-arg WORKER_IMAGE=localhost/jobchannel/worker:dev ${root}`,
      redisBuild,
      "kind get clusters",
      `kind create cluster --name jobchannel-e2e --config ${root}/e2e/kind/cluster.yaml --kubeconfig ${kubeconfig} --wait 180s`,
      "kind load docker-image --name jobchannel-e2e localhost/jobchannel/relay:dev localhost/jobchannel/worker:dev " +
        "localhost/jobchannel/operator:dev localhost/jobchannel/prime-count:dev localhost/jobchannel/redis:7",
      suiteLine,
      "kind delete cluster --name jobchannel-e2e",
    ]);
    assert.deepEqual(JSON.parse(suiteLine!.slice("suite ".length)), {
      cluster: "kind",
      kubeconfigExists: true,
      binDir: stubs,
      cwd: root,
    });
  });

  it("builds Redis from the recipe make images uses, on Debian bookworm", async () => {
    const dockerfile = await readFile(join(dir, "Dockerfile"), "utf8");
    const recipe = await new Promise<string>((resolve, reject) =>
      execFile(
        "bash",
        ["-c", 'source images/common.sh && printf %s "$REDIS_SETUP"'],
        { cwd: root },
        (error, stdout) => (error ? reject(error) : resolve(stdout)),
      ),
    );
    assert.match(recipe, /apt-get install .* redis-server/);
    assert.equal(await readFile(join(dir, "setup.sh"), "utf8"), recipe);
    assert.match(dockerfile, /^FROM debian:bookworm-slim$/m);
    assert.match(
      dockerfile,
      /^RUN --mount=type=bind,source=setup\.sh,target=\/tmp\/setup\.sh sh -eu \/tmp\/setup\.sh$/m,
    );
    assert.match(dockerfile, /^USER 999:999$/m);
    assert.match(dockerfile, /^WORKDIR \/data$/m);
    assert.match(dockerfile, /^EXPOSE 6379$/m);
    assert.match(
      dockerfile,
      /^CMD \["redis-server", "--protected-mode", "no", "--save", "", "--appendonly", "no"\]$/m,
    );
  });

  it("deletes the cluster when the suite fails, and exits non-zero", async () => {
    const { status, log } = await run({ FAKE_SUITE_FAILS: "1" });
    assert.notEqual(status, 0);
    assert.equal(log.at(-1), "kind delete cluster --name jobchannel-e2e");
  });

  it("keeps the cluster with KEEP_CLUSTER=1, and reuses a running one of the same name", async () => {
    const { status, stderr, log } = await run({
      KEEP_CLUSTER: "1",
      KIND_CLUSTER_NAME: "mine",
      STUB_CLUSTERS: "mine",
    });
    assert.equal(status, 0, stderr);
    assert.ok(
      log.some((line) => /^kind export kubeconfig --name mine --kubeconfig \S+$/.test(line)),
    );
    assert.ok(
      !log.some((line) => line.startsWith("kind create") || line.startsWith("kind delete")),
    );
    assert.match(stderr, /keeping the cluster mine \(KEEP_CLUSTER=1\)/);
  });

  it("says what is missing before it builds anything", async () => {
    const { status, stderr, log } = await run({}, true);
    assert.equal(status, 1);
    assert.match(stderr, /e2e-kind: error: kind is missing: install kind/);
    assert.deepEqual(log, []);
  });
});
