// The chart's operator RBAC is exact: the operator, run under the ServiceAccount and rules the chart
// renders, does its whole job against a real API server, and fails at it when any one verb is removed.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { dumpYaml, loadYaml } from "@kubernetes/client-node";
import { freePort, startProcess, waitFor } from "@jobchannel/testkit";
import { startControlPlane, type ControlPlane } from "../src/control-plane.ts";
import { repoRoot } from "../src/paths.ts";
import { kubectl } from "../src/tools.ts";
import { renderChart } from "./helpers/helm-offline.ts";

const root = repoRoot();
const OPERATOR_BIN = join(root, "operator", "bin", "jobchannel-operator.js");
/** How long one step of the run may take before it counts as failed. */
const STEP_MS = 15_000;
/** Scenarios run at once, each with its own release, namespaces and operator process. */
const PARALLEL = 6;

interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}
interface RbacObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: PolicyRule[];
}

/** One verb on one resource of a rendered Role or ClusterRole. */
interface Grant {
  readonly kind: string;
  readonly rule: number;
  readonly resource: string;
  readonly verb: string;
}

function grantsOf(objects: readonly RbacObject[]): Grant[] {
  return objects.flatMap((object) =>
    object.kind === "Role" || object.kind === "ClusterRole"
      ? (object.rules ?? []).flatMap((rule, index) => {
          assert.equal(rule.resources.length, 1, `${object.kind} rule ${index}: one resource`);
          const group = rule.apiGroups[0] ? `${rule.apiGroups[0]}/` : "";
          return rule.verbs.map((verb) => ({
            kind: object.kind,
            rule: index,
            resource: `${group}${rule.resources[0]}`,
            verb,
          }));
        })
      : [],
  );
}

/** The rendered objects with `grant` taken out of its rule. */
function without(objects: readonly RbacObject[], grant: Grant | undefined): RbacObject[] {
  return objects.map((object) =>
    grant && object.kind === grant.kind
      ? {
          ...object,
          // A rule left without verbs is invalid: it goes.
          rules: (object.rules ?? [])
            .map((rule, index) =>
              index === grant.rule
                ? { ...rule, verbs: rule.verbs.filter((v) => v !== grant.verb) }
                : rule,
            )
            .filter((rule) => rule.verbs.length > 0),
        }
      : object,
  );
}

