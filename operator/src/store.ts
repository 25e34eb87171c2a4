// The in-memory cache a watcher fills: projected objects by namespace/name, with change notifications.
import { isDeepStrictEqual } from "node:util";
import { objectKey } from "./jobchannel.ts";
import type { WatchSink } from "./watcher.ts";

/** A change the store saw: `before` undefined for an add, `after` undefined for a delete. */
export interface StoreChange<T> {
  readonly key: string;
  readonly before: T | undefined;
  readonly after: T | undefined;
}

/** Options of {@link Store}. */
export interface StoreOptions<T> {
  /**
   * Turns a raw API object into what the store keeps; `undefined` skips it. Projection keeps
   * memory small and gives one place to validate what comes from the API.
   */
  readonly project: (object: unknown) => T | undefined;
  /** Called for every add, update and delete, also those a relist discovers. */
  readonly onChange?: (change: StoreChange<T>) => void;
}

/** The key of a raw API object, or undefined when it has no name. */
export function keyOfObject(object: unknown): string | undefined {
  const meta = (object as { metadata?: { name?: unknown; namespace?: unknown } } | null)?.metadata;
  if (!meta || typeof meta.name !== "string") return undefined;
  return objectKey({
    name: meta.name,
    ...(typeof meta.namespace === "string" ? { namespace: meta.namespace } : {}),
  });
}

/** A read-only view of a store, for reconcilers. */
export interface StoreReader<T> {
  get(key: string): T | undefined;
  list(): T[];
  keys(): string[];
}

/** Holds the latest projection of every object a watcher reported. */
export class Store<T> implements WatchSink, StoreReader<T> {
  readonly #items = new Map<string, T>();
  readonly #options: StoreOptions<T>;

  constructor(options: StoreOptions<T>) {
    this.#options = options;
  }

  get(key: string): T | undefined {
    return this.#items.get(key);
  }

  list(): T[] {
    return [...this.#items.values()];
  }

  keys(): string[] {
    return [...this.#items.keys()];
  }

  get size(): number {
    return this.#items.size;
  }

  replace(items: readonly unknown[]): void {
    const seen = new Set<string>();
    for (const object of items) {
      const key = keyOfObject(object);
      if (key === undefined) continue;
      seen.add(key);
      this.#set(key, this.#options.project(object));
    }
    for (const key of [...this.#items.keys()]) {
      if (!seen.has(key)) this.#set(key, undefined);
    }
  }

  upsert(object: unknown): void {
    const key = keyOfObject(object);
    if (key !== undefined) this.#set(key, this.#options.project(object));
  }

  remove(object: unknown): void {
    const key = keyOfObject(object);
    if (key !== undefined) this.#set(key, undefined);
  }

  #set(key: string, after: T | undefined): void {
    const before = this.#items.get(key);
    if (after === undefined) this.#items.delete(key);
    else this.#items.set(key, after);
    // A relist re-delivers every object; only real changes are news (the periodic resync covers the rest).
    if (before === undefined ? after === undefined : isDeepStrictEqual(before, after)) return;
    this.#options.onChange?.({ key, before, after });
  }
}

/** One reader over several stores (one per watched namespace), for reconcilers. */
export function unionReader<T>(stores: readonly StoreReader<T>[]): StoreReader<T> {
  if (stores.length === 1) return stores[0]!;
  return {
    get(key) {
      for (const store of stores) {
        const value = store.get(key);
        if (value !== undefined) return value;
      }
      return undefined;
    },
    list: () => stores.flatMap((s) => s.list()),
    keys: () => stores.flatMap((s) => s.keys()),
  };
}
