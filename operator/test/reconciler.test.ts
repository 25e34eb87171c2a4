// The reconciler against in-memory stores and a recording writer: children, relay config, status, conflicts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import type { ClusterWriter, EventInput } from "../src/kube-client.ts";
import type { JobChannelStatus } from "../src/jobchannel.ts";
import { deploymentOwner, type RelayConfigMapOwner } from "../src/relay-config.ts";
import { createMetrics } from "../src/metrics.ts";
import {
  observeChild,
  observeConfigMap,
  observeJobChannel,
  type ObservedChild,
  type ObservedConfigMap,
  type ObservedJobChannel,
} from "../src/observed.ts";
import {
  JobChannelReconciler,
  RELAY_CONFIG_QUEUE_KEY,
  type StatusMetrics,
} from "../src/reconciler.ts";
import { Store } from "../src/store.ts";
import { rawJobChannel, type Json } from "./fixtures.ts";

class RecordingWriter implements ClusterWriter {
  applied: Json[] = [];
  statuses = new Map<string, JobChannelStatus>();
  removed: string[] = [];
  events: EventInput[] = [];
  async apply(object: Record<string, unknown>): Promise<unknown> {
    this.applied.push(object as Json);
    // The API returns the object with a status; a fresh Deployment has none yet.
    return object;
  }
  async applyStatus(namespace: string, name: string, status: JobChannelStatus): Promise<void> {
    this.statuses.set(`${namespace}/${name}`, status);
  }
  async remove(kind: string, namespace: string, name: string): Promise<void> {
    this.removed.push(`${kind} ${namespace}/${name}`);
  }
  async event(event: EventInput): Promise<void> {
    this.events.push(event);
  }
}

