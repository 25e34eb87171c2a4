// The CRD and the operator's TypeScript types describe the same resource.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { loadAll } from "js-yaml";
import {
  ACCESS_VALUES,
  type IntegerBound,
  SPEC_BOUNDS,
  SPEC_DEFAULTS,
  VISIBILITY_VALUES,
} from "../src/jobchannel.ts";
import { desiredStatus } from "../src/status.ts";
import { parseJobChannel } from "../src/validate.ts";
import { jobChannel, loadCrd, REPO_ROOT, type Json } from "./fixtures.ts";

const crd = loadCrd();
const version = crd.spec.versions[0];
const schema = version.schema.openAPIV3Schema;
const spec = schema.properties.spec;

const policyFile = "crds/jobchannel-default-channel.yaml";
const [policy, binding] = loadAll(readFileSync(new URL(policyFile, REPO_ROOT), "utf8")) as Json[];

function at(path: string): Json {
  return path.split(".").reduce((node, key) => node.properties[key], spec);
}

/** Every property path of a schema node, down to leaves, maps and preserved objects. */
function schemaPaths(node: Json, prefix = ""): string[] {
  if (node.type === "array") return schemaPaths(node.items, `${prefix}[]`);
  if (!node.properties) return [prefix];
  return Object.entries(node.properties).flatMap(([key, child]) =>
    schemaPaths(child as Json, prefix ? `${prefix}.${key}` : key),
  );
}

function valuePaths(value: unknown, prefix = "", stopAt: readonly string[] = []): string[] {
  if (stopAt.includes(prefix)) return [prefix];
  if (Array.isArray(value))
    return [...new Set(value.flatMap((v) => valuePaths(v, `${prefix}[]`, stopAt)))];
  if (typeof value !== "object" || value === null) return [prefix];
  return Object.entries(value).flatMap(([key, child]) =>
    valuePaths(child, prefix ? `${prefix}.${key}` : key, stopAt),
  );
}

/** Every schema node below `node` with its dotted path (`[]` for array items, `{}` for map values). */
function schemaNodes(node: Json, prefix: string): [string, Json][] {
  const own: [string, Json][] = [[prefix, node]];
  if (node.items) return [...own, ...schemaNodes(node.items, `${prefix}[]`)];
  if (typeof node.additionalProperties === "object")
    return [...own, ...schemaNodes(node.additionalProperties, `${prefix}{}`)];
  return [
    ...own,
    ...Object.entries(node.properties ?? {}).flatMap(([key, child]) =>
      schemaNodes(child as Json, `${prefix}.${key}`),
    ),
  ];
}

/** A spec with every field set. */
const FULL_SPEC = {
  channel: "file-upload",
  access: "public",
  visibility: "user",
  history: { maxJobs: 10, ttlSeconds: 600 },
  maxMessageBytes: 2048,
  worker: {
    image: "example/worker:1",
    jobType: "file-upload",
    replicas: 3,
    concurrency: 8,
    env: [
      { name: "A", value: "1" },
      { name: "B", valueFrom: { secretKeyRef: { name: "s", key: "k", optional: true } } },
      { name: "C", valueFrom: { configMapKeyRef: { name: "c", key: "k", optional: false } } },
      { name: "D", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } } },
      {
        name: "E",
        valueFrom: {
          resourceFieldRef: { containerName: "worker", resource: "limits.memory", divisor: "1Mi" },
        },
      },
    ],
    resources: { requests: { cpu: "100m" }, limits: { memory: "1Gi" } },
    autoscaling: {
      minReplicas: 2,
      maxReplicas: 10,
      targetCPUUtilizationPercentage: 70,
      podsMetric: { name: "jobchannel_worker_jobs_active", averageValue: "3" },
    },
  },
  redis: { secretName: "team-redis" },
};

