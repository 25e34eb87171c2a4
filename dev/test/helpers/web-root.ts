// The web root the browser test serves: the built dashboard, plus the original guide's example
// component built into /guide-example/.
import { cpSync, existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "vite";

const root = join(import.meta.dirname, "../../..");
export const DASHBOARD_DIST = join(root, "client/dashboard/dist");
const GUIDE_PAGE = join(root, "client/test/fixtures/guide-page");

/** A temporary directory holding the dashboard at / and the guide's component at /guide-example/. */
export async function buildWebRoot(): Promise<string> {
  if (!existsSync(join(DASHBOARD_DIST, "index.html"))) {
    throw new Error(`${DASHBOARD_DIST} is not built: run npm run build (make test does)`);
  }
  const dir = mkdtempSync(join(tmpdir(), "jobchannel-web-"));
  cpSync(DASHBOARD_DIST, dir, { recursive: true });
  await build({
    root: GUIDE_PAGE,
    configFile: false,
    base: "./",
    logLevel: "warn",
    oxc: { jsx: { runtime: "automatic" } },
    build: {
      outDir: join(dir, "guide-example"),
      emptyOutDir: true,
      target: "es2022",
      rolldownOptions: {
        // The guide's component starts with "use client" (a Next.js directive), kept verbatim.
        onwarn(warning, warn) {
          if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
        },
      },
    },
  });
  return dir;
}
