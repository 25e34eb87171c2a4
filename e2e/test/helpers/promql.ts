// The chart's PromQL as data: the rule file's groups, the dashboard's expressions, and the metric names an expression reads.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { loadYaml } from "@kubernetes/client-node";
import { repoRoot } from "../../src/paths.ts";

const files = join(repoRoot(), "charts", "jobchannel", "files");
export const RULES_FILE = join(files, "prometheus-rules.yaml");
export const DASHBOARD_FILE = join(files, "grafana-dashboard.json");

export interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
export interface RuleGroup {
  name: string;
  rules: Rule[];
}
export interface Panel {
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: { expr: string; refId: string }[];
  panels?: Panel[];
}
export interface Dashboard {
  schemaVersion: number;
  uid: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: unknown; definition?: string }[] };
}

export async function loadRuleGroups(): Promise<RuleGroup[]> {
  return (loadYaml(await readFile(RULES_FILE, "utf8")) as { groups: RuleGroup[] }).groups;
}

export async function loadDashboard(): Promise<Dashboard> {
  return JSON.parse(await readFile(DASHBOARD_FILE, "utf8")) as Dashboard;
}

/** Every panel, rows' nested panels included. */
export function allPanels(panels: readonly Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

/** Every PromQL expression of the dashboard (panel targets and `label_values` variables), named. */
export function dashboardExpressions(dashboard: Dashboard): { where: string; expr: string }[] {
  const exprs = allPanels(dashboard.panels).flatMap((p) =>
    (p.targets ?? []).map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr })),
  );
  for (const variable of dashboard.templating.list) {
    const query = variable.query as { query?: string } | string;
    const text = typeof query === "string" ? query : query.query;
    const match = /^label_values\((.+),\s*[a-zA-Z_]\w*\)$/.exec(text ?? "");
    if (variable.type === "query") {
      assert.ok(match, `variable ${variable.name}: a label_values(<selector>, <label>) query`);
      exprs.push({ where: `variable ${variable.name}`, expr: match[1] ?? "" });
    }
  }
  return exprs;
}

/**
 * Grafana's variables replaced by what they expand to, so Prometheus can run the expression:
 * intervals by durations, and every other variable (used in `=~` matchers) by `.*`, as "All" does.
 */
export function expandGrafanaVariables(expr: string): string {
  return expr
    .replaceAll("$__rate_interval", "5m")
    .replaceAll("$__interval", "1m")
    .replaceAll("$__range", "1h")
    .replaceAll(/\$\{[a-zA-Z_]\w*(?::\w+)?\}|\$[a-zA-Z_]\w*/g, ".*");
}

const PROMQL_KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "inf",
  "nan",
]);

/**
 * The metric names a PromQL expression reads: identifiers outside label matchers, strings, ranges
 * and grouping lists that are neither functions, aggregations nor keywords.
 */
export function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replaceAll(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replaceAll(/\{[^}]*\}/g, "{}")
    .replaceAll(/\[[^\]]*\]/g, "[]")
    .replaceAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ");
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const before = stripped[match.index - 1] ?? " ";
    const after = stripped.slice(match.index + match[0].length);
    if (/[0-9.]/.test(before)) continue; // an exponent such as the e3 of 1e3
    if (/^\s*\(/.test(after)) continue; // a function or aggregation
    if (PROMQL_KEYWORDS.has(match[0].toLowerCase())) continue;
    names.add(match[0]);
  }
  return [...names];
}

/**
 * The vector selectors of an expression's metrics, with their label matchers (`name{a="b"}`), so
 * each can be asked on its own whether it has series.
 */
export function selectorsIn(expr: string): string[] {
  const names = new Set(metricNamesIn(expr));
  const selectors = new Set<string>();
  const selector = /([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{(?:[^}"]|"(?:[^"\\]|\\.)*")*\})?/g;
  for (const match of expr.matchAll(selector)) {
    const name = match[1] ?? "";
    const before = expr[match.index - 1] ?? " ";
    if (!names.has(name) || /[a-zA-Z0-9_:"]/.test(before)) continue;
    selectors.add(`${name}${match[2] ?? ""}`);
  }
  return [...selectors];
}
