// Where Redis is: one server (redis:// URL) or a Redis Cluster (redis+cluster:// URL or a list of
// seed nodes), parsed once for the relay and the worker, and the ioredis client for each.
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";

/** One seed node of a Redis Cluster. */
export interface ClusterNode {
  readonly host: string;
  readonly port: number;
}

/** A parsed Redis location. */
export type RedisTarget =
  | { readonly mode: "single"; readonly url: string }
  | {
      readonly mode: "cluster";
      /** Seed nodes; the client learns the others from them. */
      readonly nodes: readonly ClusterNode[];
      readonly username?: string;
      readonly password?: string;
      /** `rediss+cluster://`: TLS to every node. */
      readonly tls: boolean;
    };

/** Why a Redis location was refused; the message never carries a password. */
export class RedisTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RedisTargetError";
  }
}

const CLUSTER_SCHEMES = ["redis+cluster:", "rediss+cluster:"];

/** True for a `redis+cluster://` or `rediss+cluster://` URL. */
export function isClusterUrl(url: string): boolean {
  return CLUSTER_SCHEMES.some((s) => url.startsWith(`${s}//`));
}

function parseNode(text: string): ClusterNode {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]@,]+):(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[2]) : 0;
  if (!match || port < 1 || port > 65535) {
    throw new RedisTargetError(`cluster nodes must be host:port, got "${text.trim()}"`);
  }
  return { host: match[1]!.replace(/^\[|\]$/g, ""), port };
}

/**
 * Parses `redis+cluster://[user:password@]host:port[,host:port...]` (or `rediss+cluster://` for
 * TLS) into a cluster target; any other URL is a single-Redis target, returned as given.
 */
export function parseRedisTarget(url: string): RedisTarget {
  if (!isClusterUrl(url)) return { mode: "single", url };
  const tls = url.startsWith("rediss+");
  let rest = url.slice(url.indexOf("//") + 2).replace(/\/.*$/, "");
  let username: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf("@");
  if (at >= 0) {
    const credentials = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = credentials.indexOf(":");
    const user = decodeURIComponent(colon >= 0 ? credentials.slice(0, colon) : "");
    const pass = decodeURIComponent(colon >= 0 ? credentials.slice(colon + 1) : credentials);
    if (user) username = user;
    if (pass) password = pass;
  }
  const nodes = rest.split(",").filter((n) => n.trim() !== "");
  if (nodes.length === 0) throw new RedisTargetError("a cluster URL needs at least one host:port");
  return {
    mode: "cluster",
    nodes: nodes.map(parseNode),
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    tls,
  };
}

/** A cluster target from a comma list of seed nodes (`REDIS_CLUSTER_NODES`) and credentials. */
export function clusterTargetFromNodes(
  list: string,
  credentials: { username?: string | undefined; password?: string | undefined; tls?: boolean } = {},
): RedisTarget {
  const nodes = list.split(",").filter((n) => n.trim() !== "");
  if (nodes.length === 0) throw new RedisTargetError("at least one host:port is needed");
  return {
    mode: "cluster",
    nodes: nodes.map(parseNode),
    ...(credentials.username ? { username: credentials.username } : {}),
    ...(credentials.password ? { password: credentials.password } : {}),
    tls: credentials.tls ?? false,
  };
}

/** ioredis options every connection to a node of `target` needs (credentials, TLS). */
export function nodeOptions(target: RedisTarget & { mode: "cluster" }): RedisOptions {
  return {
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...(target.tls ? { tls: {} } : {}),
  };
}

/** An ioredis Cluster client for `target`, with `options` for the cluster and each node. */
export function createClusterClient(
  target: RedisTarget & { mode: "cluster" },
  options: ClusterOptions = {},
): Cluster {
  return new Cluster(
    target.nodes.map((n) => ({ host: n.host, port: n.port })),
    {
      ...options,
      redisOptions: { ...nodeOptions(target), ...options.redisOptions },
    },
  );
}

/** A client for either kind of target: `Redis` for one server, `Cluster` for a cluster. */
export function createRedisClient(
  target: RedisTarget,
  options: RedisOptions = {},
  clusterOptions: ClusterOptions = {},
): Redis | Cluster {
  if (target.mode === "single") return new Redis(target.url, options);
  return createClusterClient(target, { ...clusterOptions, redisOptions: options });
}
