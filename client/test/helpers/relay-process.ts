// The real jobchannel-relay bin as a child process on 127.0.0.1, with a channels config file, as an
// operator would run it. relay/test/helpers/relay-process.ts does the same for the relay's suites;
// the relay package does not export its test helpers, hence this small copy.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startProcess, waitFor, type Started } from "@jobchannel/testkit";

const RELAY_BIN = join(import.meta.dirname, "../../../relay/bin/jobchannel-relay.js");

export interface RelayProcess {
  readonly process: Started;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Starts the relay with `channels` (the config file's `channels` array) and `env` (REDIS_URL, ...),
 * and waits until /readyz says 200.
 */
export async function startRelayProcess(
  channels: readonly Record<string, unknown>[],
  env: Record<string, string>,
): Promise<RelayProcess> {
  const dir = mkdtempSync(join(tmpdir(), "jobchannel-client-relay-"));
  const file = join(dir, "channels.json");
  writeFileSync(file, JSON.stringify({ channels }));
  const port = await freePort();
  const started = startProcess(process.execPath, [RELAY_BIN], {
    env: {
      ...process.env,
      LOG_LEVEL: "warn",
      ...env,
      RELAY_CONFIG_FILE: file,
      PORT: String(port),
      RELAY_HOST: "127.0.0.1",
    },
  });
  const stop = async () => {
    await started.stop(2000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (started.child.exitCode !== null) throw new Error(`relay exited: ${started.logTail()}`);
        return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
      },
      { what: "the relay process to be ready", timeoutMs: 15_000 },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { process: started, port, stop };
}
