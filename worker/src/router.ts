// The worker's HTTP API as an Express router: POST /jobs/<channel>, GET /jobs/<channel>/<jobId>.
import { channelNameProblem } from "@jobchannel/protocol";
import type { JobStore } from "@jobchannel/state";
import { Router, type NextFunction, type Request, type Response } from "express";
import type { Logger } from "pino";
import type { Authenticator, Caller } from "./auth.ts";
import { WorkerError, WorkerErrorCode, httpError } from "./errors.ts";
import type { AnyJobDefinition, JobRequest } from "./job.ts";
import { readRequestBody, type BodyLimits } from "./request-body.ts";
import type { Runner } from "./runner.ts";

/** Options of {@link createJobRouter}. */
export interface JobRouterOptions {
  runner: Runner;
  store: JobStore;
  jobTypes: readonly AnyJobDefinition[];
  authenticator: Authenticator;
  limits: BodyLimits;
  logger: Logger;
  /** False while shutting down: new jobs are refused with 503. */
  accepting: () => boolean;
}

function send(res: Response, error: WorkerError): void {
  if (!res.headersSent) res.status(error.status).json(error.toJSON());
}

/**
 * The router to mount at `/api`: `POST /jobs/<channel>` (also `POST /<channel>` for a served job
 * type, the original guide's path), `GET /jobs/<channel>/<jobId>`, `GET /jobs` (served types).
 */
export function createJobRouter(options: JobRouterOptions): Router {
  const { runner, store, authenticator, limits, logger } = options;
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
      req.resume();
      res.setHeader("Connection", "close");
      throw e;
    }
    // With tokens, refuse before reading an upload; in development mode the identity is in the body.
    let caller = authenticator.development
      ? undefined
      : await authenticator.authenticate(req.headers.authorization, undefined);
    if (caller) allowed(caller, type.name);
    let body;
    try {
      body = await readRequestBody(req, limits);
    } catch (e) {
      res.setHeader("Connection", "close");
      throw e;
    }
    const { userId: fieldUserId, ...fields } = body.fields;
    caller ??= await authenticator.authenticate(undefined, fieldUserId);
    const policy = type.upload ?? "none";
    if (policy === "required" && !body.file) {
      throw httpError(
        WorkerErrorCode.MissingFile,
        400,
        `${type.name} needs a multipart upload in the field "file"`,
        "file",
      );
    }
    if (policy === "none" && body.file) {
      throw httpError(WorkerErrorCode.BadRequest, 400, `${type.name} takes no upload`, "file");
    }
    const request: JobRequest = { body: fields, file: body.file?.info };
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
      ...(body.file ? { file: body.file } : {}),
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
