// A leader whose renewals hang (a TCP proxy in front of the API server stops answering) exits before its Lease can be taken, and writes nothing after the new leader takes over.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { dump, load } from "js-yaml";
import { recordFaults, waitFor } from "@jobchannel/testkit";
import {
  OPERATOR_NAMESPACE,
  startCluster,
  startOperator,
  type TestCluster,
  type TestOperator,
} from "./cluster.ts";
import type { Json } from "./fixtures.ts";

const LEASE_SECONDS = 6;
const RENEW_DEADLINE_SECONDS = 4;
const ELECTION_ARGS = [
  "--lease-duration-seconds",
  String(LEASE_SECONDS),
  "--renew-deadline-seconds",
  String(RENEW_DEADLINE_SECONDS),
  "--retry-period-seconds",
  "1",
];
/** Timer slack allowed past the renew deadline. */
const SLACK_MS = 300;

/**
 * forward: pass bytes both ways; refuse: close every connection at once (requests fail fast);
 * hold: accept connections and drop every byte in both directions, so requests hang. Dropped
 * bytes are never forwarded later.
 */
type ProxyMode = "forward" | "refuse" | "hold";

interface Proxy {
  readonly port: number;
  setMode(mode: ProxyMode): void;
  close(): Promise<void>;
}

