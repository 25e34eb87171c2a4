// The license check's decisions: SPDX expressions judged, and the production tree walked from
// the shipped workspaces through a lockfile as Node resolves packages.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { productionTree, resolveIn } from "../scripts/license-check.ts";
import { licenseVerdict, parseExpression } from "../scripts/license-policy.ts";

const kind = (license: string | undefined) => licenseVerdict(license).kind;

describe("licenseVerdict", () => {
  it("allows permissive licenses and denies the GPL family and the SSPL", () => {
    for (const license of ["MIT", "Apache-2.0", "ISC", "BSD-3-Clause", "0BSD", "PSF-2.0"])
      assert.equal(kind(license), "allowed", license);
    for (const license of [
      "GPL-3.0-only",
      "GPL-2.0-or-later",
      "GPL-2.0+",
      "AGPL-3.0-only",
      "LGPL-2.1-only",
      "SSPL-1.0",
    ])
      assert.equal(kind(license), "forbidden", license);
  });

  it("takes the better side of OR and the worse side of AND", () => {
    assert.equal(kind("(MIT OR GPL-3.0-only)"), "allowed");
    assert.equal(kind("GPL-3.0-only OR AGPL-3.0-only"), "forbidden");
    assert.equal(kind("MIT AND GPL-2.0-only"), "forbidden");
    assert.equal(kind("(MIT AND BSD-3-Clause) OR SSPL-1.0"), "allowed");
    assert.equal(kind("MIT AND (Apache-2.0 OR SSPL-1.0)"), "allowed");
    assert.equal(kind("MIT AND (AGPL-3.0-only OR SSPL-1.0)"), "forbidden");
    // AND binds tighter than OR: GPL OR (MIT AND ISC).
    assert.equal(kind("GPL-3.0-only OR MIT AND ISC"), "allowed");
    assert.equal(kind("mit OR GPL-3.0-only"), "unknown", "identifiers are matched exactly");
  });

  it("keeps a WITH exception on its license: GPL with the classpath exception is still GPL", () => {
    assert.equal(kind("GPL-2.0-only WITH Classpath-exception-2.0"), "forbidden");
    assert.equal(kind("Apache-2.0 WITH LLVM-exception"), "allowed");
  });

  it("calls a missing, proprietary or unparsable declaration unknown, and names the culprit", () => {
    assert.deepEqual(licenseVerdict(undefined), {
      kind: "unknown",
      license: "(none)",
      reason: "no license declared",
    });
    for (const license of ["", "  ", "SEE LICENSE IN LICENSE.md", "UNLICENSED", "(MIT", "MIT OR"])
      assert.equal(kind(license), "unknown", JSON.stringify(license));
    assert.deepEqual(licenseVerdict("MIT AND Elastic-2.0"), {
      kind: "unknown",
      license: "MIT AND Elastic-2.0",
      reason: "Elastic-2.0 is on neither list",
    });
    assert.deepEqual(licenseVerdict("MIT AND AGPL-3.0-only"), {
      kind: "forbidden",
      license: "MIT AND AGPL-3.0-only",
      reason: "AGPL-3.0-only is copyleft (denied)",
    });
  });

  it("parses nested parentheses and refuses dangling operators", () => {
    assert.ok(parseExpression("((MIT))"));
    assert.equal(parseExpression("MIT AND"), undefined);
    assert.equal(parseExpression("AND MIT"), undefined);
    assert.equal(parseExpression("MIT WITH"), undefined);
    assert.equal(parseExpression("MIT)"), undefined);
  });
});

describe("the production tree", () => {
  const packages = {
    "": { name: "root" },
    relay: { name: "@jobchannel/relay", dependencies: { a: "1", "@jobchannel/state": "0.1.0" } },
    state: { name: "@jobchannel/state", dependencies: { b: "1" } },
    "node_modules/@jobchannel/state": { link: true, resolved: "state" },
    "node_modules/a": { version: "1.0.0", license: "MIT", dependencies: { c: "1" } },
    "node_modules/a/node_modules/c": {
      version: "2.0.0",
      license: "GPL-3.0-only",
      optionalDependencies: { "not-installed": "1" },
    },
    "node_modules/c": { version: "1.0.0", license: "MIT" },
    "node_modules/b": {
      version: "1.0.0",
      license: "(MIT OR AGPL-3.0-only)",
      dependencies: { c: "1" },
    },
    "node_modules/dev-only": { version: "1.0.0", license: "SSPL-1.0", dev: true },
    worker: { name: "@jobchannel/worker", dependencies: { missing: "1" } },
    operator: { name: "@jobchannel/operator" },
    client: { name: "@jobchannel/client", peerDependencies: { c: "1" } },
  };

  it("resolves a name as Node does: nested node_modules first, then the parents'", () => {
    assert.equal(resolveIn(packages, "node_modules/a", "c"), "node_modules/a/node_modules/c");
    assert.equal(resolveIn(packages, "node_modules/b", "c"), "node_modules/c");
    assert.equal(resolveIn(packages, "relay", "a"), "node_modules/a");
    assert.equal(resolveIn(packages, "node_modules/a/node_modules/c", "b"), "node_modules/b");
    assert.equal(resolveIn(packages, "relay", "nothing"), undefined);
  });

  it("walks workspaces' dependencies through links, judges each package once, and skips dev-only ones", () => {
    const dir = mkdtempSync(join(tmpdir(), "jobchannel-licenses-"));
    try {
      writeFileSync(join(dir, "package-lock.json"), JSON.stringify({ packages }));
      const { found, unresolved } = productionTree(dir);
      const summary = Object.fromEntries(found.map((f) => [f.location, f.verdict.kind]));
      assert.deepEqual(summary, {
        "node_modules/a": "allowed",
        "node_modules/a/node_modules/c": "forbidden",
        "node_modules/b": "allowed",
        "node_modules/c": "allowed",
      });
      const gpl = found.find((f) => f.location === "node_modules/a/node_modules/c")!;
      assert.deepEqual(gpl.via, ["@jobchannel/relay", "a", "c"]);
      assert.deepEqual(unresolved, ["@jobchannel/worker > missing"], "optional ones may be absent");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
