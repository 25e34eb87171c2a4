// Lease-based leader election (coordination.k8s.io/v1), after client-go's leaderelection package.
import { CoordinationV1Api, V1MicroTime, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { apiMessageOf, OperatorErrorCode, statusCodeOf } from "./errors.ts";
import { makeApiClientWithDeadline, signalOptions } from "./api-deadline.ts";
import { untilAborted } from "./timeout.ts";

/** The fields of a Lease that election reads and writes. */
export interface LeaseRecord {
  readonly holderIdentity: string;
  readonly leaseDurationSeconds: number;
  /** Unix ms. */
  readonly acquireTime: number;
  /** Unix ms. */
  readonly renewTime: number;
  readonly leaseTransitions: number;
  /** Optimistic concurrency token; absent for a record not yet stored. */
  readonly resourceVersion?: string;
}

/**
 * Storage of one Lease; `update` must fail when `resourceVersion` is stale. Each call must give up
 * (reject) when `signal` aborts, cancelling the request behind it.
 */
export interface LeaseClient {
  get(signal?: AbortSignal): Promise<LeaseRecord | undefined>;
  create(record: LeaseRecord, signal?: AbortSignal): Promise<LeaseRecord>;
  update(record: LeaseRecord, signal?: AbortSignal): Promise<LeaseRecord>;
}

/** Options of {@link LeaderElector}. */
export interface LeaderElectorOptions {
  readonly client: LeaseClient;
  readonly identity: string;
  readonly leaseDurationMs: number;
  /** Must be less than `leaseDurationMs`: the leader steps down before a standby may take over. */
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly logger: Logger;
  /** Called when this process becomes the leader. */
  readonly onStartedLeading: () => void;
  /**
   * Called when it stops leading: the renew deadline passed (at that moment, even while a renew
   * request still hangs), or stopped. Reconciling must stop at once.
   */
  readonly onStoppedLeading: () => void;
  /** Clock, for tests. @default Date.now */
  readonly now?: () => number;
}

/**
 * Competes for a Lease, as client-go's leaderelection does. A holder that has not renewed for the
 * lease duration, as timed by this process's own clock since it last saw the record change (so
 * clock skew between hosts does not matter), can be replaced. The leader renews every retry period;
 * its renewing as a whole is bounded by the renew deadline: each attempt gets only the time left
 * until `last renew + renew deadline` and is aborted when it runs out, and the leader steps down at
 * that moment. "Last renew" is when the successful attempt started, never later than the write the
 * standbys observe, so the leader always steps down at least `leaseDuration - renewDeadline` before
 * a standby may take over. `stop()` releases a held Lease so a standby takes over at once.
 */
export class LeaderElector {
  readonly #o: LeaderElectorOptions;
  readonly #now: () => number;
  readonly #stopping = new AbortController();
  #observed: LeaseRecord | undefined;
  #observedAt = 0;
  #leading = false;
  #loop: Promise<void> | undefined;

  constructor(options: LeaderElectorOptions) {
    if (options.renewDeadlineMs >= options.leaseDurationMs) {
      throw new RangeError("renewDeadlineMs must be less than leaseDurationMs");
    }
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops competing, aborting a request in flight; a leader steps down and releases the Lease. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#loop;
    if (this.#leading) {
      this.#setLeading(false);
      await this.#release();
    }
  }

  /**
   * One attempt to acquire or renew; true if this process holds the Lease afterwards. `signal`
   * aborts the requests it makes.
   */
  async tryAcquireOrRenew(signal?: AbortSignal): Promise<boolean> {
    const { client, identity, leaseDurationMs } = this.#o;
    const now = this.#now();
    const current = await client.get(signal);
    const desired = (base: LeaseRecord | undefined): LeaseRecord => ({
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
      acquireTime: base && base.holderIdentity === identity ? base.acquireTime : now,
      renewTime: now,
      leaseTransitions: base
        ? base.holderIdentity === identity
          ? base.leaseTransitions
          : base.leaseTransitions + 1
        : 0,
      ...(base?.resourceVersion ? { resourceVersion: base.resourceVersion } : {}),
    });
    if (!current) {
      this.#remember(await client.create(desired(undefined), signal), now);
      return true;
    }
    if (
      !this.#observed ||
      this.#observed.resourceVersion !== current.resourceVersion ||
      this.#observed.holderIdentity !== current.holderIdentity ||
      this.#observed.renewTime !== current.renewTime
    ) {
      this.#remember(current, now);
    }
    const heldByOther = current.holderIdentity !== "" && current.holderIdentity !== identity;
    const expired = this.#observedAt + current.leaseDurationSeconds * 1000 <= now;
    if (heldByOther && !expired) return false;
    this.#remember(await client.update(desired(current), signal), now);
    return true;
  }

  #remember(record: LeaseRecord, at: number): void {
    this.#observed = record;
    this.#observedAt = at;
  }

  /** One attempt, aborted after `ms` or on stop(); false when it failed or was cut off. */
  async #attempt(ms: number): Promise<boolean> {
    const signal = AbortSignal.any([this.#stopping.signal, AbortSignal.timeout(Math.max(1, ms))]);
    try {
      // The race answers at the deadline even if a request ignores its signal.
      return await untilAborted(this.tryAcquireOrRenew(signal), signal);
    } catch (error) {
      if (this.#stopping.signal.aborted) return false;
      const code = statusCodeOf(error);
      if (code !== 409) {
        const err = signal.aborted ? `no answer within ${ms} ms` : apiMessageOf(error);
        this.#o.logger.warn({ err, code }, "lease request failed");
      }
      return false;
    }
  }

  async #run(): Promise<void> {
    const { renewDeadlineMs, retryPeriodMs } = this.#o;
    while (!this.#stopping.signal.aborted) {
      // Candidate: one bounded attempt every retry period until this process holds the Lease.
      let lastRenew = this.#now();
      if (!(await this.#attempt(renewDeadlineMs))) {
        await this.#sleep(retryPeriodMs);
        continue;
      }
      if (this.#stopping.signal.aborted) {
        // Acquired just as stop() was called: hand the Lease back.
        await this.#release();
        return;
      }
      this.#o.logger.info({ identity: this.#o.identity }, "became leader");
      this.#setLeading(true);
      // Leader: renew every retry period until the renew deadline passes without a renewal.
      let renewed: number | undefined = lastRenew;
      while (renewed !== undefined) {
        lastRenew = renewed;
        await this.#sleep(retryPeriodMs, lastRenew + renewDeadlineMs);
        renewed = await this.#renewBefore(lastRenew + renewDeadlineMs);
        if (this.#stopping.signal.aborted) return;
      }
      this.#o.logger.error(
        {
          code: OperatorErrorCode.LeadershipLost,
          renewDeadlineMs,
          sinceRenewMs: this.#now() - lastRenew,
        },
        "leadership lost",
      );
      this.#setLeading(false);
    }
  }

  /**
   * Tries to renew every retry period until `deadline`, each attempt aborted at the deadline.
   * Resolves with when the successful attempt started, or undefined once the deadline passed.
   */
  async #renewBefore(deadline: number): Promise<number | undefined> {
    for (;;) {
      const started = this.#now();
      if (started >= deadline || this.#stopping.signal.aborted) return undefined;
      if (await this.#attempt(deadline - started)) return started;
      await this.#sleep(this.#o.retryPeriodMs, deadline);
    }
  }

  #setLeading(leading: boolean): void {
    this.#leading = leading;
    if (leading) this.#o.onStartedLeading();
    else this.#o.onStoppedLeading();
  }

  /**
   * Hands a held Lease back: no holder, for 1 s. A renew that stop() aborted may have been applied
   * without this process seeing the answer, so a conflict re-reads the Lease and, while it still
   * names this process, releases that version. The whole release is bounded by the renew deadline.
   */
  async #release(): Promise<void> {
    let current = this.#observed;
    const signal = AbortSignal.timeout(this.#o.renewDeadlineMs);
    try {
      for (let attempt = 0; current?.holderIdentity === this.#o.identity; attempt++) {
        const now = this.#now();
        const released: LeaseRecord = {
          holderIdentity: "",
          leaseDurationSeconds: 1,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: current.leaseTransitions,
          ...(current.resourceVersion ? { resourceVersion: current.resourceVersion } : {}),
        };
        try {
          await untilAborted(this.#o.client.update(released, signal), signal);
          this.#o.logger.info("lease released");
          return;
        } catch (error) {
          if (statusCodeOf(error) !== 409 || attempt > 0) throw error;
          current = await untilAborted(this.#o.client.get(signal), signal);
        }
      }
    } catch (error) {
      this.#o.logger.warn({ err: apiMessageOf(error) }, "lease not released");
    }
  }

  /** Waits `ms`, cut short by stop() or, when given, at the clock time `until`. */
  #sleep(ms: number, until = Infinity): Promise<void> {
    const wait = Math.max(0, Math.min(ms, until - this.#now()));
    if (this.#stopping.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#stopping.signal.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, wait);
      this.#stopping.signal.addEventListener("abort", done, { once: true });
    });
  }
}

function toMs(value: unknown): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === "string") {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? 0 : ms;
  }
  return 0;
}

/** {@link LeaseClient} over the coordination.k8s.io/v1 API. */
export function kubeLeaseClient(
  kubeConfig: KubeConfig,
  namespace: string,
  name: string,
): LeaseClient {
  const api = makeApiClientWithDeadline(kubeConfig, CoordinationV1Api);
  const fromLease = (lease: {
    metadata?: { resourceVersion?: string };
    spec?: {
      holderIdentity?: string;
      leaseDurationSeconds?: number;
      acquireTime?: unknown;
      renewTime?: unknown;
      leaseTransitions?: number;
    };
  }): LeaseRecord => ({
    holderIdentity: lease.spec?.holderIdentity ?? "",
    leaseDurationSeconds: lease.spec?.leaseDurationSeconds ?? 1,
    acquireTime: toMs(lease.spec?.acquireTime),
    renewTime: toMs(lease.spec?.renewTime),
    leaseTransitions: lease.spec?.leaseTransitions ?? 0,
    ...(lease.metadata?.resourceVersion ? { resourceVersion: lease.metadata.resourceVersion } : {}),
  });
  const toLease = (record: LeaseRecord) => ({
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: {
      name,
      namespace,
      ...(record.resourceVersion ? { resourceVersion: record.resourceVersion } : {}),
    },
    spec: {
      holderIdentity: record.holderIdentity,
      leaseDurationSeconds: record.leaseDurationSeconds,
      acquireTime: new V1MicroTime(record.acquireTime),
      renewTime: new V1MicroTime(record.renewTime),
      leaseTransitions: record.leaseTransitions,
    },
  });
  return {
    async get(signal) {
      try {
        return fromLease(
          await api.readNamespacedLease({ name, namespace }, signal && signalOptions(signal)),
        );
      } catch (error) {
        if (statusCodeOf(error) === 404) return undefined;
        throw error;
      }
    },
    async create(record, signal) {
      return fromLease(
        await api.createNamespacedLease(
          { namespace, body: toLease(record) },
          signal && signalOptions(signal),
        ),
      );
    },
    async update(record, signal) {
      return fromLease(
        await api.replaceNamespacedLease(
          { name, namespace, body: toLease(record) },
          signal && signalOptions(signal),
        ),
      );
    },
  };
}
