// Deadlines on Kubernetes API requests: an AbortSignal on each request, so a hung call is cut off, not just abandoned.
import {
  Observable,
  type ApiConstructor,
  type ApiType,
  type Configuration,
  type ConfigurationOptions,
  type KubeConfig,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
} from "@kubernetes/client-node";

/** Deadline of an ordinary API request (list, read, write); watches have none. */
export const DEFAULT_API_DEADLINE_MS = 30_000;

/**
 * Middleware that aborts each request when the signal `signalFor()` returns aborts, together with
 * any signal the request already has: whichever fires first cuts the request off. client-node may
 * run middleware in either order, so combining keeps it independent of the order.
 */
export function abortMiddleware(signalFor: () => AbortSignal): ObservableMiddleware {
  return {
    pre(context: RequestContext) {
      const own = signalFor();
      const existing = context.getSignal();
      context.setSignal(existing ? AbortSignal.any([existing, own]) : own);
      return new Observable(Promise.resolve(context));
    },
    post(context: ResponseContext) {
      return new Observable(Promise.resolve(context));
    },
  };
}

/**
 * `kubeConfig.makeApiClient(Api)`, with every request it makes aborted after `deadlineMs`
 * (connection, headers and body). Watches go through client-node's `Watch`, not through these
 * clients, so they keep running.
 * @param deadlineMs @default DEFAULT_API_DEADLINE_MS
 */
export function makeApiClientWithDeadline<T extends ApiType>(
  kubeConfig: KubeConfig,
  Api: ApiConstructor<T>,
  deadlineMs: number = DEFAULT_API_DEADLINE_MS,
): T {
  // makeApiClient builds the configuration (server, auth, user agent); capture it to add the deadline.
  let base: Configuration | undefined;
  kubeConfig.makeApiClient(
    class {
      constructor(configuration: Configuration) {
        base = configuration;
      }
    },
  );
  if (!base) throw new Error("client-node built no API configuration");
  const deadline = abortMiddleware(() => AbortSignal.timeout(deadlineMs));
  return new Api({ ...base, middleware: [...base.middleware, deadline] });
}

/** Per-call options that abort the request when `signal` aborts, on top of the client's deadline. */
export function signalOptions(signal: AbortSignal): ConfigurationOptions<ObservableMiddleware> {
  return { middleware: [abortMiddleware(() => signal)], middlewareMergeStrategy: "append" };
}
