// The blob store uploads wait in for their job: put a stream -> ref, get a ref -> stream, delete.
import type { Readable } from "node:stream";
import type { Logger } from "pino";
import { WorkerError, WorkerErrorCode, httpError } from "./errors.ts";
import type { FileInfo, JobFile } from "./job.ts";

/** Bytes `start` (inclusive) to `end` (exclusive) of a blob. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** What {@link BlobStore.put} stored. */
export interface StoredBlob {
  /** Opaque to callers; it names the blob in {@link BlobStore.get} and {@link BlobStore.delete}. */
  readonly ref: string;
  readonly bytes: number;
}

/**
 * Where uploads wait for their job. Implementations stream both ways: no method holds a whole blob
 * in memory. `blob-store-redis.ts`, `blob-store-s3.ts` and `blob-store-memory.ts` implement it.
 */
export interface BlobStore {
  /** `redis`, `s3` or `memory`, for logs and `/readyz`. */
  readonly kind: string;
  /**
   * Stores the bytes of `body` under a new ref. Rejects with `payload_too_large` past the store's
   * size cap; when it rejects (the cap, a failed write, `body` erroring), nothing stays stored.
   */
  put(body: Readable): Promise<StoredBlob>;
  /** The blob's size, or `undefined` when it is gone (expired, deleted, never completed). */
  size(ref: string): Promise<number | undefined>;
  /**
   * The blob's bytes in order, or only those of `range` (which the caller keeps within the blob's
   * size); the stream errors if the blob vanishes while it is read.
   */
  get(ref: string, range?: ByteRange): Readable;
  /** Removes the blob; a missing one is not an error. */
  delete(ref: string): Promise<void>;
  /** Releases connections the store opened itself. */
  close(): Promise<void>;
}

/** The refusal of a blob past the store's size cap (the same code as the HTTP limit). */
export function blobTooLarge(maxBytes: number): WorkerError {
  return httpError(
    WorkerErrorCode.PayloadTooLarge,
    413,
    `the upload is larger than the limit of ${maxBytes} bytes`,
  );
}

/** The error a blob's stream fails with when the blob is gone. */
export function blobMissing(ref: string): WorkerError {
  return new WorkerError(WorkerErrorCode.InputLost, `the stored upload ${ref} is gone`);
}

/**
 * Yields `body` in pieces of exactly `size` bytes (the last may be shorter), never holding more
 * than one piece plus one incoming chunk; throws `payload_too_large` past `maxBytes`.
 */
export async function* pieces(
  body: AsyncIterable<Buffer | Uint8Array | string>,
  size: number,
  maxBytes: number,
): AsyncGenerator<Buffer> {
  let held: Buffer[] = [];
  let heldBytes = 0;
  let total = 0;
  for await (const chunk of body) {
    let buf = typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk);
    total += buf.length;
    if (total > maxBytes) throw blobTooLarge(maxBytes);
    while (heldBytes + buf.length >= size) {
      const take = size - heldBytes;
      held.push(buf.subarray(0, take));
      yield Buffer.concat(held, size);
      buf = buf.subarray(take);
      held = [];
      heldBytes = 0;
    }
    if (buf.length > 0) {
      held.push(buf);
      heldBytes += buf.length;
    }
  }
  if (heldBytes > 0 || total === 0) yield Buffer.concat(held, heldBytes);
}

/** An upload's metadata as the job carries it: its {@link FileInfo} and the ref of its blob. */
export interface StoredUpload extends FileInfo {
  readonly blob: string;
}

/** The job's upload metadata with its blob ref, or `undefined` when the job carries none (jobs queued before blobs). */
export function storedUpload(file: FileInfo | undefined): StoredUpload | undefined {
  const blob = (file as { blob?: unknown } | undefined)?.blob;
  return file && typeof blob === "string" && blob !== "" ? { ...file, blob } : undefined;
}

/** A handler's view of a stored blob: read as a stream, re-cut into the pieces it asks for. */
export function blobFile(store: BlobStore, upload: StoredUpload): JobFile {
  const chunks = async function* (chunkBytes = 256 * 1024): AsyncGenerator<Buffer> {
    let read = 0;
    const step = Math.max(1, Math.floor(chunkBytes));
    for await (const piece of pieces(store.get(upload.blob), step, upload.bytes)) {
      read += piece.length;
      if (piece.length > 0) yield piece;
    }
    if (read !== upload.bytes)
      throw new Error(
        `upload ${upload.filename} came back with ${read} of its ${upload.bytes} bytes from the blob store`,
      );
  };
  return {
    filename: upload.filename,
    mimeType: upload.mimeType,
    bytes: upload.bytes,
    chunks,
    async range(start, end) {
      if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end)))
        throw new RangeError(`range ${start}-${end} is not a pair of integers`);
      if (start < 0 || start > end || end > upload.bytes)
        throw new RangeError(`range ${start}-${end} is outside the upload's ${upload.bytes} bytes`);
      const all: Buffer[] = [];
      let read = 0;
      for await (const piece of store.get(upload.blob, { start, end }) as AsyncIterable<Buffer>) {
        read += piece.length;
        if (read > end - start) break;
        all.push(piece);
      }
      if (read !== end - start)
        throw new Error(
          `upload ${upload.filename} gave ${read} bytes for its range ${start}-${end} from the blob store`,
        );
      return Buffer.concat(all, read);
    },
    async read() {
      const all: Buffer[] = [];
      for await (const piece of chunks(1024 * 1024)) all.push(piece);
      return Buffer.concat(all, upload.bytes);
    },
  };
}

/**
 * The job's upload for its handler: `undefined` when the job carries no file, and also when its
 * blob is gone or not whole (the runner then fails the job with `input_lost`).
 */
export async function openUpload(
  store: BlobStore,
  file: FileInfo | undefined,
): Promise<JobFile | undefined> {
  const upload = storedUpload(file);
  if (!upload) return undefined;
  return (await store.size(upload.blob)) === upload.bytes ? blobFile(store, upload) : undefined;
}

/** Deletes the job's blob once the job is final; a failure is logged, since the blob's expiry still removes it. */
export async function discardUpload(
  store: BlobStore,
  file: FileInfo | undefined,
  log: Logger,
): Promise<void> {
  const upload = storedUpload(file);
  if (!upload) return;
  try {
    await store.delete(upload.blob);
  } catch (e) {
    log.warn({ blob: upload.blob, err: (e as Error).message }, "upload delete failed");
  }
}
