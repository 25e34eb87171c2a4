// Isolation on `visibility: user` channels of a jobchannel-relay process: generated sequences of
// connects, subscribes, auth refreshes, reconnects, config changes and publishes never hand one
// user's update to another (in snapshots or live), a token's `channels` claim is never escaped,
// and every refused attempt is counted in jobchannel_relay_refusals_total.
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { RedisJobStore } from "@jobchannel/state";
import { fuzzRuns, fuzzSeed, recordHostile, RefusalTally, waitFor } from "@jobchannel/testkit";
import fc from "fast-check";
import { connect, type Frame, type TestClient } from "./helpers/client.ts";
import { hostileRelayFixture, type ChannelEntry } from "./helpers/hostile-relay.ts";
import { token } from "./helpers/relay.ts";

/** Always `access: authenticated`: only a token (and its claim) lets anyone in. */
const GUARDED = ["iso-a", "iso-b"] as const;
/** `access: public`: anyone subscribes, and sees only their own jobs (anonymous: none). */
const OPEN = "iso-pub";
const CHANNELS = [...GUARDED, OPEN] as const;
const USERS = ["alice", "bob", "carol"] as const;
const HISTORY = { maxJobs: 200, ttlSeconds: 3600 };

function config(present: readonly string[], maxJobs = HISTORY.maxJobs): ChannelEntry[] {
  return CHANNELS.filter((c) => present.includes(c)).map((name) => ({
    name,
    access: name === OPEN ? "public" : "authenticated",
    visibility: "user",
    history: { maxJobs, ttlSeconds: HISTORY.ttlSeconds },
  })) as ChannelEntry[];
}

const relay = hostileRelayFixture(config(CHANNELS));
const seed = fuzzSeed("relay isolation");
const tally = new RefusalTally();
let store: RedisJobStore | undefined;

after(() => {
  recordHostile({
    surface: "relay: user isolation",
    cases: tally.cases,
    refusals: tally.refusals,
    crashes: relay.crashes(),
    seed,
    canaryP99Ms: relay.canary.p99Ms(),
  });
});

type User = (typeof USERS)[number];
type Channel = (typeof CHANNELS)[number];

/** A token's identity: a user or none, and optionally a `channels` claim. */
interface Credentials {
  user: User | "no-sub" | "anonymous";
  claim?: Channel[];
}

/** One connection of a sequence and what it was ever allowed. */
interface Slot {
  client: TestClient;
  credentials: Credentials;
  query: string;
  /** The user the connection belongs to: the first `sub` it was given. */
  owner: User | undefined;
  /** Every channel any of its tokens' claims granted; undefined = a token without a claim. */
  granted: Set<string> | undefined;
}

type Op =
  | { op: "connect"; slot: number; credentials: Credentials; channels: Channel[]; inQuery: boolean }
  | { op: "subscribe"; slot: number; channels: Channel[] }
  | { op: "auth"; slot: number; credentials: Credentials }
  | { op: "reconnect"; slot: number }
  | { op: "config"; present: Channel[]; maxJobs: number }
  | { op: "publish"; channel: Channel; owner: User | "none"; stored: boolean };

const channelList = fc.subarray([...CHANNELS] as Channel[]);
const credentials: fc.Arbitrary<Credentials> = fc.record(
  {
    user: fc.constantFrom<Credentials["user"]>(...USERS, "no-sub", "anonymous"),
    claim: channelList,
  },
  { requiredKeys: ["user"] },
);
const slot = fc.integer({ min: 0, max: 3 });
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant("connect" as const),
      slot,
      credentials,
      channels: channelList,
      inQuery: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant("subscribe" as const), slot, channels: channelList }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("auth" as const), slot, credentials }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("reconnect" as const), slot }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("config" as const),
      present: channelList,
      maxJobs: fc.constantFrom(5, 50, HISTORY.maxJobs),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant("publish" as const),
      channel: fc.constantFrom(...CHANNELS),
      owner: fc.constantFrom<User | "none">(...USERS, "none"),
      stored: fc.boolean(),
    }),
  },
);

