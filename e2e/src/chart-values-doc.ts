// Writes the values table of charts/jobchannel/README.md from the `# --` comments of values.yaml (`make chart-docs`).
//
// A `# --` comment right above a key documents that key and everything under it: the table lists
// it once, with its whole default. A key without one must hold a map, whose keys are then listed
// one by one; any other undocumented key is a problem, so every value ends up in the table.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { loadYaml } from "@kubernetes/client-node";
import { repoRoot } from "./paths.ts";

/** One row of the values table. */
export interface ValueDoc {
  /** Dotted path, e.g. `relay.autoscaling.enabled`. */
  readonly path: string;
  /** The value in values.yaml. */
  readonly default: unknown;
  /** The `# --` comment, its lines joined. */
  readonly description: string;
}

/** The rows of a values file, or what keeps it from being documented. */
export interface ValuesDocResult {
  readonly docs: readonly ValueDoc[];
  /** Undocumented keys and unreadable lines, each naming its line; empty when all is well. */
  readonly problems: readonly string[];
}

/** The README lines the table sits between; everything between them is replaced. */
export const TABLE_BEGIN =
  "<!-- values:begin (generated from values.yaml by `make chart-docs`: edit the `# --` comments there) -->";
export const TABLE_END = "<!-- values:end -->";

const KEY_LINE = /^( *)([A-Za-z0-9_][A-Za-z0-9_.-]*):(?: +(.*))?$/;
const COMMENT_LINE = /^ *#(?: (.*))?$/;
const DOC_START = /^-- ?(.*)$/;

/** Reads the documented values of a values.yaml text, in file order. */
export function documentValues(text: string): ValuesDocResult {
  const values = loadYaml(text);
  const docs: ValueDoc[] = [];
  const problems: string[] = [];
  const sections: { indent: number; key: string }[] = [];
  let comment: string[] | undefined;
  // While inside a documented key's value: that key's indentation.
  let documentedIndent: number | undefined;
  for (const [index, line] of text.split("\n").entries()) {
    const where = `values.yaml line ${index + 1}`;
    if (line.trim() === "") {
      comment = undefined;
      continue;
    }
    const indent = line.length - line.trimStart().length;
    if (documentedIndent !== undefined && indent > documentedIndent) continue;
    const commentMatch = COMMENT_LINE.exec(line);
    if (commentMatch) {
      const body = commentMatch[1] ?? "";
      const start = DOC_START.exec(body);
      if (start) comment = [start[1] ?? ""];
      else comment?.push(body);
      continue;
    }
    documentedIndent = undefined;
    const key = KEY_LINE.exec(line);
    if (!key) {
      problems.push(`${where}: not a "key: value" line outside a documented value: ${line.trim()}`);
      comment = undefined;
      continue;
    }
    while (sections.length > 0 && (sections.at(-1)?.indent ?? -1) >= indent) sections.pop();
    const path = [...sections.map((s) => s.key), key[2] ?? ""];
    const inline = (key[3] ?? "").replace(/^#.*/, "").trim();
    if (comment) {
      docs.push({
        path: path.join("."),
        default: lookup(values, path),
        description: comment.join(" ").trim(),
      });
      documentedIndent = indent;
    } else if (inline === "") {
      sections.push({ indent, key: key[2] ?? "" });
    } else {
      problems.push(`${where}: ${path.join(".")} has no "# --" comment`);
    }
    comment = undefined;
  }
  return { docs, problems };
}

function lookup(values: unknown, path: readonly string[]): unknown {
  let node = values;
  for (const key of path) {
    node =
      node !== null && typeof node === "object"
        ? (node as Record<string, unknown>)[key]
        : undefined;
  }
  return node ?? null;
}

const cell = (text: string): string => text.replaceAll("|", "\\|");

/** A comment as Markdown: `<` and `>` outside code spans escaped, so they are not read as HTML. */
const prose = (text: string): string =>
  cell(
    text
      .split("`")
      .map((part, i) => (i % 2 === 1 ? part : part.replaceAll("<", "&lt;").replaceAll(">", "&gt;")))
      .join("`"),
  );

/** The Markdown table of `docs`: value, default (as JSON), description. */
export function renderValuesTable(docs: readonly ValueDoc[]): string {
  return [
    "| value | default | description |",
    "|---|---|---|",
    ...docs.map(
      (d) => `| \`${d.path}\` | \`${cell(JSON.stringify(d.default))}\` | ${prose(d.description)} |`,
    ),
  ].join("\n");
}

/** `readme` with the text between {@link TABLE_BEGIN} and {@link TABLE_END} replaced by `table`. */
export function replaceValuesTable(readme: string, table: string): string {
  const begin = readme.indexOf(TABLE_BEGIN);
  const end = readme.indexOf(TABLE_END);
  if (begin < 0 || end < begin) {
    throw new Error(`the README has no "${TABLE_BEGIN}" ... "${TABLE_END}" section`);
  }
  return `${readme.slice(0, begin + TABLE_BEGIN.length)}\n${table}\n${readme.slice(end)}`;
}

/** The chart's values.yaml and README.md. */
export function chartDocFiles(chart = join(repoRoot(), "charts", "jobchannel")) {
  return { values: join(chart, "values.yaml"), readme: join(chart, "README.md") };
}

/** The chart README as `make chart-docs` would write it, and any problem of values.yaml. */
export async function generatedReadme(
  files = chartDocFiles(),
): Promise<{ current: string; generated: string; problems: readonly string[] }> {
  const [values, current] = await Promise.all([
    readFile(files.values, "utf8"),
    readFile(files.readme, "utf8"),
  ]);
  const { docs, problems } = documentValues(values);
  return { current, generated: replaceValuesTable(current, renderValuesTable(docs)), problems };
}

if (import.meta.main) {
  const files = chartDocFiles();
  const { current, generated, problems } = await generatedReadme(files);
  if (problems.length > 0) {
    console.error(`chart-docs: every value needs a "# --" comment:\n  ${problems.join("\n  ")}`);
    process.exit(1);
  }
  if (generated === current) {
    console.log(`chart-docs: ${files.readme} is up to date`);
  } else {
    await writeFile(files.readme, generated);
    console.log(`chart-docs: wrote the values table of ${files.readme}`);
  }
}
