// The broker interface: where the relay's updates come from. Narrow on purpose: a backend that
// subscribes per channel (sharded pub/sub, design section 10) adds the two interest calls.

/** Receives one message: the channel name with the prefix removed (not yet validated) and the raw payload. */
export type BrokerMessageListener = (channel: string, payload: Buffer | string) => void;

/** What a broker reports to the relay. */
export interface BrokerListener {
  message: BrokerMessageListener;
  /** The subscription became verified live (true) or stopped being so (false). */
  health(up: boolean): void;
}

export interface Broker {
  /** Starts delivering every message published under the prefix. Failures to connect are retried, not thrown. */
  start(listener: BrokerListener): Promise<void>;
  /** True while the subscription is verified live. */
  healthy(): boolean;
  /**
   * For brokers that subscribe per channel (Redis Cluster's sharded pub/sub): the channel gained
   * its first local subscriber. Resolves once its messages are delivered, or once a gap covers it
   * (the broker reported itself not live; the relay's recovery then reads it). Never rejects.
   * Brokers without it deliver every channel all the time.
   */
  watch?(channel: string): Promise<void>;
  /** The channel's last local subscriber left: its subscription may end. */
  unwatch?(channel: string): void;
  close(): Promise<void>;
}
