// Tests of channels.json parsing and the channel policy of each mode.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ChannelPolicy, parseChannelConfig } from "../src/channel-config.ts";
import type { RelayError } from "../src/errors.ts";
import { relayErrorOf } from "./helpers/errors.ts";

function refusal(text: string): RelayError {
  return relayErrorOf(() => parseChannelConfig(text));
}

describe("parseChannelConfig", () => {
  test("reads the design's example exactly", () => {
    const config = parseChannelConfig(
      '{"channels": [{"name": "file-upload", "access": "authenticated", "visibility": "user", "history": {"maxJobs": 1000, "ttlSeconds": 86400}, "maxMessageBytes": 65536}]}',
    );
    assert.deepEqual(config, {
      channels: [
        {
          name: "file-upload",
          access: "authenticated",
          visibility: "user",
          history: { maxJobs: 1000, ttlSeconds: 86400 },
          maxMessageBytes: 65536,
        },
      ],
    });
  });

  test("fills in defaults", () => {
    const [settings] = parseChannelConfig('{"channels":[{"name":"a"}]}').channels;
    assert.deepEqual(settings, {
      name: "a",
      access: "authenticated",
      visibility: "channel",
      history: { maxJobs: 1000, ttlSeconds: 86400 },
      maxMessageBytes: 65536,
    });
  });

  test("names the field at fault", () => {
    assert.equal(refusal("[]").code, "invalid_channel_config");
    assert.equal(refusal("{}").field, "channels");
    assert.equal(refusal('{"channels":[{"name":"Bad_Name"}]}').field, "channels[0].name");
    assert.equal(
      refusal('{"channels":[{"name":"a","access":"open"}]}').field,
      "channels[0].access",
    );
    assert.equal(
      refusal('{"channels":[{"name":"a","visibility":"team"}]}').field,
      "channels[0].visibility",
    );
    assert.equal(
      refusal('{"channels":[{"name":"a","history":{"maxJobs":-1}}]}').field,
      "channels[0].history.maxJobs",
    );
    assert.equal(
      refusal('{"channels":[{"name":"a","maxMessageBytes":1.5}]}').field,
      "channels[0].maxMessageBytes",
    );
    assert.equal(refusal('{"channels":[{"name":"a"},{"name":"a"}]}').field, "channels[1].name");
    assert.equal(refusal("{not json").code, "invalid_channel_config");
  });
});

describe("ChannelPolicy", () => {
  test("serves exactly the configured channels with a config", () => {
    const policy = ChannelPolicy.fromConfig(
      parseChannelConfig('{"channels":[{"name":"a","access":"public"}]}'),
    );
    assert.equal(policy.mode, "config");
    assert.equal(policy.get("a")?.access, "public");
    assert.equal(policy.get("b"), undefined);
  });

  test("serves every valid channel publicly in open development mode", () => {
    const policy = ChannelPolicy.withoutConfig(false);
    assert.equal(policy.mode, "open");
    assert.equal(policy.get("anything")?.access, "public");
    assert.equal(policy.get("Not Valid"), undefined);
  });

  test("serves every valid channel to token holders when tokens can be verified", () => {
    const policy = ChannelPolicy.withoutConfig(true);
    assert.equal(policy.mode, "authenticated");
    assert.equal(policy.get("anything")?.access, "authenticated");
    assert.equal(policy.get("anything")?.visibility, "channel");
  });
});