function setup(
  objects: Json[],
  options: { metrics?: StatusMetrics; owner?: RelayConfigMapOwner } = {},
) {
  const jobChannels = new Store<ObservedJobChannel>({ project: observeJobChannel });
  const deployments = new Store<ObservedChild>({ project: (o) => observeChild(o, "Deployment") });
  const services = new Store<ObservedChild>({ project: (o) => observeChild(o, "Service") });
  const configMaps = new Store<ObservedConfigMap>({ project: observeConfigMap });
  jobChannels.replace(objects);
  const writer = new RecordingWriter();
  const reconciler = new JobChannelReconciler({
    jobChannels,
    deployments,
    services,
    configMaps,
    writer,
    settings: {
      workerImage: "jobchannel/worker:test",
      redisSecret: "jobchannel-redis",
      relayNamespace: "jobchannel",
      relayConfigMap: "jobchannel-relay",
      ...(options.owner ? { relayConfigMapOwner: options.owner } : {}),
    },
    logger: pino({ level: "silent" }),
    now: () => new Date("2025-01-01T00:00:00.123Z"),
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  return { jobChannels, deployments, services, configMaps, writer, reconciler };
}

describe("JobChannelReconciler", () => {
  it("applies the worker Deployment and Service and a status", async () => {
    const t = setup([rawJobChannel("file-upload")]);
    await t.reconciler.reconcile({ key: "apps/file-upload" });
    assert.deepEqual(
      t.writer.applied.map((o) => `${o.kind} ${o.metadata.name}`),
      ["Deployment file-upload-worker", "Service file-upload-worker"],
    );
    const status = t.writer.statuses.get("apps/file-upload");
    assert.equal(status?.redisChannel, "jobchannel:file-upload");
    assert.equal(status?.conditions?.[0]?.lastTransitionTime, "2025-01-01T00:00:00Z");
    assert.ok(t.writer.events.length > 0);
  });

  it("writes channels.json with every winning channel under the relay key", async () => {
    const t = setup([rawJobChannel("file-upload"), rawJobChannel("pdf-extraction")]);
    await t.reconciler.reconcile({ key: RELAY_CONFIG_QUEUE_KEY });
    const [cm] = t.writer.applied;
    assert.equal(cm?.kind, "ConfigMap");
    assert.equal(cm?.metadata.namespace, "jobchannel");
    const names = JSON.parse(cm?.data["channels.json"]).channels.map((c: Json) => c.name);
    assert.deepEqual(names, ["file-upload", "pdf-extraction"]);
  });

  it("does not rewrite an unchanged relay ConfigMap", async () => {
    const t = setup([rawJobChannel("file-upload")]);
    await t.reconciler.reconcile({ key: RELAY_CONFIG_QUEUE_KEY });
    t.configMaps.upsert({
      ...t.writer.applied[0],
      metadata: { name: "jobchannel-relay", namespace: "jobchannel" },
    });
    t.writer.applied = [];
    await t.reconciler.reconcile({ key: RELAY_CONFIG_QUEUE_KEY });
    assert.deepEqual(t.writer.applied, []);
  });

  it("applies the relay ConfigMap again when its text is current but its owner is not", async () => {
    const owner = deploymentOwner("jobchannel-operator", "uid-op");
    const t = setup([rawJobChannel("file-upload")], { owner });
    await t.reconciler.reconcile({ key: RELAY_CONFIG_QUEUE_KEY });
    const [applied] = t.writer.applied;
    assert.deepEqual(applied?.metadata.ownerReferences, [owner]);
    // Written earlier without an owner: same text, applied again with it.
    t.configMaps.upsert({
      ...applied,
      metadata: { name: "jobchannel-relay", namespace: "jobchannel" },
    });
    t.writer.applied = [];
    await t.reconciler.reconcile({ key: RELAY_CONFIG_QUEUE_KEY });
    assert.equal(t.writer.applied.length, 1);
    // With the owner in place nothing is written.
    t.configMaps.upsert(applied);
    t.writer.applied = [];
    await t.reconciler.reconcile({ key: RELAY_CONFIG_QUEUE_KEY });
    assert.deepEqual(t.writer.applied, []);
    // An operator without an owner applies a ConfigMap that still names one, without it.
    const unowned = setup([rawJobChannel("file-upload")]);
    unowned.configMaps.upsert(applied);
    await unowned.reconciler.reconcile({ key: RELAY_CONFIG_QUEUE_KEY });
    assert.equal(unowned.writer.applied[0]?.metadata.ownerReferences, undefined);
  });

  it("sets ChannelRegistered once the relay ConfigMap lists the channel", async () => {
    const t = setup([rawJobChannel("file-upload")]);
    await t.reconciler.reconcile({ key: RELAY_CONFIG_QUEUE_KEY });
    t.configMaps.upsert({
      ...t.writer.applied[0],
      metadata: { name: "jobchannel-relay", namespace: "jobchannel" },
    });
    await t.reconciler.reconcile({ key: "apps/file-upload" });
    const registered = t.writer.statuses
      .get("apps/file-upload")
      ?.conditions?.find((c) => c.type === "ChannelRegistered");
    assert.equal(registered?.status, "True");
  });

  it("gives the newer of two claims ChannelConflict, no children and no relay entry", async () => {
    const t = setup([
      rawJobChannel("uploads", {
        namespace: "a",
        spec: { channel: "file-upload" },
        created: "2025-01-01T00:00:00Z",
      }),
      rawJobChannel("uploads2", {
        namespace: "b",
        spec: { channel: "file-upload" },
        created: "2025-01-02T00:00:00Z",
      }),
    ]);
    t.deployments.upsert({
      metadata: {
        name: "uploads2-worker",
        namespace: "b",
        ownerReferences: [
          {
            apiVersion: "jobchannel.io/v1alpha1",
            kind: "JobChannel",
            name: "uploads2",
            controller: true,
          },
        ],
      },
    });
    await t.reconciler.reconcile({ key: "b/uploads2" });
    const ready = t.writer.statuses.get("b/uploads2")?.conditions?.find((c) => c.type === "Ready");
    assert.equal(ready?.reason, "ChannelConflict");
    assert.equal(t.writer.applied.length, 0);
    assert.deepEqual(t.writer.removed, ["Deployment b/uploads2-worker"]);
    assert.ok(t.writer.events.some((e) => e.reason === "ChannelConflict" && e.type === "Warning"));
    await t.reconciler.reconcile({ key: RELAY_CONFIG_QUEUE_KEY });
    const channels = JSON.parse(t.writer.applied[0]?.data["channels.json"]).channels;
    assert.equal(channels.length, 1);
  });

  it("refuses an invalid JobChannel with a terminal error and an InvalidSpec status", async () => {
    const t = setup([rawJobChannel("bad", { spec: { access: "everyone" } })]);
    t.deployments.upsert({
      metadata: {
        name: "bad-worker",
        namespace: "apps",
        ownerReferences: [
          {
            apiVersion: "jobchannel.io/v1alpha1",
            kind: "JobChannel",
            name: "bad",
            controller: true,
          },
        ],
      },
    });
    await assert.rejects(t.reconciler.reconcile({ key: "apps/bad" }), {
      name: "TerminalError",
      code: "invalid_spec",
    });
    const ready = t.writer.statuses.get("apps/bad")?.conditions?.find((c) => c.type === "Ready");
    assert.equal(ready?.reason, "InvalidSpec");
    assert.match(ready?.message ?? "", /spec\.access/);
    assert.deepEqual(t.writer.removed, [], "existing workers are left alone");
    assert.ok(t.writer.events.some((e) => e.reason === "InvalidSpec" && e.type === "Warning"));
  });

  it("does nothing for a JobChannel that is gone or being deleted", async () => {
    const deleting = rawJobChannel("old");
    (deleting.metadata as Json).deletionTimestamp = "2025-01-01T00:00:00Z";
    const t = setup([deleting]);
    assert.deepEqual(await t.reconciler.reconcile({ key: "apps/old" }), {});
    assert.deepEqual(await t.reconciler.reconcile({ key: "apps/missing" }), {});
    assert.equal(t.writer.applied.length + t.writer.statuses.size, 0);
  });

  it("sets the per-JobChannel gauges from each computed status and drops them when the JobChannel goes", async () => {
    const metrics = createMetrics({ leaseName: "test", workers: 1 });
    const t = setup(
      [rawJobChannel("file-upload"), rawJobChannel("bad", { spec: { access: "everyone" } })],
      { metrics: metrics.statuses },
    );
    /** The gauge's value for `apps/<jobchannel>`, undefined without a series. */
    const sample = async (name: string, jobchannel: string) =>
      (await metrics.registry.getSingleMetric(name)!.get()).values.find(
        (v) => v.labels.namespace === "apps" && v.labels.jobchannel === jobchannel,
      )?.value;
    const gauges = async (jobchannel: string) => [
      await sample("jobchannel_operator_workers_desired", jobchannel),
      await sample("jobchannel_operator_workers_available", jobchannel),
      await sample("jobchannel_operator_jobchannel_ready", jobchannel),
    ];

    await t.reconciler.reconcile({ key: "apps/file-upload" });
    const workers = t.writer.statuses.get("apps/file-upload")?.workers;
    assert.equal(workers?.desiredReplicas, 2);
    assert.deepEqual(await gauges("file-upload"), [2, workers?.availableReplicas, 0]);

    // A registered channel without workers is Ready.
    t.jobChannels.upsert(rawJobChannel("file-upload", { spec: { worker: undefined } }));
    await t.reconciler.reconcile({ key: RELAY_CONFIG_QUEUE_KEY });
    t.configMaps.upsert({
      ...t.writer.applied.at(-1),
      metadata: { name: "jobchannel-relay", namespace: "jobchannel" },
    });
    await t.reconciler.reconcile({ key: "apps/file-upload" });
    assert.deepEqual(await gauges("file-upload"), [0, 0, 1]);

    // An invalid spec has no worker counts in its status, so no worker series; Ready is 0.
    await assert.rejects(t.reconciler.reconcile({ key: "apps/bad" }), { code: "invalid_spec" });
    assert.deepEqual(await gauges("bad"), [undefined, undefined, 0]);

    t.jobChannels.remove(rawJobChannel("bad"));
    await t.reconciler.reconcile({ key: "apps/bad" });
    assert.deepEqual(await gauges("bad"), [undefined, undefined, undefined]);

    const deleting = rawJobChannel("old");
    t.jobChannels.upsert(deleting);
    await t.reconciler.reconcile({ key: "apps/old" });
    assert.deepEqual(await gauges("old"), [2, 0, 0]);
    (deleting.metadata as Json).deletionTimestamp = "2025-01-01T00:00:00Z";
    t.jobChannels.upsert(deleting);
    await t.reconciler.reconcile({ key: "apps/old" });
    assert.deepEqual(await gauges("old"), [undefined, undefined, undefined]);

    metrics.clearJobChannels();
    assert.deepEqual(await gauges("file-upload"), [undefined, undefined, undefined]);
  });

  it("writes no status when nothing changed", async () => {
    const t = setup([rawJobChannel("file-upload")]);
    await t.reconciler.reconcile({ key: "apps/file-upload" });
    const status = t.writer.statuses.get("apps/file-upload");
    t.jobChannels.upsert(rawJobChannel("file-upload", { status }));
    t.writer.statuses.clear();
    t.writer.events = [];
    await t.reconciler.reconcile({ key: "apps/file-upload" });
    assert.equal(t.writer.statuses.size, 0);
    assert.equal(t.writer.events.length, 0);
  });

  it("removes the children when spec.worker is dropped", async () => {
    const t = setup([rawJobChannel("file-upload", { spec: { worker: undefined } })]);
    const owned = {
      metadata: {
        name: "file-upload-worker",
        namespace: "apps",
        ownerReferences: [
          {
            apiVersion: "jobchannel.io/v1alpha1",
            kind: "JobChannel",
            name: "file-upload",
            controller: true,
          },
        ],
      },
    };
    t.deployments.upsert(owned);
    t.services.upsert(owned);
    await t.reconciler.reconcile({ key: "apps/file-upload" });
    assert.deepEqual(t.writer.removed, [
      "Deployment apps/file-upload-worker",
      "Service apps/file-upload-worker",
    ]);
  });
});
