// bin/helm for tests that render and lint the chart without a cluster: its cache and config in a folder of the caller's.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { loadAllYaml } from "@kubernetes/client-node";
import { repoRoot, toolPath } from "../../src/paths.ts";

const execFileAsync = promisify(execFile);

/** The chart folder. */
export const CHART = join(repoRoot(), "charts", "jobchannel");

/** Runs bin/helm with HELM_CACHE_HOME, HELM_CONFIG_HOME and HELM_DATA_HOME under `home`; never contacts a cluster. */
export async function helmOffline(home: string, args: readonly string[]): Promise<string> {
  const env = {
    ...process.env,
    HELM_CACHE_HOME: join(home, "cache"),
    HELM_CONFIG_HOME: join(home, "config"),
    HELM_DATA_HOME: join(home, "data"),
  };
  try {
    const { stdout } = await execFileAsync(toolPath("helm"), [...args], { env, timeout: 30_000 });
    return stdout;
  } catch (error) {
    const { stderr = "" } = error as { stderr?: string };
    throw new Error(`helm ${args.join(" ")} failed: ${stderr.trim()}`, { cause: error });
  }
}

/** The objects of a multi-document manifest (comments and empty documents dropped). */
export function parseManifests<T>(text: string): T[] {
  return text
    .split(/^---\s*$/m)
    .filter((doc) => /^apiVersion:/m.test(doc))
    .flatMap((doc) => loadAllYaml(doc) as T[]);
}

/** `helm template jobchannel <chart> -n jobchannel ...args`, parsed. */
export async function renderChart<T>(home: string, ...args: string[]): Promise<T[]> {
  return parseManifests<T>(
    await helmOffline(home, ["template", "jobchannel", CHART, "-n", "jobchannel", ...args]),
  );
}