async function startProxy(targetPort: number): Promise<Proxy> {
  let mode: ProxyMode = "forward";
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("error", () => socket.destroy());
    socket.once("close", () => sockets.delete(socket));
  };
  const server: Server = createServer((client) => {
    track(client);
    if (mode === "refuse") return void client.destroy();
    if (mode === "hold") return void client.on("data", () => {});
    const upstream = connect(targetPort, "127.0.0.1");
    track(upstream);
    client.on("data", (chunk) => mode === "forward" && upstream.write(chunk));
    upstream.on("data", (chunk) => mode === "forward" && client.write(chunk));
    client.once("close", () => upstream.destroy());
    upstream.once("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const destroyAll = () => sockets.forEach((s) => s.destroy());
  return {
    port,
    setMode(next) {
      mode = next;
      if (next === "refuse") destroyAll();
    },
    close() {
      destroyAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Every JSON log line of a process, with the time the test saw it. */
function collectLog(operator: TestOperator): { lines: Json[] } {
  const log = { lines: [] as Json[] };
  let partial = "";
  operator.process.child.stdout!.on("data", (chunk: Buffer) => {
    const parts = (partial + chunk.toString("utf8")).split("\n");
    partial = parts.pop() ?? "";
    for (const part of parts) {
      try {
        log.lines.push(JSON.parse(part));
      } catch {
        // Not a log line.
      }
    }
  });
  return log;
}

function jobChannel(name: string): string {
  return JSON.stringify({
    apiVersion: "jobchannel.io/v1alpha1",
    kind: "JobChannel",
    metadata: { name, namespace: "apps" },
    spec: { worker: { jobType: name, replicas: 1 } },
  });
}

const imageOf = (d: Json): string | undefined => d?.spec?.template?.spec?.containers?.[0]?.image;

let cluster: TestCluster;
let proxy: Proxy;
const operators: TestOperator[] = [];

describe("a leader whose renewals hang", { timeout: 240_000 }, () => {
  before(async () => {
    cluster = await startCluster(["apps"]);
    proxy = await startProxy(cluster.controlPlane.apiServerPort);
  });

  after(async () => {
    await Promise.all(operators.map((o) => o.stop()));
    await proxy?.close();
    await cluster?.stop();
  });

  it("exits before its Lease can be taken, and the standby's writes are the last", async () => {
    const lease = () => cluster.getJson(["lease", "jobchannel-operator", "-n", OPERATOR_NAMESPACE]);
    const deployment = (name: string) =>
      cluster.getJson(["deployment", `${name}-worker`, "-n", "apps"]);

    // The leader reaches the API server through the proxy; the standby directly. Their worker
    // images differ, so every Deployment write says which of them made it.
    const kubeconfig = load(readFileSync(cluster.operatorKubeconfig, "utf8")) as Json;
    kubeconfig.clusters[0].cluster.server = `https://127.0.0.1:${proxy.port}`;
    const proxied = join(cluster.controlPlane.dir, "operator-proxied.kubeconfig");
    writeFileSync(proxied, dump(kubeconfig), { mode: 0o600 });
    const old = await startOperator(cluster, {
      env: { KUBECONFIG: proxied, JOBCHANNEL_WORKER_IMAGE: "jobchannel/worker:old" },
      args: ELECTION_ARGS,
    });
    operators.push(old);
    const oldLog = collectLog(old);
    await waitFor(async () => (await lease())?.spec?.holderIdentity === old.identity, {
      timeoutMs: 30_000,
      what: "the proxied operator to lead",
    });
    const standby = await startOperator(cluster, {
      env: { JOBCHANNEL_WORKER_IMAGE: "jobchannel/worker:new" },
      args: ELECTION_ARGS,
    });
    operators.push(standby);

    await cluster.kubectl(["apply", "-f", "-"], jobChannel("file-upload"));
    const written = await waitFor(
      async () => {
        const d = await deployment("file-upload");
        return imageOf(d) === "jobchannel/worker:old" ? d : undefined;
      },
      { timeoutMs: 30_000, what: "the old leader to create the Deployment" },
    );
    const generationBefore: number = written.metadata.generation;

    // A few fast failures, then requests that hang: the case where a per-attempt timeout of the
    // whole renew deadline kept the leader leading long past it.
    const exited = new Promise<{ code: number | null; at: number }>((resolve) =>
      old.process.child.once("exit", (code) => resolve({ code, at: Date.now() })),
    );
    const failures = () => oldLog.lines.filter((l) => l.msg === "lease request failed").length;
    const failedBefore = failures();
    proxy.setMode("refuse");
    await waitFor(() => failures() >= failedBefore + 2, {
      timeoutMs: 10_000,
      what: "two failed renewals",
    });
    proxy.setMode("hold");
    const heldAt = Date.now();

    const exit = await Promise.race([
      exited,
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`the old leader still runs:\n${old.process.logTail()}`)),
          LEASE_SECONDS * 1000,
        ),
      ),
    ]);
    assert.equal(exit.code, 1, "exits with a non-zero status");
    const lost = oldLog.lines.find((l) => l.msg === "leadership lost");
    assert.ok(lost, "logs that it lost leadership");
    assert.ok(
      oldLog.lines.some((l) => l.level === 60 && l.code === "leadership_lost"),
      "logs a fatal leadership_lost line before exiting",
    );
    const stepDownMs: number = lost.sinceRenewMs;
    assert.ok(
      stepDownMs <= RENEW_DEADLINE_SECONDS * 1000 + SLACK_MS,
      `stepped down ${stepDownMs} ms after its last renewal`,
    );
    // The leader exits at once after stepping down.
    assert.ok(exit.at - lost.time < 1000, `exited ${exit.at - lost.time} ms after stepping down`);

    const taken = await waitFor(
      async () => {
        const l = await lease();
        return l?.spec?.holderIdentity === standby.identity ? l : undefined;
      },
      { timeoutMs: (LEASE_SECONDS + 10) * 1000, intervalMs: 100, what: "the standby to lead" },
    );
    const acquiredAt = Date.parse(taken.spec.acquireTime);
    const takeoverVersion = Number(taken.metadata.resourceVersion);
    assert.ok(
      exit.at < acquiredAt,
      `the old leader exited ${acquiredAt - exit.at} ms before the standby took the Lease`,
    );
    console.log(
      JSON.stringify({
        stepDownAfterLastRenewMs: stepDownMs,
        exitAfterHoldMs: exit.at - heldAt,
        takeoverAfterExitMs: acquiredAt - exit.at,
        renewDeadlineMs: RENEW_DEADLINE_SECONDS * 1000,
        leaseDurationMs: LEASE_SECONDS * 1000,
      }),
    );

    // Whatever the proxy still holds from the old leader is dropped, never delivered.
    await proxy.close();

    // The new leader reconciles: the Deployment gets its image, and a new JobChannel its workers.
    await waitFor(
      async () => imageOf(await deployment("file-upload")) === "jobchannel/worker:new",
      { timeoutMs: 30_000, what: "the new leader to apply the Deployment" },
    );
    await cluster.kubectl(["apply", "-f", "-"], jobChannel("pdf-extraction"));
    await waitFor(
      async () => imageOf(await deployment("pdf-extraction")) === "jobchannel/worker:new",
      { timeoutMs: 30_000, what: "the new leader to create a Deployment" },
    );

    // One write after the old leader's: the new leader's. A late write from the old one would
    // have changed the image back and bumped the generation again.
    const final = await cluster.getJson([
      "deployment",
      "file-upload-worker",
      "-n",
      "apps",
      "--show-managed-fields",
    ]);
    assert.equal(imageOf(final), "jobchannel/worker:new");
    assert.equal(final.metadata.generation, generationBefore + 1, "no write after the takeover");
    assert.ok(Number(final.metadata.resourceVersion) > takeoverVersion);
    const applied = (final.metadata.managedFields as Json[]).filter(
      (f) => f.manager === "jobchannel-operator",
    );
    assert.ok(applied.length > 0);
    for (const f of applied) {
      assert.ok(
        Date.parse(f.time) >= Math.floor(acquiredAt / 1000) * 1000,
        "the operator's field manager last wrote after the takeover",
      );
    }
    // Events name the process that recorded them (reportingInstance: the identity).
    const events = await cluster.getJson(["events", "-n", "apps"]);
    const fromOld = (events.items as Json[]).filter((e) => e.reportingInstance === old.identity);
    console.log(JSON.stringify({ eventsFromOldLeader: fromOld.length }));
    for (const e of fromOld) {
      assert.ok(
        Number(e.metadata.resourceVersion) < takeoverVersion,
        `Event ${e.metadata.name} from the old leader was written before the takeover`,
      );
    }
    assert.equal((await lease()).spec.holderIdentity, standby.identity);
    recordFaults({
      scenario: "operator: the leader's API connection hangs, it exits before the standby leads",
      load: "2 operator processes, 2 JobChannels; no write from the old leader after the takeover",
      faultsInjected: 1,
      updatesPublished: 0,
      finalUpdatesDelivered: 0,
      lost: 0,
      duplicatesShown: 0,
      recoverySeconds: (acquiredAt - heldAt) / 1000,
    });
  });
});
