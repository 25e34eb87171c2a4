// The example JobChannels in examples/jobchannels/ are valid and declare the four seed channels with workers.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { load } from "js-yaml";
import { channelOf } from "../src/jobchannel.ts";
import { parseJobChannel } from "../src/validate.ts";
import { REPO_ROOT, type Json } from "./fixtures.ts";

const dir = new URL("examples/jobchannels/", REPO_ROOT);
const examples = readdirSync(dir)
  .filter((f) => f.endsWith(".yaml"))
  .map((f) => load(readFileSync(new URL(f, dir), "utf8")) as Json);

describe("examples/jobchannels", () => {
  it("declares the seed's four channels", () => {
    assert.deepEqual(examples.map((e) => e.metadata.name).sort(), [
      "bulk-upload",
      "file-upload",
      "job-updates",
      "pdf-extraction",
    ]);
  });

  it("passes validation, each with a worker serving its built-in job type", () => {
    for (const example of examples) {
      const parsed = parseJobChannel({
        ...example,
        metadata: { ...example.metadata, namespace: "apps", uid: "u" },
      });
      assert.ok(parsed.ok, parsed.ok ? "" : parsed.problems.join("; "));
      assert.equal(parsed.value.spec.worker?.jobType, channelOf(parsed.value));
      assert.equal(parsed.value.spec.worker?.image, undefined, "uses the built-in worker image");
    }
  });
});
