// The JobChannel CRD and its default-channel admission policy on a real API server: explain, admission rules, columns, field selectors.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { load, loadAll } from "js-yaml";
import { helm } from "@jobchannel/e2e";
import { startCluster, type TestCluster } from "./cluster.ts";
import { REPO_ROOT, type Json } from "./fixtures.ts";

const NAMESPACE = "apps";

let cluster: TestCluster;

function manifest(name: string, spec: Record<string, unknown>): string {
  return JSON.stringify({
    apiVersion: "jobchannel.io/v1alpha1",
    kind: "JobChannel",
    metadata: { name, namespace: NAMESPACE },
    spec,
  });
}

/** `kubectl create` of a JobChannel; resolves with its stored form. */
async function create(name: string, spec: Record<string, unknown>): Promise<Json> {
  return JSON.parse(
    await cluster.kubectl(["create", "-o", "json", "-f", "-"], manifest(name, spec)),
  );
}

/** Asserts that the API server refuses to create the JobChannel, with a message matching `message`. */
async function refused(
  name: string,
  spec: Record<string, unknown>,
  message: RegExp,
): Promise<void> {
  await assert.rejects(
    cluster.kubectl(["create", "--dry-run=server", "-f", "-"], manifest(name, spec)),
    message,
  );
}

/** The fields `kubectl explain` lists for `path`, each with the description it prints. */
async function explain(path: string): Promise<Map<string, string>> {
  const text = await cluster.kubectl(["explain", path]);
  const fields = new Map<string, string>();
  const body = text.slice(text.indexOf("FIELDS:") + "FIELDS:".length);
  let current: string | undefined;
  for (const line of body.split("\n")) {
    const field = /^ {2}(\S+)\t</.exec(line);
    if (field) {
      current = field[1]!;
      fields.set(current, "");
    } else if (current && /^ {4}\S/.test(line) && !/^ {4}enum:/.test(line)) {
      fields.set(current, `${fields.get(current)} ${line.trim()}`.trim());
    }
  }
  return fields;
}

/** Dotted paths of the properties below `node` in the published OpenAPI v3 schema without a description. */
function undescribed(node: Json, prefix: string): string[] {
  const own = node.description ? [] : [prefix];
  const items = node.items ? undescribed(node.items, `${prefix}[]`) : [];
  const properties = Object.entries(node.properties ?? {}).flatMap(([key, child]) =>
    undescribed(child as Json, `${prefix}.${key}`),
  );
  return [...own, ...items, ...properties];
}

const WORKER = { jobType: "file-upload" };

