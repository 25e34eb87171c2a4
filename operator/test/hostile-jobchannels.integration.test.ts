// Hostile JobChannels on a real API server with the operator running: generated invalid ones are
// refused by the CRD's schema and CEL rules (422 Invalid) and never reach the operator, and
// generated sets of valid ones (conflicting channels, patches, deletes) converge to exactly the
// declared children and relay ConfigMap entries. The operator stays alive and ready throughout.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isDeepStrictEqual } from "node:util";
import {
  ApiException,
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
} from "@kubernetes/client-node";
import { fuzzRuns, fuzzSeed, recordHostile, RefusalTally, waitFor } from "@jobchannel/testkit";
import fc from "fast-check";
import {
  OPERATOR_NAMESPACE,
  startCluster,
  startOperator,
  type TestCluster,
  type TestOperator,
} from "./cluster.ts";
import type { Json } from "./fixtures.ts";

const NAMESPACE = "apps";
const GROUP = { group: "jobchannel.io", version: "v1alpha1", plural: "jobchannels" };
const WAIT = { timeoutMs: 90_000, intervalMs: 250 };

const seed = fuzzSeed("operator JobChannels");
const tally = new RefusalTally();
let cluster: TestCluster;
let operator: TestOperator;
let custom: CustomObjectsApi;
let apps: AppsV1Api;
let core: CoreV1Api;
let crashes = 0;
let stopping = false;

before(async () => {
  cluster = await startCluster([NAMESPACE]);
  operator = await startOperator(cluster);
  operator.process.child.once("exit", () => {
    if (!stopping) crashes = 1;
  });
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  custom = kc.makeApiClient(CustomObjectsApi);
  apps = kc.makeApiClient(AppsV1Api);
  core = kc.makeApiClient(CoreV1Api);
});

after(async () => {
  stopping = true;
  recordHostile({
    surface: "operator: JobChannels",
    cases: tally.cases,
    refusals: tally.refusals,
    crashes,
    seed,
  });
  await operator?.stop();
  await cluster?.stop();
});

async function survived(): Promise<void> {
  assert.equal(
    operator.process.child.exitCode,
    null,
    `operator alive: ${operator.process.logTail()}`,
  );
  assert.ok(await operator.ready(), "the operator's /readyz");
}

function manifest(name: string, spec: unknown): Json {
  return {
    apiVersion: "jobchannel.io/v1alpha1",
    kind: "JobChannel",
    metadata: { name, namespace: NAMESPACE },
    ...(spec === undefined ? {} : { spec }),
  };
}

/** Creates a JobChannel (a server-side dry run when `dryRun`); the API's status code on refusal. */
async function create(
  body: Json,
  dryRun = false,
): Promise<
  { ok: true; stored: Json } | { ok: false; code: number; reason: string; message: string }
> {
  try {
    const stored = await custom.createNamespacedCustomObject({
      ...GROUP,
      namespace: NAMESPACE,
      body,
      ...(dryRun ? { dryRun: "All" } : {}),
    });
    return { ok: true, stored };
  } catch (e) {
    if (!(e instanceof ApiException)) throw e;
    const status = (typeof e.body === "string" ? JSON.parse(e.body) : e.body) as Json;
    return {
      ok: false,
      code: e.code,
      reason: String(status?.reason),
      message: String(status?.message),
    };
  }
}

/** One field of a valid JobChannel set to a value its schema or CEL rules refuse. */
type Breakage = { what: string; name?: string; spec: unknown };

const BASE = { access: "public", worker: { jobType: "file-upload" } };

function withSpec(path: string[], value: unknown): Json {
  const spec = structuredClone(BASE) as Json;
  let node = spec;
  for (const key of path.slice(0, -1)) node = node[key] ??= {};
  node[path.at(-1)!] = value;
  return spec;
}

const outOfRange = (min: number, max: number): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.integer({ min: -1_000_000, max: min - 1 }),
    fc.integer({ min: max + 1, max: 2 ** 31 - 1 }),
    // Not null: the API server prunes a null field and fills in its default.
    fc.constantFrom(`${min}`, min + 0.5, true, [min], { n: min }),
  );
