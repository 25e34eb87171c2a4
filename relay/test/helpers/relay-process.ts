// Runs the jobchannel-relay bin as a child process on a free port, as an operator would.
import { fileURLToPath } from "node:url";
import { freePort, startProcess, waitFor, type Started } from "@jobchannel/testkit";

export const RELAY_BIN = fileURLToPath(new URL("../../bin/jobchannel-relay.js", import.meta.url));

export interface RelayProcess {
  readonly process: Started;
  readonly url: string;
  readonly http: string;
  metrics(): Promise<string>;
}

/** Starts the relay with `env` (plus PORT, RELAY_HOST) and waits until /readyz says 200. */
export async function startRelayProcess(env: Record<string, string>): Promise<RelayProcess> {
  const port = await freePort();
  const started = startProcess(process.execPath, [RELAY_BIN], {
    env: { ...process.env, LOG_LEVEL: "warn", ...env, PORT: String(port), RELAY_HOST: "127.0.0.1" },
  });
  const http = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (started.child.exitCode !== null) throw new Error(`relay exited: ${started.logTail()}`);
      return (await fetch(`${http}/readyz`)).status === 200;
    },
    { what: "the relay process to be ready", timeoutMs: 15_000 },
  );
  return {
    process: started,
    url: `ws://127.0.0.1:${port}/ws`,
    http,
    metrics: async () => (await fetch(`${http}/metrics`)).text(),
  };
}
