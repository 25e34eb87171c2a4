// The relay URL: relative paths resolve against the page's origin (http -> ws, https -> wss), and
// the token travels as the `access_token` query parameter, which browsers can set.
import { ClientError, ClientErrorCode } from "./errors.ts";

/** Path of the relay endpoint on the page's origin. @default "/ws" */
export const DEFAULT_PATH = "/ws";

function pageOrigin(): string | undefined {
  const location = (globalThis as { location?: { href?: unknown } }).location;
  return typeof location?.href === "string" ? location.href : undefined;
}

/** An absolute ws:// or wss:// URL for `url` (default `/ws` on the page's origin). */
export function resolveRelayUrl(
  url: string = DEFAULT_PATH,
  base: string | undefined = pageOrigin(),
): URL {
  let resolved: URL;
  try {
    resolved = base === undefined ? new URL(url) : new URL(url, base);
  } catch {
    throw new ClientError(
      ClientErrorCode.InvalidUrl,
      base === undefined
        ? `relay URL "${url}" is not absolute and there is no page origin to resolve it against`
        : `relay URL "${url}" is not a valid URL`,
    );
  }
  if (resolved.protocol === "http:") resolved.protocol = "ws:";
  else if (resolved.protocol === "https:") resolved.protocol = "wss:";
  else if (resolved.protocol !== "ws:" && resolved.protocol !== "wss:") {
    throw new ClientError(
      ClientErrorCode.InvalidUrl,
      `relay URL must use ws, wss, http or https, got ${resolved.protocol.replace(":", "")}`,
    );
  }
  resolved.hash = "";
  return resolved;
}

/** The URL to open, with the token as `access_token` when one is given. */
export function connectUrl(base: URL, token: string | undefined): string {
  const url = new URL(base);
  if (token !== undefined) url.searchParams.set("access_token", token);
  return url.toString();
}
