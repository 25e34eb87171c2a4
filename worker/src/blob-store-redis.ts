// The Redis blob store: an upload as fixed-size chunk keys under one hash tag, with an expiry and a size cap.
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import type { Cluster, Redis } from "ioredis";
import {
  blobMissing,
  pieces,
  type BlobStore,
  type ByteRange,
  type StoredBlob,
} from "./blob-store.ts";

/** Options of {@link RedisBlobStore}. */
export interface RedisBlobStoreOptions {
  redis: Redis | Cluster;
  /** Quit `redis` on {@link RedisBlobStore.close}. @default false */
  ownsConnection?: boolean;
  /** Key prefix. @default "jobchannel:" */
  prefix?: string;
  /** Bytes per chunk key: reads and writes hold about two chunks per blob. @default 1048576 */
  chunkBytes?: number;
  /** Expiry of every key of a blob, a backstop for blobs whose job never ends. @default 86400 */
  ttlSeconds?: number;
  /** Largest blob stored; a larger one is refused with `payload_too_large`. @default 26214400 */
  maxBytes?: number;
}

/** A stored blob's shape, from its hash. */
interface Layout {
  bytes: number;
  chunks: number;
  chunkBytes: number;
}

const REF = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// Deletes and expiries go out in batches so one blob of thousands of chunks is no giant command.
const KEYS_PER_COMMAND = 500;

/**
 * Keys: `<prefix>blob:{<id>}` (a hash of `bytes`, `chunks` and `chunkBytes`, written last, so a blob exists only
 * once whole) and `<prefix>blob:{<id>}:<n>` for each chunk. The hash tag puts a blob's keys in one
 * Redis Cluster slot, while different blobs spread over the cluster.
 */
export class RedisBlobStore implements BlobStore {
  readonly kind = "redis";
  readonly #redis: Redis | Cluster;
  readonly #owns: boolean;
  readonly #prefix: string;
  readonly #chunkBytes: number;
  readonly #ttlSeconds: number;
  readonly #maxBytes: number;

  constructor(options: RedisBlobStoreOptions) {
    this.#redis = options.redis;
    this.#owns = options.ownsConnection ?? false;
    this.#prefix = options.prefix ?? "jobchannel:";
    this.#chunkBytes = options.chunkBytes ?? 1024 * 1024;
    this.#ttlSeconds = options.ttlSeconds ?? 86_400;
    this.#maxBytes = options.maxBytes ?? 25 * 1024 * 1024;
  }

