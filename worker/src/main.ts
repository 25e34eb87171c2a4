// Entry point of the jobchannel-worker command: the built-in job types, configured from the environment.
import { runWorkerServer } from "./server.ts";

try {
  await runWorkerServer();
} catch (e) {
  process.stderr.write(`jobchannel-worker: ${(e as Error).message}\n`);
  process.exit(1);
}
