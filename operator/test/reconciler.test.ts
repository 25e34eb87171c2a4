// The reconciler against in-memory stores and a recording writer: children, relay config, status, conflicts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import type { ApplyOptions, ClusterWriter, EventInput } from "../src/kube-client.ts";
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
  CHILD_KINDS,
  JobChannelReconciler,
  RELAY_CONFIG_QUEUE_KEY,
  type StatusMetrics,
} from "../src/reconciler.ts";
import type { ChildKind } from "../src/desired-worker.ts";
import { Store } from "../src/store.ts";
import { rawJobChannel, type Json } from "./fixtures.ts";

class RecordingWriter implements ClusterWriter {
  applied: Json[] = [];
  forced: boolean[] = [];
  managers: string[] = [];
  statuses = new Map<string, JobChannelStatus>();
  statusWrites = 0;
  removed: string[] = [];
  events: EventInput[] = [];
  secrets = new Set(["apps/jobchannel-redis", "a/jobchannel-redis", "b/jobchannel-redis"]);
  /** An error the next apply of this kind throws. */
  failApply = new Map<string, unknown>();
  async apply(object: Record<string, unknown>, options: ApplyOptions): Promise<unknown> {
    const failure = this.failApply.get(object.kind as string);
    if (failure) throw failure;
    // The API returns the live object: a fresh one has generation 1 and no status yet.
    const live = {
      ...object,
      metadata: { ...(object.metadata as Json), generation: 1, resourceVersion: "1" },
    };
    this.applied.push(live as Json);
    this.forced.push(options.force);
    this.managers.push(options.fieldManager ?? "jobchannel-operator");
    return live;
  }
  async applyStatus(namespace: string, name: string, status: JobChannelStatus): Promise<string> {
    this.statuses.set(`${namespace}/${name}`, status);
    this.statusWrites += 1;
    return `rv-${this.statusWrites}`;
  }
  async secretExists(namespace: string, name: string): Promise<boolean> {
    return this.secrets.has(`${namespace}/${name}`);
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
  const children = Object.fromEntries(
    CHILD_KINDS.map((kind) => [
      kind,
      new Store<ObservedChild>({ project: (o) => observeChild(o, kind) }),
    ]),
  ) as Record<ChildKind, Store<ObservedChild>>;
  const deployments = children.Deployment;
  const services = children.Service;
  const configMaps = new Store<ObservedConfigMap>({ project: observeConfigMap });
  jobChannels.replace(objects);
  const writer = new RecordingWriter();
  const reconciler = new JobChannelReconciler({
    jobChannels,
    // A scan stands in for the manager's index.
    claimants: (channel) =>
      jobChannels.keys().filter((k) => {
        const o = jobChannels.get(k);
        return o?.ok && (o.value.spec.channel ?? o.value.metadata.name) === channel;
      }),
    children,
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
  return { jobChannels, children, deployments, services, configMaps, writer, reconciler };
}

describe("JobChannelReconciler", () => {
  it("applies the worker Deployment, Service and PodDisruptionBudget and a status", async () => {
    const t = setup([rawJobChannel("file-upload")]);
    await t.reconciler.reconcile({ key: "apps/file-upload" });
    assert.deepEqual(
      t.writer.applied.map((o) => `${o.kind} ${o.metadata.name}`),
      [
        "Deployment file-upload-worker",
        "Service file-upload-worker",
        "PodDisruptionBudget file-upload-worker",
      ],
    );
    // Not yet known as its own: applied without force, so another manager's fields conflict.
    assert.deepEqual(t.writer.forced, [false, false, false]);
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
    for (const kind of CHILD_KINDS) t.children[kind].upsert(owned);
    await t.reconciler.reconcile({ key: "apps/file-upload" });
    assert.deepEqual(t.writer.removed, [
      "Deployment apps/file-upload-worker",
      "Service apps/file-upload-worker",
      "PodDisruptionBudget apps/file-upload-worker",
      "HorizontalPodAutoscaler apps/file-upload-worker",
    ]);
  });

  it("skips the apply of a child the cache shows as applied from the same desired object", async () => {
    const t = setup([rawJobChannel("file-upload")]);
    await t.reconciler.reconcile({ key: "apps/file-upload" });
    for (const object of t.writer.applied) {
      const owned = { ...object, metadata: { ...object.metadata, namespace: "apps" } };
      t.children[object.kind as ChildKind].upsert(owned);
    }
    t.writer.applied = [];
    await t.reconciler.reconcile({ key: "apps/file-upload" });
    assert.deepEqual(t.writer.applied, []);
    // Changed by someone else since (a new generation): applied again, with force.
    const deployment = t.deployments.get("apps/file-upload-worker")!;
    t.deployments.upsert({
      metadata: {
        name: "file-upload-worker",
        namespace: "apps",
        generation: 7,
        annotations: { "jobchannel.io/desired-hash": deployment.desiredHash },
        ownerReferences: [
          {
            apiVersion: "jobchannel.io/v1alpha1",
            kind: "JobChannel",
            name: "file-upload",
            controller: true,
          },
        ],
      },
    });
    await t.reconciler.reconcile({ key: "apps/file-upload" });
    assert.deepEqual(
      t.writer.applied.map((o: Json) => o.kind),
      ["Deployment"],
    );
    assert.deepEqual(t.writer.forced.at(-1), true);
  });

  it("refuses a child another JobChannel controls, with ChildConflict, a Warning and a long retry", async () => {
    const t = setup([rawJobChannel("file-upload")]);
    t.services.upsert({
      metadata: {
        name: "file-upload-worker",
        namespace: "apps",
        ownerReferences: [
          {
            apiVersion: "jobchannel.io/v1alpha1",
            kind: "JobChannel",
            name: "other",
            controller: true,
          },
        ],
      },
    });
    const result = await t.reconciler.reconcile({ key: "apps/file-upload" });
    assert.ok((result.requeueAfterMs ?? 0) >= 30_000, "retried after a long delay");
    assert.deepEqual(
      t.writer.applied.map((o: Json) => o.kind),
      ["Deployment"],
    );
    const ready = t.writer.statuses
      .get("apps/file-upload")
      ?.conditions?.find((c) => c.type === "Ready");
    assert.equal(ready?.reason, "ChildConflict");
    assert.match(
      ready?.message ?? "",
      /Service apps\/file-upload-worker is controlled by JobChannel apps\/other/,
    );
    assert.ok(t.writer.events.some((e) => e.reason === "ChildConflict" && e.type === "Warning"));
    const again = await t.reconciler.reconcile({ key: "apps/file-upload" });
    assert.ok((again.requeueAfterMs ?? 0) > (result.requeueAfterMs ?? 0), "the delay grows");
  });

  it("reports a child the API refuses as InvalidChild with the API's message", async () => {
    const t = setup([rawJobChannel("file-upload")]);
    t.writer.failApply.set(
      "Deployment",
      Object.assign(new Error("HTTP 422"), {
        code: 422,
        body: JSON.stringify({
          message: 'Deployment.apps "file-upload-worker" is invalid: bad valueFrom',
        }),
      }),
    );
    const result = await t.reconciler.reconcile({ key: "apps/file-upload" });
    assert.ok((result.requeueAfterMs ?? 0) >= 30_000);
    const workers = t.writer.statuses
      .get("apps/file-upload")
      ?.conditions?.find((c) => c.type === "WorkersAvailable");
    assert.equal(workers?.reason, "InvalidChild");
    assert.match(workers?.message ?? "", /bad valueFrom/);
    // A conflict on apply (another field manager) is a ChildConflict.
    t.writer.failApply.set("Deployment", Object.assign(new Error("HTTP 409"), { code: 409 }));
    await t.reconciler.reconcile({ key: "apps/file-upload" });
    const ready = t.writer.statuses
      .get("apps/file-upload")
      ?.conditions?.find((c) => c.type === "Ready");
    assert.equal(ready?.reason, "ChildConflict");
  });

  it("says which Redis Secret to create when it is missing, and looks again soon", async () => {
    const t = setup([
      rawJobChannel("file-upload", { spec: { redis: { secretName: "my-redis" } } }),
    ]);
    const result = await t.reconciler.reconcile({ key: "apps/file-upload" });
    assert.equal(result.requeueAfterMs, 10_000);
    const workers = t.writer.statuses
      .get("apps/file-upload")
      ?.conditions?.find((c) => c.type === "WorkersAvailable");
    assert.equal(workers?.reason, "RedisSecretMissing");
    assert.match(workers?.message ?? "", /apps\/my-redis/);
    const env = t.writer.applied[0]?.spec.template.spec.containers[0].env;
    assert.equal(
      env.find((e: Json) => e.name === "REDIS_URL").valueFrom.secretKeyRef.name,
      "my-redis",
    );
  });

  it("creates a HorizontalPodAutoscaler and leaves the Deployment's replicas to it", async () => {
    const t = setup([
      rawJobChannel("file-upload", {
        spec: {
          worker: {
            jobType: "file-upload",
            autoscaling: { minReplicas: 2, maxReplicas: 5, targetCPUUtilizationPercentage: 70 },
          },
        },
      }),
    ]);
    await t.reconciler.reconcile({ key: "apps/file-upload" });
    const hpa = t.writer.applied.find((o) => o.kind === "HorizontalPodAutoscaler");
    assert.equal(hpa?.spec.minReplicas, 2);
    assert.equal(hpa?.spec.maxReplicas, 5);
    assert.equal(hpa?.spec.scaleTargetRef.name, "file-upload-worker");
    const deployment = t.writer.applied.find((o) => o.kind === "Deployment");
    assert.equal("replicas" in deployment!.spec, false);
  });

  it("hands a Deployment's replicas over to another field manager before autoscaling takes them", async () => {
    const t = setup([
      rawJobChannel("file-upload", {
        spec: {
          worker: {
            jobType: "file-upload",
            autoscaling: { maxReplicas: 5, targetCPUUtilizationPercentage: 70 },
          },
        },
      }),
    ]);
    t.deployments.upsert({
      metadata: {
        name: "file-upload-worker",
        namespace: "apps",
        generation: 3,
        ownerReferences: [
          {
            apiVersion: "jobchannel.io/v1alpha1",
            kind: "JobChannel",
            name: "file-upload",
            controller: true,
          },
        ],
        managedFields: [
          {
            manager: "jobchannel-operator",
            operation: "Apply",
            fieldsV1: { "f:spec": { "f:replicas": {} } },
          },
        ],
      },
      spec: { replicas: 3 },
    });
    await t.reconciler.reconcile({ key: "apps/file-upload" });
    assert.deepEqual(t.writer.applied[0]?.spec, { replicas: 3 });
    assert.equal(t.writer.managers[0], "jobchannel-operator-replicas-handover");
    assert.equal(t.writer.applied[1]?.kind, "Deployment");
    assert.equal("replicas" in t.writer.applied[1]!.spec, false);
    assert.equal(t.writer.managers[1], "jobchannel-operator");
  });

  it("writes a status once even while the cache still shows the object from before the write", async () => {
    const t = setup([rawJobChannel("file-upload")]);
    await t.reconciler.reconcile({ key: "apps/file-upload" });
    const writes = t.writer.statusWrites;
    const events = t.writer.events.length;
    await t.reconciler.reconcile({ key: "apps/file-upload" });
    assert.equal(t.writer.statusWrites, writes);
    assert.equal(t.writer.events.length, events);
  });

  it("records pending states as Normal Events and problems as Warnings", async () => {
    const t = setup([rawJobChannel("file-upload")]);
    await t.reconciler.reconcile({ key: "apps/file-upload" });
    assert.ok(t.writer.events.length > 0);
    for (const event of t.writer.events) assert.equal(event.type, "Normal", event.reason);
  });
});
