import assert from "node:assert/strict";
import { test } from "node:test";
import { loadConfig, loadUploadSettings } from "../src/config.ts";

const REDIS = "redis://127.0.0.1:6379";

test("defaults to the redis blob store with REDIS_URL and to memory without", () => {
  assert.deepEqual(loadUploadSettings({}, REDIS), {
    maxConcurrentUploads: 16,
    blobStore: { kind: "redis", chunkBytes: 1024 * 1024 },
  });
  assert.deepEqual(loadUploadSettings({}, undefined).blobStore, { kind: "memory" });
});

test("reads the s3 settings and wants a bucket", () => {
  const settings = loadUploadSettings(
    {
      JOBCHANNEL_BLOB_STORE: "s3",
      JOBCHANNEL_S3_BUCKET: "uploads",
      JOBCHANNEL_S3_ENDPOINT: "http://127.0.0.1:8333",
      JOBCHANNEL_S3_FORCE_PATH_STYLE: "true",
      JOBCHANNEL_MAX_CONCURRENT_UPLOADS: "3",
    },
    REDIS,
  );
  assert.deepEqual(settings, {
    maxConcurrentUploads: 3,
    blobStore: {
      kind: "s3",
      bucket: "uploads",
      endpoint: "http://127.0.0.1:8333",
      region: "us-east-1",
      prefix: "jobchannel/uploads/",
      forcePathStyle: true,
      partBytes: 5 * 1024 * 1024,
    },
  });
  assert.throws(() => loadUploadSettings({ JOBCHANNEL_BLOB_STORE: "s3" }, REDIS), {
    code: "invalid_config",
    field: "JOBCHANNEL_S3_BUCKET",
  });
});

test("refuses a store that cannot serve the setup, naming the variable", () => {
  for (const [env, redisUrl, field] of [
    [{ JOBCHANNEL_BLOB_STORE: "memory" }, REDIS, "JOBCHANNEL_BLOB_STORE"],
    [{ JOBCHANNEL_BLOB_STORE: "redis" }, undefined, "JOBCHANNEL_BLOB_STORE"],
    [{ JOBCHANNEL_BLOB_STORE: "disk" }, REDIS, "JOBCHANNEL_BLOB_STORE"],
    [{ JOBCHANNEL_MAX_CONCURRENT_UPLOADS: "0" }, REDIS, "JOBCHANNEL_MAX_CONCURRENT_UPLOADS"],
    [
      { JOBCHANNEL_BLOB_STORE: "s3", JOBCHANNEL_S3_BUCKET: "b", JOBCHANNEL_S3_PART_BYTES: "1024" },
      REDIS,
      "JOBCHANNEL_S3_PART_BYTES",
    ],
    [
      {
        JOBCHANNEL_BLOB_STORE: "s3",
        JOBCHANNEL_S3_BUCKET: "b",
        JOBCHANNEL_S3_FORCE_PATH_STYLE: "yes",
      },
      REDIS,
      "JOBCHANNEL_S3_FORCE_PATH_STYLE",
    ],
  ] as const) {
    assert.throws(() => loadUploadSettings(env, redisUrl), { code: "invalid_config", field });
  }
});

test("takes uploads past Redis's 512 MB value limit, since blobs are chunked", () => {
  const config = loadConfig({ JOBCHANNEL_MAX_UPLOAD_BYTES: String(2 * 1024 ** 3) });
  assert.equal(config.maxUploadBytes, 2 * 1024 ** 3);
  assert.equal(config.blobStore.kind, "memory");
});
