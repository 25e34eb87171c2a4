// The chart's manifests of every value set, applied with server-side dry-run to the real local control plane (no node) after the CRDs they use.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startControlPlane, type ControlPlane } from "../src/control-plane.ts";
import { repoRoot } from "../src/paths.ts";
import { kubectl } from "../src/tools.ts";
import { VALUE_SET_NAMESPACES, VALUE_SETS } from "./helpers/chart-values.ts";
import { CHART, helmOffline, parseManifests } from "./helpers/helm-offline.ts";

/** Where e2e/scripts/build-tools.sh (`make tools`) links the upstream CRDs it fetched. */
function upstreamCrds(name: "prometheus-operator" | "gateway-api"): string {
  return join(process.env["JOBCHANNEL_BIN_DIR"] ?? join(repoRoot(), "bin"), "crds", name);
}

/** The CRDs the value sets need: the Prometheus Operator's and the Gateway API's, from upstream. */
const UPSTREAM_CRDS = {
  "prometheus-operator": [
    "servicemonitors.monitoring.coreos.com",
    "podmonitors.monitoring.coreos.com",
    "prometheusrules.monitoring.coreos.com",
  ],
  "gateway-api": [
    "gatewayclasses.gateway.networking.k8s.io",
    "gateways.gateway.networking.k8s.io",
    "httproutes.gateway.networking.k8s.io",
    "referencegrants.gateway.networking.k8s.io",
  ],
} as const;

describe(
  "the jobchannel chart on the real API server (server-side dry-run)",
  { timeout: 110_000, concurrency: true },
  () => {
    let plane: ControlPlane;
    let helmHome: string;
    const run = (args: readonly string[], input?: string): Promise<string> =>
      kubectl(args, {
        kubeconfig: plane.kubeconfigPath,
        ...(input === undefined ? {} : { input }),
      });
    const template = (args: readonly string[]): Promise<string> =>
      helmOffline(helmHome, ["template", "jobchannel", CHART, "-n", "jobchannel", ...args]);
    const dryRun = (manifests: string): Promise<string> =>
      run(
        ["apply", "--server-side", "--dry-run=server", "--field-manager=helm", "-f", "-"],
        manifests,
      );

    before(async () => {
      const files: string[] = [];
      for (const name of Object.keys(UPSTREAM_CRDS) as (keyof typeof UPSTREAM_CRDS)[]) {
        const dir = upstreamCrds(name);
        assert.ok(existsSync(dir), `no upstream CRDs at ${dir}: run \`make tools\``);
        files.push(
          ...(await readdir(dir)).filter((f) => f.endsWith(".yaml")).map((f) => join(dir, f)),
        );
      }
      helmHome = await mkdtemp(join(tmpdir(), "jobchannel-helm-"));
      plane = await startControlPlane();
      for (const namespace of VALUE_SET_NAMESPACES) await run(["create", "namespace", namespace]);
      // The JobChannel CRD as the chart renders it, applied as Helm would; then upstream's, as published.
      await run(
        ["apply", "--server-side", "--field-manager=helm", "-f", "-"],
        await template(["--show-only", "templates/crd.yaml"]),
      );
      await run(["apply", "--server-side", ...files.flatMap((f) => ["-f", f])]);
      await run([
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/jobchannels.jobchannel.io",
        ...Object.values(UPSTREAM_CRDS)
          .flat()
          .map((crd) => `crd/${crd}`),
      ]);
    });

    after(async () => {
      await plane?.stop();
      if (helmHome) await rm(helmHome, { recursive: true, force: true });
    });

    for (const [name, args] of Object.entries(VALUE_SETS)) {
      it(`accepts every object of the ${name} value set`, async () => {
        const manifests = await template(args);
        const objects = parseManifests<{ kind: string; metadata: { name: string } }>(manifests);
        const applied = (await dryRun(manifests))
          .split("\n")
          .filter((line) => line.endsWith("serverside-applied (server dry run)"));
        assert.equal(
          applied.length,
          objects.length,
          `one dry-run apply per object:\n${applied.join("\n")}`,
        );
      });
    }

    it("refuses what an upstream CRD's validation rules forbid, so the dry-run does check the custom resources", async () => {
      // values.schema.json allows each duration; the Gateway API CRD's CEL rule refuses the pair.
      const manifests = await template([
        ...(VALUE_SETS["everything optional on"] ?? []),
        "--set",
        "relay.httpRoute.timeouts.request=1s",
        "--set",
        "relay.httpRoute.timeouts.backendRequest=2s",
      ]);
      await assert.rejects(
        dryRun(manifests),
        /backendRequest timeout cannot be longer than request timeout/,
      );
    });
  },
);