async function tokenOf(c: Credentials): Promise<string | undefined> {
  if (c.user === "anonymous") return undefined;
  return token({
    ...(c.user === "no-sub" ? {} : { sub: c.user }),
    ...(c.claim ? { channels: c.claim } : {}),
  });
}

function ownerOf(c: Credentials): User | undefined {
  return c.user === "anonymous" || c.user === "no-sub" ? undefined : c.user;
}

/**
 * Whether a connection of `owner` takes a token of `c`: it keeps its first user, so a token of
 * another user (or of none, once it has one) is refused with forbidden.
 */
function takes(owner: User | undefined, c: Credentials): boolean {
  return c.user !== "anonymous" && (owner === undefined || ownerOf(c) === owner);
}

/** What a slot is granted after taking a token of `c`: the union of the claims; undefined = all. */
function granting(before: Set<string> | undefined, c: Credentials): Set<string> | undefined {
  return before === undefined || c.claim === undefined
    ? undefined
    : new Set([...before, ...c.claim]);
}

async function open(c: Credentials, channels: Channel[], inQuery: boolean): Promise<Slot> {
  const jwt = await tokenOf(c);
  const params = new URLSearchParams();
  if (channels.length > 0) params.set("channels", channels.join(","));
  if (jwt && inQuery) params.set("access_token", jwt);
  const query = params.size > 0 ? `?${params}` : "";
  const client = await connect(relay.relay().url + query, {
    headers: jwt && !inQuery ? { authorization: `Bearer ${jwt}` } : {},
  });
  return {
    client,
    credentials: c,
    query,
    owner: ownerOf(c),
    granted: c.user === "anonymous" ? new Set() : granting(new Set(), c),
  };
}

let published = 0;

/**
 * Resolves once the relay answered every frame the slot sent so far (a marker unsubscribe is
 * answered after them), so that no refusal is still on its way when the slot is closed.
 */
async function answered(s: Slot): Promise<Slot> {
  if (s.client.ws.readyState !== s.client.ws.OPEN) return s;
  const marker = `settle-${++published}`;
  s.client.send({ type: "unsubscribe", channels: [marker] });
  await s.client.frame((f) => f.type === "unsubscribed" && f.channel === marker, marker);
  return s;
}

/** The jobs a frame hands over, with the channel they came on. */
function jobsOf(f: Frame): { channel: string; job: Record<string, unknown> }[] {
  if (f.type === "job") {
    const job = f.job as Record<string, unknown>;
    return [{ channel: String(job.channel), job }];
  }
  if (f.type === "subscribed") {
    return (f.jobs as Record<string, unknown>[]).map((job) => ({
      channel: String(f.channel),
      job,
    }));
  }
  return [];
}

/** Jobs the sequences' connections were handed, live and in snapshots: the property's reach. */
const handed = { live: 0, snapshot: 0 };

/** Asserts a slot saw only its owner's jobs, and nothing on a guarded channel it was not granted. */
function assertIsolated(s: Slot, what: string): void {
  for (const f of s.client.frames) {
    for (const { channel, job } of jobsOf(f)) {
      if (channel === "canary") continue;
      handed[f.type === "job" ? "live" : "snapshot"]++;
      assert.ok(
        s.owner !== undefined,
        `${what}: a connection without a user got ${JSON.stringify(job)}`,
      );
      assert.equal(job.userId, s.owner, `${what}: ${s.owner} got ${JSON.stringify(job)}`);
    }
    const channel =
      f.type === "job"
        ? String((f.job as { channel?: unknown }).channel)
        : typeof f.channel === "string"
          ? f.channel
          : undefined;
    if (
      channel &&
      (GUARDED as readonly string[]).includes(channel) &&
      (f.type === "subscribed" || f.type === "job") &&
      s.granted !== undefined
    ) {
      assert.ok(s.granted.has(channel), `${what}: claim ${[...s.granted]} escaped to ${channel}`);
    }
  }
}

