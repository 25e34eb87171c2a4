// A real redis-server on a free loopback port, for integration tests.
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.ts";
import { startProcess, type Started } from "./process.ts";
import { waitFor } from "./wait.ts";

export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** Kills the server (as a crash would); `start()` brings it back on the same port. */
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

function pingable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.setTimeout(500);
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (d) => {
      socket.destroy();
      resolve(d.toString().startsWith("+PONG"));
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** Starts `redis-server` (Debian's) with no persistence on 127.0.0.1 and a free port. */
export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "jobchannel-redis-"));
  let server: Started | undefined;
  const start = async (): Promise<void> => {
    const args = [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
    ];
    server = startProcess("redis-server", [...args, "--dir", dir]);
    const s = server;
    await waitFor(
      () => (s.child.exitCode !== null ? Promise.reject(new Error(s.logTail())) : pingable(port)),
      {
        what: `redis-server on port ${port}`,
      },
    );
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    start,
    async kill() {
      await server?.stop(0);
    },
    async stop() {
      await server?.stop(2000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
