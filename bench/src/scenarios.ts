// The scenarios of the side-by-side benchmark, in the order they run; each runs every system in turn.

export interface Scenario {
  id: string;
  kind: "ladder" | "memory" | "storm";
  title: string;
  /** Ladder scenarios: connections, the channels they spread over, and the rates to climb (deliveries/s). */
  connections: number;
  channels: number;
  /** `visibility: user` with one connection per user. */
  users?: number;
  targets: number[];
}

// The lowest rungs matter on a loaded shared machine, where every system may miss 25,000/s.
const LADDER = [10_000, 25_000, 50_000, 100_000, 150_000, 200_000, 300_000];

export const SCENARIOS: readonly Scenario[] = [
  {
    id: "c1000-k10",
    kind: "ladder",
    title: "1,000 clients, 10 channels",
    connections: 1000,
    channels: 10,
    targets: LADDER,
  },
  {
    id: "c1000-k1",
    kind: "ladder",
    title: "1,000 clients, 1 channel",
    connections: 1000,
    channels: 1,
    targets: LADDER,
  },
  {
    id: "c5000-k10",
    kind: "ladder",
    title: "5,000 clients, 10 channels",
    connections: 5000,
    channels: 10,
    targets: [10_000, 25_000, 50_000, 100_000, 150_000, 200_000],
  },
  {
    id: "c5000-k1",
    kind: "ladder",
    title: "5,000 clients, 1 channel (5,000-recipient broadcast)",
    connections: 5000,
    channels: 1,
    targets: [5_000, 10_000, 25_000, 50_000, 100_000],
  },
  {
    id: "users1000",
    kind: "ladder",
    title: "`visibility: user`, 1,000 users",
    connections: 1000,
    channels: 1,
    users: 1000,
    targets: [2_500, 5_000, 10_000, 25_000, 50_000],
  },
  {
    id: "memory",
    kind: "memory",
    title: "Idle memory per connection",
    connections: 0,
    channels: 10,
    targets: [],
  },
  {
    id: "storm",
    kind: "storm",
    title: "Connection storm",
    connections: 0,
    channels: 10,
    targets: [],
  },
];
