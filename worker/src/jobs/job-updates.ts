// Built-in job type job-updates: a deal-screening pipeline over a submitted record, progress by step.
import { readFileSync } from "node:fs";
import { defineJob, invalidInput } from "../job.ts";
import { nameSimilarity } from "./fuzzy-match.ts";

/** The record a deal-screening job takes (the JSON body). */
export interface DealRecord {
  company: { name: string; country: string; industry?: string; directors: string[] };
  financials: { revenue: number; ebitda: number; netDebt: number; previousRevenue?: number };
  deal: { enterpriseValue: number; currency: string };
}

/** A watch-list entry the company or a director resembles. */
export interface WatchListMatch {
  subject: string;
  entity: string;
  list: string;
  severity: "low" | "medium" | "high";
  similarity: number;
}

/** The `result` of a completed job-updates job. */
export interface ScreeningResult {
  company: string;
  ratios: {
    ebitdaMargin: number;
    leverage: number | null;
    evToEbitda: number | null;
    revenueGrowth: number | null;
  };
  matches: WatchListMatch[];
  countryRisk: "standard" | "elevated" | "high";
  flags: string[];
  /** 0 (clean) to 100 (worst). */
  riskScore: number;
  decision: "proceed" | "review" | "decline";
}

interface WatchList {
  entities: {
    name: string;
    kind: "company" | "person";
    list: string;
    severity: WatchListMatch["severity"];
  }[];
  highRiskCountries: string[];
  elevatedRiskCountries: string[];
}

/** Most matches kept in the result, best first. */
export const MAX_MATCHES = 20;

/** Similarity from which a name counts as a watch-list match. */
export const MATCH_THRESHOLD = 0.9;

// The bundled list sits in the package's data/ folder, beside both src/ and dist/.
const WATCH_LIST = JSON.parse(
  readFileSync(new URL("../../data/watch-list.json", import.meta.url), "utf8"),
) as WatchList;

function object(value: unknown, field: string): Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw invalidInput(field, "must be an object");
  return value as Record<string, unknown>;
}

function text(value: unknown, field: string, max = 200): string {
  if (typeof value !== "string" || value.trim() === "" || value.length > max) {
    throw invalidInput(field, `must be a non-empty string of at most ${max} characters`);
  }
  return value.trim().replace(/\s+/g, " ");
}

function amount(value: unknown, field: string, options: { min?: number } = {}): number {
  if (typeof value !== "number" || !Number.isFinite(value))
    throw invalidInput(field, "must be a number");
  if (options.min !== undefined && value < options.min)
    throw invalidInput(field, `must be at least ${options.min}`);
  return value;
}

/** Step 1, at the HTTP boundary: the record's schema. */
export function parseDealRecord(body: Readonly<Record<string, unknown>>): DealRecord {
  const company = object(body.company, "company");
  const financials = object(body.financials, "financials");
  const deal = object(body.deal, "deal");
  const directors = company.directors ?? [];
  if (!Array.isArray(directors) || directors.length > 50)
    throw invalidInput("company.directors", "must be a list of at most 50 names");
  const country = text(company.country, "company.country", 2).toUpperCase();
  if (!/^[A-Z]{2}$/.test(country))
    throw invalidInput("company.country", "must be a two-letter country code");
  const currency = text(deal.currency, "deal.currency", 3).toUpperCase();
  if (!/^[A-Z]{3}$/.test(currency))
    throw invalidInput("deal.currency", "must be a three-letter currency code");
  return {
    company: {
      name: text(company.name, "company.name"),
      country,
      ...(company.industry === undefined
        ? {}
        : { industry: text(company.industry, "company.industry") }),
      directors: directors.map((d, i) => text(d, `company.directors[${i}]`)),
    },
    financials: {
      revenue: amount(financials.revenue, "financials.revenue", { min: 0 }),
      ebitda: amount(financials.ebitda, "financials.ebitda"),
      netDebt: amount(financials.netDebt, "financials.netDebt"),
      ...(financials.previousRevenue === undefined
        ? {}
        : {
            previousRevenue: amount(financials.previousRevenue, "financials.previousRevenue", {
              min: 0,
            }),
          }),
    },
    deal: {
      enterpriseValue: amount(deal.enterpriseValue, "deal.enterpriseValue", { min: 0 }),
      currency,
    },
  };
}

const round = (n: number): number => Math.round(n * 1000) / 1000;

