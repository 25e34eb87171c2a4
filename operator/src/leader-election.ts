// Lease-based leader election (coordination.k8s.io/v1), after client-go's leaderelection package.
import { CoordinationV1Api, V1MicroTime, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { apiMessageOf, OperatorErrorCode, statusCodeOf } from "./errors.ts";
import { withTimeout } from "./timeout.ts";

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

/** Storage of one Lease; `update` must fail when `resourceVersion` is stale. */
export interface LeaseClient {
  get(): Promise<LeaseRecord | undefined>;
  create(record: LeaseRecord): Promise<LeaseRecord>;
  update(record: LeaseRecord): Promise<LeaseRecord>;
}

/** Options of {@link LeaderElector}. */
export interface LeaderElectorOptions {
  readonly client: LeaseClient;
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly logger: Logger;
  /** Called when this process becomes the leader. */
  readonly onStartedLeading: () => void;
  /** Called when it stops leading: lost the Lease, or stopped. Reconciling must stop at once. */
  readonly onStoppedLeading: () => void;
  /** Clock, for tests. @default Date.now */
  readonly now?: () => number;
}

/**
 * Competes for a Lease. A holder that has not renewed for the lease duration, as timed by this
 * process's own clock since it last saw the record change (so clock skew between hosts does not
 * matter), can be replaced. The leader renews every retry period and steps down if it could not
 * renew within the renew deadline. `stop()` releases a held Lease so a standby takes over at once.
 */
export class LeaderElector {
  readonly #o: LeaderElectorOptions;
  readonly #now: () => number;
  #observed: LeaseRecord | undefined;
  #observedAt = 0;
  #leading = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: LeaderElectorOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops competing; a leader steps down and releases the Lease. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#wake?.();
    await this.#loop;
    if (this.#leading) {
      this.#setLeading(false);
      await this.#release();
    }
  }

  /** One attempt to acquire or renew; true if this process holds the Lease afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { client, identity, leaseDurationMs } = this.#o;
    const now = this.#now();
    const current = await client.get();
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
      this.#remember(await client.create(desired(undefined)), now);
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
    this.#remember(await client.update(desired(current)), now);
    return true;
  }

  #remember(record: LeaseRecord, at: number): void {
    this.#observed = record;
    this.#observedAt = at;
  }

  async #attempt(): Promise<boolean> {
    try {
      return await withTimeout(this.tryAcquireOrRenew(), this.#o.renewDeadlineMs, "lease request");
    } catch (error) {
      const code = statusCodeOf(error);
      if (code !== 409)
        this.#o.logger.warn({ err: apiMessageOf(error), code }, "lease request failed");
      return false;
    }
  }

  async #run(): Promise<void> {
    let lastRenew = 0;
    while (!this.#stopped) {
      const held = await this.#attempt();
      if (this.#stopped) break;
      const now = this.#now();
      if (held) {
        lastRenew = now;
        if (!this.#leading) {
          this.#o.logger.info({ identity: this.#o.identity }, "became leader");
          this.#setLeading(true);
        }
      } else if (this.#leading && now - lastRenew >= this.#o.renewDeadlineMs) {
        this.#o.logger.error(
          { code: OperatorErrorCode.LeadershipLost, renewDeadlineMs: this.#o.renewDeadlineMs },
          "leadership lost",
        );
        this.#setLeading(false);
      }
      await this.#sleep(this.#o.retryPeriodMs);
    }
  }

  #setLeading(leading: boolean): void {
    this.#leading = leading;
    if (leading) this.#o.onStartedLeading();
    else this.#o.onStoppedLeading();
  }

  async #release(): Promise<void> {
    const current = this.#observed;
    if (!current || current.holderIdentity !== this.#o.identity) return;
    const now = this.#now();
    try {
      await withTimeout(
        this.#o.client.update({
          holderIdentity: "",
          leaseDurationSeconds: 1,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: current.leaseTransitions,
          ...(current.resourceVersion ? { resourceVersion: current.resourceVersion } : {}),
        }),
        this.#o.renewDeadlineMs,
        "lease release",
      );
      this.#o.logger.info("lease released");
    } catch (error) {
      this.#o.logger.warn({ err: apiMessageOf(error) }, "lease not released");
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, ms);
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
  const api = kubeConfig.makeApiClient(CoordinationV1Api);
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
    async get() {
      try {
        return fromLease(await api.readNamespacedLease({ name, namespace }));
      } catch (error) {
        if (statusCodeOf(error) === 404) return undefined;
        throw error;
      }
    },
    async create(record) {
      return fromLease(await api.createNamespacedLease({ namespace, body: toLease(record) }));
    },
    async update(record) {
      return fromLease(
        await api.replaceNamespacedLease({ name, namespace, body: toLease(record) }),
      );
    },
  };
}
