import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULT_TUNABLES, ENVIRONMENT, helpText, loadConfig } from "../src/config.ts";

test("uses the defaults for an empty environment", () => {
  const config = loadConfig({});
  assert.equal(config.port, 8080);
  assert.equal(config.redisUrl, undefined);
  assert.equal(config.jobTypes, undefined);
  assert.equal(config.concurrency, 4);
  assert.deepEqual(config.history, DEFAULT_TUNABLES.history);
});

test("reads every documented variable", () => {
  const config = loadConfig({
    PORT: "9000",
    REDIS_URL: "redis://127.0.0.1:6380",
    JOBCHANNEL_JOB_TYPES: "file-upload, pdf-extraction,file-upload",
    WORKER_JWT_SECRET: "s",
    JOBCHANNEL_HISTORY_MAX_JOBS: "10",
    JOBCHANNEL_HISTORY_TTL_SECONDS: "60",
    JOBCHANNEL_CONCURRENCY: "8",
    JOBCHANNEL_LOCK_DURATION_MS: "1000",
    JOBCHANNEL_MAX_STALLED_COUNT: "0",
    LOG_LEVEL: "debug",
  });
  assert.equal(config.port, 9000);
  assert.deepEqual(config.jobTypes, ["file-upload", "pdf-extraction"]);
  assert.equal(config.jwtSecret, "s");
  assert.deepEqual(config.history, { maxJobs: 10, ttlSeconds: 60 });
  assert.equal(config.concurrency, 8);
  assert.equal(config.lockDurationMs, 1000);
  assert.equal(config.maxStalledCount, 0);
  assert.equal(config.logLevel, "debug");
});

test("names the bad variable in its error", () => {
  assert.throws(() => loadConfig({ JOBCHANNEL_CONCURRENCY: "0" }), {
    code: "invalid_config",
    field: "JOBCHANNEL_CONCURRENCY",
  });
  assert.throws(() => loadConfig({ PORT: "http" }), /PORT="http" is invalid/);
  assert.throws(() => loadConfig({ REDIS_URL: "http://x" }), { field: "REDIS_URL" });
  assert.throws(() => loadConfig({ LOG_LEVEL: "loud" }), { field: "LOG_LEVEL" });
});

test("lists every variable in --help", () => {
  const help = helpText(["file-upload"]);
  for (const { name } of ENVIRONMENT) assert.match(help, new RegExp(name));
  assert.match(help, /file-upload/);
});

test("takes a redis+cluster:// REDIS_URL for a Redis Cluster and never repeats its password", () => {
  const url = "redis+cluster://:pw@127.0.0.1:7000,127.0.0.1:7001";
  assert.equal(loadConfig({ REDIS_URL: url }).redisUrl, url);
  assert.throws(
    () => loadConfig({ REDIS_URL: "redis+cluster://:hunter2@127.0.0.1" }),
    (e: Error & { field?: string }) => {
      assert.match(e.message, /REDIS_URL/);
      assert.doesNotMatch(e.message, /hunter2/);
      return true;
    },
  );
  assert.match(helpText(["file-upload"]), /redis\+cluster:\/\//);
});
