#!/usr/bin/env node
// Entry point of the jobchannel-operator command. @kubernetes/client-node 2.x needs Node >= 22.19:
// started by an older Node, the command re-runs itself on the Node 24 the workspace installs.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";

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
  const result = spawnSync(node, [new URL(import.meta.url).pathname, ...process.argv.slice(2)], {
    stdio: "inherit",
  });
  process.exit(result.status ?? 1);
}

const { main } = await import("../dist/main.js");
// Exit even if a request to a frozen API server still holds the event loop open.
process.exit(await main());
