import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { test } from "node:test";
import { fileUpload } from "../../src/jobs/file-upload.ts";
import { fakeContext } from "../helpers.ts";

test("hashes the upload and reports progress by bytes", async () => {
  const bytes = randomBytes(1024 * 1024 + 17);
  const { context, progress } = await fakeContext({}, { bytes, filename: "a.bin" });
  const result = await fileUpload.handler(context);
  assert.equal(result.sha256, createHash("sha256").update(bytes).digest("hex"));
  assert.equal(result.bytes, bytes.length);
  assert.equal(progress.length, 5);
  assert.equal(progress.at(-1)!.percent, 100);
  assert.equal(progress[0]!.fields.bytesProcessed, 256 * 1024);
});

test("hashes an empty upload", async () => {
  const { context } = await fakeContext({}, { bytes: new Uint8Array(0) });
  const result = await fileUpload.handler(context);
  assert.equal(result.sha256, createHash("sha256").digest("hex"));
  assert.equal(result.bytes, 0);
});
