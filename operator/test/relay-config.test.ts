// channels.json computed from JobChannels.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  deploymentOwner,
  desiredRelayConfigMap,
  isRegistered,
  parseRelayConfig,
  renderRelayConfig,
} from "../src/relay-config.ts";
import { jobChannel } from "./fixtures.ts";

describe("renderRelayConfig", () => {
  it("writes the relay's channel config format sorted by channel", () => {
    const text = renderRelayConfig([
      jobChannel("pdf-extraction", { spec: { access: "public", visibility: "channel" } }),
      jobChannel("file-upload"),
    ]);
    assert.deepEqual(JSON.parse(text), {
      channels: [
        {
          name: "file-upload",
          access: "authenticated",
          visibility: "user",
          history: { maxJobs: 1000, ttlSeconds: 86400 },
          maxMessageBytes: 65536,
        },
        {
          name: "pdf-extraction",
          access: "public",
          visibility: "channel",
          history: { maxJobs: 1000, ttlSeconds: 86400 },
          maxMessageBytes: 65536,
        },
      ],
    });
  });

  it("renders the same set in any order to the same text", () => {
    const a = jobChannel("a");
    const b = jobChannel("b");
    assert.equal(renderRelayConfig([a, b]), renderRelayConfig([b, a]));
  });

  it("uses spec.channel over the resource name", () => {
    const text = renderRelayConfig([jobChannel("uploads", { spec: { channel: "file-upload" } })]);
    assert.equal(JSON.parse(text).channels[0].name, "file-upload");
  });

  it("renders an empty list for no JobChannels", () => {
    assert.deepEqual(JSON.parse(renderRelayConfig([])), { channels: [] });
  });
});

describe("isRegistered", () => {
  it("needs the entry with exactly the settings the JobChannel asks for", () => {
    const jc = jobChannel("file-upload");
    const config = parseRelayConfig(renderRelayConfig([jc]));
    assert.equal(isRegistered(jc, config), true);
    const changed = jobChannel("file-upload", { spec: { access: "public" } });
    assert.equal(isRegistered(changed, config), false);
    assert.equal(isRegistered(jc, parseRelayConfig(undefined)), false);
    assert.equal(isRegistered(jc, parseRelayConfig("{not json")), false);
  });
});

describe("desiredRelayConfigMap", () => {
  it("puts the text under channels.json", () => {
    const cm = desiredRelayConfigMap("jobchannel", "jobchannel-relay", "{}") as {
      data: Record<string, string>;
    };
    assert.deepEqual(cm.data, { "channels.json": "{}" });
  });

  it("names the owner Deployment in a non-controller ownerReference when given one", () => {
    const owned = desiredRelayConfigMap(
      "jobchannel",
      "jobchannel-relay",
      "{}",
      deploymentOwner("jobchannel-operator", "uid-1"),
    ) as { metadata: Record<string, unknown> };
    assert.deepEqual(owned.metadata.ownerReferences, [
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        name: "jobchannel-operator",
        uid: "uid-1",
        controller: false,
        blockOwnerDeletion: false,
      },
    ]);
    const plain = desiredRelayConfigMap("jobchannel", "jobchannel-relay", "{}") as {
      metadata: Record<string, unknown>;
    };
    assert.equal("ownerReferences" in plain.metadata, false);
  });
});
