// Integration-test support: a real control plane with the CRD and RBAC applied, and the operator run as its bin.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dump, load } from "js-yaml";
import { kubectl as runKubectl, startControlPlane, type ControlPlane } from "@jobchannel/e2e";
import { freePort, startProcess, waitFor, type Started } from "@jobchannel/testkit";
import { REPO_ROOT, type Json } from "./fixtures.ts";

export const OPERATOR_NAMESPACE = "jobchannel";
const BIN = new URL("operator/bin/jobchannel-operator.js", REPO_ROOT).pathname;

/** A control plane prepared for the operator. */
export interface TestCluster {
  readonly controlPlane: ControlPlane;
  /** Admin kubeconfig. */
  readonly kubeconfig: string;
  /** Kubeconfig of the operator's ServiceAccount, bound by operator/rbac.yaml only. */
  readonly operatorKubeconfig: string;
  kubectl(args: readonly string[], input?: string): Promise<string>;
  /** `kubectl get ... -o json`, parsed; undefined when not found. */
  getJson(args: readonly string[]): Promise<Json>;
  /** Stops kube-apiserver and starts it again with the same flags once `downMs` passed. */
  restartApiServer(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

/**
 * Starts the control plane, installs the CRD and its default-channel admission policy (in effect on
 * return), namespaces and the operator's RBAC, and mints its token.
 */
export async function startCluster(namespaces: readonly string[] = ["apps"]): Promise<TestCluster> {
  const controlPlane = await startControlPlane({ handleSignals: false });
  const kubeconfig = controlPlane.kubeconfigPath;
  const kubectl = (args: readonly string[], input?: string) =>
    runKubectl(args, { kubeconfig, ...(input !== undefined ? { input } : {}), timeoutMs: 30_000 });
  let replacement: Started | undefined;
  try {
    await kubectl([
      "apply",
      "--server-side",
      "-f",
      new URL("crds/jobchannels.jobchannel.io.yaml", REPO_ROOT).pathname,
    ]);
    await kubectl([
      "wait",
      "--for=condition=Established",
      "crd/jobchannels.jobchannel.io",
      "--timeout=30s",
    ]);
    for (const ns of [OPERATOR_NAMESPACE, ...namespaces])
      await kubectl(["create", "namespace", ns]);
    await kubectl([
      "apply",
      "--server-side",
      "-f",
      new URL("crds/jobchannel-default-channel.yaml", REPO_ROOT).pathname,
    ]);
    // The policy takes effect a moment after it is stored: wait until a dry-run creation shows it.
    await waitFor(
      async () =>
        JSON.parse(
          await kubectl(
            ["create", "--dry-run=server", "-o", "json", "-n", OPERATOR_NAMESPACE, "-f", "-"],
            JSON.stringify({
              apiVersion: "jobchannel.io/v1alpha1",
              kind: "JobChannel",
              metadata: { name: "default-channel-probe" },
              spec: {},
            }),
          ),
        ).spec.channel === "default-channel-probe",
      {
        timeoutMs: 30_000,
        intervalMs: 250,
        what: "the default-channel admission policy to take effect",
      },
    );
    await kubectl(["apply", "-f", new URL("operator/rbac.yaml", REPO_ROOT).pathname]);
    const token = (
      await waitFor(
        () =>
          kubectl([
            "create",
            "token",
            "jobchannel-operator",
            "-n",
            OPERATOR_NAMESPACE,
            "--duration=2h",
          ]),
        { timeoutMs: 30_000, what: "a ServiceAccount token" },
      )
    ).trim();
    const admin = load(readFileSync(kubeconfig, "utf8")) as Json;
    admin.users = [{ name: "jobchannel-operator", user: { token } }];
    admin.contexts[0].context.user = "jobchannel-operator";
    const operatorKubeconfig = join(controlPlane.dir, "operator.kubeconfig");
    writeFileSync(operatorKubeconfig, dump(admin), { mode: 0o600 });
    return {
      controlPlane,
      kubeconfig,
      operatorKubeconfig,
      kubectl,
      async getJson(args) {
        try {
          return JSON.parse(await kubectl(["get", ...args, "-o", "json"]));
        } catch (error) {
          if (/NotFound|not found/.test(String(error))) return undefined;
          throw error;
        }
      },
      async restartApiServer(downMs) {
        const current =
          replacement?.child.pid ??
          controlPlane.processes.find((p) => p.name === "kube-apiserver")!.pid;
        const argv = readFileSync(`/proc/${current}/cmdline`, "utf8").split("\0").filter(Boolean);
        if (replacement) await replacement.stop(5000);
        else {
          // SIGTERM, then SIGKILL: kube-apiserver may wait for open watches to drain before it exits.
          process.kill(-current, "SIGTERM");
          await waitFor(() => processGone(current), { timeoutMs: 5000 }).catch(() =>
            process.kill(-current, "SIGKILL"),
          );
        }
        await waitFor(() => processGone(current), {
          timeoutMs: 10_000,
          what: "kube-apiserver to exit",
        });
        await new Promise((r) => setTimeout(r, downMs));
        replacement = startProcess(argv[0]!, argv.slice(1), { cwd: controlPlane.dir });
        await waitFor(async () => (await kubectl(["get", "--raw=/readyz"])).trim() === "ok", {
          timeoutMs: 120_000,
          intervalMs: 500,
          what: "kube-apiserver to be ready again",
        });
      },
      async stop() {
        await replacement?.stop(10_000);
        await controlPlane.stop();
      },
    };
  } catch (error) {
    await controlPlane.stop();
    throw error;
  }
}

/** A running operator process. */
export interface TestOperator {
  readonly process: Started;
  readonly port: number;
  readonly pid: number;
  /** This operator's identity in the Lease. */
  readonly identity: string;
  metrics(): Promise<string>;
  /** The value of one sample in /metrics, 0 when absent. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** The value of one sample in /metrics, undefined when absent. */
  sample(name: string, labels?: Record<string, string>): Promise<number | undefined>;
  ready(): Promise<boolean>;
  stop(): Promise<void>;
}

/** Starts `jobchannel-operator` (its bin) against the cluster as its ServiceAccount. */
export async function startOperator(
  cluster: TestCluster,
  options: { env?: Record<string, string>; args?: string[] } = {},
): Promise<TestOperator> {
  const port = await freePort();
  const started = startProcess(process.execPath, [BIN, ...(options.args ?? [])], {
    env: {
      PATH: process.env.PATH ?? "",
      KUBECONFIG: cluster.operatorKubeconfig,
      JOBCHANNEL_NAMESPACE: OPERATOR_NAMESPACE,
      JOBCHANNEL_WORKER_IMAGE: "jobchannel/worker:test",
      PORT: String(port),
      LOG_LEVEL: "info",
      ...options.env,
    },
  });
  const url = `http://127.0.0.1:${port}`;
  const metrics = async () => (await fetch(`${url}/metrics`)).text();
  const operator: TestOperator = {
    process: started,
    port,
    pid: started.child.pid!,
    identity: "",
    metrics,
    async metric(name, labels = {}) {
      return (await operator.sample(name, labels)) ?? 0;
    },
    async sample(name, labels = {}) {
      const text = await metrics();
      const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
      for (const line of text.split("\n")) {
        if (!line.startsWith(name)) continue;
        const rest = line.slice(name.length);
        if (!(rest.startsWith("{") || rest.startsWith(" "))) continue;
        if (want.every((w) => rest.includes(w))) return Number(line.split(" ").at(-1));
      }
      return undefined;
    },
    async ready() {
      try {
        return (await fetch(`${url}/readyz`)).status === 200;
      } catch {
        return false;
      }
    },
    stop: () => started.stop(10_000),
  };
  await waitFor(
    async () => {
      if (started.child.exitCode !== null) {
        // Let the pipes drain so the error shows the operator's last words.
        await new Promise((r) => setTimeout(r, 200));
        throw new Error(`operator exited with ${started.child.exitCode}:\n${started.logTail()}`);
      }
      return operator.ready();
    },
    { timeoutMs: 30_000, what: "the operator's /readyz" },
  );
  const identity = await waitFor(() => /"identity":"([^"]+)"/.exec(started.logTail())?.[1], {
    what: "the operator's identity in its log",
  });
  return { ...operator, identity };
}

/** The condition of a JobChannel as JSON, or undefined. */
export function condition(
  jc: Json,
  type: string,
): { status: string; reason: string; message: string } | undefined {
  return jc?.status?.conditions?.find((c: { type: string }) => c.type === type);
}
