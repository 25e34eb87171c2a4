// The kind provider without a cluster: its selection, its errors, the NodePort companion it applies (through a stub kubectl), and its values and port pool against the files they must match.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { loadYaml } from "@kubernetes/client-node";
import { openCluster } from "../src/e2e-cluster.ts";
import {
  companionService,
  connectKindCluster,
  KIND_CLUSTER_CONFIG,
  KIND_NODE_PORTS,
  kindKubeconfig,
  nextFreeNodePort,
} from "../src/kind-cluster.ts";
import { repoRoot } from "../src/paths.ts";
import { clusterProvider } from "../src/provider.ts";
import { renderChart } from "./helpers/helm-offline.ts";

const execFileAsync = promisify(execFile);
const root = repoRoot();

/** Runs `fn` with process.env changed as `changes` says (undefined deletes), then restores it. */
async function withEnv<T>(
  changes: Record<string, string | undefined>,
  fn: () => Promise<T>,
): Promise<T> {
  const saved = Object.fromEntries(Object.keys(changes).map((key) => [key, process.env[key]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
  apply(changes);
  try {
    return await fn();
  } finally {
    apply(saved);
  }
}

/** The references images/common.sh gives the images (what both builds tag and the nodes run). */
async function imageRefs(): Promise<Record<string, string>> {
  const { stdout } = await execFileAsync(
    "bash",
    [
      "-c",
      'source images/common.sh && for n in relay worker operator redis prime-count; do echo "$n $(image_ref "$n")"; done',
    ],
    { cwd: root },
  );
  return Object.fromEntries(
    stdout
      .trim()
      .split("\n")
      .map((line) => line.split(" ")),
  );
}

describe("provider selection", () => {
  it("reads JOBCHANNEL_E2E_CLUSTER: local when unset, kind, and nothing else", () => {
    assert.equal(clusterProvider({}), "local");
    assert.equal(clusterProvider({ JOBCHANNEL_E2E_CLUSTER: "local" }), "local");
    assert.equal(clusterProvider({ JOBCHANNEL_E2E_CLUSTER: "kind" }), "kind");
    assert.throws(
      () => clusterProvider({ JOBCHANNEL_E2E_CLUSTER: "minikube" }),
      /JOBCHANNEL_E2E_CLUSTER=minikube: expected "local" or "kind"/,
    );
  });

  it("opens the kind provider, not the local node, when JOBCHANNEL_E2E_CLUSTER=kind", async () => {
    await withEnv({ JOBCHANNEL_E2E_CLUSTER: "kind", KUBECONFIG: undefined }, () =>
      assert.rejects(openCluster(), /JOBCHANNEL_E2E_CLUSTER=kind needs KUBECONFIG/),
    );
  });
});

describe("kind provider errors", () => {
  it("refuses a missing KUBECONFIG, a list of files, and a file that does not exist", async () => {
    await assert.rejects(connectKindCluster({}), /needs KUBECONFIG, the kind cluster's kubeconfig/);
    assert.throws(() => kindKubeconfig({ KUBECONFIG: "/a:/b" }), /one kubeconfig file, not a list/);
    assert.throws(() => kindKubeconfig({ KUBECONFIG: "/nonexistent/kubeconfig" }), /no such file/);
  });
});

describe("NodePort companion", () => {
  const source = {
    namespace: "jobchannel",
    name: "jobchannel-relay",
    uid: "0b7e2f3a-1111-2222-3333-444455556666",
    selector: { "app.kubernetes.io/name": "jobchannel", "app.kubernetes.io/component": "relay" },
  };

  it("copies the selector, publishes each port on its node port, and is owned by the original Service", () => {
    assert.deepEqual(
      companionService(source, [
        { port: 9090, targetPort: "metrics", nodePort: 30082 },
        { port: 8080, targetPort: "http", nodePort: 30080 },
      ]),
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: {
          name: "jobchannel-relay-e2e",
          namespace: "jobchannel",
          labels: { "app.kubernetes.io/managed-by": "jobchannel-e2e" },
          ownerReferences: [
            { apiVersion: "v1", kind: "Service", name: "jobchannel-relay", uid: source.uid },
          ],
        },
        spec: {
          type: "NodePort",
          selector: source.selector,
          ports: [
            { name: "port-8080", protocol: "TCP", port: 8080, targetPort: "http", nodePort: 30080 },
            {
              name: "port-9090",
              protocol: "TCP",
              port: 9090,
              targetPort: "metrics",
              nodePort: 30082,
            },
          ],
        },
      },
    );
  });

  it("takes the first node port of the pool that no Service uses", () => {
    assert.equal(nextFreeNodePort(new Set()), 30080);
    assert.equal(nextFreeNodePort(new Set([30080, 30081, 31000])), 30082);
    assert.equal(nextFreeNodePort(new Set(KIND_NODE_PORTS)), undefined);
  });

  it("matches the pool e2e/kind/cluster.yaml publishes on 127.0.0.1", async () => {
    const config = loadYaml(await readFile(KIND_CLUSTER_CONFIG, "utf8")) as {
      kind: string;
      apiVersion: string;
      nodes: {
        role: string;
        extraPortMappings?: {
          containerPort: number;
          hostPort: number;
          listenAddress: string;
          protocol: string;
        }[];
      }[];
    };
    assert.equal(config.kind, "Cluster");
    assert.equal(config.apiVersion, "kind.x-k8s.io/v1alpha4");
    assert.deepEqual(
      config.nodes.map((node) => node.role),
      ["control-plane"],
    );
    assert.deepEqual(
      config.nodes[0]?.extraPortMappings,
      KIND_NODE_PORTS.map((port) => ({
        containerPort: port,
        hostPort: port,
        listenAddress: "127.0.0.1",
        protocol: "TCP",
      })),
    );
  });
});

describe("forwardService through a stub kubectl", () => {
  let dir: string;
  let kubeconfig: string;
  const servers: Server[] = [];

  /** A stub kubectl: Services from $dir/services/<ns>/<name>.json, node ports from $dir/nodeports, applies into $dir/applied/. */
  const stub = `#!/usr/bin/env bash
set -euo pipefail
dir="$(dirname "$0")/.."
shift # --kubeconfig=...
ns=""
if [[ "$1" == -n ]]; then ns="$2"; shift 2; fi
case "$1" in
  get)
    if [[ "$2" == services ]]; then cat "$dir/nodeports"; exit 0; fi
    file="$dir/services/$ns/$3.json"
    if [[ -f "$file" ]]; then cat "$file"; fi
    ;;
  apply) cat >"$dir/applied/$(date +%s%N).json" ;;
  *) echo "unexpected: $*" >&2; exit 2 ;;
esac
`;

  const writeService = async (name: string, service: object) => {
    await mkdir(join(dir, "services", "jobchannel"), { recursive: true });
    await writeFile(join(dir, "services", "jobchannel", `${name}.json`), JSON.stringify(service));
  };
  const applied = async () => {
    const files = (await readdir(join(dir, "applied"))).sort();
    return Promise.all(
      files.map(async (f) => JSON.parse(await readFile(join(dir, "applied", f), "utf8"))),
    ) as Promise<ReturnType<typeof companionService>[]>;
  };
  /** Something listening on a pool port, standing in for the kind node's published NodePort. */
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      const server = createServer(() => undefined);
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
      servers.push(server);
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "jobchannel-kind-provider-"));
    await mkdir(join(dir, "bin"));
    await mkdir(join(dir, "applied"));
    await writeFile(join(dir, "bin", "kubectl"), stub);
    await chmod(join(dir, "bin", "kubectl"), 0o755);
    kubeconfig = join(dir, "kubeconfig");
    await writeFile(kubeconfig, "apiVersion: v1\nkind: Config\n");
    await writeService("jobchannel-relay", {
      metadata: { uid: "uid-relay" },
      spec: {
        selector: { "app.kubernetes.io/component": "relay" },
        ports: [{ port: 8080, targetPort: "http", protocol: "TCP" }],
      },
    });
    await writeService("headless", { metadata: { uid: "uid-h" }, spec: { ports: [{ port: 80 }] } });
  });

  after(async () => {
    for (const server of servers) server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("applies a companion on the first free node port and returns it once it answers", async () => {
    await writeFile(join(dir, "nodeports"), "30080 31500");
    await listen(30081);
    const port = await withEnv({ JOBCHANNEL_BIN_DIR: join(dir, "bin") }, async () => {
      const cluster = await connectKindCluster({ KUBECONFIG: kubeconfig });
      assert.equal(cluster.provider, "kind");
      assert.equal(cluster.kubeconfigPath, kubeconfig);
      assert.deepEqual(cluster.valuesFiles, [
        join(root, "charts", "jobchannel", "values-kind.yaml"),
      ]);
      await cluster.loadImages(["relay"]);
      return cluster.forwardService("jobchannel", "jobchannel-relay", 8080);
    });
    assert.equal(port, 30081);
    const [manifest] = await applied();
    assert.deepEqual(manifest?.spec.ports, [
      { name: "port-8080", protocol: "TCP", port: 8080, targetPort: "http", nodePort: 30081 },
    ]);
    assert.deepEqual(manifest?.metadata.ownerReferences[0]?.uid, "uid-relay");
  });

  it("keeps the node port a companion already has", async () => {
    await writeService("jobchannel-relay-e2e", {
      metadata: { uid: "uid-companion" },
      spec: { ports: [{ port: 8080, targetPort: "http", nodePort: 30084 }] },
    });
    await writeFile(join(dir, "nodeports"), "30080 30084");
    await listen(30084);
    const port = await withEnv({ JOBCHANNEL_BIN_DIR: join(dir, "bin") }, async () =>
      (await connectKindCluster({ KUBECONFIG: kubeconfig })).forwardService(
        "jobchannel",
        "jobchannel-relay",
        8080,
      ),
    );
    assert.equal(port, 30084);
  });

  it("refuses a Service without a selector, a port it lacks, and a full pool", async () => {
    await withEnv({ JOBCHANNEL_BIN_DIR: join(dir, "bin") }, async () => {
      const cluster = await connectKindCluster({ KUBECONFIG: kubeconfig });
      await assert.rejects(cluster.forwardService("jobchannel", "headless", 80), /has no selector/);
      await assert.rejects(
        cluster.forwardService("jobchannel", "jobchannel-relay", 9999),
        /has no such port/,
      );
      await assert.rejects(cluster.forwardService("jobchannel", "missing", 80), /no such Service/);
      await rm(join(dir, "services", "jobchannel", "jobchannel-relay-e2e.json"));
      await writeFile(join(dir, "nodeports"), KIND_NODE_PORTS.join(" "));
      await assert.rejects(
        cluster.forwardService("jobchannel", "jobchannel-relay", 8080),
        /every node port of the pool \(30080-30089\) is taken/,
      );
    });
  });
});

describe("values-kind.yaml", () => {
  let home: string;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), "jobchannel-kind-values-"));
  });
  after(() => rm(home, { recursive: true, force: true }));

  it("runs the images e2e/scripts/kind.sh builds and loads, never pulled", async () => {
    interface Workload {
      kind: string;
      spec: {
        template: {
          spec: {
            containers: {
              image: string;
              imagePullPolicy: string;
              env?: { name: string; value?: string }[];
            }[];
          };
        };
      };
    }
    const objects = await renderChart<Workload>(
      home,
      "-f",
      join(root, "charts", "jobchannel", "values-kind.yaml"),
    );
    const containers = objects
      .filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet")
      .flatMap((o) => o.spec.template.spec.containers);
    const refs = await imageRefs();
    assert.deepEqual(
      [...new Set(containers.map((c) => `${c.image} ${c.imagePullPolicy}`))].sort(),
      [`${refs["operator"]} Never`, `${refs["redis"]} Never`, `${refs["relay"]} Never`],
    );
    const workerImage = containers
      .flatMap((c) => c.env ?? [])
      .find((e) => e.name === "JOBCHANNEL_WORKER_IMAGE")?.value;
    assert.equal(workerImage, refs["worker"]);
  });
});
