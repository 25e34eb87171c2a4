// The worker's HTTP API as an Express router: POST /jobs/<channel>, GET /jobs/<channel>/<jobId>.
import { channelNameProblem } from "@jobchannel/protocol";
import type { JobStore } from "@jobchannel/state";
import { Router, type NextFunction, type Request, type Response } from "express";
import type { Logger } from "pino";
import type { Authenticator, Caller } from "./auth.ts";
import type { BlobStore } from "./blob-store.ts";
import { WorkerError, WorkerErrorCode, httpError } from "./errors.ts";
import type { AnyJobDefinition, JobRequest, UploadPolicy } from "./job.ts";
import {
  closeUnread,
  readRequestBody,
  requestType,
  type BodyLimits,
  type RequestBody,
} from "./request-body.ts";
import type { Runner } from "./runner.ts";
import { UploadSlots } from "./upload-slots.ts";

/** Options of {@link createJobRouter}. */
export interface JobRouterOptions {
  runner: Runner;
  store: JobStore;
  jobTypes: readonly AnyJobDefinition[];
  authenticator: Authenticator;
  limits: BodyLimits;
  /** Where uploads are stored while they are read, before their job is submitted. */
  blobs: BlobStore;
  /** Multipart requests read at once; more are refused with 503 and Retry-After, unread. */
  maxConcurrentUploads: number;
  logger: Logger;
  /** False while shutting down: new jobs are refused with 503. */
  accepting: () => boolean;
}

/** What a refused upload's `Retry-After` says: uploads take seconds, so a short wait usually finds a slot. */
export const UPLOAD_RETRY_AFTER_SECONDS = 2;

function send(res: Response, error: WorkerError): void {
  if (!res.headersSent) res.status(error.status).json(error.toJSON());
}

/**
 * The router to mount at `/api`: `POST /jobs/<channel>` (also `POST /<channel>` for a served job
 * type, the original guide's path), `GET /jobs/<channel>/<jobId>`, `GET /jobs` (served types).
 */
