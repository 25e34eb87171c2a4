// Where a changing channel config comes from: the interface, and a fixed config for tests and embedding.
import type { Logger } from "pino";
import { parseChannelConfig, type ChannelConfig } from "./channel-config.ts";
import { RelayError } from "./errors.ts";

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

/** What a source does with each text it reads: hand over changed valid configs, report problems once. */
export interface ConfigFeed {
  /** Parses changed text and hands the config over, or reports why it was refused. */
  offer(text: string): void;
  /** Reports a problem (logged once per distinct message, not on every poll). */
  refuse(error: RelayError): void;
}

/** The shared bookkeeping of the file and ConfigMap sources. */
export function configFeed(log: Logger, onConfig: (config: ChannelConfig) => void): ConfigFeed {
  let lastText: string | undefined;
  let lastProblem: string | undefined;
  const refuse = (error: RelayError): void => {
    if (error.message === lastProblem) return;
    lastProblem = error.message;
    log.error(
      { code: error.code, field: error.field, err: error.message },
      "channel config refused",
    );
  };
  return {
    refuse,
    offer(text) {
      if (text === lastText) return;
      lastText = text;
      let config: ChannelConfig;
      try {
        config = parseChannelConfig(text);
      } catch (e) {
        if (e instanceof RelayError) return refuse(e);
        throw e;
      }
      lastProblem = undefined;
      log.info({ channels: config.channels.length }, "channel config loaded");
      onConfig(config);
    },
  };
}
