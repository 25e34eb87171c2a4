// Reads the relay's `jobchannel_relay_fanout_latency_seconds` histogram from its /metrics text and
// estimates quantiles over an interval (the difference of two scrapes), the way Prometheus's
// histogram_quantile does: linear interpolation inside the bucket the rank falls in.

/** Cumulative count per upper bound `le` (seconds), summed over every channel label. */
export type Buckets = Map<number, number>;

const LINE = /^jobchannel_relay_fanout_latency_seconds_bucket\{([^}]*)\}\s+(\S+)/;

export function parseBuckets(text: string): Buckets {
  const buckets: Buckets = new Map();
  for (const line of text.split("\n")) {
    const match = LINE.exec(line);
    if (!match) continue;
    const le = /le="([^"]+)"/.exec(match[1]!)?.[1];
    if (le === undefined) continue;
    const bound = le === "+Inf" ? Infinity : Number(le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + Number(match[2]));
  }
  return buckets;
}

export async function scrapeBuckets(port: number): Promise<Buckets> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  return parseBuckets(await response.text());
}

/** The `q` quantile (0..1) in milliseconds of the observations between two scrapes; NaN when none. */
export function quantileMs(before: Buckets, after: Buckets, q: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (total <= 0) return NaN;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (counts[i]! < rank) continue;
    const upper = bounds[i]!;
    const lower = i === 0 ? 0 : bounds[i - 1]!;
    if (upper === Infinity) return lower * 1000;
    const below = i === 0 ? 0 : counts[i - 1]!;
    const inBucket = counts[i]! - below;
    return (lower + (upper - lower) * (inBucket > 0 ? (rank - below) / inBucket : 1)) * 1000;
  }
  return NaN;
}
