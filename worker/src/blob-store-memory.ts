// The in-process blob store of a worker without Redis: uploads in memory, size-capped, with an expiry.
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import {
  blobMissing,
  pieces,
  type BlobStore,
  type ByteRange,
  type StoredBlob,
} from "./blob-store.ts";

/** Options of {@link MemoryBlobStore}. */
export interface MemoryBlobStoreOptions {
  /** Largest blob stored; a larger one is refused with `payload_too_large`. @default 26214400 */
  maxBytes?: number;
  /** How long a blob is kept if nobody deletes it. @default 86400 */
  ttlSeconds?: number;
}

const PIECE_BYTES = 256 * 1024;

/** Keeps blobs in this process; nothing survives it, as nothing else of an in-process worker does. */
export class MemoryBlobStore implements BlobStore {
  readonly kind = "memory";
  readonly #blobs = new Map<string, { pieces: Buffer[]; bytes: number; expires: number }>();
  readonly #maxBytes: number;
  readonly #ttlMs: number;

  constructor(options: MemoryBlobStoreOptions = {}) {
    this.#maxBytes = options.maxBytes ?? 25 * 1024 * 1024;
    this.#ttlMs = (options.ttlSeconds ?? 86_400) * 1000;
  }

  async put(body: Readable): Promise<StoredBlob> {
    const held: Buffer[] = [];
    let bytes = 0;
    try {
      for await (const piece of pieces(body, PIECE_BYTES, this.#maxBytes)) {
        held.push(piece);
        bytes += piece.length;
      }
    } catch (e) {
      body.destroy();
      throw e;
    }
    const ref = randomUUID();
    this.#blobs.set(ref, { pieces: held, bytes, expires: Date.now() + this.#ttlMs });
    return { ref, bytes };
  }

  #blob(ref: string): { pieces: Buffer[]; bytes: number } | undefined {
    const blob = this.#blobs.get(ref);
    if (blob && blob.expires <= Date.now()) this.#blobs.delete(ref);
    return blob && blob.expires > Date.now() ? blob : undefined;
  }

  async size(ref: string): Promise<number | undefined> {
    return this.#blob(ref)?.bytes;
  }

  get(ref: string, range?: ByteRange): Readable {
    const blob = this.#blob(ref);
    if (!blob) {
      const gone = new Readable({ read() {} });
      gone.destroy(blobMissing(ref));
      return gone;
    }
    if (!range) return Readable.from(blob.pieces, { objectMode: false });
    const slices: Buffer[] = [];
    let offset = 0;
    for (const piece of blob.pieces) {
      const from = Math.max(range.start - offset, 0);
      const to = Math.min(range.end - offset, piece.length);
      if (from < to) slices.push(piece.subarray(from, to));
      offset += piece.length;
    }
    return Readable.from(slices, { objectMode: false });
  }

  async delete(ref: string): Promise<void> {
    this.#blobs.delete(ref);
  }

  async close(): Promise<void> {
    this.#blobs.clear();
  }
}
