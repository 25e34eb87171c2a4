// Reads a job request's body (JSON, urlencoded form, or multipart with a streamed upload) within size limits.
import busboy from "busboy";
import type { IncomingMessage } from "node:http";
import { parseJson } from "@jobchannel/protocol";
import { WorkerErrorCode, httpError, type WorkerError } from "./errors.ts";
import type { FileInfo } from "./job.ts";

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
  /** The upload in the field `file`. */
  file?: { info: FileInfo; bytes: Buffer };
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

function readMultipart(req: IncomingMessage, limits: BodyLimits): Promise<RequestBody> {
  return new Promise((resolve, reject) => {
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
      req.resume();
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
    let file: RequestBody["file"];
    let problem: WorkerError | undefined;
    const refuse = (error: WorkerError): void => {
      problem ??= error;
    };
    parser.on("field", (name, value, info) => {
      if (info.valueTruncated) refuse(tooLarge(`the field ${name}`, limits.maxJsonBytes));
      else if (name === "__proto__")
        refuse(httpError(WorkerErrorCode.BadRequest, 400, "field name __proto__ is not allowed"));
      else fields[name] = value;
    });
    parser.on("file", (name, stream, info) => {
      if (name !== FILE_FIELD) {
        refuse(
          httpError(
            WorkerErrorCode.BadRequest,
            400,
            `uploads go in the field "${FILE_FIELD}", not "${name}"`,
            name,
          ),
        );
        stream.resume();
        return;
      }
      const chunks: Buffer[] = [];
      let bytes = 0;
      stream.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
        if (!problem) chunks.push(chunk);
      });
      stream.on("limit", () => refuse(tooLarge("the upload", limits.maxUploadBytes)));
      stream.on("end", () => {
        if (problem) return;
        file = {
          info: {
            filename: info.filename || "upload",
            mimeType: info.mimeType || "application/octet-stream",
            bytes,
          },
          bytes: Buffer.concat(chunks, bytes),
        };
      });
    });
    parser.on("filesLimit", () =>
      refuse(httpError(WorkerErrorCode.BadRequest, 400, "send at most one file")),
    );
    parser.on("fieldsLimit", () =>
      refuse(httpError(WorkerErrorCode.BadRequest, 400, `send at most ${MAX_FORM_FIELDS} fields`)),
    );
    parser.on("partsLimit", () =>
      refuse(httpError(WorkerErrorCode.BadRequest, 400, "too many parts")),
    );
    parser.on("error", (e: Error) => {
      req.unpipe(parser);
      req.resume();
      reject(
        problem ??
          httpError(WorkerErrorCode.BadRequest, 400, `malformed multipart request: ${e.message}`),
      );
    });
    parser.on("close", () =>
      problem ? reject(problem) : resolve(file ? { fields, file } : { fields }),
    );
    req.on("error", (e) =>
      reject(
        httpError(WorkerErrorCode.BadRequest, 400, `the body could not be read: ${e.message}`),
      ),
    );
    req.pipe(parser);
  });
}

/** Reads a job request's body according to its Content-Type. */
export async function readRequestBody(
  req: IncomingMessage,
  limits: BodyLimits,
): Promise<RequestBody> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type === "multipart/form-data") return readMultipart(req, limits);
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