describe("the JobChannel CRD on the API server", { timeout: 180_000 }, () => {
  before(async () => {
    cluster = await startCluster([NAMESPACE]);
  });

  after(async () => {
    await cluster?.stop();
  });

  it("explains spec, spec.worker.autoscaling and status.conditions with a description for every field", async () => {
    const crd = load(
      readFileSync(new URL("crds/jobchannels.jobchannel.io.yaml", REPO_ROOT), "utf8"),
    ) as Json;
    const schema = crd.spec.versions[0].schema.openAPIV3Schema;
    const cases: [string, Json][] = [
      ["jobchannel.spec", schema.properties.spec],
      [
        "jobchannel.spec.worker.autoscaling",
        schema.properties.spec.properties.worker.properties.autoscaling,
      ],
      ["jobchannel.status.conditions", schema.properties.status.properties.conditions.items],
    ];
    for (const [path, node] of cases) {
      const fields = await explain(path);
      assert.deepEqual([...fields.keys()].sort(), Object.keys(node.properties).sort(), path);
      for (const [field, description] of fields) {
        assert.ok(description.length > 0, `${path}.${field} has a description`);
        const words = (node.properties[field].description as string).split(/\s+/).slice(0, 3);
        assert.ok(description.startsWith(words.join(" ")), `${path}.${field}: ${description}`);
      }
    }
    // What the API server publishes: every property of spec and status, to the leaves.
    const openapi = JSON.parse(
      await cluster.kubectl(["get", "--raw", "/openapi/v3/apis/jobchannel.io/v1alpha1"]),
    );
    const published = openapi.components.schemas["io.jobchannel.v1alpha1.JobChannel"];
    assert.deepEqual(
      [
        ...undescribed(published.properties.spec, "spec"),
        ...undescribed(published.properties.status, "status"),
      ],
      [],
    );
  });

  it("refuses a name longer than 56 characters, saying why", async () => {
    await refused("a".repeat(60), {}, /metadata.name must be at most 56 characters.+<name>-worker/);
    await create("a".repeat(56), {});
  });

  it("refuses a dotted name with a worker, and a dotted name without spec.channel, saying why", async () => {
    await refused(
      "reports.eu",
      { channel: "reports-eu", worker: WORKER },
      /metadata.name must be a DNS-1035 label .+when spec.worker is set/,
    );
    await refused(
      "reports.us",
      {},
      /metadata.name must be a valid channel name .+when spec.channel is not set/,
    );
    const outside = await create("reports.asia", { channel: "reports-asia" });
    assert.equal(outside.spec.channel, "reports-asia");
  });

  it("refuses requests above limits, naming the resource", async () => {
    await refused(
      "too-greedy",
      {
        worker: {
          ...WORKER,
          resources: {
            requests: { cpu: 1, memory: "1Gi" },
            limits: { cpu: "1000m", memory: "512Mi" },
          },
        },
      },
      /spec.worker.resources.requests: .*requests may not exceed limits: memory is requested above its limit/,
    );
    await refused(
      "too-greedy",
      { worker: { ...WORKER, resources: { requests: { cpu: "1.5" }, limits: { cpu: "1" } } } },
      /requests may not exceed limits: cpu is requested above its limit/,
    );
    await create("fits", {
      worker: {
        ...WORKER,
        resources: {
          requests: { cpu: "500m", memory: "256Mi" },
          limits: { cpu: 1, memory: "256Mi" },
        },
      },
    });
  });

  it("refuses a valueFrom with two sources or an unknown field, and keeps a valid one as given", async () => {
    await refused(
      "two-sources",
      {
        worker: {
          ...WORKER,
          env: [
            {
              name: "TOKEN",
              valueFrom: {
                secretKeyRef: { name: "s", key: "token" },
                configMapKeyRef: { name: "c", key: "token" },
              },
            },
          ],
        },
      },
      /spec.worker.env\[0\].valueFrom: .*exactly one of secretKeyRef, configMapKeyRef, fieldRef or resourceFieldRef/,
    );
    await refused(
      "unknown-source",
      { worker: { ...WORKER, env: [{ name: "TOKEN", valueFrom: { vaultRef: { path: "x" } } }] } },
      /unknown field "spec.worker.env\[0\].valueFrom.vaultRef"/,
    );
    const env = [
      { name: "TOKEN", valueFrom: { secretKeyRef: { name: "s", key: "token", optional: true } } },
      { name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      {
        name: "MEMORY",
        valueFrom: { resourceFieldRef: { resource: "limits.memory", divisor: "1Mi" } },
      },
    ];
    const stored = await create("with-env", { worker: { ...WORKER, env } });
    assert.deepEqual(stored.spec.worker.env, env);
  });

  it("refuses autoscaling with maxReplicas below minReplicas, without a target, or aiming at 0", async () => {
    await refused(
      "shrinking",
      {
        worker: {
          ...WORKER,
          autoscaling: { minReplicas: 5, maxReplicas: 2, targetCPUUtilizationPercentage: 70 },
        },
      },
      /spec.worker.autoscaling.maxReplicas: .*maxReplicas must be at least minReplicas/,
    );
    await refused(
      "aimless",
      { worker: { ...WORKER, autoscaling: { maxReplicas: 2 } } },
      /autoscaling needs a target: set targetCPUUtilizationPercentage, podsMetric, or both/,
    );
    await refused(
      "idle-target",
      {
        worker: {
          ...WORKER,
          autoscaling: { maxReplicas: 2, podsMetric: { name: "jobs_active", averageValue: "0" } },
        },
      },
      /spec.worker.autoscaling.podsMetric.averageValue: .*must be above 0/,
    );
    const stored = await create("scaling", {
      worker: {
        ...WORKER,
        autoscaling: {
          maxReplicas: 4,
          podsMetric: { name: "jobchannel_worker_jobs_active", averageValue: "2" },
        },
      },
    });
    assert.equal(stored.spec.worker.autoscaling.minReplicas, 1, "minReplicas defaults to 1");
  });

  it("sets spec.channel to the name at creation, shows it in the Channel column and selects by it", async () => {
    const stored = await create("file-upload", { worker: WORKER });
    assert.equal(stored.spec.channel, "file-upload");
    const table = await cluster.kubectl(["get", "jc", "file-upload", "-n", NAMESPACE]);
    assert.match(table, /^NAME\s+CHANNEL\s+ACCESS\s+WORKERS\s+READY\s+AGE\n/);
    assert.match(table, /^file-upload\s+file-upload\s+authenticated\s/m);
    await create("uploads-v2", { channel: "uploads" });
    const selected = await cluster.kubectl([
      "get",
      "jc",
      "-n",
      NAMESPACE,
      "--field-selector",
      "spec.channel=file-upload",
      "-o",
      "name",
    ]);
    assert.equal(selected.trim(), "jobchannel.jobchannel.io/file-upload");
  });

  it("keeps the defaulted channel across re-applies that omit it, and refuses a changed or removed channel", async () => {
    const path = (name: string) => ["-n", NAMESPACE, `jc/${name}`];
    await cluster.kubectl(["apply", "--server-side", "-f", "-"], manifest("applied", {}));
    await cluster.kubectl(
      ["apply", "--server-side", "-f", "-"],
      manifest("applied", { access: "public" }),
    );
    await cluster.kubectl(["apply", "-f", "-"], manifest("applied-csa", {}));
    await cluster.kubectl(["apply", "-f", "-"], manifest("applied-csa", { access: "public" }));
    for (const name of ["applied", "applied-csa"]) {
      const jc = await cluster.getJson(path(name));
      assert.equal(jc.spec.channel, name, name);
      assert.equal(jc.spec.access, "public", name);
    }
    await assert.rejects(
      cluster.kubectl([
        "patch",
        ...path("applied"),
        "--type=merge",
        "-p",
        '{"spec":{"channel":"elsewhere"}}',
      ]),
      /spec.channel is immutable/,
    );
    await assert.rejects(
      cluster.kubectl([
        "patch",
        ...path("applied"),
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/spec/channel"}]',
      ]),
      /spec.channel is immutable: it cannot be added or removed after creation/,
    );
  });

  it("shows visibility, image, job type, Redis Secret, autoscaling bounds and Ready's reason and message with -o wide", async () => {
    await create("wide", {
      visibility: "user",
      redis: { secretName: "team-redis" },
      worker: {
        ...WORKER,
        autoscaling: { minReplicas: 2, maxReplicas: 6, targetCPUUtilizationPercentage: 80 },
      },
    });
    const [header, row] = (
      await cluster.kubectl(["get", "jc", "wide", "-n", NAMESPACE, "-o", "wide"])
    )
      .trim()
      .split("\n");
    assert.match(
      header!,
      /^NAME\s+CHANNEL\s+ACCESS\s+WORKERS\s+READY\s+AGE\s+VISIBILITY\s+IMAGE\s+JOB TYPE\s+REDIS SECRET\s+MIN WORKERS\s+MAX WORKERS\s+REASON\s+MESSAGE$/,
    );
    assert.match(
      row!,
      /^wide\s+wide\s+authenticated\s+\S+\s+user\s+file-upload\s+team-redis\s+2\s+6\s*$/,
    );
  });

  it("the chart renders the same policy, and the API server accepts it", async () => {
    const rendered = await helm(
      [
        "template",
        "jobchannel",
        new URL("charts/jobchannel", REPO_ROOT).pathname,
        "-n",
        "jobchannel",
        "--show-only",
        "templates/crd-default-channel.yaml",
        "--api-versions",
        "admissionregistration.k8s.io/v1beta1/MutatingAdmissionPolicy",
      ],
      { kubeconfig: cluster.kubeconfig },
    );
    const source = loadAll(
      readFileSync(new URL("crds/jobchannel-default-channel.yaml", REPO_ROOT), "utf8"),
    ) as Json[];
    const objects = (loadAll(rendered) as Json[]).filter(Boolean);
    assert.deepEqual(
      objects.map((o) => [o.kind, o.metadata.name, o.spec]),
      source.map((o) => [o.kind, o.metadata.name, o.spec]),
    );
    assert.match(
      await cluster.kubectl(["apply", "--server-side", "--dry-run=server", "-f", "-"], rendered),
      /mutatingadmissionpolicy.admissionregistration.k8s.io\/jobchannel-default-channel serverside-applied/,
    );
  });
});
