// Starts the local node beside a running control plane: kube-scheduler, containerd, kubelet, kube-proxy and CoreDNS.
//
// It runs inside the network and mount namespaces of e2e/scripts/node-sandbox.sh: /run is a tmpfs,
// /var/lib and /var/log are private folders, and the node address sits on a veth pair with no route
// out. Everything here writes only below those and its own folder.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { waitFor } from "@jobchannel/testkit";
import type { CertificateFiles } from "./certificates.ts";
import { launchComponent, loadTls, probe, waitUntilReady, type Component } from "./component.ts";
import type { ComponentProcess, ControlPlane } from "./control-plane.ts";
import { ControlPlaneError, ControlPlaneErrorCode } from "./errors.ts";
import { renderKubeconfig } from "./kubeconfig.ts";
import { clusterDnsManifest, CLUSTER_DNS_IP, CLUSTER_DOMAIN } from "./cluster-dns.ts";
import { toolPath } from "./paths.ts";
import { kubectl } from "./tools.ts";

const execFileAsync = promisify(execFile);

/** The Pod address range of the node's bridge; kube-proxy masquerades traffic from outside it. */
export const POD_CIDR = "10.244.0.0/24";

/** containerd's socket inside the node's mount namespace (a tmpfs on /run). */
export const CONTAINERD_SOCKET = "/run/containerd/containerd.sock";

/** The containerd namespace the kubelet's images and containers live in. */
const CRI_NAMESPACE = "k8s.io";

/** Options of {@link startNode}. */
export interface NodeOptions {
  /** The node's name (also its hostname for Kubernetes). */
  readonly name: string;
  /** The node address, on the sandbox's veth. */
  readonly address: string;
  /** The sandbox cgroup (`/jobchannel-node-<id>`) under which the kubelet puts every Pod. */
  readonly cgroupRoot: string;
  /** OCI archives to import before anything runs: at least the pause image and CoreDNS. */
  readonly images: readonly string[];
  /** The pause image reference, which must be among `images`. */
  readonly pauseImage: string;
  /** The CoreDNS image reference, which must be among `images`. */
  readonly corednsImage: string;
  /** @default 180000 */
  readonly readyTimeoutMs?: number;
}

/** The running node. */
export interface LocalNode {
  readonly processes: readonly ComponentProcess[];
  /** Stops kube-proxy, the kubelet, containerd and the scheduler, in that order. Pods stay to the sandbox's teardown. */
  stop(): Promise<void>;
}

/** `ctr` against the node's containerd, in the kubelet's namespace. */
export async function ctr(args: readonly string[], timeoutMs = 300_000): Promise<string> {
  try {
    const { stdout } = await execFileAsync(
      toolPath("ctr"),
      ["--address", CONTAINERD_SOCKET, "--namespace", CRI_NAMESPACE, ...args],
      { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 },
    );
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new ControlPlaneError(
      ControlPlaneErrorCode.ToolFailed,
      `ctr ${args.join(" ")}: ${stderr.trim() || String(error)}`,
      { cause: error },
    );
  }
}

function containerdConfig(dir: string, pauseImage: string): string {
  return `version = 4
root = '/var/lib/containerd'
state = '/run/containerd'

[grpc]
  address = '${CONTAINERD_SOCKET}'

[plugins]
  [plugins.'io.containerd.internal.v1.opt']
    path = '${join(dir, "containerd-opt")}'
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = '${pauseImage}'
  [plugins.'io.containerd.cri.v1.runtime']
    # The sandbox has no CAP_SYS_RESOURCE over the host, so runc may not lower oom_score_adj.
    restrict_oom_score_adj = true
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ['/usr/lib/cni']
      conf_dir = '${join(dir, "cni")}'
  [plugins.'io.containerd.grpc.v1.cri']
    disable_tcp_service = true
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'
`;
}

/** One bridge for every Pod, host-local addresses, and portmap for hostPort; IP masquerade is kube-proxy's. */
function cniConfig(): string {
  return JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: "jobchannel-node",
      plugins: [
        {
          type: "bridge",
          bridge: "jc-cni0",
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            ranges: [[{ subnet: POD_CIDR }]],
            routes: [{ dst: "0.0.0.0/0" }],
          },
        },
        { type: "portmap", capabilities: { portMappings: true } },
        { type: "loopback" },
      ],
    },
    null,
    2,
  );
}

