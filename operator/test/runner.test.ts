// The runner: results and errors turned into requeues, never two reconciles of one key at once.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import { WorkQueue } from "../src/queue.ts";
import { RateLimiter } from "../src/rate-limit.ts";
import { TerminalError, type Result } from "../src/reconcile.ts";
import { REQUEUE_DELAY_MS, Runner, type ReconcileOutcome } from "../src/runner.ts";
import { waitFor } from "@jobchannel/testkit";

const logger = pino({ level: "silent" });

function setup(reconcile: (key: string) => Promise<Result>, workers = 2) {
  const outcomes: ReconcileOutcome[] = [];
  const queue = new WorkQueue({ limiter: new RateLimiter({ baseDelayMs: 5, maxDelayMs: 20 }) });
  const runner = new Runner({
    queue,
    logger,
    workers,
    reconciler: { reconcile: ({ key }) => reconcile(key) },
    metrics: { reconciled: (o) => outcomes.push(o), active: () => {} },
  });
  runner.start();
  return { queue, runner, outcomes };
}

describe("Runner", () => {
  it("never runs two reconciles of one key at once", async () => {
    let running = 0;
    let most = 0;
    let calls = 0;
    let release: () => void = () => {};
    const { queue, runner } = setup(async () => {
      running += 1;
      calls += 1;
      most = Math.max(most, running);
      if (calls === 1) await new Promise<void>((r) => (release = r));
      running -= 1;
      return {};
    }, 4);
    queue.add("a");
    await waitFor(() => calls === 1, { what: "the first reconcile" });
    queue.add("a");
    queue.add("a");
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(calls, 1, "the key waits while it is held");
    release();
    await waitFor(() => calls === 2 && running === 0, { what: "the second reconcile" });
    assert.equal(most, 1);
    await runner.stop();
  });

  it("retries a failing key with backoff until it succeeds", async () => {
    let calls = 0;
    const { queue, runner, outcomes } = setup(async () => {
      calls += 1;
      if (calls < 3) throw new Error("api down");
      return {};
    });
    queue.add("a");
    await waitFor(() => outcomes.includes("success"), { what: "success" });
    assert.deepEqual(outcomes, ["error", "error", "success"]);
    assert.equal(queue.retries("a"), 0, "success forgets the backoff");
    await runner.stop();
  });

  it("does not retry a terminal error", async () => {
    let calls = 0;
    const { queue, runner, outcomes } = setup(async () => {
      calls += 1;
      throw new TerminalError("invalid_spec", "bad");
    });
    queue.add("a");
    await waitFor(() => outcomes.length === 1);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(calls, 1);
    assert.deepEqual(outcomes, ["error"]);
    await runner.stop();
  });

  it("requeues after the delay a result asks for", async () => {
    let calls = 0;
    const { queue, runner, outcomes } = setup(async () => {
      calls += 1;
      return calls === 1 ? { requeueAfterMs: 10 } : {};
    });
    queue.add("a");
    await waitFor(() => calls === 2);
    assert.deepEqual(outcomes, ["requeue_after", "success"]);
    await runner.stop();
  });

  it("requeues a result that asks for it after a fixed delay, without growing the failure backoff", async () => {
    let calls = 0;
    const { queue, runner, outcomes } = setup(async () => {
      calls += 1;
      if (calls <= 2) throw new Error("api down");
      return calls === 3 ? { requeue: true } : {};
    });
    queue.add("a");
    await waitFor(() => outcomes.includes("requeue"), { what: "the requeue" });
    assert.equal(queue.retries("a"), 0, "a requeue is not a failure");
    const since = performance.now();
    await waitFor(() => calls === 4, { timeoutMs: 5000, what: "the requeued reconcile" });
    assert.ok(performance.now() - since >= REQUEUE_DELAY_MS - 50);
    assert.deepEqual(outcomes, ["error", "error", "requeue", "success"]);
    await runner.stop();
  });

  it("lets reconciles in flight finish on stop", async () => {
    let finished = false;
    const { queue, runner } = setup(async () => {
      await new Promise((r) => setTimeout(r, 30));
      finished = true;
      return {};
    });
    queue.add("a");
    await waitFor(() => queue.isProcessing("a"));
    await runner.stop();
    assert.equal(finished, true);
  });
});
