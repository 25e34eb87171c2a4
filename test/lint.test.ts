// Proves the root lint configuration fails on an import cycle and on an ordinary lint error.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { ESLint } from "eslint";

const root = join(import.meta.dirname, "..");
const fixtures = join(import.meta.dirname, "fixtures/lint-cycle");

async function ruleIds(file: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: root, ignore: false });
  const [result] = await eslint.lintFiles([join(fixtures, file)]);
  return (result?.messages ?? []).map((m) => m.ruleId ?? "");
}

test("the lint refuses an import cycle", async () => {
  assert.ok((await ruleIds("a.ts")).includes("import-x/no-cycle"));
});

test("the lint refuses an unused variable", async () => {
  assert.ok((await ruleIds("unused.ts")).includes("@typescript-eslint/no-unused-vars"));
});
