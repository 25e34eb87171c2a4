// A connection's own send buffer, used while its socket is backed up: queued progress updates of
// one job collapse to the latest; terminal updates and control frames are never dropped.
import type { OutboundFrame } from "./wire.ts";

export class SendQueue {
  // Absolute positions: `#items[i - #base]` holds position i; #byKey points at a job's queued
  // non-terminal update, the one a newer update of that job replaces.
  #items: (OutboundFrame | undefined)[] = [];
  #base = 0;
  #head = 0;
  readonly #byKey = new Map<string, number>();
  #bytes = 0;

  /** Bytes queued. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Frames queued. */
  get length(): number {
    return this.#base + this.#items.length - this.#head;
  }

  /**
   * Queues a frame. A job update replaces the queued non-terminal update of the same job, in its
   * place; returns true when it did (one update collapsed away).
   */
  push(frame: OutboundFrame): boolean {
    const key = frame.key;
    if (key !== undefined) {
      const at = this.#byKey.get(key);
      if (at !== undefined) {
        const old = this.#items[at - this.#base]!;
        this.#items[at - this.#base] = frame;
        this.#bytes += frame.bytes.length - old.bytes.length;
        if (frame.terminal) this.#byKey.delete(key);
        return true;
      }
      if (!frame.terminal) this.#byKey.set(key, this.#base + this.#items.length);
    }
    this.#items.push(frame);
    this.#bytes += frame.bytes.length;
    return false;
  }

  /** The oldest queued frame, removed; undefined when empty. */
  shift(): OutboundFrame | undefined {
    if (this.#head === this.#base + this.#items.length) return undefined;
    const index = this.#head - this.#base;
    const frame = this.#items[index]!;
    this.#items[index] = undefined;
    if (frame.key !== undefined && this.#byKey.get(frame.key) === this.#head)
      this.#byKey.delete(frame.key);
    this.#head++;
    this.#bytes -= frame.bytes.length;
    if (index >= 1024 && index * 2 >= this.#items.length) {
      this.#items = this.#items.slice(index + 1);
      this.#base = this.#head;
    }
    return frame;
  }
}
