// A short run of the benchmark driver (bench/src/run.ts) so that `make test` catches a broken
// bench: the Node-based systems (relay, baseline, Socket.IO), a few clients, one short rung each,
// plus the memory scenario at a hundred connections. Centrifugo is left out (only `make bench`
// builds its binary), and so is the storm, which runs the memory scenario's code with more upgrades
// in flight.
import { strict as assert } from "node:assert";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { BenchResult } from "../src/result-types.ts";

const run = fileURLToPath(new URL("../src/run.ts", import.meta.url));

test(
  "the driver measures relay, baseline and Socket.IO in one short run",
  { timeout: 120_000 },
  async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        run,
        "--systems",
        "relay,baseline,socketio",
        "--scenarios",
        "c1000-k10,memory",
        "--connections",
        "20",
        "--targets",
        "1000",
        "--warmup-seconds",
        "0.5",
        "--step-seconds",
        "0.5",
        "--memory-steps",
        "50,100",
        "--profile-rate",
        "0",
        "--floor-sockets",
        "50",
        // A test among other tests takes no priority over them.
        "--nice",
        "0",
        "--max-minutes",
        "2",
      ],
      { maxBuffer: 16 * 2 ** 20 },
    );
    const result = JSON.parse(stdout) as BenchResult;
    assert.deepEqual(
      result.runs.map((r) => r.system),
      ["relay", "baseline", "socketio"],
    );
    for (const r of result.runs) {
      assert.equal(r.steps.length >= 1, true, `${r.system} ran a rung`);
      // Deliveries arrive and are timed; whether 50 ms holds on a loaded machine is not the point here.
      assert.ok(
        r.steps[0]!.deliveriesPerSec > 500,
        `${r.system} delivered: ${JSON.stringify(r.steps[0])}`,
      );
      assert.ok(Number.isFinite(r.steps[0]!.p50Ms), `${r.system} latency measured`);
      assert.ok(r.steps[0]!.cpuPerDeliveryUs > 0, `${r.system} CPU measured`);
    }
    const relay = result.runs.find((r) => r.system === "relay")!;
    assert.ok(relay.steps[0]!.metricP50Ms !== undefined, "the relay's histogram was scraped");
    // Both write-floor probes ran: each burst wrote once to every socket and took measurable time.
    for (const probe of [result.floor?.go, result.floor?.node, result.floor?.nodeCorked]) {
      assert.equal(probe?.sockets, 50, JSON.stringify(result.floor));
      assert.equal(probe.rounds.length, 20);
      assert.ok(probe.rounds.every((r) => r.ms > 0 && r.sysMs >= 0));
    }
    assert.deepEqual(
      result.memory.map((m) => m.points.map((p) => p.connections)),
      [
        [50, 100],
        [50, 100],
        [50, 100],
      ],
    );
  },
);
