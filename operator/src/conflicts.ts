// Which JobChannel owns a channel when several claim it: the oldest, then by namespace/name.

/** One JobChannel's claim on a channel. */
export interface ChannelClaim {
  /** `namespace/name` of the JobChannel. */
  readonly key: string;
  readonly channel: string;
  /** RFC 3339; a claim without one sorts last. */
  readonly creationTimestamp?: string;
}

function compareClaims(a: ChannelClaim, b: ChannelClaim): number {
  const ta = a.creationTimestamp ? Date.parse(a.creationTimestamp) : Number.POSITIVE_INFINITY;
  const tb = b.creationTimestamp ? Date.parse(b.creationTimestamp) : Number.POSITIVE_INFINITY;
  if (ta !== tb) return ta < tb ? -1 : 1;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/**
 * The winning claim's key for each channel. Channels are global (one Redis pub/sub name each),
 * so claims from every namespace compete. The older JobChannel wins, so creating a second claim
 * can never take a channel away from a running one.
 */
export function resolveChannelOwners(claims: Iterable<ChannelClaim>): Map<string, string> {
  const best = new Map<string, ChannelClaim>();
  for (const claim of claims) {
    const current = best.get(claim.channel);
    if (!current || compareClaims(claim, current) < 0) best.set(claim.channel, claim);
  }
  return new Map([...best].map(([channel, claim]) => [channel, claim.key]));
}
