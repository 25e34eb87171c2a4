// Starts and stops a real local Kubernetes control plane: etcd, kube-apiserver and kube-controller-manager.
import { existsSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPki, type CertificateFiles, type NodeIdentity, type Pki } from "./certificates.ts";
import {
  freePorts,
  launchComponent,
  loadTls,
  probe,
  waitUntilReady,
  type Component,
} from "./component.ts";
import { ControlPlaneError, ControlPlaneErrorCode } from "./errors.ts";
import { renderKubeconfig } from "./kubeconfig.ts";
import { toolPath } from "./paths.ts";

/**
 * The kube-controller-manager controllers started by default: what Deployments, garbage collection,
 * namespaces and service accounts need, plus RBAC aggregation, the root CA ConfigMap and EndpointSlices.
 * Nothing that needs nodes or a scheduler.
 */
export const DEFAULT_CONTROLLERS: readonly string[] = [
  "garbage-collector-controller",
  "namespace-controller",
  "deployment-controller",
  "replicaset-controller",
  "serviceaccount-controller",
  "serviceaccount-token-controller",
  "clusterrole-aggregation-controller",
  "root-ca-certificate-publisher-controller",
  "endpointslice-controller",
];

/**
 * What a cluster with a node adds: DaemonSets, StatefulSets, Jobs, PodDisruptionBudgets, node
 * lifecycle (taints of a node that stops reporting) and garbage collection of finished Pods.
 */
export const NODE_CONTROLLERS: readonly string[] = [
  "daemonset-controller",
  "statefulset-controller",
  "job-controller",
  "disruption-controller",
  "node-lifecycle-controller",
  "pod-garbage-collector-controller",
  "endpoints-controller",
];

/**
 * kube-apiserver flags every control plane gets, before {@link ControlPlaneOptions.apiServerArgs}:
 * MutatingAdmissionPolicy (beta and off by default in 1.35) so the JobChannel CRD's companion
 * policy can default spec.channel, and the OwnerReferencesPermissionEnforcement admission plugin
 * (added to the default plugins) that production clusters run, so that an operator setting
 * blockOwnerDeletion without the owner's finalizers permission fails here too.
 */
export const DEFAULT_API_SERVER_ARGS: readonly string[] = [
  "--feature-gates=MutatingAdmissionPolicy=true",
  "--runtime-config=admissionregistration.k8s.io/v1beta1=true",
  "--enable-admission-plugins=OwnerReferencesPermissionEnforcement",
];

/** The Service IP range; its first address is the `kubernetes` Service, which the serving cert names. */
export const SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24";

/** Options of {@link startControlPlane}. */
export interface ControlPlaneOptions {
  /**
   * The `controlplane` binary that runs each component.
   * @default $JOBCHANNEL_BIN_DIR/controlplane, else bin/controlplane at the repository root
   */
  readonly binary?: string;
  /**
   * Folder for certificates, etcd data, kubeconfigs and component logs (`logs/<component>.log`).
   * A folder given here is kept; the default one is removed by `stop()`.
   * @default a new folder under the system temporary folder
   */
  readonly dir?: string;
  /** Bounded wait for each component to pass its health check, in milliseconds. @default 120000 */
  readonly readyTimeoutMs?: number;
  /** kube-controller-manager's `--controllers`. @default DEFAULT_CONTROLLERS */
  readonly controllers?: readonly string[];
  /**
   * Extra kube-apiserver flags, e.g. `--feature-gates=...`, after {@link DEFAULT_API_SERVER_ARGS}
   * (`--feature-gates`, `--runtime-config` and `--enable-admission-plugins` given again add to them).
   * @default []
   */
  readonly apiServerArgs?: readonly string[];
  /**
   * Stop the control plane when this process gets SIGINT or SIGTERM (then let the signal end the
   * process if nothing else listens for it). Turn off when the caller handles those signals itself.
   * @default true
   */
  readonly handleSignals?: boolean;
  /**
   * Prepare for a node at this name and address: the API server listens on every address of its
   * network namespace, advertises the node address (so the `kubernetes` Service has endpoints that
   * Pods reach), can reach kubelets for logs, exec and port-forward, and the controllers that Pods
   * on a node need run too. Without it no Pod ever runs and everything listens on 127.0.0.1 only.
   * @default no node
   */
  readonly node?: NodeIdentity;
}

/** One running component process. */
export interface ComponentProcess {
  readonly name: string;
  readonly pid: number;
  /** Its stdout and stderr, appended as it runs. */
  readonly logPath: string;
}