const badDnsLabel = fc.oneof(
  fc.constantFrom("UPPER", "-lead", "trail-", "a".repeat(64), "a.b", "", "a_b", "a b", "ü"),
  fc
    .string({ minLength: 1, maxLength: 70 })
    .filter((s) => !/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(s)),
);
const notIn = (allowed: string[]): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.string({ maxLength: 20 }).filter((s) => !allowed.includes(s)),
    fc.constantFrom(1, true, ["public"], { value: "public" }),
  );

const breakage: fc.Arbitrary<Breakage> = fc.oneof(
  badDnsLabel.map((v) => ({ what: "spec.channel", spec: withSpec(["channel"], v) })),
  notIn(["public", "authenticated"]).map((v) => ({
    what: "spec.access",
    spec: withSpec(["access"], v),
  })),
  notIn(["channel", "user"]).map((v) => ({
    what: "spec.visibility",
    spec: withSpec(["visibility"], v),
  })),
  outOfRange(1, 100000).map((v) => ({
    what: "spec.history.maxJobs",
    spec: withSpec(["history", "maxJobs"], v),
  })),
  outOfRange(60, 2592000).map((v) => ({
    what: "spec.history.ttlSeconds",
    spec: withSpec(["history", "ttlSeconds"], v),
  })),
  outOfRange(1024, 1048576).map((v) => ({
    what: "spec.maxMessageBytes",
    spec: withSpec(["maxMessageBytes"], v),
  })),
  outOfRange(0, 100).map((v) => ({
    what: "spec.worker.replicas",
    spec: withSpec(["worker", "replicas"], v),
  })),
  outOfRange(1, 256).map((v) => ({
    what: "spec.worker.concurrency",
    spec: withSpec(["worker", "concurrency"], v),
  })),
  badDnsLabel.map((v) => ({
    what: "spec.worker.jobType",
    spec: withSpec(["worker", "jobType"], v),
  })),
  fc.constantFrom<Breakage>(
    {
      what: "spec.worker without image or jobType",
      spec: { access: "public", worker: { replicas: 1 } },
    },
    {
      what: "autoscaling max below min",
      spec: withSpec(["worker", "autoscaling"], {
        minReplicas: 5,
        maxReplicas: 2,
        targetCPUUtilizationPercentage: 50,
      }),
    },
    {
      what: "autoscaling without a target",
      spec: withSpec(["worker", "autoscaling"], { maxReplicas: 3 }),
    },
    {
      what: "autoscaling podsMetric of 0",
      spec: withSpec(["worker", "autoscaling"], {
        maxReplicas: 3,
        podsMetric: { name: "jobs", averageValue: "0" },
      }),
    },
    {
      what: "env with value and valueFrom",
      spec: withSpec(
        ["worker", "env"],
        [{ name: "A", value: "x", valueFrom: { secretKeyRef: { key: "k" } } }],
      ),
    },
    {
      what: "env valueFrom with two sources",
      spec: withSpec(
        ["worker", "env"],
        [{ name: "A", valueFrom: { secretKeyRef: { key: "k" }, fieldRef: { fieldPath: "x" } } }],
      ),
    },
    { what: "env name", spec: withSpec(["worker", "env"], [{ name: "1 bad" }]) },
    {
      what: "env twice",
      spec: withSpec(
        ["worker", "env"],
        [
          { name: "A", value: "1" },
          { name: "A", value: "2" },
        ],
      ),
    },
    {
      what: "env past 64",
      spec: withSpec(
        ["worker", "env"],
        Array.from({ length: 65 }, (_, i) => ({ name: `V${i}` })),
      ),
    },
    { what: "redis.secretName", spec: withSpec(["redis", "secretName"], "Bad_Name") },
    { what: "name past 56", name: "a".repeat(57), spec: BASE },
    { what: "dotted name with a worker", name: "with.dot", spec: BASE },
    {
      what: "name not a channel without spec.channel",
      name: "dotted.name",
      spec: { access: "public" },
    },
    { what: "upper-case name", name: "Upper", spec: BASE },
    { what: "no spec", spec: undefined },
    { what: "spec a string", spec: "public" },
    { what: "spec a list", spec: [BASE] },
  ),
);

