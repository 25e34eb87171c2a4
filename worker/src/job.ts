// Job types: a name, an input parser run at the HTTP boundary, and an async handler run by the runner.
import { channelNameProblem } from "@jobchannel/protocol";
import type { Logger } from "pino";
import { WorkerError, WorkerErrorCode } from "./errors.ts";

/** What an HTTP request submitted, as a job type's {@link JobDefinition.parseInput} sees it. */
export interface JobRequest {
  /** The JSON body, or the text fields of a form (multipart or urlencoded). `userId` is removed. */
  readonly body: Readonly<Record<string, unknown>>;
  /** The upload in the multipart field `file`, if any (its bytes are stored, not handed here). */
  readonly file: FileInfo | undefined;
}

/** Metadata of an uploaded file. */
export interface FileInfo {
  readonly filename: string;
  readonly mimeType: string;
  readonly bytes: number;
}

/** An uploaded file as a handler reads it: from Redis (or memory), in chunks or whole. */
export interface JobFile extends FileInfo {
  /** The bytes in order, `chunkBytes` at a time. @default chunkBytes 262144 */
  chunks(chunkBytes?: number): AsyncIterable<Buffer>;
  /**
   * Bytes `start` (inclusive) to `end` (exclusive), read from the blob store alone, for handlers
   * that need random access (pdf-extraction). Rejects with a RangeError outside `0..bytes`.
   */
  range(start: number, end: number): Promise<Buffer>;
  /** All the bytes at once. */
  read(): Promise<Buffer>;
}

/** What a handler receives. */
export interface JobContext<Input> {
  readonly jobId: string;
  /** The channel the job publishes on (its job type's name). */
  readonly channel: string;
  /** The caller's identity, from the verified token (or the `userId` field in development mode). */
  readonly userId: string | undefined;
  /** What {@link JobDefinition.parseInput} returned. */
  readonly input: Input;
  /** The upload, when the job type takes one and the request carried it. */
  readonly file: JobFile | undefined;
  /** 1 on the first try, then 2, 3, ... on retries. */
  readonly attempt: number;
  /** Aborted on timeout, on shutdown past the grace period, or when the job's lock is lost. */
  readonly signal: AbortSignal;
  /** A pino logger bound to the job (`jobId`, `channel`). */
  readonly log: Logger;
  /**
   * Publishes a `processing` update with `progress` (0-100) and merges `fields` into the job's
   * custom fields, which every later update (and the final one) carries too. Calls closer together
   * than 1 % and 250 ms are merged into the next one.
   */
  progress(percent: number, fields?: Record<string, unknown>): Promise<void>;
}

/** Whether a job type takes an upload in the multipart field `file`. */
export type UploadPolicy = "required" | "optional" | "none";

/** A job type. Its name is the channel its updates travel on. */
export interface JobDefinition<Input = unknown, Result = unknown> {
  /** The job type's name and its channel (a DNS label). */
  readonly name: string;
  /**
   * Validates a request at the HTTP boundary and returns the job's input, which must be plain JSON
   * (it is stored in the queue so another process can retry the job). Throw {@link invalidInput}
   * to answer 400.
   */
  readonly parseInput: (request: JobRequest) => Input;
  /** Does the work; its return value (plain JSON) is the `result` of the `completed` update. */
  readonly handler: (context: JobContext<Input>) => Promise<Result>;
  /** @default "none" */
  readonly upload?: UploadPolicy;
  /** Tries before the job fails; overrides the worker's setting. */
  readonly attempts?: number;
  /** Longest one attempt may run, in ms; overrides the worker's setting. */
  readonly timeoutMs?: number;
  /** Custom fields shown from the `queued` update on (for example the file name). */
  readonly fields?: (input: Input, file: FileInfo | undefined) => Record<string, unknown>;
}

/** The `fields` of a job type whose input is an upload: its file name and size. */
export function uploadFields(_input: unknown, file: FileInfo | undefined): Record<string, unknown> {
  return file ? { filename: file.filename, size: file.bytes } : {};
}

/** A 400 `invalid_input` refusal naming the offending field; throw it from `parseInput`. */
export function invalidInput(field: string, message: string): WorkerError {
  return new WorkerError(WorkerErrorCode.InvalidInput, field ? `${field}: ${message}` : message, {
    status: 400,
    field,
  });
}

/** Declares a job type, checking its name. */
export function defineJob<Input, Result>(
  definition: JobDefinition<Input, Result>,
): JobDefinition<Input, Result> {
  const problem = channelNameProblem(definition.name);
  if (problem) {
    throw new WorkerError(
      WorkerErrorCode.InvalidConfig,
      `job type name ${JSON.stringify(definition.name)} ${problem}`,
      {
        field: "name",
      },
    );
  }
  if (typeof definition.handler !== "function" || typeof definition.parseInput !== "function") {
    throw new WorkerError(
      WorkerErrorCode.InvalidConfig,
      `job type ${definition.name} needs parseInput and handler functions`,
    );
  }
  return Object.freeze({ ...definition });
}

/** A job type with its generic parameters erased, as collections hold them. */
// The handler's input type is checked where the job is defined; collections only route by name.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- variance: see comment above
export type AnyJobDefinition = JobDefinition<any, unknown>;