test("never hands one user's update to another, and never escapes a channels claim", async () => {
  store = new RedisJobStore(relay.publisher());
  relay.canary.reset();
  let forbiddenSeen = 0;
  let unauthorizedSeen = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 4, maxLength: 14 }), async (ops) => {
      const slots: (Slot | undefined)[] = [];
      const retired: Slot[] = [];
      const seenCodes = (s: Slot): void => {
        for (const f of s.client.frames) {
          if (f.type !== "error") continue;
          if (f.code === "forbidden") forbiddenSeen++;
          if (f.code === "unauthorized") unauthorizedSeen++;
          tally.refused(String(f.code));
        }
      };
      try {
        for (const o of ops) {
          switch (o.op) {
            case "connect":
              if (slots[o.slot]) retired.push(await answered(slots[o.slot]!));
              slots[o.slot]?.client.ws.close();
              slots[o.slot] = await open(o.credentials, o.channels, o.inQuery);
              break;
            case "reconnect": {
              const s = slots[o.slot];
              if (!s) break;
              retired.push(await answered(s));
              s.client.ws.terminate();
              const params = new URLSearchParams(s.query.slice(1));
              slots[o.slot] = await open(
                s.credentials,
                (params.get("channels")?.split(",") ?? []) as Channel[],
                params.has("access_token"),
              );
              break;
            }
            case "subscribe":
              slots[o.slot]?.client.send({ type: "subscribe", channels: o.channels });
              break;
            case "auth": {
              const s = slots[o.slot];
              const jwt = await tokenOf(o.credentials);
              if (!s || !jwt) break;
              s.client.send({ type: "auth", token: jwt });
              if (takes(s.owner, o.credentials)) {
                s.owner ??= ownerOf(o.credentials);
                s.granted = granting(s.granted, o.credentials);
              }
              break;
            }
            case "config":
              relay.writeConfig(config(o.present, o.maxJobs));
              break;
            case "publish": {
              const jobId = `job-${++published}`;
              const update = {
                jobId,
                status: "processing" as const,
                progress: published % 100,
                ...(o.owner === "none" ? {} : { userId: o.owner }),
              };
              if (o.stored) await store!.publish(o.channel, update, HISTORY);
              else
                await relay
                  .publisher()
                  .publish(
                    `jobchannel:${o.channel}`,
                    JSON.stringify({ ...update, timestamp: Date.now() }),
                  );
              break;
            }
          }
        }
        // Settle: every channel in force again, each open connection asks for every channel
        // once more and hears an answer for each, then one marker per user and channel.
        relay.writeConfig(config(CHANNELS));
        const live = slots.filter(
          (s): s is Slot => s !== undefined && s.client.ws.readyState === 1,
        );
        for (const s of live) {
          const from = s.client.frames.length;
          s.client.send({ type: "subscribe", channels: [...CHANNELS] });
          await waitFor(
            () =>
              CHANNELS.every((c) =>
                s.client.frames
                  .slice(from)
                  .some((f) => f.channel === c && (f.type === "subscribed" || f.type === "error")),
              ),
            { what: "an answer for every channel" },
          );
        }
        const markers: { channel: Channel; user: User; jobId: string }[] = [];
        for (const channel of CHANNELS) {
          for (const user of USERS) {
            const jobId = `marker-${++published}`;
            markers.push({ channel, user, jobId });
            await relay
              .publisher()
              .publish(
                `jobchannel:${channel}`,
                JSON.stringify({ jobId, status: "completed", userId: user, timestamp: Date.now() }),
              );
          }
        }
        // A marker is owed to each connection of its user whose last word on its channel is
        // `subscribed`; a late config reload may still take a channel away meanwhile.
        const owed = (s: Slot, m: (typeof markers)[number]): boolean =>
          m.user === s.owner &&
          s.client.frames.findLast((f) => f.channel === m.channel && f.type !== "job")?.type ===
            "subscribed";
        await waitFor(
          () =>
            live.every((s) =>
              markers.every((m) => !owed(s, m) || s.client.jobs().some((j) => j.jobId === m.jobId)),
            ),
          { what: "every owed marker delivered" },
        );
        for (const [i, s] of [...retired, ...live].entries()) {
          assertIsolated(s, `connection ${i}`);
        }
        tally.accepted();
      } finally {
        for (const s of [...retired, ...slots]) {
          if (!s) continue;
          await answered(s).catch(() => undefined);
          seenCodes(s);
          s.client.ws.terminate();
        }
      }
    }),
    { seed, numRuns: fuzzRuns(25, 300) },
  );
  await relay.survived();
  console.log(`isolation: jobs handed to their owners: ${JSON.stringify(handed)}`);
  assert.ok(
    handed.live > 0 && handed.snapshot > 0,
    "the sequences delivered live and in snapshots",
  );
  const metrics = await relay.relay().metrics();
  const counted = (code: string): number =>
    Number(
      new RegExp(`^jobchannel_relay_refusals_total\\{code="${code}"\\} (\\d+)`, "m").exec(
        metrics,
      )?.[1] ?? 0,
    );
  assert.equal(counted("forbidden"), forbiddenSeen, "forbidden attempts counted");
  assert.equal(counted("unauthorized"), unauthorizedSeen, "unauthorized attempts counted");
  assert.ok(forbiddenSeen > 0, "the sequences tried forbidden channels");
});

