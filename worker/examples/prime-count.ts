// A team's own job type in one file: count the primes below a limit, one sieve segment at a time.
// Run it:  REDIS_URL=redis://localhost:6379 PORT=8080 node examples/prime-count.ts
// Start a job:  curl -X POST localhost:8080/api/jobs/prime-count -H 'content-type: application/json' -d '{"limit":100000000}'
import { defineJob, invalidInput, runWorkerServer } from "@jobchannel/worker";

/** Numbers sieved per segment: each segment is one step of progress. */
const SEGMENT = 1 << 18;

export const primeCount = defineJob({
  name: "prime-count",
  parseInput({ body }) {
    const limit = Number(body.limit);
    if (!Number.isSafeInteger(limit) || limit < 2 || limit > 2_000_000_000) {
      throw invalidInput("limit", "must be an integer from 2 to 2000000000");
    }
    return { limit };
  },
  fields: ({ limit }) => ({ limit }),
  async handler({ input: { limit }, progress, signal }) {
    // Base primes up to sqrt(limit) with a plain sieve.
    const root = Math.floor(Math.sqrt(limit));
    const small = new Uint8Array(root + 1);
    const base: number[] = [];
    for (let i = 2; i <= root; i++) {
      if (small[i]) continue;
      base.push(i);
      for (let j = i * i; j <= root; j += i) small[j] = 1;
    }
    // Then [2, limit) segment by segment, yielding between segments so locks and signals stay live.
    let primes = 0;
    const composite = new Uint8Array(SEGMENT);
    for (let low = 2; low < limit; low += SEGMENT) {
      signal.throwIfAborted();
      const high = Math.min(low + SEGMENT, limit);
      composite.fill(0);
      for (const p of base) {
        if (p * p >= high) break;
        for (let m = Math.max(p * p, Math.ceil(low / p) * p); m < high; m += p)
          composite[m - low] = 1;
      }
      for (let i = 0; i < high - low; i++) if (!composite[i]) primes++;
      await progress(((high - 2) / (limit - 2)) * 100, { primesSoFar: primes });
      await new Promise((resolve) => setImmediate(resolve));
    }
    return { limit, primes };
  },
});

// `node examples/prime-count.ts` serves it with the worker's own server (PORT, REDIS_URL, ...).
if (import.meta.main) await runWorkerServer({ jobTypes: [primeCount] });
