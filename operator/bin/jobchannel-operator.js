#!/usr/bin/env node
// Entry point of the jobchannel-operator command. @kubernetes/client-node 2.x needs Node >= 22.19:
// started by an older Node, the command re-runs itself on the Node 24 the workspace installs,
// passing stop signals on to it and ending as it ends.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";

const FORWARDED_SIGNALS = ["SIGTERM", "SIGINT", "SIGHUP"];

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
  let node;
  try {
    node = createRequire(import.meta.url).resolve("node/bin/node");
  } catch {
    console.error(
      `jobchannel-operator needs Node >= 22.19 (this is Node ${process.versions.node}); install Node 24 LTS`,
    );
    process.exit(1);
  }
  const child = spawn(node, [new URL(import.meta.url).pathname, ...process.argv.slice(2)], {
    stdio: "inherit",
  });
  const forward = (signal) => child.kill(signal);
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
  child.once("error", (error) => {
    console.error(`jobchannel-operator: cannot start ${node}: ${error.message}`);
    process.exit(1);
  });
  child.once("exit", (code, signal) => {
    if (signal === null) process.exit(code ?? 1);
    // Die of the same signal, so whoever started this process sees how the operator ended.
    for (const s of FORWARDED_SIGNALS) process.off(s, forward);
    process.kill(process.pid, signal);
  });
} else {
  const { main } = await import("../dist/main.js");
  // Exit even if a request to a frozen API server still holds the event loop open.
  process.exit(await main());
}
