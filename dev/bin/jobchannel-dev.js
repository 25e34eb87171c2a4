#!/usr/bin/env node
// The jobchannel-dev command: relay, worker and dashboard in one process.
import { main } from "../dist/main.js";

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`jobchannel-dev: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
