// Bounds the uploads one process receives at once: a slot is taken before the body is read.

/** Counts uploads in flight against a bound. */
export class UploadSlots {
  readonly #max: number;
  #taken = 0;

  constructor(max: number) {
    this.#max = max;
  }

  /** Uploads being received now. */
  get taken(): number {
    return this.#taken;
  }

  /** Takes a slot: returns its release (safe to call twice), or `undefined` when all are taken. */
  take(): (() => void) | undefined {
    if (this.#taken >= this.#max) return undefined;
    this.#taken++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#taken--;
    };
  }
}