export function createJobRouter(options: JobRouterOptions): Router {
  const { runner, store, authenticator, limits, logger, blobs } = options;
  const uploads = new UploadSlots(options.maxConcurrentUploads);
  const types = new Map(options.jobTypes.map((t) => [t.name, t]));
  const router = Router();

  const jobType = (channel: string | undefined): AnyJobDefinition => {
    const problem = channelNameProblem(channel);
    if (problem) throw httpError(WorkerErrorCode.BadRequest, 400, `channel ${problem}`, "channel");
    const type = types.get(channel!);
    if (!type) {
      throw httpError(
        WorkerErrorCode.UnknownJobType,
        404,
        `this worker serves no job type ${channel}; it serves ${[...types.keys()].join(", ")}`,
      );
    }
    return type;
  };

  const allowed = (caller: Caller, channel: string): void => {
    if (caller.channels && !caller.channels.includes(channel)) {
      throw httpError(
        WorkerErrorCode.Forbidden,
        403,
        `the token does not allow the channel ${channel}`,
      );
    }
  };

  const create = async (
    req: Request,
    res: Response,
    channel: string | undefined,
  ): Promise<void> => {
    let type: AnyJobDefinition;
    try {
      type = jobType(channel);
      if (!options.accepting())
        throw httpError(
          WorkerErrorCode.Unavailable,
          503,
          "the worker is shutting down; try another replica",
        );
    } catch (e) {
      closeUnread(req, res);
      throw e;
    }
    // With tokens, refuse before reading an upload; in development mode the identity is in the body.
    const caller = authenticator.development
      ? undefined
      : await authenticator.authenticate(req.headers.authorization, undefined);
    if (caller) allowed(caller, type.name);
    const policy = type.upload ?? "none";
    const release = requestType(req) === "multipart/form-data" ? uploads.take() : () => undefined;
    if (!release) {
      closeUnread(req, res);
      res.setHeader("Retry-After", String(UPLOAD_RETRY_AFTER_SECONDS));
      throw httpError(
        WorkerErrorCode.TooManyUploads,
        503,
        `this worker is receiving ${options.maxConcurrentUploads} uploads already; retry shortly`,
      );
    }
    let body;
    try {
      body = await readRequestBody(req, limits, { store: blobs, accept: policy !== "none" });
    } catch (e) {
      closeUnread(req, res);
      throw e;
    } finally {
      release();
    }
    const stored = body.file;
    try {
      await submit(res, type, policy, body, caller);
    } catch (e) {
      // Stored first, submitted second: a job that was not accepted leaves no blob behind.
      if (stored)
        await blobs
          .delete(stored.blob)
          .catch((err: unknown) =>
            logger.warn({ blob: stored.blob, err: (err as Error).message }, "upload delete failed"),
          );
      throw e;
    }
  };

  const submit = async (
    res: Response,
    type: AnyJobDefinition,
    policy: UploadPolicy,
    body: RequestBody,
    authenticated: Caller | undefined,
  ): Promise<void> => {
    const { userId: fieldUserId, ...fields } = body.fields;
    const caller = authenticated ?? (await authenticator.authenticate(undefined, fieldUserId));
    if (policy === "required" && !body.file) {
      throw httpError(
        WorkerErrorCode.MissingFile,
        400,
        `${type.name} needs a multipart upload in the field "file"`,
        "file",
      );
    }
    const file = body.file;
    const request: JobRequest = {
      body: fields,
      file: file && { filename: file.filename, mimeType: file.mimeType, bytes: file.bytes },
    };
    let input: unknown;
    try {
      input = type.parseInput(request);
    } catch (e) {
      if (e instanceof WorkerError) throw e;
      throw httpError(WorkerErrorCode.InvalidInput, 400, (e as Error).message);
    }
    const jobId = await runner.submit({
      type: type.name,
      userId: caller.userId,
      input,
      ...(file ? { file } : {}),
    });
    res.status(202).json({ jobId, channel: type.name, status: "queued" });
  };

  router.get("/jobs", (_req, res) => {
    res.json({
      jobTypes: [...types.values()].map((t) => ({ name: t.name, upload: t.upload ?? "none" })),
    });
  });
  router.post("/jobs/:channel", (req, res) => create(req, res, req.params.channel));
  router.get("/jobs/:channel/:jobId", async (req, res) => {
    const type = jobType(req.params.channel);
    const caller = authenticator.development
      ? undefined
      : await authenticator.authenticate(req.headers.authorization, undefined);
    if (caller) allowed(caller, type.name);
    const jobId = req.params.jobId;
    const job = jobId.length <= 128 ? await store.get(type.name, jobId) : undefined;
    // Another user's job is reported as missing, so job ids cannot be probed.
    if (!job || (caller && job.userId !== caller.userId)) {
      throw httpError(
        WorkerErrorCode.JobNotFound,
        404,
        `no job ${jobId} on the channel ${type.name}`,
      );
    }
    res.json({ ...job, channel: type.name });
  });
  router.all(["/jobs/:channel", "/jobs/:channel/:jobId"], (_req, _res) => {
    throw httpError(
      WorkerErrorCode.MethodNotAllowed,
      405,
      "jobs are created with POST /jobs/<channel> and read with GET /jobs/<channel>/<jobId>",
    );
  });
  // The original guide's path: POST /api/<job type>.
  router.post("/:channel", (req: Request, res: Response, next: NextFunction) => {
    const channel = req.params.channel;
    return typeof channel === "string" && types.has(channel) ? create(req, res, channel) : next();
  });
  router.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (res.headersSent) return next(error);
    if (error instanceof WorkerError) return send(res, error);
    const status = (error as { status?: unknown }).status;
    if (typeof status === "number" && status >= 400 && status < 500) {
      return send(res, httpError(WorkerErrorCode.BadRequest, status, (error as Error).message));
    }
    logger.error(
      { err: (error as Error).message, method: req.method, path: req.path },
      "request failed",
    );
    send(res, httpError(WorkerErrorCode.InternalError, 500, "internal error"));
  });
  return router;
}
