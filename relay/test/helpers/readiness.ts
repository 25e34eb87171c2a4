// Waits for a relay's /readyz answer and checks that its jobchannel_relay_ready gauge says the same.
import assert from "node:assert/strict";
import { waitFor, type WaitOptions } from "@jobchannel/testkit";

/** A /readyz answer and the gauge read right after it. */
export interface ReadinessReading {
  readonly status: number;
  /** The /readyz body: `{ready, broker, config, draining}`. */
  readonly body: Record<string, boolean>;
  /** jobchannel_relay_ready; NaN when the gauge is missing. */
  readonly gauge: number;
}

/** Reads /readyz, then /metrics, of the relay at `http` (e.g. `http://127.0.0.1:8080`). */
export async function readReadiness(http: string): Promise<ReadinessReading> {
  const readyz = await fetch(`${http}/readyz`);
  const body = (await readyz.json()) as Record<string, boolean>;
  const text = await (await fetch(`${http}/metrics`)).text();
  const gauge = Number(/^jobchannel_relay_ready (\S+)$/m.exec(text)?.[1] ?? NaN);
  return { status: readyz.status, body, gauge };
}

/**
 * Waits until /readyz answers 200 (`ready`) or 503 (not), asserts that jobchannel_relay_ready is
 * then 1 or 0 to match, and resolves with the reading.
 */
export async function waitForReadiness(
  http: string,
  ready: boolean,
  options: WaitOptions = {},
): Promise<ReadinessReading> {
  const status = ready ? 200 : 503;
  const reading = await waitFor(
    async () => {
      const r = await readReadiness(http);
      return r.status === status ? r : undefined;
    },
    { what: `/readyz ${status}`, ...options },
  );
  assert.equal(reading.gauge, ready ? 1 : 0, `jobchannel_relay_ready beside /readyz ${status}`);
  return reading;
}
