// Cluster mode's parsing and key layout: redis+cluster:// URLs, hash slots, sharded channel names.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Cluster, Redis } from "ioredis";
import {
  PUBLISH_UPDATE,
  PUBLISH_UPDATE_SHARDED,
  RedisTargetError,
  channelKeys,
  channelOfShardedPubsub,
  clusterTargetFromNodes,
  createRedisClient,
  isClusterUrl,
  keySlot,
  nodeOptions,
  parseRedisTarget,
  shardedPubsubChannel,
} from "../src/index.ts";
import { PUBLISH_GUARDED, PUBLISH_GUARDED_SHARDED } from "../src/scripts.ts";

describe("parseRedisTarget", () => {
  test("keeps a redis:// URL as one server", () => {
    assert.deepEqual(parseRedisTarget("redis://r:6379/0"), {
      mode: "single",
      url: "redis://r:6379/0",
    });
  });

  test("reads seed nodes and credentials from a redis+cluster:// URL", () => {
    assert.deepEqual(parseRedisTarget("redis+cluster://app:s%40cret@a:7000,b:7001,[::1]:7002"), {
      mode: "cluster",
      nodes: [
        { host: "a", port: 7000 },
        { host: "b", port: 7001 },
        { host: "::1", port: 7002 },
      ],
      username: "app",
      password: "s@cret",
      tls: false,
    });
    assert.equal(
      (parseRedisTarget("rediss+cluster://:pw@a:7000") as { tls: boolean; password: string }).tls,
      true,
    );
  });

  test("refuses a node without a port and never repeats the password", () => {
    assert.throws(
      () => parseRedisTarget("redis+cluster://u:hunter2@a"),
      (e: unknown) => {
        assert.ok(e instanceof RedisTargetError);
        assert.doesNotMatch(e.message, /hunter2/);
        return true;
      },
    );
    assert.throws(() => parseRedisTarget("redis+cluster://"), RedisTargetError);
  });
});

describe("cluster key layout", () => {
  test("computes Redis's hash slots, counting only the hash tag", () => {
    assert.equal(keySlot("foo"), 12182);
    assert.equal(keySlot("123456789"), 12739);
    assert.equal(keySlot("{user1000}.following"), keySlot("user1000"));
    assert.equal(keySlot("a{}b"), keySlot("a{}b"));
  });

  test("puts the sharded channel in the slot of the channel's keys", () => {
    const keys = channelKeys("file-upload");
    const sharded = shardedPubsubChannel("file-upload");
    assert.equal(sharded, "jobchannel:{file-upload}");
    for (const key of [keys.state, keys.counter, keys.index, keys.done]) {
      assert.equal(keySlot(key), keySlot(sharded));
    }
    assert.equal(channelOfShardedPubsub(sharded), "file-upload");
    assert.equal(channelOfShardedPubsub("jobchannel:file-upload"), undefined);
    assert.equal(channelOfShardedPubsub("other:{file-upload}"), undefined);
  });

  test("derives the sharded publish script by swapping PUBLISH for SPUBLISH only", () => {
    assert.equal(PUBLISH_UPDATE_SHARDED.numberOfKeys, PUBLISH_UPDATE.numberOfKeys);
    assert.equal(PUBLISH_UPDATE_SHARDED.name, "publishUpdateSharded");
    assert.equal(
      PUBLISH_UPDATE_SHARDED.lua,
      PUBLISH_UPDATE.lua.replace('redis.call("PUBLISH"', 'redis.call("SPUBLISH"'),
    );
  });
});

