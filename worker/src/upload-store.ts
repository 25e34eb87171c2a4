// Where uploads wait for their job: binary values in Redis with an expiry, or process memory.
import type { Cluster, Redis } from "ioredis";
import type { FileInfo, JobFile } from "./job.ts";

/** Default chunk size of {@link JobFile.chunks}. */
export const DEFAULT_CHUNK_BYTES = 256 * 1024;

/** Stores upload bytes by key. */
export interface UploadStore {
  put(key: string, bytes: Buffer, ttlSeconds: number): Promise<void>;
  /** Stored size in bytes, or `undefined` when the key is gone. */
  size(key: string): Promise<number | undefined>;
  /** Bytes `[start, end)`. */
  read(key: string, start: number, end: number): Promise<Buffer>;
  delete(key: string): Promise<void>;
}

export class RedisUploadStore implements UploadStore {
  readonly #redis: Redis | Cluster;

  constructor(redis: Redis | Cluster) {
    this.#redis = redis;
  }

  async put(key: string, bytes: Buffer, ttlSeconds: number): Promise<void> {
    await this.#redis.set(key, bytes, "EX", ttlSeconds);
  }

  async size(key: string): Promise<number | undefined> {
    // STRLEN cannot tell an empty upload from a missing key; EXISTS can.
    const [[, exists], [, length]] = (await this.#redis.multi().exists(key).strlen(key).exec()) as [
      [unknown, number],
      [unknown, number],
    ];
    return exists ? length : undefined;
  }

  async read(key: string, start: number, end: number): Promise<Buffer> {
    if (end <= start) return Buffer.alloc(0);
    return this.#redis.getrangeBuffer(key, start, end - 1);
  }

  async delete(key: string): Promise<void> {
    await this.#redis.del(key);
  }
}

export class MemoryUploadStore implements UploadStore {
  readonly #items = new Map<string, { bytes: Buffer; expires: number }>();

  async put(key: string, bytes: Buffer, ttlSeconds: number): Promise<void> {
    this.#items.set(key, { bytes, expires: Date.now() + ttlSeconds * 1000 });
  }

  #get(key: string): Buffer | undefined {
    const item = this.#items.get(key);
    if (item && item.expires <= Date.now()) this.#items.delete(key);
    return item && item.expires > Date.now() ? item.bytes : undefined;
  }

  async size(key: string): Promise<number | undefined> {
    return this.#get(key)?.length;
  }

  async read(key: string, start: number, end: number): Promise<Buffer> {
    return this.#get(key)?.subarray(start, end) ?? Buffer.alloc(0);
  }

  async delete(key: string): Promise<void> {
    this.#items.delete(key);
  }
}

/** A handler's view of a stored upload; a read that comes back short means the upload vanished. */
export function storedFile(store: UploadStore, key: string, info: FileInfo): JobFile {
  const readRange = async (start: number, end: number): Promise<Buffer> => {
    const chunk = await store.read(key, start, end);
    if (chunk.length !== end - start)
      throw new Error(`upload ${info.filename} vanished from the store while being read`);
    return chunk;
  };
  return {
    filename: info.filename,
    mimeType: info.mimeType,
    bytes: info.bytes,
    async *chunks(chunkBytes = DEFAULT_CHUNK_BYTES) {
      const step = Math.max(1, Math.floor(chunkBytes));
      for (let start = 0; start < info.bytes; start += step) {
        yield await readRange(start, Math.min(info.bytes, start + step));
      }
    },
    read: () => readRange(0, info.bytes),
  };
}

/** The stored upload of `info` under `key`, or `undefined` when it is missing or not whole. */
export async function openUpload(
  store: UploadStore,
  key: string,
  info: FileInfo | undefined,
): Promise<JobFile | undefined> {
  if (!info) return undefined;
  return (await store.size(key)) === info.bytes ? storedFile(store, key, info) : undefined;
}

/** The key of a job's upload: under its channel's hash tag, beside the job state. */
export function uploadKey(prefix: string, channel: string, jobId: string): string {
  return `${prefix}{${channel}}:upload:${jobId}`;
}
