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

/** An object or array waiting to be checked, with how it was reached (for the error's path). */
interface Visit {
  readonly value: object;
  readonly depth: number;
  readonly parent: Visit | undefined;
  readonly key: string | number;
}

/** The JSON path of `key` under `visit` (`a.b[2].c`), built only when a problem is reported. */
function pathOf(visit: Visit, key?: string | number): string {
  const keys: (string | number)[] = key === undefined ? [] : [key];
  for (let v: Visit | undefined = visit; v?.parent; v = v.parent) keys.push(v.key);
  let path = "";
  for (let i = keys.length - 1; i >= 0; i--) {
    const k = keys[i]!;
    path += typeof k === "number" ? `[${k}]` : path ? `.${k}` : k;
  }
  return path;
}

/**
 * Checks a decoded JSON value for excessive nesting and forbidden keys, without recursion (so a
 * hostile value cannot exhaust the stack). Returns the first problem found, or `undefined`.
 * Only objects and arrays are visited, and paths are built only for a problem: this runs on every
 * message.
 */
export function jsonShapeProblem(
  value: unknown,
  maxDepth: number = MAX_JSON_DEPTH,
): ProtocolError | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const stack: Visit[] = [{ value, depth: 1, parent: undefined, key: "" }];
  while (stack.length > 0) {
    const visit = stack.pop()!;
    if (visit.depth > maxDepth) {
      return badRequest(pathOf(visit), `nesting is deeper than ${maxDepth} levels`);
    }
    const v = visit.value;
    const depth = visit.depth + 1;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const item: unknown = v[i];
        if (item !== null && typeof item === "object") {
          stack.push({ value: item, depth, parent: visit, key: i });
        }
      }
      continue;
    }
    for (const key of Object.keys(v)) {
      if (FORBIDDEN_KEYS.has(key)) return badRequest(pathOf(visit, key), "this key is not allowed");
      const inner = (v as Record<string, unknown>)[key];
      if (inner === null || typeof inner !== "object") continue;
      if (key === "constructor" && "prototype" in inner) {
        return badRequest(`${pathOf(visit, key)}.prototype`, "this key is not allowed");
      }
      stack.push({ value: inner, depth, parent: visit, key });
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