/** A running control plane. */
export interface ControlPlane {
  /** Kubeconfig of the cluster admin (client certificate in group system:masters), certificates embedded. */
  readonly kubeconfigPath: string;
  /** The API server's URL, `https://127.0.0.1:<port>`. */
  readonly server: string;
  /** The folder holding certificates, data, kubeconfigs and logs. */
  readonly dir: string;
  /** The component processes, in start order. */
  readonly processes: readonly ComponentProcess[];
  /** Certificates and keys: what node components authenticate with. */
  readonly pki: Pki;
  /** The API server's port (on 127.0.0.1, and on the node address when there is a node). */
  readonly apiServerPort: number;
  /** Stops every component (SIGTERM to its process group, SIGKILL after 10 s) and removes a default `dir`. Safe to call twice. */
  stop(): Promise<void>;
}

/** Stop functions of the control planes of this process that stop on SIGINT/SIGTERM. */
const stopOnSignal = new Set<() => Promise<void>>();
/** Default folders still to remove when the process exits without stop(). */
const ownedDirs = new Set<string>();
let exitHookInstalled = false;

function onSignal(signal: NodeJS.Signals): void {
  const stops = [...stopOnSignal];
  stopOnSignal.clear();
  process.removeListener("SIGINT", onSignal);
  process.removeListener("SIGTERM", onSignal);
  void Promise.allSettled(stops.map((stop) => stop())).then(() => {
    // Let the signal do what it would have done had we not listened, unless someone else handles it.
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  });
}

function stopOnSignals(stop: () => Promise<void>): void {
  if (stopOnSignal.size === 0) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  stopOnSignal.add(stop);
}

function forgetOnSignals(stop: () => Promise<void>): void {
  if (stopOnSignal.delete(stop) && stopOnSignal.size === 0) {
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
}

function removeDirsOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // The processes themselves are SIGKILLed by @jobchannel/testkit's exit hook; this removes their files.
  process.once("exit", () => {
    for (const dir of ownedDirs) rmSync(dir, { recursive: true, force: true });
  });
}

