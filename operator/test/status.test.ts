// The status a JobChannel should show, from what the operator observed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findCondition } from "../src/conditions.ts";
import {
  desiredStatus,
  invalidStatus,
  type DeploymentObservation,
  type StatusInput,
} from "../src/status.ts";
import { jobChannel } from "./fixtures.ts";

const NOW = "2025-01-01T00:00:00Z";
const jc = jobChannel("file-upload", { generation: 3 });

function input(overrides: Partial<StatusInput> = {}): StatusInput {
  return {
    meta: jc.metadata,
    previous: undefined,
    channel: "file-upload",
    now: NOW,
    registered: true,
    relayConfigMap: "jobchannel/jobchannel-relay",
    hasWorker: true,
    ...overrides,
  };
}

const unavailable: DeploymentObservation = {
  generation: 1,
  observedGeneration: 1,
  desiredReplicas: 2,
  replicas: 2,
  readyReplicas: 0,
  availableReplicas: 0,
  available: {
    status: "False",
    reason: "MinimumReplicasUnavailable",
    message: "Deployment does not have minimum availability.",
  },
};

describe("desiredStatus", () => {
  it("reports the channel, its Redis name and the observed generation", () => {
    const status = desiredStatus(input());
    assert.equal(status.observedGeneration, 3);
    assert.equal(status.channel, "file-upload");
    assert.equal(status.redisChannel, "jobchannel:file-upload");
  });

  it("is Ready when the channel is registered and the deployment is available", () => {
    const status = desiredStatus(
      input({
        deployment: {
          ...unavailable,
          readyReplicas: 2,
          availableReplicas: 2,
          available: { status: "True" },
        },
      }),
    );
    assert.equal(findCondition(status.conditions, "Ready")?.status, "True");
    assert.equal(findCondition(status.conditions, "WorkersAvailable")?.reason, "WorkersReady");
    assert.deepEqual(status.workers, {
      desiredReplicas: 2,
      replicas: 2,
      readyReplicas: 2,
      availableReplicas: 2,
      summary: "2/2",
    });
  });

  it("reports workers unavailable as the deployment controller says, with counts", () => {
    const status = desiredStatus(input({ deployment: unavailable }));
    const workers = findCondition(status.conditions, "WorkersAvailable");
    assert.equal(workers?.status, "False");
    assert.equal(workers?.reason, "WorkersUnavailable");
    assert.match(workers?.message ?? "", /0\/2 worker replicas ready .*MinimumReplicasUnavailable/);
    assert.equal(findCondition(status.conditions, "Ready")?.status, "False");
    assert.equal(findCondition(status.conditions, "ChannelRegistered")?.status, "True");
    assert.equal(status.workers?.summary, "0/2");
  });

  it("says Unknown while the deployment controller has not observed the Deployment", () => {
    const status = desiredStatus(input({ deployment: { ...unavailable, generation: 2 } }));
    assert.equal(findCondition(status.conditions, "WorkersAvailable")?.status, "Unknown");
    assert.equal(findCondition(status.conditions, "Ready")?.status, "Unknown");
  });

  it("waits for the relay ConfigMap before ChannelRegistered is True", () => {
    const status = desiredStatus(input({ registered: false }));
    const registered = findCondition(status.conditions, "ChannelRegistered");
    assert.equal(registered?.status, "False");
    assert.equal(registered?.reason, "RegistrationPending");
    assert.equal(findCondition(status.conditions, "Ready")?.reason, "ChannelNotRegistered");
  });

  it("marks the loser of a channel conflict with ChannelConflict and no workers", () => {
    const status = desiredStatus(
      input({ conflictWith: "other/file-upload", registered: false, deployment: unavailable }),
    );
    const ready = findCondition(status.conditions, "Ready");
    assert.equal(ready?.status, "False");
    assert.equal(ready?.reason, "ChannelConflict");
    assert.match(ready?.message ?? "", /other\/file-upload/);
    assert.equal(status.workers?.summary, "0/0");
  });

  it("counts a channel without workers as available", () => {
    const status = desiredStatus(input({ hasWorker: false }));
    assert.equal(findCondition(status.conditions, "WorkersAvailable")?.reason, "NoWorkerDeclared");
    assert.equal(findCondition(status.conditions, "Ready")?.status, "True");
  });

  it("keeps lastTransitionTime across reconciles that change nothing", () => {
    const first = desiredStatus(input({ registered: false }));
    const second = desiredStatus(
      input({ registered: false, previous: first, now: "2025-01-02T00:00:00Z" }),
    );
    assert.deepEqual(second, first);
  });
});

describe("invalidStatus", () => {
  it("sets every condition False with reason InvalidSpec and the problems", () => {
    const status = invalidStatus(
      jc.metadata,
      undefined,
      ["spec.access: must be one of public, authenticated"],
      NOW,
    );
    assert.equal(status.conditions?.length, 3);
    for (const c of status.conditions ?? []) {
      assert.equal(c.status, "False");
      assert.equal(c.reason, "InvalidSpec");
      assert.match(c.message, /spec\.access/);
    }
  });
});
