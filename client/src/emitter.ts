// A tiny typed event emitter that works in browsers and Node alike.

type Listener<A extends unknown[]> = (...args: A) => void;

export class Emitter<Events extends { [K in keyof Events]: unknown[] }> {
  // Listeners of different events have different signatures; `on` and `emit` keep them apart by key.
  readonly #listeners = new Map<keyof Events, Set<unknown>>();

  /** Adds a listener; the returned function removes it. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  }

  emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set] as Listener<Events[K]>[]) {
      try {
        listener(...args);
      } catch (error) {
        // One failing listener must neither stop the others nor break the connection: rethrow it
        // outside this call stack, where the host reports it as an uncaught error.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  listenerCount(event: keyof Events): number {
    return this.#listeners.get(event)?.size ?? 0;
  }
}