describe("the chart's operator RBAC", { timeout: 900_000 }, () => {
  let controlPlane: ControlPlane;
  let kubeconfig: string;
  const k = (args: string[], input?: string) =>
    kubectl(args, { kubeconfig, timeoutMs: 60_000, ...(input === undefined ? {} : { input }) });
  let helmHome: string;

  before(async () => {
    controlPlane = await startControlPlane({ handleSignals: false });
    kubeconfig = controlPlane.kubeconfigPath;
    helmHome = join(controlPlane.dir, "helm");
    await k(["apply", "--server-side", "-f", join(root, "crds", "jobchannels.jobchannel.io.yaml")]);
    await k([
      "wait",
      "--for=condition=Established",
      "crd/jobchannels.jobchannel.io",
      "--timeout=60s",
    ]);
  });

  after(async () => {
    await controlPlane?.stop();
  });

  /** The chart's operator ServiceAccount and RBAC, named `r<id>-operator`, in `op<id>`, watching `w<id>`. */
  const render = (id: number) =>
    renderChart<RbacObject>(
      helmHome,
      "--namespace",
      `op${id}`,
      "--set",
      `fullnameOverride=r${id}`,
      "--set",
      `operator.watchNamespaces={w${id}}`,
      "--show-only",
      "templates/operator-rbac.yaml",
      "--show-only",
      "templates/operator-serviceaccount.yaml",
    );

  /**
   * Installs the RBAC (less `grant`), runs the operator under its ServiceAccount and walks it
   * through its job; resolves with the first step that did not happen in time, or undefined.
   */
  async function run(id: number, grant: Grant | undefined): Promise<string | undefined> {
    const [op, ws] = [`op${id}`, `w${id}`];
    await k(["create", "namespace", op]);
    await k(["create", "namespace", ws]);
    const objects = without(await render(id), grant);
    await k(["apply", "--server-side", "-f", "-"], objects.map((o) => dumpYaml(o)).join("---\n"));
    const account = objects.find((o) => o.kind === "ServiceAccount")?.metadata.name;
    assert.ok(account);
    const token = (await k(["-n", op, "create", "token", account, "--duration=1h"])).trim();
    const config = loadYaml(await readFile(kubeconfig, "utf8")) as {
      users: unknown[];
      contexts: { context: { user: string } }[];
    };
    config.users = [{ name: account, user: { token } }];
    for (const context of config.contexts) context.context.user = account;
    const operatorKubeconfig = join(controlPlane.dir, `operator-${id}.kubeconfig`);
    await writeFile(operatorKubeconfig, dumpYaml(config), { mode: 0o600 });
    // The operator's own Deployment, which owns the relay ConfigMap (JOBCHANNEL_OPERATOR_DEPLOYMENT);
    // no node runs its pods here, the object is enough.
    const deployment = `r${id}-operator`;
    await k(
      ["apply", "--server-side", "-f", "-"],
      `apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: ${deployment}, namespace: ${op}}\nspec:\n  replicas: 0\n  selector: {matchLabels: {app: ${deployment}}}\n  template:\n    metadata: {labels: {app: ${deployment}}}\n    spec: {containers: [{name: operator, image: jobchannel/operator:none}]}\n`,
    );
    const uid = await k([
      "-n",
      op,
      "get",
      "deployment",
      deployment,
      "-o",
      "jsonpath={.metadata.uid}",
    ]);
    const port = await freePort();
    const operator = startProcess(
      process.execPath,
      [
        OPERATOR_BIN,
        // Renewals every second (the first step counts them), with the default lease and renew
        // deadline: six operators run at once here, and a leader that cannot renew in time exits.
        "--lease-duration-seconds=15",
        "--renew-deadline-seconds=10",
        "--retry-period-seconds=1",
      ],
      {
        env: {
          ...process.env,
          KUBECONFIG: operatorKubeconfig,
          JOBCHANNEL_NAMESPACE: op,
          JOBCHANNEL_OPERATOR_DEPLOYMENT: deployment,
          WATCH_NAMESPACES: ws,
          LEADER_ELECTION: "true",
          PORT: String(port),
          LOG_LEVEL: "info",
        },
      },
    );
    const step = async (
      name: string,
      check: () => Promise<boolean>,
    ): Promise<string | undefined> => {
      try {
        await waitFor(async () => check().catch(() => false), {
          timeoutMs: STEP_MS,
          intervalMs: 250,
          what: name,
        });
        return undefined;
      } catch {
        return name;
      }
    };
    /** `kubectl patch` of the JobChannel demo; a json patch whose path is gone already is fine. */
    const patchDemo = (type: "merge" | "json", patch: string) =>
      k(["-n", ws, "patch", "jobchannel", "demo", `--type=${type}`, "-p", patch]).catch((error) => {
        if (type === "merge") throw error;
        return "";
      });
    const get = async (args: string[], path: string) =>
      k([...args, "--ignore-not-found", "-o", `jsonpath=${path}`]).catch(() => "");
    try {
      // Started (its /metrics answers) before the clock of the first step runs; an operator that
      // exits at start-up (it could not read its Deployment) fails the first step.
      const up = await waitFor<"up" | "exited">(
        () =>
          operator.child.exitCode !== null
            ? ("exited" as const)
            : fetch(`http://127.0.0.1:${port}/metrics`).then(
                (r) => (r.ok ? ("up" as const) : false),
                () => false,
              ),
        { timeoutMs: 90_000, what: `operator ${id} to start:\n${operator.logTail()}` },
      );
      if (up === "exited") return "starts";
      /** Watch restarts after an error, over every watcher. */
      const watchErrors = async () => {
        const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        return [
          ...metrics.matchAll(
            /^jobchannel_operator_watch_restarts_total\{[^}]*reason="error"[^}]*\} (\d+)/gm,
          ),
        ].reduce((sum, m) => sum + Number(m[1]), 0);
      };
      // A list the API server refuses while it still initializes a new resource's storage right
      // after start-up is retried at once; only restarts after that count.
      let watchErrorsAtStart = 0;
      const renewals = new Set<string>();
      const steps: [string, () => Promise<boolean>][] = [
        [
          "leads and renews its Lease",
          async () => {
            const renew = await get(
              ["-n", op, "get", "lease", "jobchannel-operator"],
              "{.spec.renewTime}",
            );
            if (renew) renewals.add(renew);
            watchErrorsAtStart = await watchErrors();
            return renewals.size >= 3;
          },
        ],
        [
          "applies the JobChannel's worker Deployment and Service",
          async () => {
            await k(
              ["apply", "--server-side", "-f", "-"],
              `apiVersion: jobchannel.io/v1alpha1\nkind: JobChannel\nmetadata: {name: demo, namespace: ${ws}}\nspec:\n  access: public\n  visibility: channel\n  worker: {jobType: job-updates, replicas: 1}\n`,
            );
            const names = await get(
              ["-n", ws, "get", "deployments,services"],
              "{.items[*].metadata.name}",
            );
            return names === "demo-worker demo-worker";
          },
        ],
        [
          "applies the worker PodDisruptionBudget",
          async () =>
            (await get(["-n", ws, "get", "poddisruptionbudgets"], "{.items[*].metadata.name}")) ===
            "demo-worker",
        ],
        [
          "writes the relay ConfigMap",
          async () =>
            (
              await get(
                ["-n", op, "get", "configmap", "jobchannel-relay"],
                "{.data.channels\\.json}",
              )
            ).includes('"demo"'),
        ],
        [
          "makes its own Deployment the relay ConfigMap's owner",
          async () =>
            (await get(
              ["-n", op, "get", "configmap", "jobchannel-relay"],
              "{.metadata.ownerReferences[*].uid}",
            )) === uid,
        ],
        [
          "writes the JobChannel's status",
          async () =>
            (await get(["-n", ws, "get", "jobchannel", "demo"], "{.status.observedGeneration}")) ===
            "1",
        ],
        [
          // No Secret jobchannel-redis exists in the JobChannel's namespace: a metadata-only GET says so.
          "says which Redis Secret is missing",
          async () =>
            (await get(
              ["-n", ws, "get", "jobchannel", "demo"],
              '{.status.conditions[?(@.type=="WorkersAvailable")].reason}',
            )) === "RedisSecretMissing",
        ],
        [
          "records Events on the JobChannel",
          async () =>
            (await get(
              ["-n", ws, "get", "events.events.k8s.io", "--field-selector", "regarding.name=demo"],
              "{.items[*].reason}",
            )) !== "",
        ],
        [
          "patches the worker Deployment when the JobChannel changes",
          async () => {
            await patchDemo("merge", '{"spec":{"worker":{"replicas":2}}}');
            return (
              (await get(["-n", ws, "get", "deployment", "demo-worker"], "{.spec.replicas}")) ===
              "2"
            );
          },
        ],
        [
          "creates a HorizontalPodAutoscaler when the JobChannel autoscales",
          async () => {
            await patchDemo(
              "merge",
              '{"spec":{"worker":{"autoscaling":{"maxReplicas":3,"targetCPUUtilizationPercentage":60}}}}',
            );
            return (
              (await get(["-n", ws, "get", "hpa", "demo-worker"], "{.spec.maxReplicas}")) === "3"
            );
          },
        ],
        [
          "patches the HorizontalPodAutoscaler when autoscaling changes",
          async () => {
            await patchDemo("merge", '{"spec":{"worker":{"autoscaling":{"maxReplicas":4}}}}');
            return (
              (await get(["-n", ws, "get", "hpa", "demo-worker"], "{.spec.maxReplicas}")) === "4"
            );
          },
        ],
        [
          "deletes the HorizontalPodAutoscaler when autoscaling goes",
          async () => {
            await patchDemo("json", '[{"op":"remove","path":"/spec/worker/autoscaling"}]');
            return (await get(["-n", ws, "get", "hpa"], "{.items[*].metadata.name}")) === "";
          },
        ],
        [
          "deletes the worker Deployment, Service and PodDisruptionBudget when the JobChannel drops its worker",
          async () => {
            await patchDemo("json", '[{"op":"remove","path":"/spec/worker"}]');
            return (
              (await get(
                ["-n", ws, "get", "deployments,services,poddisruptionbudgets"],
                "{.items[*].metadata.name}",
              )) === ""
            );
          },
        ],
        [
          "removes a deleted JobChannel from the relay ConfigMap",
          async () => {
            await k([
              "-n",
              ws,
              "delete",
              "jobchannel",
              "demo",
              "--ignore-not-found",
              "--wait=false",
            ]);
            const json = await get(
              ["-n", op, "get", "configmap", "jobchannel-relay"],
              "{.data.channels\\.json}",
            );
            return json !== "" && !json.includes('"demo"');
          },
        ],
        [
          // A watch the API refuses is retried and replaced by relists: the work still gets done,
          // late, and the operator counts every restart.
          "keeps its watches open",
          async () => (await watchErrors()) === watchErrorsAtStart,
        ],
      ];
      for (const [name, check] of steps) {
        const failed = await step(name, check);
        if (failed) {
          if (!grant) console.log(`# the operator's log:\n${operator.logTail()}`);
          return failed;
        }
      }
      return undefined;
    } finally {
      await operator.stop();
    }
  }

  it("lets the operator do its whole job under the chart's ServiceAccount, and no verb can be taken away", async () => {
    const grants = grantsOf(await render(0));
    assert.ok(grants.length > 0);
    const scenarios: (Grant | undefined)[] = [undefined, ...grants];
    const outcomes: (string | undefined)[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        while (next < scenarios.length) {
          const index = next++;
          outcomes[index] = await run(index, scenarios[index]);
        }
      }),
    );
    const label = (grant: Grant | undefined) =>
      grant ? `without ${grant.verb} on ${grant.resource} (${grant.kind})` : "with every rule";
    for (const [index, grant] of scenarios.entries()) {
      console.log(
        `# ${label(grant)}: ${outcomes[index] ? `fails to "${outcomes[index]}"` : "does its whole job"}`,
      );
    }
    assert.equal(
      outcomes[0],
      undefined,
      `with the chart's rules the operator failed to "${outcomes[0]}"`,
    );
    const unneeded = scenarios.filter((grant, index) => grant && outcomes[index] === undefined);
    assert.deepEqual(unneeded.map(label), [], "every verb the chart grants is needed");
  });
});
