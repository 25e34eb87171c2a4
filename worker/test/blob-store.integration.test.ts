// One contract suite for every blob store: in memory, on a real redis-server, and on a real SeaweedFS over S3.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { startRedis, startSeaweedfs, type TestRedis, type TestS3 } from "@jobchannel/testkit";
import { Redis } from "ioredis";
import type { BlobStore } from "../src/blob-store.ts";
import { MemoryBlobStore } from "../src/blob-store-memory.ts";
import { RedisBlobStore } from "../src/blob-store-redis.ts";
import { S3BlobStore } from "../src/blob-store-s3.ts";

const MAX_BYTES = 8 * 1024 * 1024;

/** `total` pseudo-random bytes in `piece`-sized chunks, generated as read. */
function generated(total: number, piece = 100_000, seed = 1): Readable {
  let sent = 0;
  let n = seed;
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const size = Math.min(piece, total - sent);
      const chunk = Buffer.alloc(size);
      for (let i = 0; i < size; i += 4) {
        n = (Math.imul(n, 1_103_515_245) + 12_345) >>> 0;
        chunk.writeUInt32LE(n, i <= size - 4 ? i : size - 4);
      }
      sent += size;
      this.push(chunk);
    },
  });
}

async function digest(
  stream: AsyncIterable<Buffer> | Readable,
): Promise<{ sha: string; n: number }> {
  const hash = createHash("sha256");
  let n = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    n += chunk.length;
  }
  return { sha: hash.digest("hex"), n };
}

interface Backend {
  name: string;
  open(): Promise<BlobStore>;
  /** Everything the backend holds now, as key names. */
  leftovers(): Promise<string[]>;
  close(): Promise<void>;
}

let redis: TestRedis | undefined;
let redisClient: Redis | undefined;
let s3: TestS3 | undefined;
let s3Client: S3Client | undefined;
let memory: MemoryBlobStore | undefined;

before(async () => {
  redis = await startRedis();
  redisClient = new Redis(redis.url);
  s3 = await startSeaweedfs();
  s3Client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
});

after(async () => {
  await redisClient?.quit();
  await redis?.stop();
  s3Client?.destroy();
  await s3?.stop();
});

const backends: Backend[] = [
  {
    name: "memory",
    async open() {
      memory = new MemoryBlobStore({ maxBytes: MAX_BYTES });
      return memory;
    },
    async leftovers() {
      return [];
    },
    async close() {},
  },
  {
    name: "redis",
    async open() {
      return new RedisBlobStore({
        redis: redisClient!,
        maxBytes: MAX_BYTES,
        chunkBytes: 256 * 1024,
      });
    },
    leftovers: () => redisClient!.keys("jobchannel:blob:*"),
    async close() {},
  },
  {
    name: "s3",
    async open() {
      return new S3BlobStore({ client: s3Client!, bucket: s3!.bucket, maxBytes: MAX_BYTES });
    },
    async leftovers() {
      const listed = await s3Client!.send(
        new ListObjectsV2Command({ Bucket: s3!.bucket, Prefix: "jobchannel/uploads/" }),
      );
      // An aborted multipart upload would linger as an upload, not an object.
      const uploads = await s3Client!.send(
        new ListMultipartUploadsCommand({ Bucket: s3!.bucket, Prefix: "jobchannel/uploads/" }),
      );
      return [
        ...(listed.Contents ?? []).map((o) => o.Key!),
        ...(uploads.Uploads ?? []).map((u) => `multipart ${u.Key!}`),
      ];
    },
    async close() {},
  },
];

for (const backend of backends) {
  describe(`${backend.name} blob store`, () => {
    test("gives back exactly the bytes put, as a stream, and forgets them on delete", async () => {
      const store = await backend.open();
      const size = 6 * 1024 * 1024 + 123;
      const expected = await digest(generated(size));
      const blob = await store.put(generated(size));
      assert.equal(blob.bytes, size);
      assert.equal(await store.size(blob.ref), size);
      assert.deepEqual(await digest(store.get(blob.ref)), { sha: expected.sha, n: size });
      await store.delete(blob.ref);
      assert.equal(await store.size(blob.ref), undefined);
      await assert.rejects(digest(store.get(blob.ref)), /gone/);
      assert.deepEqual(await backend.leftovers(), []);
    });

    test("gives back any byte range, across chunk and part boundaries, and fails once the blob is gone", async () => {
      const store = await backend.open();
      const size = 6 * 1024 * 1024 + 123;
      const whole: Buffer[] = [];
      for await (const chunk of generated(size) as AsyncIterable<Buffer>) whole.push(chunk);
      const bytes = Buffer.concat(whole);
      const blob = await store.put(generated(size));
      const chunk = 256 * 1024;
      const ranges: [number, number][] = [
        [0, 1],
        [0, 1024],
        [chunk - 10, chunk + 10], // across the Redis store's first chunk boundary
        [chunk, 2 * chunk], // exactly one whole chunk
        [5 * 1024 * 1024 - 3, 5 * 1024 * 1024 + 3], // across the S3 store's 5 MiB part boundary
        [123, 3 * chunk + 7], // several chunks, starting and ending mid-chunk
        [size - 123, size], // the short last chunk
        [size, size], // empty, at the end
        [0, size],
      ];
      for (const [start, end] of ranges) {
        const got = Buffer.concat(await Array.fromAsync(store.get(blob.ref, { start, end })));
        assert.ok(
          got.equals(bytes.subarray(start, end)),
          `range ${start}-${end}: ${got.length} bytes`,
        );
      }
      await store.delete(blob.ref);
      await assert.rejects(digest(store.get(blob.ref, { start: 0, end: 10 })), /gone/);
      await assert.rejects(digest(store.get(blob.ref, { start: 5, end: 5 })), /gone/);
    });

    test("stores an empty upload", async () => {
      const store = await backend.open();
      const blob = await store.put(Readable.from([]));
      assert.equal(await store.size(blob.ref), 0);
      assert.equal((await digest(store.get(blob.ref))).n, 0);
      await store.delete(blob.ref);
    });

    test("refuses a blob past its cap and keeps nothing of it", async () => {
      const store = await backend.open();
      await assert.rejects(store.put(generated(MAX_BYTES + 1)), { code: "payload_too_large" });
      assert.deepEqual(await backend.leftovers(), []);
    });

    test("keeps nothing when the incoming stream fails midway", async () => {
      const store = await backend.open();
      async function* failing(): AsyncGenerator<Buffer> {
        // Past one S3 part, so a multipart upload has begun and must be aborted.
        yield* generated(6 * 1024 * 1024) as AsyncIterable<Buffer>;
        throw new Error("client went away");
      }
      const body = Readable.from(failing());
      await assert.rejects(store.put(body), /client went away/);
      assert.deepEqual(await backend.leftovers(), []);
    });

    test("deleting a missing blob is no error", async () => {
      const store = await backend.open();
      const blob = await store.put(generated(10));
      await store.delete(blob.ref);
      await store.delete(blob.ref);
      await backend.close();
    });
  });
}