describe("the JobChannel CRD", () => {
  it("names the resource as design section 6 says", () => {
    assert.equal(crd.metadata.name, "jobchannels.jobchannel.io");
    assert.equal(crd.spec.group, "jobchannel.io");
    assert.equal(crd.spec.scope, "Namespaced");
    assert.deepEqual(crd.spec.names.shortNames, ["jc"]);
    assert.equal(crd.spec.names.kind, "JobChannel");
    assert.equal(crd.spec.names.plural, "jobchannels");
    assert.ok(crd.spec.names.categories.includes("jobchannel"));
    assert.equal(version.name, "v1alpha1");
    assert.deepEqual(version.subresources, { status: {} });
  });

  it("prints CHANNEL, ACCESS, WORKERS, READY and AGE, and more with -o wide", () => {
    const columns = (priority: number) =>
      version.additionalPrinterColumns
        .filter((c: { priority?: number }) => (c.priority ?? 0) === priority)
        .map((c: { name: string }) => c.name.toUpperCase());
    assert.deepEqual(columns(0), ["CHANNEL", "ACCESS", "WORKERS", "READY", "AGE"]);
    assert.deepEqual(columns(1), [
      "VISIBILITY",
      "IMAGE",
      "JOB TYPE",
      "REDIS SECRET",
      "MIN WORKERS",
      "MAX WORKERS",
      "REASON",
      "MESSAGE",
    ]);
    for (const column of version.additionalPrinterColumns)
      if (column.name !== "Age") assert.ok(column.description, `${column.name} has a description`);
  });

  it("shows spec.channel in the Channel column and lets kubectl select by it", () => {
    const channel = version.additionalPrinterColumns.find(
      (c: { name: string }) => c.name === "Channel",
    );
    assert.equal(channel.jsonPath, ".spec.channel");
    assert.deepEqual(version.selectableFields, [{ jsonPath: ".spec.channel" }]);
  });

  it("describes every field, so kubectl explain teaches the resource", () => {
    // metadata is the API server's ObjectMeta, described by it; the CRD may not describe it.
    const undescribed = schemaNodes(schema, "")
      .filter(([path, node]) => path !== ".metadata" && !node.description)
      .map(([path]) => path)
      // Map values and array items are described by their map or array.
      .filter((path) => !path.endsWith("{}"));
    assert.deepEqual(undescribed, []);
  });

  it("bounds every integer of spec as SPEC_BOUNDS does, and every bound is in the schema", () => {
    const integers = schemaNodes(spec, "")
      .filter(([, node]) => node.type === "integer")
      .map(([path]) => path.slice(1));
    assert.deepEqual(integers.sort(), Object.keys(SPEC_BOUNDS).sort());
  });

  it("refuses names that cannot name the worker's children or the channel, by rules on metadata.name", () => {
    const rules = schema["x-kubernetes-validations"] as { rule: string; message: string }[];
    assert.deepEqual(
      rules.map((r) => r.rule),
      [
        "self.metadata.name.size() <= 56",
        "!has(self.spec.worker) || self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
        "has(self.spec.channel) || self.metadata.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",
      ],
    );
    // 56 + "-worker" is 63, the most a Service name (a DNS-1035 label) may hold.
    assert.equal(56 + "-worker".length, 63);
    for (const rule of rules) assert.match(rule.message, /^metadata\.name must be .+: /);
  });

  it("has the same bounds and defaults as the operator's types", () => {
    for (const [path, bound] of Object.entries(SPEC_BOUNDS)) {
      const node = at(path);
      assert.equal(node.type, "integer", path);
      assert.equal(node.minimum, bound.minimum, `${path} minimum`);
      assert.equal(node.maximum, bound.maximum, `${path} maximum`);
      assert.equal(node.default, (bound as IntegerBound).default, `${path} default`);
    }
    assert.deepEqual(at("access").enum, [...ACCESS_VALUES]);
    assert.deepEqual(at("visibility").enum, [...VISIBILITY_VALUES]);
    assert.equal(at("access").default, SPEC_DEFAULTS.access);
    assert.equal(at("visibility").default, SPEC_DEFAULTS.visibility);
  });

  it("uses the protocol's channel-name pattern and makes spec.channel immutable", () => {
    assert.equal(at("channel").pattern, "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$");
    assert.deepEqual(
      at("channel")["x-kubernetes-validations"].map((v: { rule: string }) => v.rule),
      ["self == oldSelf"],
    );
  });

  it("has exactly the spec fields the operator's types carry", () => {
    const parsed = parseJobChannel({
      metadata: { name: "x", namespace: "apps", uid: "u" },
      spec: FULL_SPEC,
    });
    assert.ok(parsed.ok, parsed.ok ? "" : parsed.problems.join("; "));
    // A field the types lacked would be dropped by the parser and missing here.
    assert.deepEqual(parsed.value.spec, FULL_SPEC);
    const stops = ["worker.resources.requests", "worker.resources.limits"];
    assert.deepEqual(valuePaths(FULL_SPEC, "", stops).sort(), schemaPaths(spec).sort());
  });

  it("has exactly the status fields the operator writes", () => {
    const jc = jobChannel("file-upload");
    const status = desiredStatus({
      meta: jc.metadata,
      previous: undefined,
      channel: "file-upload",
      now: "2025-01-01T00:00:00Z",
      registered: true,
      relayConfigMap: "jobchannel/jobchannel-relay",
      hasWorker: true,
      deployment: {
        generation: 1,
        observedGeneration: 1,
        desiredReplicas: 2,
        replicas: 2,
        readyReplicas: 2,
        availableReplicas: 2,
        available: { status: "True" },
      },
    });
    assert.deepEqual(valuePaths(status).sort(), schemaPaths(schema.properties.status).sort());
  });
});

describe("the default-channel admission policy", () => {
  it("sets spec.channel to metadata.name on CREATE only, and only for a name that is a channel", () => {
    assert.equal(policy.kind, "MutatingAdmissionPolicy");
    assert.equal(policy.apiVersion, "admissionregistration.k8s.io/v1beta1");
    assert.deepEqual(policy.spec.matchConstraints.resourceRules, [
      {
        apiGroups: [crd.spec.group],
        apiVersions: ["*"],
        operations: ["CREATE"],
        resources: [crd.spec.names.plural],
      },
    ]);
    const conditions = policy.spec.matchConditions.map((c: { expression: string }) => c.expression);
    assert.ok(conditions.includes("has(object.spec) && !has(object.spec.channel)"));
    assert.ok(conditions.includes(`object.metadata.name.matches('${at("channel").pattern}')`));
    assert.equal(policy.spec.failurePolicy, "Ignore");
    assert.deepEqual(policy.spec.mutations, [
      {
        patchType: "ApplyConfiguration",
        applyConfiguration: {
          expression: "Object{spec: Object.spec{channel: object.metadata.name}}",
        },
      },
    ]);
    assert.equal(binding.kind, "MutatingAdmissionPolicyBinding");
    assert.equal(binding.spec.policyName, policy.metadata.name);
  });
});

describe("the chart's copies", () => {
  for (const [source, copy] of [
    ["crds/jobchannels.jobchannel.io.yaml", "charts/jobchannel/files/crd.yaml"],
    [policyFile, "charts/jobchannel/files/default-channel-policy.yaml"],
  ] as const) {
    it(`keeps ${copy} byte-identical to ${source}`, () => {
      // Helm's .Files reads nothing outside the chart, so the chart carries copies of the one source.
      const equal = readFileSync(new URL(source, REPO_ROOT)).equals(
        readFileSync(new URL(copy, REPO_ROOT)),
      );
      assert.ok(equal, `${copy} differs from ${source}: cp ${source} ${copy}`);
    });
  }
});
