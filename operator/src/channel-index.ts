// Which JobChannels claim each channel: kept up to date from store changes, so lookups never scan.

/** JobChannel keys by the channel they claim. */
export class ChannelIndex {
  readonly #byChannel = new Map<string, Set<string>>();
  readonly #channelOf = new Map<string, string>();

  /** Records that `key` claims `channel` now (`undefined`: it claims none). */
  set(key: string, channel: string | undefined): void {
    const before = this.#channelOf.get(key);
    if (before === channel) return;
    if (before !== undefined) {
      const keys = this.#byChannel.get(before);
      keys?.delete(key);
      if (keys?.size === 0) this.#byChannel.delete(before);
      this.#channelOf.delete(key);
    }
    if (channel === undefined) return;
    this.#channelOf.set(key, channel);
    let keys = this.#byChannel.get(channel);
    if (!keys) this.#byChannel.set(channel, (keys = new Set()));
    keys.add(key);
  }

  /** The keys that claim `channel`. */
  keys(channel: string): readonly string[] {
    return [...(this.#byChannel.get(channel) ?? [])];
  }
}
