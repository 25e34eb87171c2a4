// Reads a job request's body (JSON, urlencoded form, or multipart streamed into the blob store) within size limits.
import busboy from "busboy";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Readable } from "node:stream";
import { parseJson } from "@jobchannel/protocol";
import type { BlobStore, StoredBlob, StoredUpload } from "./blob-store.ts";
import { WorkerError, WorkerErrorCode, httpError } from "./errors.ts";

/** Size limits of a request body. */
export interface BodyLimits {
  /** Largest upload in the field `file`. */
  maxUploadBytes: number;
  /** Largest JSON or form body (and largest multipart text field). */
  maxJsonBytes: number;
}

/** A request body as read. */
export interface RequestBody {
  /** The JSON object, or the form's text fields. */
  fields: Record<string, unknown>;
  /** The upload in the field `file`, already in the blob store. */
  file?: StoredUpload;
}

/** The multipart field that carries the upload, as in the original guide (`-F file=@test.pdf`). */
export const FILE_FIELD = "file";

const MAX_FORM_FIELDS = 100;

function tooLarge(what: string, limit: number): WorkerError {
  return httpError(
    WorkerErrorCode.PayloadTooLarge,
    413,
    `${what} is larger than the limit of ${limit} bytes`,
  );
}

/** Reads the whole body as text, refusing more than `limit` bytes. */
function readText(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      reject(tooLarge("the body", limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on("data", (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > limit) {
        refused = true;
        reject(tooLarge("the body", limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => refused || resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", (e) =>
      reject(
        httpError(WorkerErrorCode.BadRequest, 400, `the body could not be read: ${e.message}`),
      ),
    );
  });
}

/** Where a multipart request's upload goes while it is read. */
export interface UploadTarget {
  readonly store: BlobStore;
  /** False when the job type takes no upload: a file part is refused at once. */
  readonly accept: boolean;
}

function storeFailed(e: unknown): WorkerError {
  if (e instanceof WorkerError) return e;
  return httpError(
    WorkerErrorCode.UploadStoreFailed,
    503,
    `the upload could not be stored: ${(e as Error).message}`,
  );
}

/**
 * Reads a multipart body, streaming the upload into the blob store as it arrives. A refusal stops
 * reading at once (the router then answers and closes the connection), and removes what was stored.
 */
function readMultipart(
  req: IncomingMessage,
  limits: BodyLimits,
  target: UploadTarget,
): Promise<RequestBody> {
  return new Promise((resolve, reject) => {
    // The upload plus the text fields: a body declared or grown past this is refused unread.
    const bodyLimit = limits.maxUploadBytes + limits.maxJsonBytes;
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        limits: {
          fileSize: limits.maxUploadBytes,
          files: 1,
          fields: MAX_FORM_FIELDS,
          fieldSize: limits.maxJsonBytes,
          parts: MAX_FORM_FIELDS + 1,
        },
      });
    } catch (e) {
      reject(
        httpError(
          WorkerErrorCode.BadRequest,
          400,
          `malformed multipart request: ${(e as Error).message}`,
        ),
      );
      return;
    }
    const fields: Record<string, unknown> = {};
    let upload: Readable | undefined;
    let info: { filename: string; mimeType: string } | undefined;
    let stored: Promise<StoredBlob | undefined> | undefined;
    let received = 0;
    let done = false;
    const count = (chunk: Buffer): void => {
      received += chunk.length;
      if (received > bodyLimit) finish(tooLarge("the multipart body", bodyLimit));
    };
    const finish = (error?: WorkerError): void => {
      if (done) return;
      done = true;
      req.removeListener("data", count);
      if (error) {
        req.unpipe(parser);
        upload?.destroy(error);
        void stored?.then((blob) => blob && target.store.delete(blob.ref)).catch(() => undefined);
        reject(error);
        return;
      }
      void (stored ?? Promise.resolve(undefined)).then((blob) => {
        if (!blob || !info) resolve({ fields });
        else resolve({ fields, file: { ...info, bytes: blob.bytes, blob: blob.ref } });
      });
    };
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > bodyLimit) {
      finish(tooLarge("the multipart body", bodyLimit));
      return;
    }
    parser.on("field", (name, value, field) => {
      if (field.valueTruncated) finish(tooLarge(`the field ${name}`, limits.maxJsonBytes));
      else if (name === "__proto__")
        finish(httpError(WorkerErrorCode.BadRequest, 400, "field name __proto__ is not allowed"));
      else fields[name] = value;
    });
    parser.on("file", (name, stream, file) => {
      if (name !== FILE_FIELD || !target.accept) {
        stream.resume();
        finish(
          name !== FILE_FIELD
            ? httpError(
                WorkerErrorCode.BadRequest,
                400,
                `uploads go in the field "${FILE_FIELD}", not "${name}"`,
                name,
              )
            : httpError(
                WorkerErrorCode.BadRequest,
                400,
                "this job type takes no upload",
                FILE_FIELD,
              ),
        );
        return;
      }
      upload = stream;
      info = {
        filename: file.filename || "upload",
        mimeType: file.mimeType || "application/octet-stream",
      };
      stream.on("limit", () => finish(tooLarge("the upload", limits.maxUploadBytes)));
      stored = target.store.put(stream).catch((e: unknown) => {
        finish(storeFailed(e));
        return undefined;
      });
    });
    parser.on("filesLimit", () =>
      finish(httpError(WorkerErrorCode.BadRequest, 400, "send at most one file")),
    );
    parser.on("fieldsLimit", () =>
      finish(httpError(WorkerErrorCode.BadRequest, 400, `send at most ${MAX_FORM_FIELDS} fields`)),
    );
    parser.on("partsLimit", () =>
      finish(httpError(WorkerErrorCode.BadRequest, 400, "too many parts")),
    );
    parser.on("error", (e: Error) =>
      finish(
        httpError(WorkerErrorCode.BadRequest, 400, `malformed multipart request: ${e.message}`),
      ),
    );
    parser.on("close", () => finish());
    req.on("error", (e) =>
      finish(
        httpError(WorkerErrorCode.BadRequest, 400, `the body could not be read: ${e.message}`),
      ),
    );
    // A client gone mid-upload must not hold its upload slot (or a half-stored blob) forever.
    req.on("close", () => {
      if (!req.complete)
        finish(httpError(WorkerErrorCode.BadRequest, 400, "the connection closed mid-upload"));
    });
    req.on("data", count);
    req.pipe(parser);
  });
}

