// The CRD and the operator's TypeScript types describe the same resource.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ACCESS_VALUES, SPEC_BOUNDS, SPEC_DEFAULTS, VISIBILITY_VALUES } from "../src/jobchannel.ts";
import { desiredStatus } from "../src/status.ts";
import { parseJobChannel } from "../src/validate.ts";
import { jobChannel, loadCrd, type Json } from "./fixtures.ts";

const crd = loadCrd();
const version = crd.spec.versions[0];
const schema = version.schema.openAPIV3Schema;
const spec = schema.properties.spec;

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
      { name: "B", valueFrom: { secretKeyRef: { name: "s", key: "k" } } },
    ],
    resources: { requests: { cpu: "100m" }, limits: { memory: "1Gi" } },
  },
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

  it("prints CHANNEL, ACCESS, WORKERS, READY and AGE", () => {
    const columns = version.additionalPrinterColumns.map((c: { name: string }) =>
      c.name.toUpperCase(),
    );
    assert.deepEqual(columns, ["CHANNEL", "ACCESS", "WORKERS", "READY", "AGE"]);
  });

  it("has the same bounds and defaults as the operator's types", () => {
    for (const [path, bound] of Object.entries(SPEC_BOUNDS)) {
      const node = at(path);
      assert.equal(node.type, "integer", path);
      assert.equal(node.minimum, bound.minimum, `${path} minimum`);
      assert.equal(node.maximum, bound.maximum, `${path} maximum`);
      assert.equal(node.default, bound.default, `${path} default`);
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
    const stops = [
      "worker.env[].valueFrom",
      "worker.resources.requests",
      "worker.resources.limits",
    ];
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
