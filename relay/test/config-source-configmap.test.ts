// Tests of reading the channel config out of a ConfigMap object (the watch itself runs against
// a real API server in the integration suite).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { configFromConfigMap, CONFIGMAP_KEY } from "../src/config-source-configmap.ts";
import { relayErrorOf } from "./helpers/errors.ts";

function code(object: unknown): string {
  return relayErrorOf(() => configFromConfigMap(object)).code;
}

describe("configFromConfigMap", () => {
  test("reads channels.json from the ConfigMap's data", () => {
    const config = configFromConfigMap({
      metadata: { name: "jobchannel-relay", resourceVersion: "7" },
      data: { [CONFIGMAP_KEY]: '{"channels":[{"name":"file-upload","access":"public"}]}' },
    });
    assert.equal(config.channels[0]?.name, "file-upload");
    assert.equal(config.channels[0]?.access, "public");
  });

  test("reports a missing key as unavailable and a bad config as invalid", () => {
    assert.equal(code({ data: {} }), "channel_config_unavailable");
    assert.equal(code({}), "channel_config_unavailable");
    assert.equal(code(null), "channel_config_unavailable");
    assert.equal(code({ data: { [CONFIGMAP_KEY]: '{"channels":{}}' } }), "invalid_channel_config");
  });
});
