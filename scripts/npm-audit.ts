// Runs `npm audit --omit=dev` and decides: fail on an unexplained high or critical finding; say
// plainly when the registry gives no verdict at all (the rule is in docs/security.md).
// Usage: node scripts/npm-audit.ts   (AUDIT_REQUIRED=1: no verdict fails too)
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** A high or critical finding that was read and judged harmless for jobchannel, with why. */
export interface Explained {
  readonly package: string;
  readonly advisory: string;
  readonly reason: string;
}

/** What one `npm audit --json` run amounts to. */
export type AuditOutcome =
  | { readonly kind: "no-verdict"; readonly detail: string }
  | { readonly kind: "clean"; readonly counts: Record<string, number> }
  | {
      readonly kind: "findings";
      readonly counts: Record<string, number>;
      readonly unexplained: readonly string[];
      readonly explained: readonly string[];
    };

interface AuditJson {
  readonly message?: string;
  readonly statusCode?: number;
  readonly error?: { summary?: string; code?: string };
  readonly metadata?: { vulnerabilities?: Record<string, number> };
  readonly vulnerabilities?: Record<
    string,
    { severity: string; via: readonly (string | { url?: string; title?: string })[] }
  >;
}

const SERIOUS = new Set(["high", "critical"]);

/** Judges the JSON npm audit printed (or failed to print) against the explained findings. */
export function judgeAudit(stdout: string, explained: readonly Explained[]): AuditOutcome {
  let json: AuditJson;
  try {
    json = JSON.parse(stdout) as AuditJson;
  } catch {
    return { kind: "no-verdict", detail: "npm audit printed no JSON report" };
  }
  if (!json.metadata?.vulnerabilities) {
    const status = json.statusCode === undefined ? "" : ` (HTTP ${json.statusCode})`;
    const why = json.message ?? json.error?.summary ?? "no report";
    // The registry's address stays out: a status and npm's words are enough to act on.
    return {
      kind: "no-verdict",
      detail: `the registry answered no audit report${status}: ${why.replace(/https?:\/\/\S+/g, "<registry>")}`,
    };
  }
  const counts = json.metadata.vulnerabilities;
  const unexplainedList: string[] = [];
  const explainedList: string[] = [];
  const vulnerabilities = json.vulnerabilities ?? {};
  // A finding is explained when every advisory behind it is, for that package; one that only
  // comes through another vulnerable package (a `via` name) is explained when that one is.
  const accepted = (name: string, seen: ReadonlySet<string>): boolean => {
    const vulnerability = vulnerabilities[name];
    if (!vulnerability || seen.has(name)) return false;
    return vulnerability.via.every((v) =>
      typeof v === "string"
        ? accepted(v, new Set([...seen, name]))
        : explained.some(
            (e) => e.package === name && v.url !== undefined && v.url.endsWith(`/${e.advisory}`),
          ),
    );
  };
  for (const [name, vulnerability] of Object.entries(vulnerabilities)) {
    if (!SERIOUS.has(vulnerability.severity)) continue;
    const advisories = vulnerability.via
      .map((v) => (typeof v === "string" ? `via ${v}` : (v.url ?? v.title ?? "?")))
      .join(", ");
    const line = `${vulnerability.severity}: ${name} (${advisories})`;
    (accepted(name, new Set()) ? explainedList : unexplainedList).push(line);
  }
  if (unexplainedList.length === 0 && explainedList.length === 0) return { kind: "clean", counts };
  return { kind: "findings", counts, unexplained: unexplainedList, explained: explainedList };
}

function main(): void {
  const root = join(import.meta.dirname, "..");
  const explained = JSON.parse(
    readFileSync(join(import.meta.dirname, "audit-explained.json"), "utf8"),
  ) as Explained[];
  const run = spawnSync("npm", ["audit", "--omit=dev", "--json"], {
    cwd: root,
    encoding: "utf8",
    timeout: 120_000,
  });
  const outcome = judgeAudit(run.stdout ?? "", explained);
  const required = process.env.AUDIT_REQUIRED === "1";
  switch (outcome.kind) {
    case "no-verdict":
      console.log(`npm audit --omit=dev: NOT RUN: ${outcome.detail}.`);
      console.log(
        required
          ? "npm audit: AUDIT_REQUIRED=1, so no verdict is a failure."
          : "npm audit: no vulnerability verdict; passing without one (docs/security.md, 'Dependency audit'). Set AUDIT_REQUIRED=1 to fail instead.",
      );
      process.exit(required ? 1 : 0);
      break;
    case "clean":
      console.log(
        `npm audit --omit=dev: no high or critical findings ${JSON.stringify(outcome.counts)}`,
      );
      break;
    case "findings":
      for (const line of outcome.explained) console.log(`  explained ${line}`);
      for (const line of outcome.unexplained) console.log(`  UNEXPLAINED ${line}`);
      console.log(
        `npm audit --omit=dev: ${outcome.unexplained.length} unexplained high or critical finding(s) ${JSON.stringify(outcome.counts)}`,
      );
      if (outcome.unexplained.length > 0) process.exit(1);
  }
}

if (import.meta.main) main();
