// The operator's failure reporting and quiet steady state against a real control plane: child
// conflicts and missing Redis Secrets as conditions and Events without a hot loop, autoscaled
// workers whose replicas the operator leaves alone, and zero writes per resync with 50 JobChannels.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { waitFor } from "@jobchannel/testkit";
import type { Json } from "./fixtures.ts";
import {
  condition,
  startCluster,
  startOperator,
  type TestCluster,
  type TestOperator,
} from "./cluster.ts";

const WAIT = { timeoutMs: 60_000, intervalMs: 250 };
const RESYNC_SECONDS = 5;

let cluster: TestCluster;
let operator: TestOperator;

function jobChannel(name: string, namespace: string, spec: object): string {
  return JSON.stringify({
    apiVersion: "jobchannel.io/v1alpha1",
    kind: "JobChannel",
    metadata: { name, namespace },
    spec,
  });
}

/** Each series of a counter, by its labels. */
async function series(name: string): Promise<Map<string, number>> {
  const text = await operator.metrics();
  return new Map(
    text
      .split("\n")
      .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      .map((line) => [
        line.slice(name.length, line.lastIndexOf(" ")),
        Number(line.split(" ").at(-1)),
      ]),
  );
}

/** The sum of a counter over every label set. */
async function total(name: string): Promise<number> {
  return [...(await series(name)).values()].reduce((a, b) => a + b, 0);
}

async function reconciles(): Promise<number> {
  return total("controller_runtime_reconcile_total");
}

/** Events about a JobChannel, as "type reason". */
async function eventsOf(namespace: string, name: string): Promise<string[]> {
  const list = await cluster.getJson([
    "events.events.k8s.io",
    "-n",
    namespace,
    "--field-selector",
    `regarding.name=${name},regarding.kind=JobChannel`,
  ]);
  return (list?.items ?? []).map((e: Json) => `${e.type} ${e.reason}`);
}

async function jc(namespace: string, name: string): Promise<Json> {
  return cluster.getJson(["jc", name, "-n", namespace]);
}

