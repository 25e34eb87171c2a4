// Boundary validation of JobChannel objects.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseJobChannel } from "../src/validate.ts";
import { rawJobChannel } from "./fixtures.ts";

describe("parseJobChannel", () => {
  it("fills in the schema's defaults", () => {
    const parsed = parseJobChannel({
      metadata: { name: "reports", namespace: "apps", uid: "u" },
      spec: { worker: { jobType: "reports" } },
    });
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value.spec, {
      access: "authenticated",
      visibility: "channel",
      history: { maxJobs: 1000, ttlSeconds: 86400 },
      maxMessageBytes: 65536,
      worker: { jobType: "reports", replicas: 1, concurrency: 4 },
    });
  });

  it("reads spec.redis and spec.worker.autoscaling, and names what is wrong with them", () => {
    const good = parseJobChannel(
      rawJobChannel("scaled", {
        spec: {
          redis: { secretName: "team-redis" },
          worker: {
            jobType: "file-upload",
            autoscaling: { maxReplicas: 4, podsMetric: { name: "jobs_active", averageValue: "2" } },
          },
        },
      }),
    );
    assert.ok(good.ok);
    assert.deepEqual(good.value.spec.redis, { secretName: "team-redis" });
    assert.deepEqual(good.value.spec.worker?.autoscaling, {
      minReplicas: 1,
      maxReplicas: 4,
      podsMetric: { name: "jobs_active", averageValue: "2" },
    });
    const bad = parseJobChannel(
      rawJobChannel("scaled", {
        spec: {
          redis: { secretName: "Not A Name" },
          worker: {
            jobType: "file-upload",
            autoscaling: {
              minReplicas: 5,
              maxReplicas: 2,
              podsMetric: { name: "jobs_active", averageValue: "0" },
            },
          },
        },
      }),
    );
    assert.equal(bad.ok, false);
    const text = bad.ok ? "" : bad.problems.join("\n");
    assert.match(text, /spec\.redis\.secretName: must be a DNS subdomain name/);
    assert.match(
      text,
      /spec\.worker\.autoscaling\.maxReplicas: must be at least minReplicas \(5\), got 2/,
    );
    assert.match(text, /podsMetric\.averageValue: must be above 0/);
    const noTarget = parseJobChannel(
      rawJobChannel("scaled", {
        spec: { worker: { jobType: "file-upload", autoscaling: { maxReplicas: 3 } } },
      }),
    );
    assert.match(
      noTarget.ok ? "" : noTarget.problems.join("\n"),
      /set targetCPUUtilizationPercentage, podsMetric, or both/,
    );
  });

  it("names every problem with its field path", () => {
    const parsed = parseJobChannel(
      rawJobChannel("bad", {
        spec: {
          channel: "Not_A_Label",
          access: "everyone",
          history: { maxJobs: 0, ttlSeconds: 86400 },
          worker: { replicas: 1000, concurrency: 4, env: [{ name: "A", value: 1 }] },
        },
      }),
    );
    assert.equal(parsed.ok, false);
    const text = parsed.ok ? "" : parsed.problems.join("\n");
    assert.match(text, /spec\.channel: must be a DNS label/);
    assert.match(text, /spec\.access: must be one of public, authenticated/);
    assert.match(text, /spec\.history\.maxJobs: must be between 1 and 100000, got 0/);
    assert.match(text, /spec\.worker\.replicas: must be between 0 and 100, got 1000/);
    assert.match(text, /spec\.worker\.jobType: required when spec\.worker\.image is not set/);
    assert.match(text, /spec\.worker\.env\[0\]\.value: must be a string/);
  });

  it("keeps the metadata and status of an invalid object for its condition", () => {
    const parsed = parseJobChannel(
      rawJobChannel("bad", {
        spec: { maxMessageBytes: 1 },
        status: {
          conditions: [
            {
              type: "Ready",
              status: "True",
              reason: "Ready",
              message: "",
              lastTransitionTime: "2025-01-01T00:00:00Z",
            },
          ],
        },
      }),
    );
    assert.equal(parsed.ok, false);
    assert.ok(!parsed.ok && parsed.meta?.name === "bad");
    assert.ok(!parsed.ok && parsed.status?.conditions?.[0]?.type === "Ready");
  });

  it("refuses an object without name, namespace or uid", () => {
    assert.deepEqual(parseJobChannel({ metadata: { name: "x" }, spec: {} }), {
      ok: false,
      problems: ["metadata: name, namespace and uid are required"],
    });
    assert.equal(parseJobChannel("nonsense").ok, false);
  });

  it("drops malformed conditions from a stored status", () => {
    const parsed = parseJobChannel(
      rawJobChannel("file-upload", {
        status: { conditions: [{ type: "Ready" }, 3], workers: { replicas: "x" } },
      }),
    );
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value.status?.conditions, []);
    assert.equal(parsed.value.status?.workers?.replicas, 0);
  });

  it("accepts timestamps as Date objects from client-node's typed models", () => {
    const raw = rawJobChannel("file-upload");
    (raw.metadata as Record<string, unknown>).creationTimestamp = new Date("2025-02-03T04:05:06Z");
    const parsed = parseJobChannel(raw);
    assert.ok(parsed.ok);
    assert.equal(parsed.value.metadata.creationTimestamp, "2025-02-03T04:05:06.000Z");
  });
});
