// The reliability report's tables: the suites' JSON lines (testkit's recordFaults and
// recordHostile) summed per scenario and surface, rendered as Markdown, and written between the
// markers of docs/reliability.md. Pure functions; scripts/reliability-report.ts does the I/O.
import type { FaultFigures, HostileFigures } from "@jobchannel/testkit";

/** A line of faults.jsonl, as testkit's recordFaults writes it. */
export type FaultRecord = FaultFigures;

/** A line of hostile.jsonl, as testkit's recordHostile writes it. */
export type HostileRecord = HostileFigures;

/** One Faults row: every record of a scenario summed, with the longest recovery. */
export interface FaultRow extends FaultRecord {
  runs: number;
}

/** One Hostile-input row: every record of a surface summed, with every seed and the worst p99. */
export interface HostileRow {
  surface: string;
  cases: number;
  refusals: Record<string, number>;
  crashes: number;
  seeds: number[];
  canaryP99Ms: number | undefined;
  runs: number;
}

/** Which run the records came from, said above the tables. */
export interface ReportContext {
  /** `full` (make reliability) or `reduced` (make test). */
  profile: string;
  /** When the tables were generated. */
  generatedAt: Date;
}

/** A record line that does not hold the fields its table needs. */
export class RecordError extends Error {
  constructor(file: string, line: number, why: string) {
    super(`${file}:${line}: ${why}`);
    this.name = "RecordError";
  }
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}

function objectLine(file: string, line: number, text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RecordError(file, line, "not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new RecordError(file, line, "not a JSON object");
  return value as Record<string, unknown>;
}

function lines(text: string): [number, string][] {
  return text
    .split("\n")
    .map((l, i): [number, string] => [i + 1, l.trim()])
    .filter(([, l]) => l !== "");
}

/** Parses faults.jsonl; throws a {@link RecordError} naming the first bad line. */
export function parseFaults(text: string, file = "faults.jsonl"): FaultRecord[] {
  return lines(text).map(([n, l]) => {
    const r = objectLine(file, n, l);
    if (typeof r.scenario !== "string" || r.scenario === "")
      throw new RecordError(file, n, "scenario is not a non-empty string");
    if (typeof r.load !== "string") throw new RecordError(file, n, "load is not a string");
    for (const k of [
      "faultsInjected",
      "updatesPublished",
      "finalUpdatesDelivered",
      "lost",
      "duplicatesShown",
    ])
      if (!isCount(r[k])) throw new RecordError(file, n, `${k} is not a count`);
    const recovery = r.recoverySeconds;
    if (recovery !== null && (typeof recovery !== "number" || !(recovery >= 0)))
      throw new RecordError(file, n, "recoverySeconds is neither null nor a duration");
    return {
      scenario: r.scenario,
      load: r.load,
      faultsInjected: r.faultsInjected as number,
      updatesPublished: r.updatesPublished as number,
      finalUpdatesDelivered: r.finalUpdatesDelivered as number,
      lost: r.lost as number,
      duplicatesShown: r.duplicatesShown as number,
      recoverySeconds: recovery,
    };
  });
}

/** Parses hostile.jsonl; throws a {@link RecordError} naming the first bad line. */
export function parseHostile(text: string, file = "hostile.jsonl"): HostileRecord[] {
  return lines(text).map(([n, l]) => {
    const r = objectLine(file, n, l);
    if (typeof r.surface !== "string" || r.surface === "")
      throw new RecordError(file, n, "surface is not a non-empty string");
    if (!isCount(r.cases)) throw new RecordError(file, n, "cases is not a count");
    if (!isCount(r.crashes)) throw new RecordError(file, n, "crashes is not a count");
    const refusals = r.refusals;
    if (typeof refusals !== "object" || refusals === null || Array.isArray(refusals))
      throw new RecordError(file, n, "refusals is not an object");
    const counted: Record<string, number> = {};
    for (const [code, count] of Object.entries(refusals)) {
      if (!isCount(count)) throw new RecordError(file, n, `refusals.${code} is not a count`);
      counted[code] = count;
    }
    const record: HostileRecord = {
      surface: r.surface,
      cases: r.cases,
      refusals: counted,
      crashes: r.crashes,
    };
    if (typeof r.seed === "number") record.seed = r.seed;
    if (typeof r.canaryP99Ms === "number") record.canaryP99Ms = r.canaryP99Ms;
    return record;
  });
}

function byName<T>(rows: Map<string, T>): T[] {
  return [...rows.entries()].sort(([a], [b]) => a.localeCompare(b, "en")).map(([, r]) => r);
}

/** Sums the records of each scenario; rows in scenario order. */
export function faultRows(records: readonly FaultRecord[]): FaultRow[] {
  const rows = new Map<string, FaultRow>();
  for (const r of records) {
    const row = rows.get(r.scenario);
    if (!row) {
      rows.set(r.scenario, { ...r, runs: 1 });
      continue;
    }
    row.load = r.load;
    row.faultsInjected += r.faultsInjected;
    row.updatesPublished += r.updatesPublished;
    row.finalUpdatesDelivered += r.finalUpdatesDelivered;
    row.lost += r.lost;
    row.duplicatesShown += r.duplicatesShown;
    if (r.recoverySeconds !== null)
      row.recoverySeconds = Math.max(row.recoverySeconds ?? 0, r.recoverySeconds);
    row.runs++;
  }
  return byName(rows);
}

/** Sums the records of each surface; rows in surface order. */
export function hostileRows(records: readonly HostileRecord[]): HostileRow[] {
  const rows = new Map<string, HostileRow>();
  for (const r of records) {
    let row = rows.get(r.surface);
    if (!row) {
      row = {
        surface: r.surface,
        cases: 0,
        refusals: {},
        crashes: 0,
        seeds: [],
        canaryP99Ms: undefined,
        runs: 0,
      };
      rows.set(r.surface, row);
    }
    row.cases += r.cases;
    row.crashes += r.crashes;
    for (const [code, n] of Object.entries(r.refusals))
      row.refusals[code] = (row.refusals[code] ?? 0) + n;
    if (r.seed !== undefined && !row.seeds.includes(r.seed)) row.seeds.push(r.seed);
    if (r.canaryP99Ms !== undefined)
      row.canaryP99Ms = Math.max(row.canaryP99Ms ?? 0, r.canaryP99Ms);
    row.runs++;
  }
  return byName(rows);
}

/** Escapes a table cell: pipes and line breaks would end it. */
export function cell(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}

/** A count that must be 0, in bold when it is not. */
function mustBeZero(n: number): string {
  return n === 0 ? "0" : `**${count(n)}**`;
}

/** Seconds with a precision fitting their size; "–" when not measured. */
export function duration(seconds: number | null): string {
  if (seconds === null) return "–";
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 120) return `${Math.round(seconds)} s`;
  return `${(seconds / 60).toFixed(1)} min`;
}

