// Checks that docs/errors.md lists every error code and close code the packages define.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const root = join(import.meta.dirname, "..");
const doc = readFileSync(join(root, "docs/errors.md"), "utf8");
const { workspaces } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  workspaces: string[];
};

const missing: string[] = [];
for (const ws of workspaces) {
  const file = join(root, ws, "dist", "errors.js");
  if (!existsSync(file)) continue;
  const mod = (await import(pathToFileURL(file).href)) as {
    ERROR_CODES?: readonly { code: string }[];
  };
  for (const { code } of mod.ERROR_CODES ?? []) {
    if (!doc.includes(`\`${code}\``)) missing.push(`${ws}: \`${code}\``);
  }
}
const protocol = (await import(pathToFileURL(join(root, "protocol/dist/index.js")).href)) as {
  CLOSE_CODES: readonly { code: number }[];
};
for (const { code } of protocol.CLOSE_CODES) {
  if (!new RegExp(`\\|\\s*${code}\\s*\\|`).test(doc)) missing.push(`close code ${code}`);
}
if (missing.length > 0) {
  console.error(`docs/errors.md does not list:\n  ${missing.join("\n  ")}`);
  process.exit(1);
}
console.log("docs/errors.md lists every error and close code");
