// Writes the dashboard into the chart (npm run build:dashboard -w monitoring; make build runs it).
import { readFile, writeFile } from "node:fs/promises";
import { relative } from "node:path";
import { DASHBOARD_FILE } from "./chart-file.ts";
import { dashboardJson } from "./dashboard.ts";

const json = dashboardJson();
const previous = await readFile(DASHBOARD_FILE, "utf8").catch(() => undefined);
const where = relative(process.cwd(), DASHBOARD_FILE);
if (previous === json) {
  console.log(`${where} is up to date`);
} else {
  await writeFile(DASHBOARD_FILE, json);
  console.log(`${where} rewritten: commit it with the change to monitoring/src`);
}