/** Refusals as `code × n`, codes in order (numbers first), "none" when empty. */
export function refusalList(refusals: Record<string, number>): string {
  const codes = Object.keys(refusals)
    .filter((c) => refusals[c]! > 0)
    .sort((a, b) => {
      const [na, nb] = [Number(a), Number(b)];
      if (Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
      if (Number.isFinite(na)) return -1;
      if (Number.isFinite(nb)) return 1;
      return a.localeCompare(b, "en");
    });
  if (codes.length === 0) return "none";
  return codes.map((c) => `\`${c}\` × ${count(refusals[c]!)}`).join(", ");
}

function table(header: string[], rows: string[][]): string {
  return [
    `| ${header.join(" | ")} |`,
    `|${header.map(() => "---").join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n");
}

function preamble(what: string, context: ReportContext, records: number): string {
  const day = context.generatedAt.toISOString().slice(0, 10);
  const source =
    context.profile === "full"
      ? "the full profile (`make reliability`)"
      : `the ${context.profile} profile of \`make test\` (\`make reliability\` runs the full one)`;
  return `_Generated on ${day} from ${source}: ${count(records)} ${what} recorded._`;
}

/** The Faults region: a line naming the run, then one row per scenario. */
export function renderFaults(records: readonly FaultRecord[], context: ReportContext): string {
  if (records.length === 0)
    return `${preamble("fault scenarios", context, 0)}\n\nNo fault scenario recorded figures.`;
  const rows = faultRows(records).map((r) => [
    cell(r.scenario),
    cell(r.load),
    count(r.faultsInjected),
    count(r.updatesPublished),
    count(r.finalUpdatesDelivered),
    mustBeZero(r.lost),
    count(r.duplicatesShown),
    duration(r.recoverySeconds),
  ]);
  return [
    preamble("fault scenario runs", context, records.length),
    "",
    table(
      [
        "scenario",
        "load",
        "faults injected",
        "updates published",
        "final updates delivered",
        "lost",
        "duplicates shown to users",
        "recovery time",
      ],
      rows,
    ),
  ].join("\n");
}

/** The Hostile-input region: a line naming the run, then one row per surface. */
export function renderHostile(records: readonly HostileRecord[], context: ReportContext): string {
  if (records.length === 0)
    return `${preamble("hostile-input runs", context, 0)}\n\nNo hostile-input suite recorded figures.`;
  const rows = hostileRows(records).map((r) => [
    cell(r.surface),
    count(r.cases),
    cell(refusalList(r.refusals)),
    mustBeZero(r.crashes),
    r.canaryP99Ms === undefined ? "–" : `${r.canaryP99Ms.toFixed(1)} ms`,
    r.seeds.length === 0 ? "–" : r.seeds.join(", "),
  ]);
  return [
    preamble("hostile-input runs", context, records.length),
    "",
    table(["surface", "cases tried", "refusals by code", "crashes", "canary p99", "seeds"], rows),
  ].join("\n");
}

/** Replaces what lies between `<!-- name:begin -->` and `<!-- name:end -->`, markers kept. */
export function replaceRegion(doc: string, name: string, content: string): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const from = doc.indexOf(begin);
  const to = doc.indexOf(end);
  if (from < 0 || to < 0 || to < from)
    throw new Error(`the document has no ${begin} ... ${end} region`);
  if (doc.indexOf(begin, from + 1) >= 0) throw new Error(`the document has two ${begin} markers`);
  return `${doc.slice(0, from + begin.length)}\n${content.trimEnd()}\n${doc.slice(to)}`;
}

/** What must be 0 and is not, one line each; empty when the run lost nothing and nothing crashed. */
export function failures(
  faults: readonly FaultRecord[],
  hostile: readonly HostileRecord[],
): string[] {
  return [
    ...faultRows(faults)
      .filter((r) => r.lost > 0)
      .map((r) => `${r.scenario}: ${r.lost} final updates lost`),
    ...hostileRows(hostile)
      .filter((r) => r.crashes > 0)
      .map((r) => `${r.surface}: ${r.crashes} crashes`),
  ];
}
