// The reconcile contract: a Request names a key, a Result asks for a requeue, a TerminalError stops retries.

/** What a reconciler is asked to make right: one queue key. */
export interface Request {
  readonly key: string;
}

/** What a reconcile asks of the queue when it succeeds. */
export interface Result {
  /** Reconcile this key again after this many milliseconds (not counted as a failure). */
  readonly requeueAfterMs?: number;
  /** Reconcile again after a short fixed delay (not counted as a failure, no backoff growth). */
  readonly requeue?: boolean;
}

/** A reconciler: level-triggered, idempotent, safe to call at any time for any key. */
export interface Reconciler {
  reconcile(request: Request): Promise<Result>;
}

/**
 * Thrown by a reconciler when retrying cannot help (an invalid spec, say): the runner records the
 * error and forgets the key until the next event for it.
 */
export class TerminalError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TerminalError";
    this.code = code;
  }
}

export function isTerminalError(error: unknown): error is TerminalError {
  return error instanceof TerminalError;
}
