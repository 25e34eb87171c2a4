// Tests of the local stack's configuration from the environment.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_DASHBOARD_DIR, DevError, helpText, loadConfig, redactUrl } from "../src/index.ts";

describe("loadConfig", () => {
  it("defaults to port 8080 on loopback, in memory, with the client's dashboard build", () => {
    assert.deepEqual(loadConfig({}), {
      port: 8080,
      host: "127.0.0.1",
      redisUrl: undefined,
      dashboardDir: DEFAULT_DASHBOARD_DIR,
      logLevel: "info",
    });
    assert.match(DEFAULT_DASHBOARD_DIR, /client\/dashboard\/dist$/);
  });

  it("reads PORT, HOST, REDIS_URL, LOG_LEVEL and JOBCHANNEL_DASHBOARD_DIR", () => {
    const config = loadConfig({
      PORT: "9000",
      HOST: "0.0.0.0",
      REDIS_URL: "redis://:secret@127.0.0.1:6379/0",
      LOG_LEVEL: "warn",
      JOBCHANNEL_DASHBOARD_DIR: "/srv/web",
    });
    assert.deepEqual(config, {
      port: 9000,
      host: "0.0.0.0",
      redisUrl: "redis://:secret@127.0.0.1:6379/0",
      dashboardDir: "/srv/web",
      logLevel: "warn",
    });
  });

  it("names the variable of a bad value", () => {
    const named = (variable: string) => (e: unknown) =>
      e instanceof DevError &&
      e.code === "invalid_config" &&
      e.variable === variable &&
      e.message.startsWith(variable);
    assert.throws(() => loadConfig({ PORT: "80a" }), named("PORT"));
    assert.throws(() => loadConfig({ PORT: "70000" }), named("PORT"));
    assert.throws(() => loadConfig({ REDIS_URL: "localhost:6379" }), named("REDIS_URL"));
    assert.throws(() => loadConfig({ REDIS_URL: "http://x" }), named("REDIS_URL"));
    assert.throws(() => loadConfig({ LOG_LEVEL: "loud" }), named("LOG_LEVEL"));
  });
});

describe("redactUrl", () => {
  it("hides a Redis password", () => {
    assert.equal(redactUrl("redis://user:hunter2@db:6379/0"), "redis://user:***@db:6379/0");
    assert.equal(redactUrl("redis://db:6379"), "redis://db:6379");
  });
});

describe("helpText", () => {
  it("lists every variable with its default", () => {
    const text = helpText();
    for (const name of ["PORT", "HOST", "REDIS_URL", "JOBCHANNEL_DASHBOARD_DIR", "LOG_LEVEL"])
      assert.match(text, new RegExp(name));
    assert.match(text, /default: 8080/);
  });
});
