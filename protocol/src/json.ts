// Safe JSON decoding for untrusted input: size limit, depth limit, and no prototype-pollution keys.
import { badRequest, type ProtocolError } from "./errors.ts";
import { err, ok, type Result } from "./result.ts";

/** Deepest nesting of objects and arrays accepted in any message. @default 32 */
export const MAX_JSON_DEPTH = 32;

/** Keys refused anywhere in a message, because merging them into an object changes its prototype. */
const FORBIDDEN_KEYS = new Set(["__proto__"]);

/**
 * Byte length of a string encoded as UTF-8, counted without allocating. Lone surrogates count as
 * the three bytes of U+FFFD, as TextEncoder would write them.
 */
export function utf8ByteLength(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/**
 * Checks a decoded JSON value for excessive nesting and forbidden keys, without recursion (so a
 * hostile value cannot exhaust the stack). Returns the first problem found, or `undefined`.
 */
export function jsonShapeProblem(
  value: unknown,
  maxDepth: number = MAX_JSON_DEPTH,
): ProtocolError | undefined {
  const stack: { value: unknown; depth: number; path: string }[] = [{ value, depth: 0, path: "" }];
  while (stack.length > 0) {
    const item = stack.pop()!;
    const v = item.value;
    if (v === null || typeof v !== "object") continue;
    const depth = item.depth + 1;
    if (depth > maxDepth) {
      return badRequest(item.path, `nesting is deeper than ${maxDepth} levels`);
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        stack.push({ value: v[i], depth, path: `${item.path}[${i}]` });
      }
      continue;
    }
    for (const key of Object.keys(v)) {
      const path = item.path ? `${item.path}.${key}` : key;
      if (FORBIDDEN_KEYS.has(key)) return badRequest(path, "this key is not allowed");
      if (key === "constructor") {
        const inner = (v as Record<string, unknown>)[key];
        if (inner !== null && typeof inner === "object" && "prototype" in inner) {
          return badRequest(`${path}.prototype`, "this key is not allowed");
        }
      }
      stack.push({ value: (v as Record<string, unknown>)[key], depth, path });
    }
  }
  return undefined;
}

/** Options of {@link parseJson}. */
export interface ParseJsonOptions {
  /** Largest accepted message in UTF-8 bytes. @default 65536 */
  maxBytes?: number;
  /** Deepest accepted nesting. @default 32 */
  maxDepth?: number;
  /** Byte length when the caller already knows it (a Buffer's length), to skip counting. */
  byteLength?: number;
}

/** Default largest message, in bytes (design section 2). */
export const DEFAULT_MAX_MESSAGE_BYTES = 65536;

/** Decodes untrusted JSON text into a plain value, refusing oversize, deep or polluting input. */
export function parseJson(text: string, options: ParseJsonOptions = {}): Result<unknown> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  if (typeof text !== "string") return err(badRequest("", "message must be text"));
  // A UTF-8 byte count is at least the UTF-16 length / 1 and at most 3x it: skip counting when safe.
  const size =
    options.byteLength ?? (text.length * 3 <= maxBytes ? text.length : utf8ByteLength(text));
  if (size > maxBytes) {
    return err(badRequest("", `message is ${size} bytes, larger than the limit of ${maxBytes}`));
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return err(badRequest("", `not valid JSON (${(e as Error).message})`));
  }
  const problem = jsonShapeProblem(value, options.maxDepth);
  return problem ? err(problem) : ok(value);
}