  #meta(id: string): string {
    return `${this.#prefix}blob:{${id}}`;
  }

  #chunk(id: string, n: number): string {
    return `${this.#prefix}blob:{${id}}:${n}`;
  }

  #id(ref: string): string {
    if (!REF.test(ref))
      throw new Error(`not a Redis blob ref: ${JSON.stringify(ref.slice(0, 80))}`);
    return ref;
  }

  async put(body: Readable): Promise<StoredBlob> {
    const id = randomUUID();
    let chunks = 0;
    let bytes = 0;
    try {
      for await (const piece of pieces(body, this.#chunkBytes, this.#maxBytes)) {
        if (piece.length === 0) continue;
        // Each chunk expires on its own too, so a process dying mid-upload leaves nothing for good.
        await this.#redis.set(this.#chunk(id, chunks), piece, "EX", this.#ttlSeconds);
        chunks++;
        bytes += piece.length;
      }
      // The hash goes last, and every chunk's expiry restarts with it, so no chunk expires first.
      const commit = this.#redis
        .multi()
        .hset(this.#meta(id), { bytes, chunks, chunkBytes: this.#chunkBytes })
        .expire(this.#meta(id), this.#ttlSeconds);
      for (let n = 0; n < chunks; n++) commit.expire(this.#chunk(id, n), this.#ttlSeconds);
      const results = await commit.exec();
      const failed = results?.find(([error]) => error);
      if (!results || failed) throw failed?.[0] ?? new Error("the blob's commit was discarded");
    } catch (e) {
      body.destroy();
      await this.#unlink(id, chunks + 1).catch(() => undefined);
      throw e;
    }
    return { ref: id, bytes };
  }

  async #layout(id: string): Promise<Layout | undefined> {
    const [bytes, chunks, chunkBytes] = await this.#redis.hmget(
      this.#meta(id),
      "bytes",
      "chunks",
      "chunkBytes",
    );
    if (bytes === null || chunks === null) return undefined;
    // Blobs stored before the hash named their chunk size were cut at this store's size.
    return {
      bytes: Number(bytes),
      chunks: Number(chunks),
      chunkBytes: chunkBytes === null ? this.#chunkBytes : Number(chunkBytes),
    };
  }

  async size(ref: string): Promise<number | undefined> {
    return (await this.#layout(this.#id(ref)))?.bytes;
  }

  get(ref: string, range?: ByteRange): Readable {
    const id = this.#id(ref);
    const redis = this.#redis;
    const chunkKey = (n: number): string => this.#chunk(id, n);
    const layout = (): Promise<Layout | undefined> => this.#layout(id);
    async function* read(): AsyncGenerator<Buffer> {
      const shape = await layout();
      if (!shape) throw blobMissing(ref);
      const start = range ? Math.min(range.start, shape.bytes) : 0;
      const end = range ? Math.min(range.end, shape.bytes) : shape.bytes;
      if (end <= start) return;
      // A whole read takes every chunk the hash counts, whatever their size.
      const first = range ? Math.floor(start / shape.chunkBytes) : 0;
      const last = range ? Math.ceil(end / shape.chunkBytes) : shape.chunks;
      // A whole chunk is one GET; the range's ends take only their part of a chunk (GETRANGE).
      const fetch = (n: number): Promise<Buffer | null> => {
        const from = Math.max(start - n * shape.chunkBytes, 0);
        const to = Math.min(end - n * shape.chunkBytes, shape.chunkBytes);
        if (!range || (from === 0 && to === shape.chunkBytes)) return redis.getBuffer(chunkKey(n));
        // GETRANGE answers "" for a missing key: EXISTS in the same transaction tells them apart.
        return redis
          .multi()
          .exists(chunkKey(n))
          .getrangeBuffer(chunkKey(n), from, to - 1)
          .exec()
          .then((results) => {
            const failed = results?.find(([error]) => error);
            if (!results || failed) throw failed?.[0] ?? new Error("the read was discarded");
            return results[0]![1] === 1 ? (results[1]![1] as Buffer) : null;
          });
      };
      // One chunk is fetched ahead while the reader works on the current one.
      let next: Promise<Buffer | null> | undefined = fetch(first);
      for (let n = first; n < last; n++) {
        const chunk = await next!;
        next = n + 1 < last ? fetch(n + 1) : undefined;
        if (chunk === null) {
          next?.catch(() => undefined);
          throw blobMissing(ref);
        }
        yield chunk;
      }
    }
    return Readable.from(read(), { objectMode: false, highWaterMark: 1 });
  }

  async delete(ref: string): Promise<void> {
    const id = this.#id(ref);
    const shape = await this.#layout(id);
    await this.#unlink(id, shape?.chunks ?? 0);
  }

  async #unlink(id: string, chunks: number): Promise<void> {
    // The hash goes first: once it is gone the blob counts as missing, whatever chunks remain.
    await this.#redis.unlink(this.#meta(id));
    for (let start = 0; start < chunks; start += KEYS_PER_COMMAND) {
      const keys: string[] = [];
      for (let n = start; n < Math.min(chunks, start + KEYS_PER_COMMAND); n++)
        keys.push(this.#chunk(id, n));
      await this.#redis.unlink(...keys);
    }
  }

  async close(): Promise<void> {
    if (this.#owns) await this.#redis.quit().catch(() => undefined);
  }
}
