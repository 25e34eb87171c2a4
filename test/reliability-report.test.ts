// The reliability report's tables: records parsed and summed, rows rendered, and only the marked
// regions of the document rewritten.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import {
  cell,
  duration,
  failures,
  faultRows,
  hostileRows,
  parseFaults,
  parseHostile,
  refusalList,
  renderFaults,
  renderHostile,
  replaceRegion,
  type FaultRecord,
  type HostileRecord,
} from "../scripts/reliability-tables.ts";

const context = { profile: "full", generatedAt: new Date("2026-11-30T21:00:00Z") };

function fault(overrides: Partial<FaultRecord> = {}): FaultRecord {
  return {
    scenario: "relay SIGKILL",
    load: "100 jobs",
    faultsInjected: 1,
    updatesPublished: 400,
    finalUpdatesDelivered: 100,
    lost: 0,
    duplicatesShown: 0,
    recoverySeconds: 1.5,
    ...overrides,
  };
}

function hostile(overrides: Partial<HostileRecord> = {}): HostileRecord {
  return { surface: "relay: client frames", cases: 10, refusals: {}, crashes: 0, ...overrides };
}

describe("parsing", () => {
  test("reads one record per line, skipping blank lines and keeping the fields it knows", () => {
    const text = `${JSON.stringify({ ...fault(), at: "2026-11-30T20:00:00Z" })}\n\n${JSON.stringify(
      fault({ scenario: "b", recoverySeconds: null }),
    )}\n`;
    assert.deepEqual(parseFaults(text), [fault(), fault({ scenario: "b", recoverySeconds: null })]);
    assert.deepEqual(
      parseHostile(
        `${JSON.stringify({ ...hostile({ refusals: { "4400": 3 }, seed: 42 }), at: "x" })}\n`,
      ),
      [hostile({ refusals: { "4400": 3 }, seed: 42 })],
    );
  });

  test("names the file and line of a record that is not JSON or lacks a count", () => {
    assert.throws(
      () => parseFaults(`${JSON.stringify(fault())}\n{oops`, "f.jsonl"),
      /f\.jsonl:2: not JSON/,
    );
    assert.throws(
      () => parseFaults(JSON.stringify({ ...fault(), lost: -1 })),
      /faults\.jsonl:1: lost is not a count/,
    );
    assert.throws(
      () => parseFaults(JSON.stringify({ ...fault(), recoverySeconds: "soon" })),
      /recoverySeconds/,
    );
    assert.throws(
      () => parseHostile(JSON.stringify(hostile({ refusals: { "4400": 1.5 } }))),
      /refusals\.4400 is not a count/,
    );
    assert.throws(() => parseHostile("[1]"), /not a JSON object/);
  });
});

describe("rows", () => {
  test("sums the records of one scenario, keeps the longest recovery, and orders by scenario", () => {
    const rows = faultRows([
      fault({ scenario: "worker SIGKILL", recoverySeconds: null }),
      fault({ recoverySeconds: 2 }),
      fault({
        updatesPublished: 10,
        finalUpdatesDelivered: 5,
        duplicatesShown: 2,
        recoverySeconds: 0.5,
      }),
    ]);
    assert.deepEqual(
      rows.map((r) => [
        r.scenario,
        r.runs,
        r.updatesPublished,
        r.finalUpdatesDelivered,
        r.duplicatesShown,
        r.recoverySeconds,
      ]),
      [
        ["relay SIGKILL", 2, 410, 105, 2, 2],
        ["worker SIGKILL", 1, 400, 100, 0, null],
      ],
    );
  });

  test("sums the refusals of one surface by code, with every seed and the worst canary p99", () => {
    const [row] = hostileRows([
      hostile({ refusals: { "4400": 2, bad_request: 1 }, seed: 1, canaryP99Ms: 3 }),
      hostile({ refusals: { "4400": 5 }, seed: 2, canaryP99Ms: 9 }),
      hostile({ cases: 1, seed: 2 }),
    ]);
    assert.deepEqual(row, {
      surface: "relay: client frames",
      cases: 21,
      refusals: { "4400": 7, bad_request: 1 },
      crashes: 0,
      seeds: [1, 2],
      canaryP99Ms: 9,
      runs: 3,
    });
  });
});

