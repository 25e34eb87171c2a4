// Token verification (HS256 secret or JWKS) and the access rule of a channel for a connection.
import type { IncomingMessage } from "node:http";
import { ErrorCode, isValidChannelName, MAX_TOKEN_LENGTH } from "@jobchannel/protocol";
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import type { ChannelSettings } from "./channel-config.ts";

/** Who is on a connection. */
export interface Identity {
  /** True when a token was verified. */
  readonly authenticated: boolean;
  /** The token's `sub`: the user id matched against `userId` on `visibility: user` channels. */
  readonly sub?: string;
  /** The token's `channels` claim: the only channels it grants, when present. */
  readonly channels?: ReadonlySet<string>;
  /** The token's `exp`, Unix ms. */
  readonly expiresAt?: number;
}

/** A connection without a verified token. */
export const ANONYMOUS: Identity = Object.freeze({ authenticated: false });

/** The outcome of a verification: an identity, or why the token was refused. */
export type AuthResult =
  | { readonly ok: true; readonly identity: Identity }
  | { readonly ok: false; readonly reason: "expired" | "invalid"; readonly message: string };

/** Verifies bearer tokens. */
export interface Authenticator {
  verify(token: string): Promise<AuthResult>;
}

/** Options of {@link createAuthenticator}. */
export interface AuthOptions {
  /** HS256 shared secret. */
  secret?: string;
  /** JWKS URL for RS256 and ES256 keys. */
  jwksUrl?: string;
  /** Required `iss`, when set. */
  issuer?: string;
  /** Required `aud`, when set. */
  audience?: string;
  /** Clock skew tolerated on `exp` and `nbf`, seconds. @default 0 */
  clockToleranceSeconds?: number;
}

function refused(message: string): AuthResult {
  return { ok: false, reason: "invalid", message };
}

function identityOf(payload: JWTPayload): AuthResult {
  if (typeof payload.exp !== "number") return refused("token has no exp claim");
  if (payload.sub !== undefined && (typeof payload.sub !== "string" || payload.sub.length === 0)) {
    return refused("token sub claim must be a non-empty string");
  }
  let channels: Set<string> | undefined;
  const claim = payload.channels;
  if (claim !== undefined) {
    if (!Array.isArray(claim) || !claim.every(isValidChannelName)) {
      return refused("token channels claim must be an array of channel names");
    }
    channels = new Set(claim);
  }
  const identity: Identity = {
    authenticated: true,
    expiresAt: payload.exp * 1000,
    ...(payload.sub !== undefined ? { sub: payload.sub } : {}),
    ...(channels ? { channels } : {}),
  };
  return { ok: true, identity };
}

/**
 * A verifier for HS256 tokens (with `secret`) and RS256/ES256 tokens (with `jwksUrl`); both may be
 * set. Returns `undefined` when neither is, since then no token can be verified.
 */
export function createAuthenticator(options: AuthOptions): Authenticator | undefined {
  const { secret, jwksUrl } = options;
  if (!secret && !jwksUrl) return undefined;
  const secretKey = secret ? new TextEncoder().encode(secret) : undefined;
  const jwks = jwksUrl ? createRemoteJWKSet(new URL(jwksUrl)) : undefined;
  const algorithms = [...(secretKey ? ["HS256"] : []), ...(jwks ? ["RS256", "ES256"] : [])];
  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (header.alg === "HS256" && secretKey) return secretKey;
    if (jwks) return jwks(header, token);
    throw new errors.JOSEAlgNotAllowed(`unexpected algorithm ${header.alg}`);
  };
  const verifyOptions = {
    algorithms,
    requiredClaims: ["exp"],
    clockTolerance: options.clockToleranceSeconds ?? 0,
    ...(options.issuer ? { issuer: options.issuer } : {}),
    ...(options.audience ? { audience: options.audience } : {}),
  };
  return {
    async verify(token) {
      if (token.length === 0 || token.length > MAX_TOKEN_LENGTH)
        return refused("token has a bad length");
      try {
        const { payload } = await jwtVerify(token, getKey, verifyOptions);
        return identityOf(payload);
      } catch (e) {
        if (e instanceof errors.JWTExpired)
          return { ok: false, reason: "expired", message: "token expired" };
        // The library's message names the failed check (signature, issuer, ...), never the token.
        return refused(
          e instanceof errors.JOSEError ? `token refused: ${e.message}` : "token refused",
        );
      }
    },
  };
}

/** The token of an upgrade request: `Authorization: Bearer` header, else the `access_token` query parameter. */
export function tokenFromRequest(req: IncomingMessage, query: URLSearchParams): string | undefined {
  const header = req.headers.authorization;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match) return match[1];
  }
  return query.get("access_token") ?? undefined;
}

/**
 * Why `identity` may not subscribe to a channel: `unauthorized` (a token is needed), `forbidden`
 * (its `channels` claim excludes the channel), or `undefined` when it may.
 */
export function accessProblem(
  settings: ChannelSettings,
  identity: Identity,
): typeof ErrorCode.Unauthorized | typeof ErrorCode.Forbidden | undefined {
  if (settings.access === "public") return undefined;
  if (!identity.authenticated) return ErrorCode.Unauthorized;
  if (identity.channels && !identity.channels.has(settings.name)) return ErrorCode.Forbidden;
  return undefined;
}