function kubeletConfig(options: NodeOptions, caCert: string, serving: CertificateFiles): string {
  return JSON.stringify(
    {
      apiVersion: "kubelet.config.k8s.io/v1beta1",
      kind: "KubeletConfiguration",
      address: options.address,
      port: 10250,
      readOnlyPort: 0,
      healthzBindAddress: "127.0.0.1",
      healthzPort: 10248,
      tlsCertFile: serving.cert,
      tlsPrivateKeyFile: serving.key,
      authentication: {
        anonymous: { enabled: false },
        webhook: { enabled: true },
        x509: { clientCAFile: caCert },
      },
      authorization: { mode: "Webhook" },
      containerRuntimeEndpoint: `unix://${CONTAINERD_SOCKET}`,
      // The host has cgroup v1 and no systemd; the kubelet creates every Pod cgroup under the sandbox's.
      cgroupDriver: "cgroupfs",
      cgroupRoot: options.cgroupRoot,
      cgroupsPerQOS: true,
      enforceNodeAllocatable: ["pods"],
      failCgroupV1: false,
      failSwapOn: false,
      clusterDNS: [CLUSTER_DNS_IP],
      clusterDomain: CLUSTER_DOMAIN,
      resolvConf: "/run/jobchannel/resolv.conf",
      // A test node on a shared disk: keep images and evict only when the disk is really full.
      imageGCHighThresholdPercent: 100,
      evictionHard: {
        "memory.available": "100Mi",
        "nodefs.available": "1%",
        "imagefs.available": "1%",
      },
      serializeImagePulls: false,
      maxPods: 110,
      rotateCertificates: false,
      serverTLSBootstrap: false,
      shutdownGracePeriod: "0s",
      localStorageCapacityIsolation: false,
    },
    null,
    2,
  );
}

function kubeProxyConfig(kubeconfig: string, hostname: string): string {
  return JSON.stringify(
    {
      apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
      kind: "KubeProxyConfiguration",
      mode: "iptables",
      clientConnection: { kubeconfig },
      hostnameOverride: hostname,
      clusterCIDR: POD_CIDR,
      bindAddress: "0.0.0.0",
      healthzBindAddress: "127.0.0.1:10256",
      metricsBindAddress: "127.0.0.1:10249",
      // conntrack limits are sysctls of the sandbox's network namespace; leave them as the kernel set them.
      conntrack: {
        maxPerCore: 0,
        min: 0,
        tcpEstablishedTimeout: "0s",
        tcpCloseWaitTimeout: "0s",
      },
    },
    null,
    2,
  );
}

/**
 * Starts the node on `plane`, which must have been started with `node` options in the same
 * namespaces: imports the given images, starts kube-scheduler, containerd, the kubelet and
 * kube-proxy, and resolves once the node is Ready and CoreDNS answers.
 */