describe("rendering", () => {
  test("writes the Faults table with its columns and a line naming the run", () => {
    const out = renderFaults(
      [fault(), fault({ scenario: "soak", load: "30 min | 20 updates/s", recoverySeconds: null })],
      context,
    );
    assert.equal(
      out,
      [
        "_Generated on 2026-11-30 from the full profile (`make reliability`): 2 fault scenario runs recorded._",
        "",
        "| scenario | load | faults injected | updates published | final updates delivered | lost | duplicates shown to users | recovery time |",
        "|---|---|---|---|---|---|---|---|",
        "| relay SIGKILL | 100 jobs | 1 | 400 | 100 | 0 | 0 | 1.5 s |",
        "| soak | 30 min \\| 20 updates/s | 1 | 400 | 100 | 0 | 0 | – |",
      ].join("\n"),
    );
  });

  test("shows a nonzero loss or crash in bold, and says which profile produced a reduced report", () => {
    const reduced = { ...context, profile: "reduced" };
    const faults = renderFaults([fault({ lost: 1200 })], reduced);
    assert.match(faults, /the reduced profile of `make test`/);
    assert.match(faults, /\| \*\*1,200\*\* \|/);
    const hostileOut = renderHostile([hostile({ crashes: 1 })], reduced);
    assert.match(hostileOut, /\| \*\*1\*\* \|/);
  });

  test("writes the Hostile-input table with refusals by code, numeric codes first", () => {
    const out = renderHostile(
      [
        hostile({
          cases: 1500,
          refusals: { unauthorized: 3, "4413": 2, "400": 1, "1013": 0 },
          seed: 7,
          canaryP99Ms: 4.26,
        }),
      ],
      context,
    );
    assert.match(
      out,
      /^\| surface \| cases tried \| refusals by code \| crashes \| canary p99 \| seeds \|$/m,
    );
    assert.match(
      out,
      /^\| relay: client frames \| 1,500 \| `400` × 1, `4413` × 2, `unauthorized` × 3 \| 0 \| 4\.3 ms \| 7 \|$/m,
    );
  });

  test("says so when nothing was recorded", () => {
    assert.match(renderFaults([], context), /No fault scenario recorded figures\./);
    assert.match(renderHostile([], context), /No hostile-input suite recorded figures\./);
  });

  test("formats cells, durations and empty refusals", () => {
    assert.equal(cell("a|b\nc"), "a\\|b c");
    assert.equal(duration(null), "–");
    assert.equal(duration(0.04), "0.0 s");
    assert.equal(duration(12.4), "12 s");
    assert.equal(duration(1800), "30.0 min");
    assert.equal(refusalList({}), "none");
  });
});

describe("regions", () => {
  const doc = [
    "# Report",
    "<!-- faults:begin -->",
    "old faults",
    "<!-- faults:end -->",
    "between",
    "<!-- hostile:begin -->",
    "<!-- hostile:end -->",
    "<!-- mutation:begin -->",
    "scores",
    "<!-- mutation:end -->",
    "",
  ].join("\n");

  test("replaces only what lies between a region's markers", () => {
    const out = replaceRegion(replaceRegion(doc, "faults", "new faults\n"), "hostile", "H");
    assert.equal(
      out,
      doc
        .replace("old faults", "new faults")
        .replace("<!-- hostile:begin -->\n", "<!-- hostile:begin -->\nH\n"),
    );
    assert.equal(replaceRegion(out, "faults", "new faults"), out, "rewriting is idempotent");
  });

  test("refuses a document without the region or with it twice", () => {
    assert.throws(() => replaceRegion("no markers", "faults", "x"), /no <!-- faults:begin -->/);
    assert.throws(
      () => replaceRegion(`${doc}<!-- faults:begin -->`, "faults", "x"),
      /two <!-- faults:begin --> markers/,
    );
  });
});

describe("failures", () => {
  test("lists each scenario that lost a final update and each surface that crashed", () => {
    assert.deepEqual(failures([fault()], [hostile()]), []);
    assert.deepEqual(
      failures([fault({ lost: 2 }), fault({ scenario: "x" })], [hostile({ crashes: 1 })]),
      ["relay SIGKILL: 2 final updates lost", "relay: client frames: 1 crashes"],
    );
  });
});

describe("the report script", () => {
  test("rewrites the two tables of a document from a directory of records and fails on a loss", () => {
    const dir = mkdtempSync(join(tmpdir(), "jobchannel-report-"));
    try {
      const file = join(dir, "reliability.md");
      writeFileSync(file, doc());
      writeFileSync(join(dir, "faults.jsonl"), `${JSON.stringify(fault())}\n`);
      writeFileSync(join(dir, "hostile.jsonl"), `${JSON.stringify(hostile())}\n`);
      const run = () =>
        spawnSync(
          process.execPath,
          [join(import.meta.dirname, "../scripts/reliability-report.ts"), "--doc", file],
          {
            env: {
              ...process.env,
              JOBCHANNEL_RELIABILITY_DIR: dir,
              JOBCHANNEL_RELIABILITY_PROFILE: "full",
            },
            encoding: "utf8",
          },
        );
      const ok = run();
      assert.equal(ok.status, 0, ok.stderr);
      const written = readFileSync(file, "utf8");
      assert.match(written, /\| relay SIGKILL \| 100 jobs \|/);
      assert.match(written, /\| relay: client frames \| 10 \| none \| 0 \|/);
      assert.match(written, /<!-- mutation:begin -->\nkept\n<!-- mutation:end -->/);
      assert.ok(written.startsWith("# Reliability\n\nintro\n"));

      writeFileSync(join(dir, "faults.jsonl"), `${JSON.stringify(fault({ lost: 3 }))}\n`);
      const lost = run();
      assert.equal(lost.status, 1);
      assert.match(lost.stderr, /relay SIGKILL: 3 final updates lost/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }

    function doc(): string {
      return [
        "# Reliability",
        "",
        "intro",
        "<!-- faults:begin -->",
        "<!-- faults:end -->",
        "<!-- hostile:begin -->",
        "<!-- hostile:end -->",
        "<!-- mutation:begin -->",
        "kept",
        "<!-- mutation:end -->",
        "",
      ].join("\n");
    }
  });
});
