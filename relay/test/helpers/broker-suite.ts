// The one broker test suite, run against every backend (memory and Redis).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { waitFor } from "@jobchannel/testkit";
import type { Broker } from "../../src/broker.ts";

/** A backend under test: a started broker's source and a way to publish into it. */
export interface BrokerBackend {
  create(): Broker;
  /** Publishes raw text on a full pub/sub channel name (prefix included). */
  publish(channel: string, payload: string): Promise<void>;
  teardown(): Promise<void>;
}

export function brokerSuite(name: string, setup: () => Promise<BrokerBackend>): void {
  describe(`${name} broker`, () => {
    let backend: BrokerBackend;
    let broker: Broker;
    const messages: { channel: string; text: string }[] = [];
    const health: boolean[] = [];

    before(async () => {
      backend = await setup();
      broker = backend.create();
      await broker.start({
        message: (channel, payload) => messages.push({ channel, text: String(payload) }),
        health: (up) => health.push(up),
      });
      await waitFor(() => broker.healthy(), { what: "a healthy broker" });
    });

    after(async () => {
      await broker.close();
      await backend.teardown();
    });

    test("reports itself live once subscribed", () => {
      assert.equal(broker.healthy(), true);
      assert.equal(health.at(-1), true);
    });

    test("delivers each message under the prefix with the prefix removed", async () => {
      await backend.publish("jobchannel:file-upload", '{"jobId":"a"}');
      await backend.publish("jobchannel:bulk-upload", '{"jobId":"b"}');
      await waitFor(() => messages.length >= 2, { what: "two messages" });
      assert.deepEqual(messages.splice(0), [
        { channel: "file-upload", text: '{"jobId":"a"}' },
        { channel: "bulk-upload", text: '{"jobId":"b"}' },
      ]);
    });

    test("passes payload bytes through untouched, also when they are not JSON", async () => {
      const text = 'not json \u00e9\u{1f600} {"x":1}';
      await backend.publish("jobchannel:c", text);
      await waitFor(() => messages.length >= 1, { what: "one message" });
      assert.deepEqual(messages.splice(0), [{ channel: "c", text }]);
    });

    test("hands over invalid channel names for the relay to judge", async () => {
      await backend.publish("jobchannel:Not_Valid", "x");
      await waitFor(() => messages.length >= 1, { what: "one message" });
      assert.equal(messages.splice(0)[0]!.channel, "Not_Valid");
    });

    test("ignores channels outside the prefix", async () => {
      await backend.publish("other:c", "x");
      await backend.publish("jobchannel:marker", "m");
      await waitFor(() => messages.length >= 1, { what: "the marker" });
      assert.deepEqual(messages.splice(0), [{ channel: "marker", text: "m" }]);
    });
  });
}
