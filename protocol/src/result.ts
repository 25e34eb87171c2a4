// The Result shape every validator returns: a value, or a coded error that names the field.
import type { ProtocolError } from "./errors.ts";

/** A successful validation. */
export interface Ok<T> {
  readonly ok: true;
  readonly value: T;
}

/** A failed validation, carrying the first problem found. */
export interface Err {
  readonly ok: false;
  readonly error: ProtocolError;
}

/** Either a validated value or the reason it was refused. */
export type Result<T> = Ok<T> | Err;

export function ok<T>(value: T): Ok<T> {
  return { ok: true, value };
}

export function err(error: ProtocolError): Err {
  return { ok: false, error };
}