test("never escapes a channels claim through patterns, case, separators or encodings", async () => {
  const jwt = await token({ sub: "alice", channels: ["iso-a"] });
  const attempts = [
    "iso-*",
    "*",
    "iso-a*",
    "iso-?",
    "ISO-B",
    "iso-b ",
    " iso-b",
    "iso-a,iso-b",
    "iso-a%2Ciso-b",
    "iso-b\u0000",
    "jobchannel:iso-b",
    "iso-[ab]",
    "iso-a/../iso-b",
    "iso-b",
  ];
  const before = await relay.relay().metrics();
  const client = await relay.open(`?access_token=${jwt}`);
  for (const name of attempts) client.send({ type: "subscribe", channels: [name] });
  client.ws.send(`{"type":"subscribe","channels":["iso-a"],"channels ":["iso-b"]}`);
  client.send({ type: "subscribe", channels: ["iso-a"] });
  await client.frame((f) => f.type === "subscribed" && f.channel === "iso-a", "iso-a");
  await waitFor(() => client.frames.filter((f) => f.type === "error").length >= attempts.length, {
    what: "an answer to every attempt",
  });
  await relay.publisher().publish(
    "jobchannel:iso-b",
    JSON.stringify({
      jobId: "claim-b",
      status: "queued",
      userId: "alice",
      timestamp: Date.now(),
    }),
  );
  await relay.publisher().publish(
    "jobchannel:iso-a",
    JSON.stringify({
      jobId: "claim-a",
      status: "queued",
      userId: "alice",
      timestamp: Date.now(),
    }),
  );
  await waitFor(() => client.jobs().some((j) => j.jobId === "claim-a"), { what: "claim-a" });
  assert.deepEqual(
    client.jobs().map((j) => j.jobId),
    ["claim-a"],
  );
  // iso-a is asked for twice; the second may be answered again once the first snapshot is sent.
  assert.deepEqual(
    [...new Set(client.frames.filter((f) => f.type === "subscribed").map((f) => f.channel))],
    ["iso-a"],
  );
  for (const f of client.frames.filter((f) => f.type === "error")) {
    assert.ok(["bad_request", "forbidden"].includes(String(f.code)), JSON.stringify(f));
    tally.refused(String(f.code));
  }
  const forbidden = (text: string): number =>
    Number(/^jobchannel_relay_refusals_total\{code="forbidden"\} (\d+)/m.exec(text)?.[1] ?? 0);
  const after = await relay.relay().metrics();
  assert.equal(
    forbidden(after) - forbidden(before),
    client.frames.filter((f) => f.code === "forbidden").length,
  );
  client.close();
});