/** Step 2: consistency checks that the schema cannot express. */
export function consistencyFlags(record: DealRecord): string[] {
  const flags: string[] = [];
  const f = record.financials;
  if (f.revenue === 0) flags.push("no revenue");
  if (f.ebitda > f.revenue) flags.push("EBITDA exceeds revenue");
  if (f.ebitda <= 0) flags.push("EBITDA is not positive");
  if (record.company.directors.length === 0) flags.push("no directors named");
  return flags;
}

/** Step 3: financial ratios. */
export function financialRatios(record: DealRecord): ScreeningResult["ratios"] {
  const f = record.financials;
  return {
    ebitdaMargin: f.revenue > 0 ? round(f.ebitda / f.revenue) : 0,
    leverage: f.ebitda > 0 ? round(f.netDebt / f.ebitda) : null,
    evToEbitda: f.ebitda > 0 ? round(record.deal.enterpriseValue / f.ebitda) : null,
    revenueGrowth: f.previousRevenue
      ? round((f.revenue - f.previousRevenue) / f.previousRevenue)
      : null,
  };
}

/** Step 4: fuzzy match of the company and its directors against the watch list. */
export function screenNames(record: DealRecord, list: WatchList = WATCH_LIST): WatchListMatch[] {
  const subjects = [
    { name: record.company.name, kind: "company" as const },
    ...record.company.directors.map((name) => ({ name, kind: "person" as const })),
  ];
  const matches: WatchListMatch[] = [];
  for (const subject of subjects) {
    for (const entity of list.entities) {
      if (entity.kind !== subject.kind) continue;
      const similarity = round(nameSimilarity(subject.name, entity.name));
      if (similarity >= MATCH_THRESHOLD) {
        matches.push({
          subject: subject.name,
          entity: entity.name,
          list: entity.list,
          severity: entity.severity,
          similarity,
        });
      }
    }
  }
  return matches.sort((a, b) => b.similarity - a.similarity).slice(0, MAX_MATCHES);
}

const SEVERITY_POINTS = { low: 10, medium: 30, high: 60 } as const;

/** Step 5: the weighted risk score and the decision. */
export function riskScore(
  ratios: ScreeningResult["ratios"],
  matches: readonly WatchListMatch[],
  countryRisk: ScreeningResult["countryRisk"],
  flags: readonly string[],
): { riskScore: number; decision: ScreeningResult["decision"] } {
  let score = 0;
  score += Math.max(0, ...matches.map((m) => SEVERITY_POINTS[m.severity] * m.similarity));
  score += countryRisk === "high" ? 25 : countryRisk === "elevated" ? 10 : 0;
  if (ratios.leverage === null) score += 15;
  else if (ratios.leverage > 6) score += 15;
  else if (ratios.leverage > 4) score += 8;
  if (ratios.ebitdaMargin < 0.05) score += 10;
  if (ratios.revenueGrowth !== null && ratios.revenueGrowth < -0.2) score += 10;
  score += 5 * flags.length;
  const riskScore = Math.min(100, Math.round(score));
  const hardStop = matches.some((m) => m.severity === "high" && m.similarity >= 0.95);
  const decision = hardStop || riskScore >= 70 ? "decline" : riskScore >= 35 ? "review" : "proceed";
  return { riskScore, decision };
}

const STEPS = ["consistency", "ratios", "watch-list", "country", "score"] as const;

export const jobUpdates = defineJob<DealRecord, ScreeningResult>({
  name: "job-updates",
  parseInput: ({ body }) => parseDealRecord(body),
  fields: (record) => ({ company: record.company.name, steps: STEPS.length }),
  async handler({ input, progress }) {
    const advance = (done: number, fields: Record<string, unknown>): Promise<void> =>
      progress((done / STEPS.length) * 100, { step: STEPS[done - 1], stepsDone: done, ...fields });
    const flags = consistencyFlags(input);
    await advance(1, { flags });
    const ratios = financialRatios(input);
    await advance(2, { ratios });
    const matches = screenNames(input);
    await advance(3, { matches: matches.length });
    const country = input.company.country;
    const countryRisk = WATCH_LIST.highRiskCountries.includes(country)
      ? "high"
      : WATCH_LIST.elevatedRiskCountries.includes(country)
        ? "elevated"
        : "standard";
    await advance(4, { countryRisk });
    const scored = riskScore(ratios, matches, countryRisk, flags);
    await advance(5, { riskScore: scored.riskScore });
    return { company: input.company.name, ratios, matches, countryRisk, flags, ...scored };
  },
});
