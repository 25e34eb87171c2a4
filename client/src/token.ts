// Token expiry: when a JWT expires, so that the client can fetch a fresh one before the relay
// closes the connection with 4001.

/** The `exp` claim of a JWT in Unix milliseconds, or undefined when the token is not a JWT with one. */
export function tokenExpiry(token: string): number | undefined {
  const payload = token.split(".")[1];
  if (payload === undefined || payload.length === 0) return undefined;
  try {
    const base64 = payload.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    const claims: unknown = JSON.parse(atob(padded));
    if (claims === null || typeof claims !== "object") return undefined;
    const exp = (claims as { exp?: unknown }).exp;
    return typeof exp === "number" && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    // Not a JWT: an opaque token has no expiry the client can know.
    return undefined;
  }
}

/**
 * Milliseconds from `now` until the token should be refreshed: `marginMs` before it expires, at
 * least `minMs` from now so that a token that is already due does not cause a busy loop.
 */
export function refreshDelay(
  expiresAt: number,
  now: number,
  marginMs: number,
  minMs = 1000,
): number {
  return Math.max(minMs, expiresAt - marginMs - now);
}