export async function startNode(plane: ControlPlane, options: NodeOptions): Promise<LocalNode> {
  const nodePki = plane.pki.node;
  if (!nodePki) {
    throw new ControlPlaneError(
      ControlPlaneErrorCode.NotReady,
      "the control plane was started without node options; it has no node certificates",
    );
  }
  for (const archive of options.images) {
    if (!existsSync(archive)) {
      throw new ControlPlaneError(
        ControlPlaneErrorCode.ImagesMissing,
        `no image archive at ${archive}: run \`make images\` first`,
      );
    }
  }
  const readyTimeoutMs = options.readyTimeoutMs ?? 180_000;
  const dir = join(plane.dir, "node");
  const logDir = join(plane.dir, "logs");
  await Promise.all(
    ["cni", "containerd-opt"].map((name) => mkdir(join(dir, name), { recursive: true })),
  );
  await mkdir("/run/jobchannel", { recursive: true });
  // Pods with dnsPolicy Default (CoreDNS itself) get this; the node has no upstream resolver.
  await writeFile("/run/jobchannel/resolv.conf", "nameserver 127.0.0.1\noptions ndots:1\n");

  const server = `https://127.0.0.1:${plane.apiServerPort}`;
  const kubeconfig = async (name: string, client: CertificateFiles, user: string) => {
    const path = join(dir, `${name}.kubeconfig`);
    const yaml = await renderKubeconfig({ server, caCert: plane.pki.ca.cert, client, user });
    await writeFile(path, yaml, { mode: 0o600 });
    return path;
  };
  const [schedulerKubeconfig, kubeletKubeconfig, proxyKubeconfig] = await Promise.all([
    kubeconfig("kube-scheduler", nodePki.scheduler, "system:kube-scheduler"),
    kubeconfig("kubelet", nodePki.kubelet, `system:node:${options.name}`),
    kubeconfig("kube-proxy", nodePki.proxy, "system:kube-proxy"),
  ]);
  const files = {
    containerd: join(dir, "containerd.toml"),
    cni: join(dir, "cni", "10-jobchannel-node.conflist"),
    kubelet: join(dir, "kubelet.json"),
    proxy: join(dir, "kube-proxy.json"),
  };
  await Promise.all([
    writeFile(files.containerd, containerdConfig(dir, options.pauseImage)),
    writeFile(files.cni, cniConfig()),
    writeFile(files.kubelet, kubeletConfig(options, plane.pki.ca.cert, nodePki.kubeletServing)),
    writeFile(files.proxy, kubeProxyConfig(proxyKubeconfig, options.name)),
  ]);

  // containerd finds its shim, and the shim finds runc (Debian's, in /usr/sbin), on PATH.
  const env = {
    ...process.env,
    PATH: `${join(toolPath("containerd"), "..")}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
  };
  const components: Component[] = [];
  const launch = (name: string, binary: string, args: readonly string[]): Component => {
    const component = launchComponent({ name, binary, args, cwd: dir, logDir, env });
    components.push(component);
    return component;
  };
  const stop = async (): Promise<void> => {
    for (const component of [...components].reverse()) {
      await component.started.stop(10_000);
      await component.logClosed;
    }
  };

  try {
    const containerd = launch("containerd", toolPath("containerd"), [
      `--config=${files.containerd}`,
    ]);
    await waitUntilReady(
      containerd,
      async () =>
        ctr(["version"], 5000).then(
          () => true,
          () => false,
        ),
      readyTimeoutMs,
    );
    for (const archive of options.images) await ctr(["images", "import", archive]);

    const controlplane = toolPath("controlplane");
    const caTls = await loadTls(plane.pki.ca.cert);
    const scheduler = launch("kube-scheduler", controlplane, [
      "kube-scheduler",
      `--kubeconfig=${schedulerKubeconfig}`,
      `--authentication-kubeconfig=${schedulerKubeconfig}`,
      `--authorization-kubeconfig=${schedulerKubeconfig}`,
      "--bind-address=127.0.0.1",
      "--secure-port=10259",
      "--leader-elect=false",
    ]);
    await waitUntilReady(
      scheduler,
      async () =>
        (await probe("https://127.0.0.1:10259/healthz", {
          ...caTls,
          rejectUnauthorized: false,
        })) === 200,
      readyTimeoutMs,
    );

    const kubelet = launch("kubelet", controlplane, [
      "kubelet",
      `--config=${files.kubelet}`,
      `--kubeconfig=${kubeletKubeconfig}`,
      `--hostname-override=${options.name}`,
      `--node-ip=${options.address}`,
    ]);
    await waitUntilReady(
      kubelet,
      async () => (await probe("http://127.0.0.1:10248/healthz")) === 200,
      readyTimeoutMs,
    );
    const proxy = launch("kube-proxy", controlplane, ["kube-proxy", `--config=${files.proxy}`]);
    await waitUntilReady(
      proxy,
      async () => (await probe("http://127.0.0.1:10256/healthz")) === 200,
      readyTimeoutMs,
    );

    await waitFor(
      async () =>
        (await kubectl(
          [
            "get",
            "node",
            options.name,
            "-o",
            'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
          ],
          { kubeconfig: plane.kubeconfigPath },
        ).catch(() => "")) === "True",
      { timeoutMs: readyTimeoutMs, intervalMs: 500, what: `node ${options.name} to be Ready` },
    );
    await kubectl(["apply", "--server-side", "-f", "-"], {
      kubeconfig: plane.kubeconfigPath,
      input: clusterDnsManifest(options.corednsImage),
    });
    await kubectl(
      [
        "-n",
        "kube-system",
        "rollout",
        "status",
        "deployment/coredns",
        `--timeout=${Math.round(readyTimeoutMs / 1000)}s`,
      ],
      { kubeconfig: plane.kubeconfigPath, timeoutMs: readyTimeoutMs + 10_000 },
    );
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    processes: components.map(({ name, started, logPath }) => ({
      name,
      pid: started.child.pid ?? 0,
      logPath,
    })),
    stop,
  };
}
