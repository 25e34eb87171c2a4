// Where a changing channel config comes from: the interface, and a fixed config for tests and embedding.
import type { ChannelConfig } from "./channel-config.ts";

/** A source of channel configs that may change while the relay runs. */
export interface ChannelConfigSource {
  /**
   * Starts loading; `onConfig` receives the first valid config as soon as it is read, then every
   * changed one. Invalid configs are reported by the source and never handed over.
   */
  start(onConfig: (config: ChannelConfig) => void): void;
  /** Stops watching. */
  stop(): Promise<void>;
}

/** A source that hands over one fixed config. */
export function staticConfigSource(config: ChannelConfig): ChannelConfigSource {
  return {
    start(onConfig) {
      onConfig(config);
    },
    async stop() {},
  };
}