/**
 * Starts etcd, kube-apiserver (secure port on 127.0.0.1, client-certificate authentication,
 * Node+RBAC authorization, service-account token signing) and kube-controller-manager, each from
 * the pinned `controlplane` binary on free loopback ports, and resolves once each passes its
 * health check. On failure everything started is stopped and the error carries the failing
 * component's log tail; the folder is kept for inspection.
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const binary = options.binary ?? toolPath("controlplane");
  if (!existsSync(binary)) {
    throw new ControlPlaneError(
      ControlPlaneErrorCode.BinaryMissing,
      `no control-plane binary at ${binary}: run \`make tools\` (e2e/scripts/build-tools.sh) first`,
    );
  }
  const readyTimeoutMs = options.readyTimeoutMs ?? 120_000;
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "jobchannel-control-plane-")));
  const pkiDir = join(dir, "pki");
  const logDir = join(dir, "logs");
  await Promise.all([mkdir(pkiDir, { recursive: true }), mkdir(logDir, { recursive: true })]);
  if (ownsDir) ownedDirs.add(dir);
  removeDirsOnExit();

  const components: Component[] = [];
  const launch = (name: string, args: readonly string[]): Component => {
    const component = launchComponent({ name, binary, args: [name, ...args], cwd: dir, logDir });
    components.push(component);
    return component;
  };

  let stopping: Promise<void> | undefined;
  const stopComponents = async (): Promise<void> => {
    for (const component of [...components].reverse()) {
      await component.started.stop(10_000);
      await component.logClosed;
    }
  };
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      forgetOnSignals(stop);
      await stopComponents();
      if (ownsDir) {
        await rm(dir, { recursive: true, force: true });
        ownedDirs.delete(dir);
      }
    })();
    return stopping;
  };
  if (options.handleSignals ?? true) stopOnSignals(stop);

  try {
    const pki = await createPki(pkiDir, options.node);
    const node = options.node;
    const [etcdClientPort, etcdPeerPort, apiServerPort, controllerManagerPort] = (await freePorts(
      4,
    )) as [number, number, number, number];
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const etcdPeerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const server = `https://127.0.0.1:${apiServerPort}`;

    const etcd = launch("etcd", [
      `--data-dir=${join(dir, "etcd")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${etcdPeerUrl}`,
      `--initial-advertise-peer-urls=${etcdPeerUrl}`,
      "--name=jobchannel-e2e",
      `--initial-cluster=jobchannel-e2e=${etcdPeerUrl}`,
      // A throwaway test store: skipping fsync makes every write much faster (envtest does the same).
      "--unsafe-no-fsync",
    ]);
    await waitUntilReady(
      etcd,
      async () => (await probe(`${etcdUrl}/health`)) === 200,
      readyTimeoutMs,
    );

    const apiServer = launch("kube-apiserver", [
      `--etcd-servers=${etcdUrl}`,
      `--bind-address=${node ? "0.0.0.0" : "127.0.0.1"}`,
      `--advertise-address=${node?.address ?? "127.0.0.1"}`,
      `--secure-port=${apiServerPort}`,
      `--cert-dir=${join(dir, "kube-apiserver")}`,
      `--tls-cert-file=${pki.apiServer.cert}`,
      `--tls-private-key-file=${pki.apiServer.key}`,
      `--client-ca-file=${pki.ca.cert}`,
      "--authorization-mode=Node,RBAC",
      `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${pki.serviceAccountPublicKey}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      // The aggregation layer's front proxy, as kubeadm sets it up; components read this CA to trust it.
      `--requestheader-client-ca-file=${pki.frontProxyCa.cert}`,
      "--requestheader-allowed-names=front-proxy-client",
      "--requestheader-username-headers=X-Remote-User",
      "--requestheader-group-headers=X-Remote-Group",
      "--requestheader-extra-headers-prefix=X-Remote-Extra-",
      `--proxy-client-cert-file=${pki.frontProxyClient.cert}`,
      `--proxy-client-key-file=${pki.frontProxyClient.key}`,
      ...(node && pki.node
        ? [
            `--kubelet-client-certificate=${pki.node.kubeletClient.cert}`,
            `--kubelet-client-key=${pki.node.kubeletClient.key}`,
            "--kubelet-preferred-address-types=InternalIP",
          ]
        : // Endpoints may not hold a loopback address, so the `kubernetes` Service gets none; nothing here needs them.
          ["--endpoint-reconciler-type=none"]),
      "--allow-privileged=true",
      "--profiling=false",
      ...DEFAULT_API_SERVER_ARGS,
      ...(options.apiServerArgs ?? []),
    ]);
    const adminTls = await loadTls(pki.ca.cert, pki.admin);
    await waitUntilReady(
      apiServer,
      async () => (await probe(`${server}/readyz`, adminTls)) === 200,
      readyTimeoutMs,
    );

    const writeKubeconfig = async (
      name: string,
      client: CertificateFiles,
      user: string,
    ): Promise<string> => {
      const path = join(dir, name);
      const yaml = await renderKubeconfig({ server, caCert: pki.ca.cert, client, user });
      await writeFile(path, yaml, { mode: 0o600 });
      return path;
    };
    const kubeconfigPath = await writeKubeconfig("kubeconfig", pki.admin, "jobchannel-admin");
    const controllerManagerKubeconfig = await writeKubeconfig(
      "kube-controller-manager.kubeconfig",
      pki.controllerManager,
      "system:kube-controller-manager",
    );

    const controllerManager = launch("kube-controller-manager", [
      `--kubeconfig=${controllerManagerKubeconfig}`,
      `--authentication-kubeconfig=${controllerManagerKubeconfig}`,
      `--authorization-kubeconfig=${controllerManagerKubeconfig}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${controllerManagerPort}`,
      `--tls-cert-file=${pki.controllerManagerServing.cert}`,
      `--tls-private-key-file=${pki.controllerManagerServing.key}`,
      "--leader-elect=false",
      `--controllers=${(options.controllers ?? [...DEFAULT_CONTROLLERS, ...(node ? NODE_CONTROLLERS : [])]).join(",")}`,
      // Each controller acts as its own service account, as kubeadm clusters run it.
      "--use-service-account-credentials=true",
      `--service-account-private-key-file=${pki.serviceAccountKey}`,
      `--root-ca-file=${pki.ca.cert}`,
      `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
      "--profiling=false",
    ]);
    const caTls = await loadTls(pki.ca.cert);
    await waitUntilReady(
      controllerManager,
      async () =>
        (await probe(`https://127.0.0.1:${controllerManagerPort}/healthz`, caTls)) === 200,
      readyTimeoutMs,
    );

    const processes = components.map(({ name, started, logPath }) => ({
      name,
      pid: started.child.pid ?? 0,
      logPath,
    }));
    return { kubeconfigPath, server, dir, processes, pki, apiServerPort, stop };
  } catch (error) {
    forgetOnSignals(stop);
    await stopComponents();
    ownedDirs.delete(dir);
    throw error;
  }
}
