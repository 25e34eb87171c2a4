// The mutation report: counts per module, equivalent mutants matched and left out of the score,
// and the region's table and lists.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { render, score, summarise, type Report } from "../scripts/mutation.ts";

const mutant = (status: string, line: number, mutatorName = "ConditionalExpression") => ({
  mutatorName,
  replacement: "true",
  status,
  location: { start: { line, column: 1 } },
});

const report: Report = {
  files: {
    "src/b.ts": { mutants: [mutant("Killed", 1), mutant("Survived", 2), mutant("Timeout", 3)] },
    "src/a.ts": {
      mutants: [
        mutant("Killed", 1),
        mutant("NoCoverage", 2),
        mutant("CompileError", 3),
        mutant("Survived", 4, "EqualityOperator"),
      ],
    },
  },
};

describe("the mutation report", () => {
  it("counts each module's valid mutants and matches equivalent survivors by place and mutator", () => {
    const { modules, survivors } = summarise("pkg", report, [
      { package: "pkg", file: "src/a.ts", line: 4, mutator: "EqualityOperator", reason: "same" },
      { package: "pkg", file: "src/b.ts", line: 2, mutator: "StringLiteral", reason: "other" },
    ]);
    assert.deepEqual([...modules.keys()], ["pkg/src/a.ts", "pkg/src/b.ts"]);
    assert.deepEqual(modules.get("pkg/src/a.ts"), {
      mutants: 3,
      killed: 1,
      survived: 1,
      timeout: 0,
      noCoverage: 1,
      equivalent: 1,
    });
    assert.deepEqual(
      survivors.map((s) => [s.file, s.line, s.status, s.reason]),
      [
        ["src/a.ts", 2, "NoCoverage", undefined],
        ["src/a.ts", 4, "Survived", "same"],
        ["src/b.ts", 2, "Survived", undefined],
      ],
    );
  });

  it("scores killed and timed-out mutants over the valid ones less the equivalent", () => {
    const base = { mutants: 10, killed: 6, survived: 2, timeout: 1, noCoverage: 1, equivalent: 0 };
    assert.equal(score(base), 70);
    assert.equal(score({ ...base, equivalent: 1 }), (100 * 7) / 9);
    assert.equal(
      score({ ...base, mutants: 0, killed: 0, survived: 0, timeout: 0, noCoverage: 0 }),
      100,
    );
  });

  it("renders package rows in bold over their modules, then the equivalent and the open survivors", () => {
    const summary = summarise("pkg", report, [
      { package: "pkg", file: "src/a.ts", line: 4, mutator: "EqualityOperator", reason: "same" },
    ]);
    const text = render([{ pkg: "pkg", ...summary }], {
      date: "2026-11-30",
      node: "24.21.0",
      stryker: "10.0.0",
    });
    assert.match(
      text,
      /\| \*\*pkg\*\* \| \*\*6\*\* \| \*\*2\*\* \| \*\*2\*\* \| \*\*1\*\* \| \*\*1\*\* \| \*\*1\*\* \| \*\*50\.0 %\*\* \| \*\*60\.0 %\*\* \|/,
    );
    assert.match(text, /\| pkg\/src\/b\.ts \| 3 \| 1 \| 1 \| 1 \| 0 \| 0 \| 66\.7 % \| 66\.7 % \|/);
    assert.match(
      text,
      /Equivalent mutants \(1\)[^\n]*\n\n- `pkg\/src\/a\.ts:4` EqualityOperator → `true`: same/,
    );
    assert.match(
      text,
      /count against the score:\n\n- `pkg\/src\/a\.ts:2` [^\n]*\(NoCoverage\)\n- `pkg\/src\/b\.ts:2`/,
    );
  });
});
