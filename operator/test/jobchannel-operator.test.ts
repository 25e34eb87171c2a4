// The jobchannel-operator bin started by a Node too old for it: it re-runs itself on Node 24, passes stop signals on and ends as the operator ends.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { freePort, startProcess, waitFor, type Started } from "@jobchannel/testkit";
import { REPO_ROOT } from "./fixtures.ts";

const BIN = new URL("operator/bin/jobchannel-operator.js", REPO_ROOT).pathname;

/** A system Node older than 22.19, which makes the bin re-execute itself. */
function oldNode(): string | undefined {
  for (const candidate of ["/usr/bin/node", "/usr/local/bin/node"]) {
    try {
      const version = execFileSync(candidate, ["--version"], { encoding: "utf8" }).trim();
      const [major, minor] = version.slice(1).split(".").map(Number);
      if (major! < 22 || (major === 22 && minor! < 19)) return candidate;
    } catch {
      // Not installed there.
    }
  }
  return undefined;
}

function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

const node = oldNode();
let dir: string;
let kubeconfig: string;
const started: Started[] = [];

/** Starts the bin on the old Node against an API server that is not there (nothing needs it). */
async function startBin(args: string[] = []): Promise<Started> {
  const run = startProcess(node!, [BIN, ...args], {
    env: {
      PATH: process.env.PATH ?? "",
      KUBECONFIG: kubeconfig,
      JOBCHANNEL_NAMESPACE: "default",
      LEADER_ELECTION: "false",
      PORT: String(await freePort()),
      LOG_LEVEL: "info",
    },
  });
  started.push(run);
  return run;
}

/** Waits for "operator started" and returns the pid of the process that logged it. */
async function operatorPid(run: Started): Promise<number> {
  const line = await waitFor(
    () =>
      run
        .logTail()
        .split("\n")
        .find((l) => l.includes('"msg":"operator started"')),
    { timeoutMs: 30_000, what: `"operator started" (${run.logTail()})` },
  );
  return (JSON.parse(line) as { pid: number }).pid;
}

function exited(run: Started): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const { child } = run;
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

describe(
  "jobchannel-operator on an older Node",
  { skip: !node && "no Node < 22.19 installed" },
  () => {
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), "jobchannel-bin-"));
      kubeconfig = join(dir, "kubeconfig");
      const server = `https://127.0.0.1:${await freePort()}`;
      writeFileSync(
        kubeconfig,
        JSON.stringify({
          apiVersion: "v1",
          kind: "Config",
          clusters: [{ name: "none", cluster: { server, "insecure-skip-tls-verify": true } }],
          users: [{ name: "none", user: { token: "unused" } }],
          contexts: [{ name: "none", context: { cluster: "none", user: "none" } }],
          "current-context": "none",
        }),
      );
    });

    after(async () => {
      await Promise.all(started.map((s) => s.stop(2000)));
      rmSync(dir, { recursive: true, force: true });
    });

    for (const stop of ["SIGTERM", "SIGINT"] as const) {
      it(`passes ${stop} on to the operator, which shuts down gracefully, and exits 0`, async () => {
        const run = await startBin();
        const pid = await operatorPid(run);
        assert.notEqual(pid, run.child.pid, "the operator runs in a re-executed child");
        const end = exited(run);
        process.kill(run.child.pid!, stop);
        assert.deepEqual(await end, { code: 0, signal: null }, run.logTail());
        assert.match(run.logTail(), new RegExp(`"signal":"${stop}".*"msg":"shutting down"`));
        assert.match(run.logTail(), /"msg":"stopped"/);
        assert.ok(gone(pid), "no operator process is left behind");
      });
    }

    it("dies of the signal that ended the operator", async () => {
      const run = await startBin();
      const pid = await operatorPid(run);
      const end = exited(run);
      // The operator does not handle SIGHUP: it dies of it, and so does the bin.
      process.kill(run.child.pid!, "SIGHUP");
      assert.deepEqual(await end, { code: null, signal: "SIGHUP" });
      assert.ok(gone(pid), "no operator process is left behind");
    });

    it("exits with the operator's status", async () => {
      const run = await startBin(["--workers", "0"]);
      assert.deepEqual(await exited(run), { code: 2, signal: null });
      assert.match(run.logTail(), /--workers/);
    });
  },
);
