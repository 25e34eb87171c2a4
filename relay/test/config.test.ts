// Tests of the relay's environment variables.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { helpText, loadEnv, VARIABLES } from "../src/config.ts";
import type { RelayError } from "../src/errors.ts";
import { relayErrorOf } from "./helpers/errors.ts";

function problem(env: Record<string, string>): RelayError {
  return relayErrorOf(() => loadEnv(env));
}

describe("loadEnv", () => {
  test("applies the defaults of design section 5", () => {
    const env = loadEnv({});
    assert.equal(env.port, 8080);
    assert.equal(env.redisUrl, undefined);
    assert.equal(env.redisPrefix, "jobchannel:");
    assert.equal(env.configFile, undefined);
    assert.equal(env.configMap, undefined);
    assert.equal(env.logLevel, "info");
    assert.deepEqual(env.allowedOrigins, []);
    assert.equal(env.drainSeconds, 10);
  });

  test("reads every variable", () => {
    const env = loadEnv({
      PORT: "9000",
      REDIS_URL: "redis://127.0.0.1:6379",
      RELAY_CONFIG_CONFIGMAP: "apps/jobchannel-relay",
      RELAY_JWT_SECRET: "s",
      RELAY_JWKS_URL: "https://id.example.com/jwks.json",
      RELAY_JWT_ISSUER: "iss",
      RELAY_JWT_AUDIENCE: "aud",
      RELAY_ALLOWED_ORIGINS: "https://a.example.com, http://localhost:3000",
      RELAY_DRAIN_SECONDS: "2.5",
      LOG_LEVEL: "debug",
    });
    assert.equal(env.port, 9000);
    assert.deepEqual(env.configMap, { namespace: "apps", name: "jobchannel-relay" });
    assert.deepEqual(env.allowedOrigins, ["https://a.example.com", "http://localhost:3000"]);
    assert.equal(env.drainSeconds, 2.5);
    assert.equal(env.jwksUrl, "https://id.example.com/jwks.json");
  });

  test("names the bad variable", () => {
    assert.equal(problem({ PORT: "http" }).field, "PORT");
    assert.equal(problem({ PORT: "70000" }).field, "PORT");
    assert.equal(problem({ REDIS_URL: "localhost:6379" }).field, "REDIS_URL");
    assert.equal(
      problem({ RELAY_CONFIG_CONFIGMAP: "just-a-name" }).field,
      "RELAY_CONFIG_CONFIGMAP",
    );
    assert.equal(problem({ RELAY_JWKS_URL: "ftp://x/jwks" }).field, "RELAY_JWKS_URL");
    assert.equal(problem({ LOG_LEVEL: "loud" }).field, "LOG_LEVEL");
    assert.equal(problem({ RELAY_ALLOWED_ORIGINS: "example.com" }).field, "RELAY_ALLOWED_ORIGINS");
    assert.equal(
      problem({ RELAY_CONFIG_FILE: "/x", RELAY_CONFIG_CONFIGMAP: "a/b" }).field,
      "RELAY_CONFIG_FILE",
    );
    assert.equal(
      problem({ RELAY_WATCHDOG_SECONDS: "5", RELAY_WATCHDOG_TIMEOUT_SECONDS: "5" }).field,
      "RELAY_WATCHDOG_TIMEOUT_SECONDS",
    );
    assert.equal(problem({ PORT: "x" }).code, "invalid_env");
  });

  test("chooses cluster mode for a redis+cluster:// REDIS_URL, single-Redis mode otherwise", () => {
    assert.equal(loadEnv({ REDIS_URL: "redis://r:6379" }).redis?.mode, "single");
    const env = loadEnv({ REDIS_URL: "redis+cluster://:pw@a:7000,b:7001" });
    assert.deepEqual(env.redis, {
      mode: "cluster",
      nodes: [
        { host: "a", port: 7000 },
        { host: "b", port: 7001 },
      ],
      password: "pw",
      tls: false,
    });
    const bad = problem({ REDIS_URL: "redis+cluster://:pw@a" });
    assert.equal(bad.field, "REDIS_URL");
    assert.doesNotMatch(bad.message, /pw/);
    assert.match(helpText(), /redis\+cluster:\/\//);
  });

  test("lists every variable in --help", () => {
    const help = helpText();
    for (const v of VARIABLES) assert.ok(help.includes(v.name), v.name);
  });
});
