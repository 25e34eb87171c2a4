// Environment and flags parsed into the operator's settings.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../src/config.ts";

function config(env: NodeJS.ProcessEnv, argv: string[] = []) {
  const parsed = parseConfig(argv, env);
  assert.equal(parsed.help, false);
  return parsed.help ? undefined! : parsed.config;
}

describe("parseConfig", () => {
  it("uses the design's defaults", () => {
    const c = config({});
    assert.equal(c.relayConfigMap, "jobchannel-relay");
    assert.deepEqual(c.watchNamespaces, []);
    assert.equal(c.leaderElection, true);
    assert.equal(c.port, 8080);
    assert.equal(c.leaseDurationSeconds, 15);
    assert.equal(c.operatorDeployment, undefined);
  });

  it("reads every variable of design section 6", () => {
    const c = config({
      JOBCHANNEL_NAMESPACE: "jobchannel",
      JOBCHANNEL_RELAY_CONFIGMAP: "relay-channels",
      WATCH_NAMESPACES: "apps, team-b,apps",
      JOBCHANNEL_WORKER_IMAGE: "example/worker:2",
      JOBCHANNEL_REDIS_SECRET: "redis",
      JOBCHANNEL_OPERATOR_DEPLOYMENT: "jobchannel-operator",
      LEADER_ELECTION: "false",
      PORT: "9090",
      LOG_LEVEL: "debug",
    });
    assert.equal(c.namespace, "jobchannel");
    assert.equal(c.relayConfigMap, "relay-channels");
    assert.deepEqual(c.watchNamespaces, ["apps", "team-b"]);
    assert.equal(c.workerImage, "example/worker:2");
    assert.equal(c.redisSecret, "redis");
    assert.equal(c.operatorDeployment, "jobchannel-operator");
    assert.equal(c.leaderElection, false);
    assert.equal(c.port, 9090);
    assert.equal(c.logLevel, "debug");
  });

  it("names the bad variable", () => {
    assert.throws(() => parseConfig([], { PORT: "http" }), /PORT: must be a whole number/);
    assert.throws(() => parseConfig([], { LEADER_ELECTION: "yes" }), /LEADER_ELECTION/);
    assert.throws(
      () => parseConfig([], { WATCH_NAMESPACES: "Apps" }),
      /WATCH_NAMESPACES: must be a DNS label/,
    );
    assert.throws(() => parseConfig([], { LOG_LEVEL: "loud" }), /LOG_LEVEL/);
    assert.throws(
      () => parseConfig([], { JOBCHANNEL_OPERATOR_DEPLOYMENT: "Operator_1" }),
      /JOBCHANNEL_OPERATOR_DEPLOYMENT: must be a DNS subdomain name/,
    );
    assert.throws(
      () => parseConfig(["--lease-duration-seconds", "5", "--renew-deadline-seconds", "5"], {}),
      /--renew-deadline-seconds/,
    );
    assert.throws(() => parseConfig(["--bogus"], {}), /command line/);
  });

  it("answers --help", () => {
    assert.deepEqual(parseConfig(["--help"], {}), { help: true });
  });
});
