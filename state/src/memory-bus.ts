// An in-process pub/sub bus standing in for Redis in the one-process local stack and unit tests.

/** Receives every message published on the bus: the pub/sub channel name and the payload text. */
export type BusListener = (channel: string, payload: string) => void;

export class MemoryBus {
  readonly #listeners = new Set<BusListener>();

  /** Delivers to every listener (as PSUBSCRIBE * would) and returns how many received it. */
  publish(channel: string, payload: string): number {
    for (const listener of this.#listeners) listener(channel, payload);
    return this.#listeners.size;
  }

  /** Adds a listener; the returned function removes it. */
  subscribe(listener: BusListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
