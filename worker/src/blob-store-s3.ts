// The S3 blob store: an upload as one object, written by multipart upload while it streams in, read back as a stream.
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import {
  blobMissing,
  blobTooLarge,
  type BlobStore,
  type ByteRange,
  type StoredBlob,
} from "./blob-store.ts";

/** Options of {@link S3BlobStore}. */
export interface S3BlobStoreOptions {
  bucket: string;
  /** A ready client; otherwise one is made from `endpoint`, `region` and `forcePathStyle`. */
  client?: S3Client;
  /** An S3-compatible server's URL (SeaweedFS, MinIO, ...); unset = AWS. */
  endpoint?: string | undefined;
  /** @default "us-east-1" */
  region?: string;
  /** Address buckets as `<endpoint>/<bucket>` (most S3-compatible servers want this). @default false */
  forcePathStyle?: boolean;
  /** Key prefix of the blobs. @default "jobchannel/uploads/" */
  prefix?: string;
  /** Multipart part size: an upload holds up to `queueSize` parts in memory (S3's minimum is 5 MiB). @default 5242880 */
  partBytes?: number;
  /** Parts sent at once per upload. @default 2 */
  queueSize?: number;
  /** Largest blob stored; a larger one is refused with `payload_too_large`. @default 26214400 */
  maxBytes?: number;
}

const REF = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function notFound(e: unknown): boolean {
  return (
    e instanceof S3ServiceException &&
    (e.name === "NoSuchKey" || e.name === "NotFound" || e.$metadata.httpStatusCode === 404)
  );
}

/**
 * Blobs as objects `<prefix><uuid>` in one bucket. S3 has no per-object expiry: give the bucket a
 * lifecycle rule on the prefix as the backstop for blobs whose job never ends (worker/README.md).
 */
export class S3BlobStore implements BlobStore {
  readonly kind = "s3";
  readonly #client: S3Client;
  readonly #owns: boolean;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #partBytes: number;
  readonly #queueSize: number;
  readonly #maxBytes: number;

  constructor(options: S3BlobStoreOptions) {
    this.#owns = options.client === undefined;
    this.#client =
      options.client ??
      new S3Client({
        region: options.region ?? "us-east-1",
        forcePathStyle: options.forcePathStyle ?? false,
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      });
    this.#bucket = options.bucket;
    this.#prefix = options.prefix ?? "jobchannel/uploads/";
    this.#partBytes = Math.max(5 * 1024 * 1024, options.partBytes ?? 5 * 1024 * 1024);
    this.#queueSize = Math.max(1, options.queueSize ?? 2);
    this.#maxBytes = options.maxBytes ?? 25 * 1024 * 1024;
  }

  #key(ref: string): string {
    if (!REF.test(ref)) throw new Error(`not an S3 blob ref: ${JSON.stringify(ref.slice(0, 80))}`);
    return `${this.#prefix}${ref}`;
  }

  async put(body: Readable): Promise<StoredBlob> {
    const ref = randomUUID();
    const maxBytes = this.#maxBytes;
    let bytes = 0;
    async function* capped(): AsyncGenerator<Buffer> {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        if (bytes > maxBytes) throw blobTooLarge(maxBytes);
        yield chunk;
      }
    }
    const upload = new Upload({
      client: this.#client,
      params: { Bucket: this.#bucket, Key: this.#key(ref), Body: Readable.from(capped()) },
      partSize: this.#partBytes,
      queueSize: this.#queueSize,
      // A failed upload is aborted, so its parts do not linger (and cost) in the bucket.
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (e) {
      body.destroy();
      throw e;
    }
    return { ref, bytes };
  }

  async size(ref: string): Promise<number | undefined> {
    try {
      const head = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#key(ref) }),
      );
      return head.ContentLength;
    } catch (e) {
      if (notFound(e)) return undefined;
      throw e;
    }
  }

  get(ref: string, range?: ByteRange): Readable {
    const key = this.#key(ref);
    const client = this.#client;
    const bucket = this.#bucket;
    const size = (): Promise<number | undefined> => this.size(ref);
    async function* read(): AsyncGenerator<Buffer> {
      // HTTP ranges cannot name zero bytes: an empty range only checks that the blob is there.
      if (range && range.end <= range.start) {
        if ((await size()) === undefined) throw blobMissing(ref);
        return;
      }
      let body: Readable;
      try {
        const object = await client.send(
          new GetObjectCommand({
            Bucket: bucket,
            Key: key,
            Range: range ? `bytes=${range.start}-${range.end - 1}` : undefined,
          }),
        );
        body = object.Body as Readable;
      } catch (e) {
        if (notFound(e)) throw blobMissing(ref);
        throw e;
      }
      yield* body as AsyncIterable<Buffer>;
    }
    return Readable.from(read(), { objectMode: false, highWaterMark: 1 });
  }

  async delete(ref: string): Promise<void> {
    await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#key(ref) }));
  }

  async close(): Promise<void> {
    if (this.#owns) this.#client.destroy();
  }
}
