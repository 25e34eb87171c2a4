// The worker Deployment and Service a JobChannel asks for.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { desiredDeployment, desiredService, workerEnv } from "../src/desired-worker.ts";
import { jobChannel, type Json } from "./fixtures.ts";

const settings = { workerImage: "jobchannel/worker:test", redisSecret: "jobchannel-redis" };

describe("desiredDeployment", () => {
  const jc = jobChannel("file-upload", {
    spec: {
      history: { maxJobs: 50, ttlSeconds: 600 },
      worker: { jobType: "file-upload", replicas: 3, concurrency: 6 },
    },
  });
  const deployment = desiredDeployment(jc, "file-upload", settings) as Json;
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];

  it("is named <name>-worker and controlled by the JobChannel", () => {
    assert.equal(deployment.metadata.name, "file-upload-worker");
    assert.equal(deployment.metadata.namespace, "apps");
    assert.deepEqual(deployment.metadata.ownerReferences, [
      {
        apiVersion: "jobchannel.io/v1alpha1",
        kind: "JobChannel",
        name: "file-upload",
        uid: "uid-file-upload",
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    assert.equal(deployment.metadata.labels["app.kubernetes.io/managed-by"], "jobchannel-operator");
  });

  it("selects its pods by labels the template carries", () => {
    for (const [k, v] of Object.entries(deployment.spec.selector.matchLabels)) {
      assert.equal(deployment.spec.template.metadata.labels[k], v);
    }
    assert.equal(deployment.spec.replicas, 3);
  });

  it("runs the built-in image with the job type, history and concurrency in its environment", () => {
    assert.equal(container.image, "jobchannel/worker:test");
    const env = Object.fromEntries(
      container.env.map((e: Json) => [e.name, e.value ?? e.valueFrom]),
    );
    assert.equal(env.JOBCHANNEL_JOB_TYPES, "file-upload");
    assert.equal(env.JOBCHANNEL_HISTORY_MAX_JOBS, "50");
    assert.equal(env.JOBCHANNEL_HISTORY_TTL_SECONDS, "600");
    assert.equal(env.JOBCHANNEL_CONCURRENCY, "6");
    assert.deepEqual(env.REDIS_URL, {
      secretKeyRef: { name: "jobchannel-redis", key: "REDIS_URL" },
    });
  });

  it("never puts the Redis URL into the pod spec as a literal", () => {
    const redis = container.env.find((e: Json) => e.name === "REDIS_URL");
    assert.equal(redis.value, undefined);
  });

  it("probes /healthz and /readyz on port 8080", () => {
    assert.equal(container.ports[0].containerPort, 8080);
    assert.equal(container.livenessProbe.httpGet.path, "/healthz");
    assert.equal(container.readinessProbe.httpGet.path, "/readyz");
  });

  it("runs under the restricted security profile", () => {
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities.drop, ["ALL"]);
    assert.equal(pod.automountServiceAccountToken, false);
  });

  it("uses default resources unless the spec sets some", () => {
    assert.deepEqual(container.resources, {
      requests: { cpu: "50m", memory: "64Mi" },
      limits: { memory: "256Mi" },
    });
    const custom = jobChannel("x", {
      spec: {
        worker: { jobType: "x", replicas: 1, concurrency: 1, resources: { limits: { cpu: "1" } } },
      },
    });
    const d = desiredDeployment(custom, "x", settings) as Json;
    assert.deepEqual(d.spec.template.spec.containers[0].resources, { limits: { cpu: "1" } });
  });

  it("uses the spec's image when it sets one", () => {
    const custom = jobChannel("x", {
      spec: { worker: { image: "acme/reports:2", replicas: 1, concurrency: 1 } },
    });
    const d = desiredDeployment(custom, "x", settings) as Json;
    assert.equal(d.spec.template.spec.containers[0].image, "acme/reports:2");
    assert.equal(
      d.spec.template.spec.containers[0].env.some((e: Json) => e.name === "JOBCHANNEL_JOB_TYPES"),
      false,
    );
  });

  it("is undefined for a JobChannel without a worker", () => {
    const none = jobChannel("outside", { spec: { worker: undefined } });
    assert.equal(desiredDeployment(none, "outside", settings), undefined);
    assert.equal(desiredService(none, "outside"), undefined);
  });
});

describe("workerEnv", () => {
  it("lets the spec replace an operator variable in place and appends the rest, without duplicates", () => {
    const jc = jobChannel("x", {
      spec: {
        worker: {
          jobType: "x",
          replicas: 1,
          concurrency: 1,
          env: [
            { name: "JOBCHANNEL_CONCURRENCY", value: "9" },
            { name: "EXTRA", value: "1" },
          ],
        },
      },
    });
    const env = workerEnv(jc, jc.spec.worker!, settings);
    const names = env.map((e) => e.name);
    assert.equal(new Set(names).size, names.length);
    assert.equal(env.find((e) => e.name === "JOBCHANNEL_CONCURRENCY")?.value, "9");
    assert.equal(names.at(-1), "EXTRA");
  });
});

describe("desiredService", () => {
  it("exposes the worker's HTTP port under <name>-worker", () => {
    const jc = jobChannel("file-upload");
    const service = desiredService(jc, "file-upload") as Json;
    assert.equal(service.metadata.name, "file-upload-worker");
    assert.deepEqual(service.spec.ports, [
      { name: "http", port: 8080, targetPort: "http", protocol: "TCP" },
    ]);
    assert.equal(service.metadata.ownerReferences[0].controller, true);
  });
});
