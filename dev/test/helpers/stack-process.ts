// Starts the jobchannel-dev command as `make dev` does, on a free port, and stops it as Ctrl-C does.
import { join } from "node:path";
import { freePort, startProcess, waitFor, type Started } from "@jobchannel/testkit";

const root = join(import.meta.dirname, "../../..");

/** A running local stack process. */
export interface StackProcess {
  readonly url: string;
  readonly process: Started;
  /** Sends SIGINT (Ctrl-C) and resolves with the exit code. */
  interrupt(timeoutMs?: number): Promise<number | null>;
}

export async function startStackProcess(
  env: Record<string, string | undefined>,
): Promise<StackProcess> {
  const port = await freePort();
  const childEnv: Record<string, string> = {};
  for (const [name, value] of Object.entries({
    ...process.env,
    LOG_LEVEL: "warn",
    ...env,
    PORT: String(port),
  })) {
    if (value !== undefined) childEnv[name] = value;
  }
  const started = startProcess(
    join(root, "node_modules/.bin/node"),
    [join(root, "dev/bin/jobchannel-dev.js")],
    {
      cwd: root,
      env: childEnv,
    },
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    async () => {
      if (started.child.exitCode !== null)
        throw new Error(`jobchannel-dev exited:\n${started.logTail()}`);
      const response = await fetch(`${url}/healthz`);
      return response.ok;
    },
    { timeoutMs: 30_000, what: `jobchannel-dev on port ${port}` },
  );
  return {
    url,
    process: started,
    async interrupt(timeoutMs = 15_000) {
      const child = started.child;
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((resolve) =>
        child.once("exit", (code) => resolve(code)),
      );
      process.kill(-child.pid!, "SIGINT");
      const timer = setTimeout(() => void started.stop(0), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
