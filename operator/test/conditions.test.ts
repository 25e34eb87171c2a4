// Condition bookkeeping: lastTransitionTime moves only on a status change.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { conditionTransitions, findCondition, mergeConditions } from "../src/conditions.ts";

const T0 = "2025-01-01T00:00:00Z";
const T1 = "2025-01-01T00:05:00Z";

describe("mergeConditions", () => {
  it("stamps new conditions with now", () => {
    const merged = mergeConditions(
      undefined,
      [{ type: "Ready", status: "False", reason: "R", message: "m" }],
      1,
      T0,
    );
    assert.deepEqual(merged, [
      {
        type: "Ready",
        status: "False",
        observedGeneration: 1,
        lastTransitionTime: T0,
        reason: "R",
        message: "m",
      },
    ]);
  });

  it("keeps lastTransitionTime when only reason, message or generation change", () => {
    const before = mergeConditions(
      undefined,
      [{ type: "Ready", status: "False", reason: "A", message: "a" }],
      1,
      T0,
    );
    const after = mergeConditions(
      before,
      [{ type: "Ready", status: "False", reason: "B", message: "b" }],
      2,
      T1,
    );
    assert.equal(after[0]!.lastTransitionTime, T0);
    assert.equal(after[0]!.reason, "B");
    assert.equal(after[0]!.observedGeneration, 2);
  });

  it("moves lastTransitionTime when the status changes", () => {
    const before = mergeConditions(
      undefined,
      [{ type: "Ready", status: "False", reason: "A", message: "" }],
      1,
      T0,
    );
    const after = mergeConditions(
      before,
      [{ type: "Ready", status: "True", reason: "A", message: "" }],
      1,
      T1,
    );
    assert.equal(after[0]!.lastTransitionTime, T1);
  });

  it("drops condition types the operator no longer sets", () => {
    const before = mergeConditions(
      undefined,
      [{ type: "Old", status: "True", reason: "A", message: "" }],
      1,
      T0,
    );
    const after = mergeConditions(
      before,
      [{ type: "Ready", status: "True", reason: "A", message: "" }],
      1,
      T1,
    );
    assert.deepEqual(
      after.map((c) => c.type),
      ["Ready"],
    );
  });
});

describe("conditionTransitions", () => {
  it("lists new conditions and those whose status or reason changed", () => {
    const before = mergeConditions(
      undefined,
      [
        { type: "Ready", status: "False", reason: "A", message: "x" },
        { type: "ChannelRegistered", status: "True", reason: "Registered", message: "" },
      ],
      1,
      T0,
    );
    const after = mergeConditions(
      before,
      [
        { type: "Ready", status: "False", reason: "A", message: "only the message changed" },
        { type: "ChannelRegistered", status: "False", reason: "ChannelConflict", message: "" },
        { type: "WorkersAvailable", status: "True", reason: "WorkersReady", message: "" },
      ],
      1,
      T1,
    );
    assert.deepEqual(
      conditionTransitions(before, after).map((c) => c.type),
      ["ChannelRegistered", "WorkersAvailable"],
    );
    assert.equal(findCondition(after, "WorkersAvailable")?.status, "True");
  });
});
