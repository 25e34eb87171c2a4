// Proves the suite runs on the Node version the project brings (Node 24), not the system's.
import assert from "node:assert/strict";
import { test } from "node:test";

test("runs on Node 24", () => {
  assert.equal(process.versions.node.split(".")[0], "24", `running on Node ${process.version}`);
});
