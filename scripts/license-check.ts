// Walks the production dependency tree of what jobchannel ships (relay, worker, operator, client)
// through package-lock.json and fails on a denied or undeclared license (scripts/license-policy.ts).
// Usage: node scripts/license-check.ts [--json]
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { licenseVerdict, type Verdict } from "./license-policy.ts";

/** The workspaces whose packages and images reach users. */
export const SHIPPED = ["relay", "worker", "operator", "client"] as const;

interface LockEntry {
  readonly name?: string;
  readonly version?: string;
  readonly license?: string;
  readonly link?: boolean;
  readonly resolved?: string;
  readonly optional?: boolean;
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
  readonly peerDependencies?: Record<string, string>;
  readonly peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

/** One package of the production tree, with the first path that reached it. */
export interface Found {
  readonly location: string;
  readonly name: string;
  readonly version: string;
  readonly verdict: Verdict;
  readonly via: readonly string[];
}

/** Where Node would find `name` when required from the package at `from` (a lock location). */
export function resolveIn(
  packages: Readonly<Record<string, LockEntry>>,
  from: string,
  name: string,
): string | undefined {
  let base = from;
  for (;;) {
    const candidate = base === "" ? `node_modules/${name}` : `${base}/node_modules/${name}`;
    if (packages[candidate]) return candidate;
    if (base === "") return undefined;
    const cut = base.lastIndexOf("/node_modules/");
    base = cut === -1 ? "" : base.slice(0, cut);
  }
}

/** The license a package declares: its lock entry's, else its package.json's (`licenses` joined by OR). */
function declaredLicense(root: string, location: string, entry: LockEntry): string | undefined {
  if (entry.license) return entry.license;
  const file = join(root, location, "package.json");
  if (!existsSync(file)) return undefined;
  const json = JSON.parse(readFileSync(file, "utf8")) as {
    license?: string | { type?: string };
    licenses?: { type?: string }[];
  };
  if (typeof json.license === "string") return json.license;
  if (json.license?.type) return json.license.type;
  const types = (json.licenses ?? []).map((l) => l.type).filter(Boolean);
  return types.length > 0 ? types.join(" OR ") : undefined;
}

/** Every package the shipped workspaces need at run time, each judged once. */
export function productionTree(root: string): { found: Found[]; unresolved: string[] } {
  const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as {
    packages: Record<string, LockEntry>;
  };
  const packages = lock.packages;
  const seen = new Map<string, Found>();
  const unresolved: string[] = [];
  const queue: { location: string; via: string[] }[] = SHIPPED.map((w) => ({
    location: w,
    via: [`@jobchannel/${w}`],
  }));
  const workspaces = new Set<string>();
  while (queue.length > 0) {
    const { location, via } = queue.shift()!;
    const entry = packages[location];
    if (!entry) continue;
    const optional = new Set([
      ...Object.keys(entry.optionalDependencies ?? {}),
      ...Object.entries(entry.peerDependenciesMeta ?? {})
        .filter(([, meta]) => meta.optional)
        .map(([name]) => name),
    ]);
    const wanted = [
      ...Object.keys(entry.dependencies ?? {}),
      ...Object.keys(entry.optionalDependencies ?? {}),
      ...Object.keys(entry.peerDependencies ?? {}),
    ];
    for (const name of new Set(wanted)) {
      let target = resolveIn(packages, location, name);
      if (target === undefined) {
        if (!optional.has(name)) unresolved.push(`${[...via, name].join(" > ")}`);
        continue;
      }
      const link = packages[target]!;
      if (link.link && link.resolved !== undefined) {
        // A workspace package: ours (checked by the workspace's own entry), walked for its deps.
        target = link.resolved;
        if (!workspaces.has(target)) {
          workspaces.add(target);
          queue.push({ location: target, via: [...via, name] });
        }
        continue;
      }
      if (seen.has(target)) continue;
      const found: Found = {
        location: target,
        name,
        version: link.version ?? "?",
        verdict: licenseVerdict(declaredLicense(root, target, link)),
        via: [...via, name],
      };
      seen.set(target, found);
      queue.push({ location: target, via: found.via as string[] });
    }
  }
  return { found: [...seen.values()], unresolved };
}

function main(): void {
  const root = join(import.meta.dirname, "..");
  const { found, unresolved } = productionTree(root);
  const bad = found.filter((f) => f.verdict.kind !== "allowed");
  if (process.argv.includes("--json")) {
    console.log(JSON.stringify({ found, unresolved }, null, 2));
  } else {
    const byLicense = new Map<string, number>();
    for (const f of found)
      byLicense.set(f.verdict.license, (byLicense.get(f.verdict.license) ?? 0) + 1);
    console.log(
      `license-check: ${found.length} production packages under ${SHIPPED.join(", ")} (from package-lock.json)`,
    );
    for (const [license, count] of [...byLicense].sort((a, b) => b[1] - a[1]))
      console.log(`  ${String(count).padStart(4)}  ${license}`);
    for (const f of bad) {
      const reason = f.verdict.kind === "allowed" ? "" : f.verdict.reason;
      console.log(
        `  ${f.verdict.kind.toUpperCase()}: ${f.name}@${f.version} (${f.verdict.license}): ${reason}; via ${f.via.join(" > ")}`,
      );
    }
    for (const u of unresolved) console.log(`  UNRESOLVED: ${u}`);
  }
  if (bad.length > 0 || unresolved.length > 0) {
    console.error(
      `license-check: ${bad.length} package(s) with a denied or unknown license, ${unresolved.length} unresolved`,
    );
    process.exit(1);
  }
  console.log("license-check: every production license is allowed");
}

if (import.meta.main) main();
