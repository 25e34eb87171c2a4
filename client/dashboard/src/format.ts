// Formatting of sizes, durations and job results for display.

const UNITS = ["B", "KB", "MB", "GB", "TB"];

/** 1536 -> "1.5 KB". */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

/** 65_000 -> "1m 05s"; 4_200 -> "4.2s". */
export function formatDuration(ms: number): string {
  if (ms < 0) ms = 0;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
}

/** One line of a result summary. */
export interface ResultItem {
  label: string;
  value: string;
  /** The full value, when `value` is shortened. */
  full?: string;
  /** Shown in a monospace font (hashes, ids). */
  code?: boolean;
}

const KNOWN: readonly {
  key: string;
  label: string;
  format?: (v: unknown) => string;
  code?: boolean;
}[] = [
  { key: "pages", label: "Pages" },
  { key: "characters", label: "Characters" },
  { key: "rows", label: "Rows" },
  { key: "validRows", label: "Valid rows" },
  { key: "invalidRows", label: "Invalid rows" },
  { key: "totalAmount", label: "Total amount" },
  { key: "bytes", label: "Size", format: (v) => formatBytes(v as number) },
  { key: "sha256", label: "SHA-256", code: true },
  { key: "decision", label: "Decision" },
  { key: "score", label: "Score" },
  { key: "riskScore", label: "Risk score" },
  {
    key: "matches",
    label: "Matches",
    format: (v) => (Array.isArray(v) ? String(v.length) : String(v)),
  },
];

/** "invalidRows" -> "Invalid rows". */
export function humanize(key: string): string {
  const words = key
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/[_-]+/g, " ")
    .trim()
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function scalar(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return value.toLocaleString("en");
  if (typeof value === "boolean") return value ? "yes" : "no";
  return undefined;
}

/**
 * The headline facts of a result: the known keys of the built-in job types first (pages, rows,
 * sha256, ...), then any other scalar fields, at most `limit` items.
 */
export function summarizeResult(result: unknown, limit = 8): ResultItem[] {
  if (result === null || typeof result !== "object" || Array.isArray(result)) {
    const value = scalar(result);
    return value === undefined ? [] : [{ label: "Result", value }];
  }
  const record = result as Record<string, unknown>;
  const items: ResultItem[] = [];
  const used = new Set<string>();
  for (const known of KNOWN) {
    const value = record[known.key];
    if (value === undefined || value === null) continue;
    const text = known.format ? known.format(value) : scalar(value);
    if (text === undefined) continue;
    used.add(known.key);
    const short = known.code && text.length > 16 ? `${text.slice(0, 12)}…${text.slice(-4)}` : text;
    items.push({
      label: known.label,
      value: short,
      ...(short !== text ? { full: text } : {}),
      ...(known.code ? { code: true } : {}),
    });
  }
  for (const [key, value] of Object.entries(record)) {
    if (items.length >= limit) break;
    if (used.has(key) || key === "filename" || key === "mimeType") continue;
    const text = scalar(value);
    if (text === undefined || text.length > 80) continue;
    items.push({ label: humanize(key), value: text });
  }
  return items.slice(0, limit);
}