describe("cluster targets in detail", () => {
  const message = (fn: () => unknown) => {
    try {
      fn();
      return "no error";
    } catch (e) {
      assert.ok(e instanceof RedisTargetError);
      assert.equal(e.name, "RedisTargetError");
      return e.message;
    }
  };

  test("takes ports 1 to 65535, trims spaces, and names a bad node", () => {
    assert.deepEqual(parseRedisTarget("redis+cluster://a:1, b:65535 ,,").mode, "cluster");
    assert.deepEqual(
      (parseRedisTarget("redis+cluster://a:1, b:65535 ,,") as { nodes: unknown }).nodes,
      [
        { host: "a", port: 1 },
        { host: "b", port: 65535 },
      ],
    );
    assert.equal(
      message(() => parseRedisTarget("redis+cluster://a:0")),
      'cluster nodes must be host:port, got "a:0"',
    );
    assert.equal(
      message(() => parseRedisTarget("redis+cluster://a:65536")),
      'cluster nodes must be host:port, got "a:65536"',
    );
    assert.equal(
      message(() => parseRedisTarget("redis+cluster://a:7000:1")),
      'cluster nodes must be host:port, got "a:7000:1"',
    );
    assert.equal(
      message(() => parseRedisTarget("redis+cluster:// , ")),
      "a cluster URL needs at least one host:port",
    );
    assert.equal(
      message(() => parseRedisTarget("redis+cluster:/a:1")),
      "no error",
    );
    assert.equal(parseRedisTarget("redis+cluster:/a:1").mode, "single", "needs the //");
  });

  test("reads a password alone, a user alone, and drops a path", () => {
    assert.deepEqual(parseRedisTarget("redis+cluster://pw@a:7000/0"), {
      mode: "cluster",
      nodes: [{ host: "a", port: 7000 }],
      password: "pw",
      tls: false,
    });
    assert.deepEqual(parseRedisTarget("redis+cluster://user:@a:7000"), {
      mode: "cluster",
      nodes: [{ host: "a", port: 7000 }],
      username: "user",
      tls: false,
    });
    assert.deepEqual(parseRedisTarget("redis+cluster://@a:7000"), {
      mode: "cluster",
      nodes: [{ host: "a", port: 7000 }],
      tls: false,
    });
    assert.equal(isClusterUrl("rediss+cluster://a:1"), true);
    assert.equal(isClusterUrl("redis://a:1"), false);
    assert.equal(isClusterUrl("xredis+cluster://a:1"), false);
  });

  test("builds a target from a node list, with credentials only when given", () => {
    assert.deepEqual(clusterTargetFromNodes("a:7000,b:7001"), {
      mode: "cluster",
      nodes: [
        { host: "a", port: 7000 },
        { host: "b", port: 7001 },
      ],
      tls: false,
    });
    assert.deepEqual(
      clusterTargetFromNodes("a:7000", { username: "u", password: "p", tls: true }),
      {
        mode: "cluster",
        nodes: [{ host: "a", port: 7000 }],
        username: "u",
        password: "p",
        tls: true,
      },
    );
    assert.equal(
      message(() => clusterTargetFromNodes(" , ")),
      "at least one host:port is needed",
    );
  });

  test("gives each node client the credentials and TLS of the target, and nothing else", () => {
    const bare = clusterTargetFromNodes("a:7000") as Parameters<typeof nodeOptions>[0];
    assert.deepEqual(nodeOptions(bare), {});
    assert.deepEqual(nodeOptions({ ...bare, username: "u", password: "p", tls: true }), {
      username: "u",
      password: "p",
      tls: {},
    });
  });
});

describe("parseRedisTarget, beyond the basics", () => {
  test("reads a URL without credentials as nodes only, with multi-character host names", () => {
    assert.deepEqual(parseRedisTarget("redis+cluster://redis-a:7000,10.0.0.2:7001"), {
      mode: "cluster",
      nodes: [
        { host: "redis-a", port: 7000 },
        { host: "10.0.0.2", port: 7001 },
      ],
      tls: false,
    });
  });

  test("reads a password given without a user name", () => {
    assert.deepEqual(parseRedisTarget("rediss+cluster://:p%3Aw@a:7000"), {
      mode: "cluster",
      nodes: [{ host: "a", port: 7000 }],
      password: "p:w",
      tls: true,
    });
  });

  test("drops a path after the nodes, and refuses one broken by a line break", () => {
    assert.deepEqual(parseRedisTarget("redis+cluster://a:7000/10").nodes, [
      { host: "a", port: 7000 },
    ]);
    assert.throws(() => parseRedisTarget("redis+cluster://a:7000/0\n,b:7001"), RedisTargetError);
  });

  test("quotes the offending node without its surrounding spaces", () => {
    assert.throws(() => clusterTargetFromNodes("a:7000, nope "), {
      name: "RedisTargetError",
      message: 'cluster nodes must be host:port, got "nope"',
    });
  });
});

describe("createRedisClient", () => {
  test("makes a Redis client for one server, with the options given", () => {
    const client = createRedisClient(
      { mode: "single", url: "redis://127.0.0.1:1/0" },
      { lazyConnect: true, connectionName: "one" },
    );
    try {
      assert.ok(client instanceof Redis);
      assert.equal(client.options.connectionName, "one");
      assert.equal(client.options.port, 1);
    } finally {
      client.disconnect();
    }
  });

  test("makes a Cluster client from the seed nodes, with node and cluster options", () => {
    const target = parseRedisTarget("rediss+cluster://app:pw@a:7000,b:7001");
    assert.equal(target.mode, "cluster");
    if (target.mode !== "cluster") return;
    const client = createRedisClient(
      target,
      { connectionName: "node" },
      { lazyConnect: true, scaleReads: "slave" },
    );
    try {
      assert.ok(client instanceof Cluster);
      assert.deepEqual((client as unknown as { startupNodes: unknown }).startupNodes, [
        { host: "a", port: 7000 },
        { host: "b", port: 7001 },
      ]);
      assert.equal(client.options.lazyConnect, true);
      assert.equal(client.options.scaleReads, "slave");
      assert.deepEqual(client.options.redisOptions, {
        username: "app",
        password: "pw",
        tls: {},
        connectionName: "node",
      });
    } finally {
      client.disconnect();
    }
  });
});

describe("guarded publish scripts", () => {
  test("are named for ioredis as publishGuarded and publishGuardedSharded", () => {
    assert.equal(PUBLISH_GUARDED.name, "publishGuarded");
    assert.equal(PUBLISH_GUARDED.numberOfKeys, 4);
    assert.equal(PUBLISH_GUARDED_SHARDED.name, "publishGuardedSharded");
    assert.match(PUBLISH_GUARDED_SHARDED.lua, /redis\.call\("SPUBLISH", ARGV\[6\], payload\)/);
  });
});
