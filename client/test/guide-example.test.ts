// The original guide's example component (test/fixtures/guide-example.tsx, verbatim but for the
// import path) must type-check against @jobchannel/client/react, as must these tests.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, it } from "node:test";

const here = import.meta.dirname;

describe("the guide's example component", () => {
  it("imports useWebSocket and BaseJob from @jobchannel/client/react", () => {
    const source = readFileSync(join(here, "fixtures/guide-example.tsx"), "utf8");
    assert.match(
      source,
      /import \{ useWebSocket, type BaseJob \} from "@jobchannel\/client\/react";/,
    );
  });

  it("type-checks against the hook", () => {
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    const result = spawnSync(process.execPath, [tsc, "-p", join(here, "tsconfig.json")], {
      encoding: "utf8",
    });
    assert.equal(result.status, 0, `tsc failed:\n${result.stdout}${result.stderr}`);
  });
});
