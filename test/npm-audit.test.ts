// The audit phase's decisions: no report is no verdict (never a pass by accident), and a high or
// critical finding fails unless it is explained.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { judgeAudit } from "../scripts/npm-audit.ts";

const report = (vulnerabilities: Record<string, unknown>, counts: Record<string, number>) =>
  JSON.stringify({ vulnerabilities, metadata: { vulnerabilities: counts } });

describe("judgeAudit", () => {
  it("reports no verdict when the registry refuses the advisory request, without its address", () => {
    const refused = JSON.stringify({
      message:
        "405 Method Not Allowed - POST https://registry.example/-/npm/v1/security/advisories/bulk",
      statusCode: 405,
    });
    const outcome = judgeAudit(refused, []);
    assert.equal(outcome.kind, "no-verdict");
    assert.match(outcome.kind === "no-verdict" ? outcome.detail : "", /HTTP 405/);
    assert.doesNotMatch(outcome.kind === "no-verdict" ? outcome.detail : "", /registry\.example/);
    assert.equal(judgeAudit("", []).kind, "no-verdict");
  });

  it("passes low and moderate findings and fails an unexplained high or critical one", () => {
    const counts = { info: 0, low: 1, moderate: 1, high: 1, critical: 0 };
    const vulns = {
      a: { severity: "moderate", via: [{ url: "https://github.com/advisories/GHSA-aaaa" }] },
      b: { severity: "high", via: [{ url: "https://github.com/advisories/GHSA-bbbb" }] },
      c: { severity: "high", via: ["b"] },
    };
    assert.deepEqual(judgeAudit(report({ a: vulns.a }, counts), []), {
      kind: "clean",
      counts,
    });
    const outcome = judgeAudit(report(vulns, counts), []);
    assert.equal(outcome.kind, "findings");
    assert.deepEqual(outcome.kind === "findings" ? outcome.unexplained : [], [
      "high: b (https://github.com/advisories/GHSA-bbbb)",
      "high: c (via b)",
    ]);
  });

  it("accepts a finding only when every advisory behind it is explained for that package", () => {
    const counts = { high: 1, critical: 1 };
    const vulns = {
      b: {
        severity: "critical",
        via: [
          { url: "https://github.com/advisories/GHSA-bbbb" },
          { url: "https://github.com/advisories/GHSA-cccc" },
        ],
      },
    };
    const one = [{ package: "b", advisory: "GHSA-bbbb", reason: "not reachable" }];
    const both = [...one, { package: "b", advisory: "GHSA-cccc", reason: "not reachable" }];
    const wrongPackage = [{ package: "x", advisory: "GHSA-bbbb", reason: "" }];
    const partly = judgeAudit(report(vulns, counts), one);
    assert.equal(partly.kind === "findings" && partly.unexplained.length, 1);
    const explained = judgeAudit(report(vulns, counts), both);
    assert.equal(explained.kind === "findings" && explained.unexplained.length, 0);
    assert.equal(explained.kind === "findings" && explained.explained.length, 1);
    const elsewhere = judgeAudit(report(vulns, counts), wrongPackage);
    assert.equal(elsewhere.kind === "findings" && elsewhere.unexplained.length, 1);
  });
});