describe("invalid JobChannels", { timeout: 600_000 }, () => {
  it("are refused by the API server with 422 Invalid, and none is stored", async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(breakage, fc.boolean(), async (b, dryRun) => {
        const name = b.name ?? `invalid-${++n}`;
        const got = await create(manifest(name, b.spec), dryRun);
        assert.ok(!got.ok, `${b.what}: ${JSON.stringify(b.spec)} was stored`);
        assert.equal(got.code, 422, `${b.what}: ${got.code} ${got.reason} ${got.message}`);
        assert.equal(got.reason, "Invalid", `${b.what}: ${got.message}`);
        tally.refused(`${got.code} ${got.reason}`);
      }),
      { seed, numRuns: fuzzRuns(25, 400) },
    );
    const stored = (await custom.listNamespacedCustomObject({
      ...GROUP,
      namespace: NAMESPACE,
    })) as Json;
    assert.deepEqual(stored.items, [], "no invalid JobChannel was stored");
    await survived();
  });
});

/** A valid spec; `channel` from a small pool makes conflicts likely. */
const validSpec = (channels: readonly string[]) =>
  fc.record(
    {
      channel: fc.constantFrom(...channels),
      access: fc.constantFrom("public", "authenticated"),
      visibility: fc.constantFrom("channel", "user"),
      history: fc.record({
        maxJobs: fc.integer({ min: 1, max: 100000 }),
        ttlSeconds: fc.integer({ min: 60, max: 2592000 }),
      }),
      maxMessageBytes: fc.integer({ min: 1024, max: 1048576 }),
      worker: fc.record({
        jobType: fc.constantFrom("file-upload", "bulk-upload"),
        replicas: fc.integer({ min: 0, max: 3 }),
        concurrency: fc.integer({ min: 1, max: 8 }),
      }),
    },
    { requiredKeys: ["access"] },
  );

type Spec = Json;
type Change = { kind: "delete"; index: number } | { kind: "patch"; index: number; spec: Spec };

/** The settings a JobChannel's spec asks for, with the CRD's defaults filled in. */
function withDefaults(name: string, spec: Spec): Json {
  return {
    channel: spec.channel ?? name,
    access: spec.access,
    visibility: spec.visibility ?? "channel",
    history: {
      maxJobs: spec.history?.maxJobs ?? 1000,
      ttlSeconds: spec.history?.ttlSeconds ?? 86400,
    },
    maxMessageBytes: spec.maxMessageBytes ?? 65536,
    worker: spec.worker ? { replicas: spec.worker.replicas ?? 1 } : undefined,
  };
}

/** What the cluster must converge to for the run's JobChannels: winners' relay entries and children. */
function desired(alive: { name: string; created: string; spec: Spec }[]): {
  relay: Map<string, Json>;
  deployments: Map<string, number>;
} {
  const byChannel = new Map<string, { name: string; created: string; spec: Spec }>();
  for (const jc of alive) {
    const channel = withDefaults(jc.name, jc.spec).channel as string;
    const held = byChannel.get(channel);
    // The older keeps the channel: creationTimestamp, then namespace/name.
    if (!held || jc.created < held.created || (jc.created === held.created && jc.name < held.name))
      byChannel.set(channel, jc);
  }
  const relay = new Map<string, Json>();
  const deployments = new Map<string, number>();
  for (const [channel, jc] of byChannel) {
    const d = withDefaults(jc.name, jc.spec);
    relay.set(channel, {
      name: channel,
      access: d.access,
      visibility: d.visibility,
      history: d.history,
      maxMessageBytes: d.maxMessageBytes,
    });
    if (d.worker) deployments.set(`${jc.name}-worker`, d.worker.replicas);
  }
  return { relay, deployments };
}

async function relayEntries(prefix: string): Promise<Map<string, Json>> {
  const cm = await cluster.getJson(["configmap", "jobchannel-relay", "-n", OPERATOR_NAMESPACE]);
  const entries = cm ? (JSON.parse(cm.data["channels.json"]).channels as Json[]) : [];
  return new Map(entries.filter((e) => String(e.name).startsWith(prefix)).map((e) => [e.name, e]));
}

