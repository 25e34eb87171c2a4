import assert from "node:assert/strict";
import { test } from "node:test";
import {
  financialRatios,
  jobUpdates,
  parseDealRecord,
  riskScore,
  screenNames,
} from "../../src/jobs/job-updates.ts";
import { fakeContext } from "../helpers.ts";

const clean = {
  company: { name: "Harbour Foods Ltd", country: "gb", industry: "food", directors: ["Anna Berg"] },
  financials: {
    revenue: 50_000_000,
    ebitda: 7_500_000,
    netDebt: 15_000_000,
    previousRevenue: 45_000_000,
  },
  deal: { enterpriseValue: 60_000_000, currency: "gbp" },
};

test("validates the record's schema, naming the field", () => {
  assert.equal(parseDealRecord(clean).company.country, "GB");
  assert.throws(
    () => parseDealRecord({ ...clean, company: { ...clean.company, country: "GBR" } }),
    { field: "company.country" },
  );
  assert.throws(
    () => parseDealRecord({ ...clean, financials: { ...clean.financials, revenue: "1" } }),
    { field: "financials.revenue" },
  );
  assert.throws(() => parseDealRecord({ ...clean, deal: null }), { field: "deal" });
});

test("computes the financial ratios", () => {
  assert.deepEqual(financialRatios(parseDealRecord(clean)), {
    ebitdaMargin: 0.15,
    leverage: 2,
    evToEbitda: 8,
    revenueGrowth: 0.111,
  });
});

test("finds watch-list names despite spelling and order", () => {
  const record = parseDealRecord({
    ...clean,
    company: { ...clean.company, name: "Obsidian Trade Partners", directors: ["Amsel, Viktor"] },
  });
  const matches = screenNames(record);
  assert.deepEqual(matches.map((m) => m.entity).sort(), [
    "Obsidian Trade Partners LLC",
    "Viktor Amsel",
  ]);
  assert.equal(screenNames(parseDealRecord(clean)).length, 0);
});

test("scores risk and decides", () => {
  const ratios = { ebitdaMargin: 0.15, leverage: 2, evToEbitda: 8, revenueGrowth: 0.1 };
  assert.deepEqual(riskScore(ratios, [], "standard", []), { riskScore: 0, decision: "proceed" });
  assert.equal(
    riskScore({ ...ratios, leverage: 7, ebitdaMargin: 0.01 }, [], "elevated", ["x"]).decision,
    "review",
  );
  const hit = {
    subject: "a",
    entity: "b",
    list: "sanctions",
    severity: "high" as const,
    similarity: 0.97,
  };
  assert.equal(riskScore(ratios, [hit], "standard", []).decision, "decline");
});

test("runs the pipeline with one progress step each", async () => {
  const { context, progress } = await fakeContext(parseDealRecord(clean));
  const result = await jobUpdates.handler(context);
  assert.equal(result.decision, "proceed");
  assert.deepEqual(
    progress.map((p) => [p.percent, p.fields.step]),
    [
      [20, "consistency"],
      [40, "ratios"],
      [60, "watch-list"],
      [80, "country"],
      [100, "score"],
    ],
  );
});