/** How long a refused request's connection stays half-closed for its client to read the answer. */
const LINGER_MS = 2000;

/**
 * Makes the answer to a refused request the last thing on its connection, without reading the rest
 * of its body: the socket stops reading, sends the answer and FIN, and is destroyed once the client
 * closes or after {@link LINGER_MS}. Node's own close would reset the connection (it has unread
 * bytes), and a reset reaching a client still uploading makes it drop the answer unread.
 */
export function closeUnread(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader("Connection", "close");
  req.unpipe();
  req.removeAllListeners("data");
  req.pause();
  // A body never touched would be read to its end by Node after the answer (to reuse the socket).
  req.read(0);
  const socket = req.socket as Socket & { destroySoon(): void };
  socket.destroySoon = function linger(this: Socket): void {
    this.pause();
    this.end();
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    this.once("close", () => clearTimeout(timer));
  };
}

/** The request's media type, lower case, without parameters. */
export function requestType(req: IncomingMessage): string {
  return (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
}

/**
 * Reads a job request's body according to its Content-Type; a multipart upload is stored in
 * `upload.store` as it arrives, and the caller owns (and must delete) the stored blob.
 */
export async function readRequestBody(
  req: IncomingMessage,
  limits: BodyLimits,
  upload: UploadTarget,
): Promise<RequestBody> {
  const type = requestType(req);
  if (type === "multipart/form-data") return readMultipart(req, limits, upload);
  if (type === "application/json" || type.endsWith("+json")) {
    const text = await readText(req, limits.maxJsonBytes);
    if (text.trim() === "") return { fields: {} };
    const parsed = parseJson(text, { maxBytes: limits.maxJsonBytes });
    if (!parsed.ok)
      throw httpError(
        WorkerErrorCode.InvalidJson,
        400,
        parsed.error.message,
        parsed.error.field || undefined,
      );
    const value = parsed.value;
    if (value === null || typeof value !== "object" || Array.isArray(value)) {
      throw httpError(WorkerErrorCode.InvalidJson, 400, "the JSON body must be an object");
    }
    return { fields: value as Record<string, unknown> };
  }
  if (type === "application/x-www-form-urlencoded") {
    const text = await readText(req, limits.maxJsonBytes);
    const fields: Record<string, unknown> = {};
    for (const [name, value] of new URLSearchParams(text))
      if (name !== "__proto__") fields[name] = value;
    return { fields };
  }
  if (type === "") {
    const text = await readText(req, limits.maxJsonBytes);
    if (text.length === 0) return { fields: {} };
  }
  req.resume();
  throw httpError(
    WorkerErrorCode.UnsupportedMediaType,
    415,
    'send application/json, multipart/form-data (upload in the field "file") or application/x-www-form-urlencoded',
  );
}