async function workers(
  prefix: string,
): Promise<{ deployments: Map<string, number>; services: Set<string> }> {
  const d = await apps.listNamespacedDeployment({ namespace: NAMESPACE });
  const s = await core.listNamespacedService({ namespace: NAMESPACE });
  return {
    deployments: new Map(
      d.items
        .filter((x) => x.metadata!.name!.startsWith(prefix) && !x.metadata!.deletionTimestamp)
        .map((x) => [x.metadata!.name!, x.spec!.replicas ?? 1]),
    ),
    services: new Set(
      s.items
        .filter((x) => x.metadata!.name!.startsWith(prefix) && !x.metadata!.deletionTimestamp)
        .map((x) => x.metadata!.name!),
    ),
  };
}

/**
 * Replaces a JobChannel's spec with `spec`, keeping its stored spec.channel (immutable, and set
 * from the name at creation); read and write again when the operator's status update came between.
 */
async function replaceSpec(name: string, spec: Spec): Promise<Spec> {
  for (let attempt = 1; ; attempt++) {
    const current = (await custom.getNamespacedCustomObject({
      ...GROUP,
      namespace: NAMESPACE,
      name,
    })) as Json;
    const next: Spec = { ...spec, channel: current.spec.channel };
    if (next.channel === undefined) delete next.channel;
    try {
      await custom.replaceNamespacedCustomObject({
        ...GROUP,
        namespace: NAMESPACE,
        name,
        body: { ...current, spec: next },
      });
      return next;
    } catch (e) {
      if (!(e instanceof ApiException) || e.code !== 409 || attempt >= 10) throw e;
    }
  }
}

describe("random valid JobChannels", { timeout: 900_000 }, () => {
  it("converge to exactly the declared worker children and relay ConfigMap entries", async () => {
    let run = 0;
    const scenario = fc.integer({ min: 2, max: 5 }).chain((count) => {
      const pool = ["x", "y"];
      return fc.tuple(
        fc.array(validSpec(pool), { minLength: count, maxLength: count }),
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant("delete" as const), index: fc.nat({ max: count - 1 }) }),
            fc.record({
              kind: fc.constant("patch" as const),
              index: fc.nat({ max: count - 1 }),
              spec: validSpec(pool),
            }),
          ),
          { maxLength: 3 },
        ),
      );
    });
    await fc.assert(
      fc.asyncProperty(scenario, async ([specs, changes]) => {
        const prefix = `f${++run}-`;
        const scoped = (spec: Spec): Spec =>
          spec.channel ? { ...spec, channel: `${prefix}${spec.channel}` } : spec;
        const names = specs.map((_, i) => `${prefix}${i}`);
        const alive = new Map<string, { name: string; created: string; spec: Spec }>();
        for (const [i, spec] of specs.entries()) {
          const got = await create(manifest(names[i]!, scoped(spec)));
          assert.ok(got.ok, `create ${names[i]}: ${JSON.stringify(got)}`);
          alive.set(names[i]!, {
            name: names[i]!,
            created: got.stored.metadata.creationTimestamp,
            spec: scoped(spec),
          });
        }
        for (const change of changes as Change[]) {
          const jc = alive.get(names[change.index]!);
          if (!jc) continue;
          if (change.kind === "delete") {
            await custom.deleteNamespacedCustomObject({
              ...GROUP,
              namespace: NAMESPACE,
              name: jc.name,
            });
            alive.delete(jc.name);
            continue;
          }
          jc.spec = await replaceSpec(jc.name, scoped(change.spec));
        }
        const want = desired([...alive.values()]);
        await waitFor(
          async () => {
            const relay = await relayEntries(prefix);
            const children = await workers(prefix);
            return (
              isDeepStrictEqual(relay, want.relay) &&
              isDeepStrictEqual(children.deployments, want.deployments) &&
              isDeepStrictEqual(children.services, new Set(want.deployments.keys()))
            );
          },
          {
            ...WAIT,
            what: `convergence of ${prefix}: ${JSON.stringify({ relay: [...want.relay.values()], deployments: [...want.deployments] })}`,
          },
        );
        tally.accepted();
        for (const name of alive.keys())
          await custom.deleteNamespacedCustomObject({ ...GROUP, namespace: NAMESPACE, name });
      }),
      { seed, numRuns: fuzzRuns(3, 20) },
    );
    await waitFor(async () => (await relayEntries("f")).size === 0, {
      ...WAIT,
      what: "every deleted JobChannel's relay entry removed",
    });
    await survived();
  });
});