describe("operator hardening against a real control plane", { timeout: 600_000 }, () => {
  before(async () => {
    cluster = await startCluster(["apps", "quiet"]);
    for (const ns of ["apps", "quiet"]) {
      await cluster.kubectl([
        "create",
        "secret",
        "generic",
        "jobchannel-redis",
        "-n",
        ns,
        "--from-literal=REDIS_URL=redis://redis:6379",
      ]);
    }
    operator = await startOperator(cluster, {
      args: ["--resync-seconds", String(RESYNC_SECONDS)],
    });
  });

  after(async () => {
    await operator?.stop();
    await cluster?.stop();
  });

  it("reports a worker Service another owner holds as ChildConflict, never takes it over, and does not hot-loop", async () => {
    // A Service with the child's name, controlled by something else.
    const cm = JSON.parse(
      await cluster.kubectl(["create", "configmap", "someone-else", "-n", "apps", "-o", "json"]),
    );
    await cluster.kubectl(
      ["apply", "--server-side", "--field-manager=someone-else", "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "Service",
        metadata: {
          name: "taken-worker",
          namespace: "apps",
          ownerReferences: [
            {
              apiVersion: "v1",
              kind: "ConfigMap",
              name: "someone-else",
              uid: cm.metadata.uid,
              controller: true,
            },
          ],
        },
        spec: { ports: [{ port: 80 }], selector: { app: "someone-else" } },
      }),
    );
    const before = await reconciles();
    await cluster.kubectl(
      ["apply", "-f", "-"],
      jobChannel("taken", "apps", { worker: { jobType: "file-upload" } }),
    );
    const ready = await waitFor(
      async () => {
        const c = condition(await jc("apps", "taken"), "Ready");
        return c?.reason === "ChildConflict" ? c : undefined;
      },
      { ...WAIT, what: "Ready=False, reason ChildConflict" },
    );
    assert.equal(ready.status, "False");
    assert.match(ready.message, /Service apps\/taken-worker/);
    await waitFor(async () => (await eventsOf("apps", "taken")).includes("Warning ChildConflict"), {
      ...WAIT,
      what: "a Warning Event ChildConflict",
    });
    const service = await cluster.getJson(["service", "taken-worker", "-n", "apps"]);
    assert.deepEqual(
      service.metadata.ownerReferences.map((r: Json) => r.kind),
      ["ConfigMap"],
      "the Service is not taken over",
    );
    assert.equal(service.spec.selector.app, "someone-else");
    // No hot loop: with two keys (the relay config and this JobChannel), four more reconciles
    // take at least one resync period, as they would if only resyncs caused them.
    const reported = await reconciles();
    const start = performance.now();
    await waitFor(async () => (await reconciles()) >= reported + 4, { ...WAIT, what: "resyncs" });
    const seconds = (performance.now() - start) / 1000;
    console.log(
      `child conflict: reported after ${reported - before} reconciles; the next 4 took ${seconds.toFixed(1)} s`,
    );
    assert.ok(seconds >= RESYNC_SECONDS * 0.9, `4 reconciles in ${seconds} s`);
  });

  it("names a missing Redis Secret in WorkersAvailable, and clears it once the Secret exists", async () => {
    await cluster.kubectl(
      ["apply", "-f", "-"],
      jobChannel("no-secret", "apps", {
        redis: { secretName: "redis-for-no-secret" },
        worker: { jobType: "file-upload" },
      }),
    );
    const workers = await waitFor(
      async () => {
        const c = condition(await jc("apps", "no-secret"), "WorkersAvailable");
        return c?.reason === "RedisSecretMissing" ? c : undefined;
      },
      { ...WAIT, what: "WorkersAvailable=False, reason RedisSecretMissing" },
    );
    assert.equal(workers.status, "False");
    assert.match(workers.message, /apps\/redis-for-no-secret/);
    await waitFor(
      async () => (await eventsOf("apps", "no-secret")).includes("Warning RedisSecretMissing"),
      { ...WAIT, what: "a Warning Event RedisSecretMissing" },
    );
    const deployment = await cluster.getJson(["deployment", "no-secret-worker", "-n", "apps"]);
    const env = deployment.spec.template.spec.containers[0].env;
    assert.equal(
      env.find((e: Json) => e.name === "REDIS_URL").valueFrom.secretKeyRef.name,
      "redis-for-no-secret",
    );
    await cluster.kubectl([
      "create",
      "secret",
      "generic",
      "redis-for-no-secret",
      "-n",
      "apps",
      "--from-literal=REDIS_URL=redis://redis:6379",
    ]);
    await waitFor(
      async () =>
        condition(await jc("apps", "no-secret"), "WorkersAvailable")?.reason !==
        "RedisSecretMissing",
      { ...WAIT, what: "RedisSecretMissing to clear" },
    );
  });

  it("creates a HorizontalPodAutoscaler and leaves the replicas it sets alone", async () => {
    await cluster.kubectl(
      ["apply", "-f", "-"],
      jobChannel("scaled", "apps", {
        worker: {
          jobType: "file-upload",
          autoscaling: { minReplicas: 2, maxReplicas: 6, targetCPUUtilizationPercentage: 70 },
        },
      }),
    );
    const hpa = await waitFor(() => cluster.getJson(["hpa", "scaled-worker", "-n", "apps"]), {
      ...WAIT,
      what: "the HorizontalPodAutoscaler",
    });
    assert.equal(hpa.spec.minReplicas, 2);
    assert.equal(hpa.spec.maxReplicas, 6);
    assert.deepEqual(hpa.spec.scaleTargetRef, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      name: "scaled-worker",
    });
    await waitForObject("pdb", "scaled-worker");
    // The autoscaler's write, through the scale subresource as the HPA controller makes it.
    await cluster.kubectl(["scale", "deployment", "scaled-worker", "-n", "apps", "--replicas=4"]);
    // A spec change makes the operator apply the Deployment again.
    await cluster.kubectl([
      "patch",
      "jc",
      "scaled",
      "-n",
      "apps",
      "--type=merge",
      "-p",
      JSON.stringify({ spec: { worker: { concurrency: 6 } } }),
    ]);
    await waitFor(
      async () => {
        const d = await cluster.getJson(["deployment", "scaled-worker", "-n", "apps"]);
        const env = d.spec.template.spec.containers[0].env;
        return env.find((e: Json) => e.name === "JOBCHANNEL_CONCURRENCY")?.value === "6";
      },
      { ...WAIT, what: "the Deployment applied again" },
    );
    const deployment = await cluster.getJson([
      "deployment",
      "scaled-worker",
      "-n",
      "apps",
      "--show-managed-fields",
    ]);
    assert.equal(
      deployment.spec.replicas,
      4,
      "the operator does not reset the autoscaler's replicas",
    );
    const ownsReplicas = deployment.metadata.managedFields.some(
      (f: Json) =>
        f.manager === "jobchannel-operator" && JSON.stringify(f.fieldsV1).includes('"f:replicas"'),
    );
    assert.equal(ownsReplicas, false, "the operator's field manager does not own spec.replicas");
  });

  it("makes zero writes per resync with 50 JobChannels, and a bounded number per edit", async () => {
    const names = Array.from({ length: 50 }, (_, i) => `quiet-${i}`);
    await cluster.kubectl(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "List",
        items: names.map((name) =>
          JSON.parse(jobChannel(name, "quiet", { worker: { jobType: "file-upload" } })),
        ),
      }),
    );
    // Settled: every JobChannel has a status for its generation, and writes stop.
    await waitFor(
      async () => {
        const list = await cluster.getJson(["jc", "-n", "quiet"]);
        return list.items.every(
          (o: Json) =>
            o.status?.observedGeneration === o.metadata.generation &&
            condition(o, "ChannelRegistered")?.status === "True",
        );
      },
      { timeoutMs: 120_000, intervalMs: 500, what: "50 JobChannels reconciled" },
    );
    let writes = await total("jobchannel_operator_api_writes_total");
    await waitFor(
      async () => {
        // Two full resyncs in a row without a write.
        const start = await reconciles();
        const w0 = await total("jobchannel_operator_api_writes_total");
        await waitFor(async () => (await reconciles()) >= start + 2 * names.length, {
          timeoutMs: 30_000,
          intervalMs: 250,
          what: "two resyncs",
        });
        writes = await total("jobchannel_operator_api_writes_total");
        return writes === w0;
      },
      { timeoutMs: 120_000, intervalMs: 0, what: "two resyncs without a write" },
    );
    const start = await reconciles();
    await waitFor(async () => (await reconciles()) >= start + 2 * names.length, {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: "two more resyncs",
    });
    const steady = (await total("jobchannel_operator_api_writes_total")) - writes;
    console.log(`steady state, 50 JobChannels: ${steady} writes over two resyncs`);
    assert.equal(steady, 0);
    // One edit: its Deployment, its status as the rollout moves, and one Event per transition;
    // nothing for the other 49.
    const beforeEdit = await series("jobchannel_operator_api_writes_total");
    await cluster.kubectl([
      "patch",
      "jc",
      "quiet-7",
      "-n",
      "quiet",
      "--type=merge",
      "-p",
      JSON.stringify({ spec: { worker: { concurrency: 8 } } }),
    ]);
    await waitFor(
      async () => {
        const o = await jc("quiet", "quiet-7");
        return o.status?.observedGeneration === o.metadata.generation;
      },
      { ...WAIT, what: "the edit reconciled" },
    );
    const settleStart = await reconciles();
    await waitFor(async () => (await reconciles()) >= settleStart + names.length, {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: "a resync after the edit",
    });
    const afterEdit = await series("jobchannel_operator_api_writes_total");
    const breakdown = [...afterEdit]
      .map(([labels, value]) => [labels, value - (beforeEdit.get(labels) ?? 0)] as const)
      .filter(([, delta]) => delta > 0);
    const perEdit = breakdown.reduce((sum, [, delta]) => sum + delta, 0);
    console.log(`one edit of 50 JobChannels: ${perEdit} writes ${JSON.stringify(breakdown)}`);
    const applies = (resource: string) =>
      breakdown.find(([labels]) => labels.includes(`resource="${resource}"`))?.[1] ?? 0;
    assert.equal(applies("Deployment"), 1, "one Deployment apply");
    assert.equal(applies("Service") + applies("PodDisruptionBudget") + applies("configmaps"), 0);
    assert.ok(perEdit <= 12, `writes for one edit: ${perEdit}`);
  });
});

function waitForObject(kind: string, name: string): Promise<unknown> {
  return waitFor(() => cluster.getJson([kind, name, "-n", "apps"]), {
    ...WAIT,
    what: `${kind} apps/${name}`,
  });
}
