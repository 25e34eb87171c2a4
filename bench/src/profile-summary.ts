// Summarizes a V8 .cpuprofile (node --cpu-prof) as self time per function: the table that stays in
// git instead of the profile itself.
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  /** Monotonic clock, µs (CLOCK_MONOTONIC on Linux, the clock of process.hrtime). */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  /** Function name, or V8's `(garbage collector)`, `(program)`, `(idle)`. */
  name: string;
  /** File, shortened to the package or the repository path, and line (1-based). */
  where: string;
  selfMs: number;
  /** Share of the sampled time that was not idle. */
  percent: number;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  top: SelfTime[];
  /** Self time grouped by where the code lives: relay, ws, ioredis, node, V8 (GC, program). */
  byArea: { area: string; selfMs: number; percent: number }[];
}

function shorten(url: string): string {
  if (url === "") return "";
  const modules = url.lastIndexOf("node_modules/");
  if (modules >= 0) return url.slice(modules + "node_modules/".length);
  const repo = /\/(relay|protocol|state|bench)\/(src|bin|dist)\//.exec(url);
  if (repo) return url.slice(repo.index + 1);
  return url.replace(/^file:\/\//, "");
}

function areaOf(name: string, url: string): string {
  if (name === "(program)" || name === "(garbage collector)" || name === "(root)")
    return `V8 ${name}`;
  if (url.startsWith("node:") || url === "") return "Node.js core and built-ins";
  const short = shorten(url);
  if (short.startsWith("ws/")) return "ws";
  if (short.startsWith("ioredis/") || short.startsWith("@ioredis/") || short.startsWith("redis-"))
    return "ioredis";
  if (short.startsWith("prom-client/")) return "prom-client";
  if (short.startsWith("pino")) return "pino";
  if (/^(relay|protocol|state)\//.test(short)) return `jobchannel ${short.split("/")[0]}`;
  return short.split("/")[0] ?? short;
}

/**
 * Self time per function of the samples taken inside `window` (monotonic µs, as
 * process.hrtime.bigint() / 1000n reads it), or of all samples without one.
 */
export function summarizeProfile(
  file: string,
  window?: { fromUs: number; toUs: number },
  top = 20,
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, { name: string; where: string; area: string; us: number }>();
  let total = 0;
  let idle = 0;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i]!);
    const us = profile.timeDeltas[i] ?? 0;
    at += us;
    if (!node || (window && (at < window.fromUs || at > window.toUs))) continue;
    total += us;
    const { functionName, url, lineNumber } = node.callFrame;
    const name = functionName || "(anonymous)";
    if (name === "(idle)") {
      idle += us;
      continue;
    }
    const where = url ? `${shorten(url)}:${lineNumber + 1}` : "";
    const key = `${name} ${where}`;
    const entry = self.get(key) ?? { name, where, area: areaOf(name, url), us: 0 };
    entry.us += us;
    self.set(key, entry);
  }
  const busy = total - idle;
  const percent = (us: number): number => Number(((us / busy) * 100).toFixed(1));
  const areas = new Map<string, number>();
  for (const e of self.values()) areas.set(e.area, (areas.get(e.area) ?? 0) + e.us);
  return {
    totalMs: Math.round(total / 1000),
    idleMs: Math.round(idle / 1000),
    top: [...self.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((e) => ({
        name: e.name,
        where: e.where,
        selfMs: Math.round(e.us / 100) / 10,
        percent: percent(e.us),
      })),
    byArea: [...areas.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, selfMs: Math.round(us / 100) / 10, percent: percent(us) })),
  };
}
