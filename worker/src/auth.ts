// Caller identity: a verified bearer token's `sub`, or in development mode a `userId` field.
import {
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from "jose";
import { MAX_USER_ID_LENGTH } from "@jobchannel/protocol";
import { WorkerError, WorkerErrorCode } from "./errors.ts";

/** Token settings, the same as the relay's. Neither secret nor JWKS = development mode. */
export interface AuthOptions {
  /** HS256 shared secret. */
  jwtSecret?: string | undefined;
  /** JWKS URL for RS256 / ES256 keys. */
  jwksUrl?: string | undefined;
  /** Required `iss`, checked when set. */
  issuer?: string | undefined;
  /** Required `aud`, checked when set. */
  audience?: string | undefined;
}

/** Who is calling. */
export interface Caller {
  /** The token's `sub`, or the `userId` field in development mode (may be absent there). */
  readonly userId: string | undefined;
  /** The token's `channels` claim, if any: the channels this caller may use. */
  readonly channels: readonly string[] | undefined;
}

/** Resolves a request's caller. */
export interface Authenticator {
  /** True when no token is verified and a `userId` field is trusted instead. */
  readonly development: boolean;
  /** Verifies the `Authorization` header; `fieldUserId` is used only in development mode. */
  authenticate(authorization: string | undefined, fieldUserId: unknown): Promise<Caller>;
}

const ALGORITHMS_HS = ["HS256"];
const ALGORITHMS_ASYMMETRIC = ["RS256", "ES256"];

function unauthorized(message: string): WorkerError {
  return new WorkerError(WorkerErrorCode.Unauthorized, message, { status: 401 });
}

/** The `userId` of a development-mode request, checked like the job update's field. */
export function developmentUserId(value: unknown): string | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  const text = typeof value === "number" && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof text !== "string" || text.length > MAX_USER_ID_LENGTH) {
    throw new WorkerError(
      WorkerErrorCode.InvalidInput,
      `userId: must be a string of 1-${MAX_USER_ID_LENGTH} characters`,
      {
        status: 400,
        field: "userId",
      },
    );
  }
  return text;
}

/** Builds the authenticator for the given settings. */
export function createAuthenticator(options: AuthOptions = {}): Authenticator {
  const { jwtSecret, jwksUrl } = options;
  if (!jwtSecret && !jwksUrl) {
    return {
      development: true,
      authenticate: async (_authorization, fieldUserId) => ({
        userId: developmentUserId(fieldUserId),
        channels: undefined,
      }),
    };
  }
  const secret = jwtSecret ? new TextEncoder().encode(jwtSecret) : undefined;
  const jwks: JWTVerifyGetKey | undefined = jwksUrl
    ? createRemoteJWKSet(new URL(jwksUrl))
    : undefined;
  const verifyOptions = {
    ...(options.issuer ? { issuer: options.issuer } : {}),
    ...(options.audience ? { audience: options.audience } : {}),
    requiredClaims: ["exp", "sub"],
  };
  const verify = async (token: string): Promise<JWTPayload> => {
    // A token signed with the shared secret is tried first when both are configured.
    if (secret) {
      try {
        return (await jwtVerify(token, secret, { ...verifyOptions, algorithms: ALGORITHMS_HS }))
          .payload;
      } catch (e) {
        if (!jwks || !(e instanceof joseErrors.JOSEAlgNotAllowed)) throw e;
      }
    }
    return (await jwtVerify(token, jwks!, { ...verifyOptions, algorithms: ALGORITHMS_ASYMMETRIC }))
      .payload;
  };
  return {
    development: false,
    async authenticate(authorization) {
      const match = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
      if (!match) throw unauthorized("a bearer token is required (Authorization: Bearer <jwt>)");
      let payload: JWTPayload;
      try {
        payload = await verify(match[1]!);
      } catch (e) {
        const why =
          e instanceof joseErrors.JWTExpired ? "the token has expired" : "the token is invalid";
        throw unauthorized(why);
      }
      const sub = payload.sub;
      if (typeof sub !== "string" || sub.length === 0 || sub.length > MAX_USER_ID_LENGTH) {
        throw unauthorized("the token's sub claim is missing or invalid");
      }
      const claim = payload.channels;
      const channels = Array.isArray(claim)
        ? claim.filter((c): c is string => typeof c === "string")
        : undefined;
      return { userId: sub, channels };
    },
  };
}
