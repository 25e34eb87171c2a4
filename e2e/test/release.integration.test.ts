// jobchannel installed by its Helm chart on a real cluster (the local node, or kind through
// `make e2e-kind`), driven from outside the pods, faulted, upgraded under traffic and uninstalled.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, realpathSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import type { Server } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { JobChannelClient, type JobUpdate } from "@jobchannel/client";
import { recordFaults, waitFor } from "@jobchannel/testkit";
import { launchChromium } from "@jobchannel/testkit/browser";
import { loadYaml } from "@kubernetes/client-node";
import { SignJWT } from "jose";
import { openCluster } from "../src/e2e-cluster.ts";
import { imageArchive, repoRoot, toolPath } from "../src/paths.ts";
import type { E2ECluster } from "../src/provider.ts";
import { helm, kubectl } from "../src/tools.ts";
import { startGateway } from "./helpers/gateway.ts";
import { startPrometheus, type Monitor } from "./helpers/prometheus.ts";
import {
  dashboardExpressions,
  expandGrafanaVariables,
  loadDashboard,
  metricNamesIn,
  selectorsIn,
  type RuleGroup,
} from "./helpers/promql.ts";
import { followTutorial } from "./helpers/tutorial.ts";

const NS = "jobchannel";
const RELEASE = "jobchannel";
/** A JobChannel namespace listed in the chart's jobChannelNamespaces: the chart writes the Redis Secret there. */
const APPS = "apps";
/** A JobChannel namespace the chart does not know: its team creates the Redis Secret itself. */
const UNLISTED = "reports";
const component = (name: string) =>
  `app.kubernetes.io/instance=${RELEASE},app.kubernetes.io/component=${name}`;
const RELAY = component("relay");
const root = repoRoot();
const chart = join(root, "charts", "jobchannel");
/** The images this suite runs; `make images` builds them (prime-count is the tutorial's). */
const IMAGES = ["redis", "operator", "relay", "worker", "prime-count"] as const;
const started = Date.now();
/** What an in-cluster Prometheus is granted: discovery, and its scrapes through the pod proxy. */
const PROMETHEUS_RBAC = `apiVersion: v1
kind: Namespace
metadata: {name: monitoring}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: prometheus, namespace: monitoring}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: e2e-prometheus}
rules:
  - apiGroups: [""]
    resources: [pods, services, endpoints]
    verbs: [get, list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
  - apiGroups: [""]
    resources: [pods/proxy]
    verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: e2e-prometheus}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: e2e-prometheus}
subjects: [{kind: ServiceAccount, name: prometheus, namespace: monitoring}]
`;

function phase(name: string, since: number): void {
  console.log(`# phase ${name}: ${((Date.now() - since) / 1000).toFixed(1)} s`);
}

/** The relay's HS256 secret, which the chart generated at install. */
let relaySecret = "";

async function token(sub: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(relaySecret));
}

/** A JobChannelClient against the relay Service (forwarded to a host port), collecting close codes. */
/**
 * Records a fault on the local node for the reliability report. Clients are JobChannelClients,
 * which drop an update whose seq is not greater than the one held, so none is shown twice. The
 * updates published are counted as the distinct updates (job and seq) of the final jobs that the
 * clients were shown.
 */
function recordNodeFault(
  scenario: string,
  load: string,
  faultsInjected: number,
  clients: readonly { shown: ReadonlySet<string> }[],
  finals: readonly JobUpdate[],
  recoverySeconds: number | null,
): void {
  const jobs = new Set(finals.map((f) => f.jobId));
  const updates = new Set<string>();
  for (const { shown } of clients)
    for (const key of shown) if (jobs.has(key.slice(0, key.lastIndexOf(":")))) updates.add(key);
  recordFaults({
    scenario: `local node: ${scenario}`,
    load,
    faultsInjected,
    updatesPublished: updates.size,
    finalUpdatesDelivered: finals.length,
    lost: 0,
    duplicatesShown: 0,
    recoverySeconds,
  });
}

async function relayClient(port: number, sub: string, channels: string[]) {
  const closes: { code: number; at: number }[] = [];
  const client = new JobChannelClient({
    url: `ws://127.0.0.1:${port}/ws`,
    token: await token(sub),
    backoff: { initialMs: 100, maxMs: 1000 },
  });
  client.on("close", ({ code }) => closes.push({ code, at: Date.now() }));
  // Every update the client shows, as "<jobId>:<seq>": each frame it applies emits "jobs".
  const shown = new Set<string>();
  client.on("jobs", (channel) => {
    for (const job of client.jobs(channel)) shown.add(`${job.jobId}:${job.seq ?? 0}`);
  });
  const release = client.subscribe(channels);
  try {
    await waitFor(() => channels.every((c) => client.channel(c)?.status === "subscribed"), {
      timeoutMs: 30_000,
      what: `subscriptions to ${channels.join(", ")}`,
    });
  } catch (error) {
    client.close();
    throw error;
  }
  return {
    client,
    closes,
    shown,
    close() {
      release();
      client.close();
    },
  };
}

function finalJob(client: JobChannelClient, channel: string, jobId: string): Promise<JobUpdate> {
  return waitFor(
    () => {
      const job = client.job(channel, jobId);
      return job && (job.status === "completed" || job.status === "failed") ? job : false;
    },
    { timeoutMs: 90_000, intervalMs: 100, what: `job ${jobId} of ${channel} to finish` },
  );
}

/** Waits until every client holds `jobId` completed; resolves with its final update. */
async function completedAtEach(
  clients: readonly { client: JobChannelClient }[],
  channel: string,
  jobId: string,
): Promise<JobUpdate> {
  let final: JobUpdate | undefined;
  for (const { client } of clients) {
    final = await finalJob(client, channel, jobId);
    assert.equal(final.status, "completed");
  }
  return final!;
}

/** Submits a file-upload job through the worker Service; resolves with its id and the file's sha256. */
async function uploadJob(workerPort: number, userId: string, text: string) {
  const form = new FormData();
  form.set("userId", userId);
  form.set("file", new Blob([text]), "notes.txt");
  const response = await fetch(`http://127.0.0.1:${workerPort}/api/jobs/file-upload`, {
    method: "POST",
    body: form,
  });
  assert.equal(response.status, 202, await response.clone().text());
  const { jobId } = (await response.json()) as { jobId: string };
  return { jobId, sha256: createHash("sha256").update(text).digest("hex") };
}

/** A deal record the built-in job-updates worker screens (worker/src/jobs/job-updates.ts). */
const DEAL = {
  company: { name: "Northwind Freight Ltd", country: "GB", directors: ["Ada Marlow"] },
  financials: { revenue: 40_000_000, ebitda: 6_000_000, netDebt: 9_000_000 },
  deal: { enterpriseValue: 48_000_000, currency: "GBP" },
};

/** Submits a job-updates job through the worker Service; resolves with its id. */
async function dealJob(workerPort: number, userId: string): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${workerPort}/api/jobs/job-updates`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ userId, ...DEAL }),
  });
  assert.equal(response.status, 202, await response.clone().text());
  return ((await response.json()) as { jobId: string }).jobId;
}

/** Submits a job-updates job every `everyMs` until stopped; `stop` resolves with every job's id. */
function jobStream(workerPort: number, userId: string, everyMs: number) {
  const jobIds: string[] = [];
  let submitting = true;
  const loop = (async () => {
    while (submitting) {
      jobIds.push(await dealJob(workerPort, userId));
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    async stop(): Promise<string[]> {
      submitting = false;
      await loop;
      return jobIds;
    },
  };
}

describe("jobchannel installed by its Helm chart", { timeout: 1_800_000 }, () => {
  let cluster: E2ECluster;
  let kubeconfig: string;
  let helmHome: string;
  const servers: Server[] = [];
  const k = (args: string[], input?: string, timeoutMs = 120_000) =>
    kubectl(args, { kubeconfig, timeoutMs, ...(input === undefined ? {} : { input }) });
  const h = (args: string[], timeoutMs = 120_000) => helm(args, { kubeconfig, timeoutMs });
  const rollout = (namespace: string, name: string) =>
    k(["-n", namespace, "rollout", "status", name, "--timeout=240s"], undefined, 250_000);
  const jsonpath = (namespace: string, object: string, path: string) =>
    k(["-n", namespace, "get", object, "-o", `jsonpath=${path}`]);
  const secretValue = async (namespace: string, name: string, key: string) =>
    Buffer.from(await jsonpath(namespace, `secret/${name}`, `{.data.${key}}`), "base64").toString(
      "utf8",
    );
  const channelsJson = () => jsonpath(NS, "configmap/jobchannel-relay", "{.data.channels\\.json}");
  const podsOf = async (namespace: string, selector: string): Promise<string[]> =>
    (
      await k([
        "-n",
        namespace,
        "get",
        "pods",
        "-l",
        selector,
        "-o",
        "jsonpath={.items[*].metadata.name}",
      ])
    )
      .split(" ")
      .filter(Boolean);
  /** Ready pods of the release, by app.kubernetes.io/component. */
  const readyPods = async (): Promise<Record<string, string[]>> => {
    const pods = JSON.parse(
      await k([
        "-n",
        NS,
        "get",
        "pods",
        "-l",
        `app.kubernetes.io/instance=${RELEASE}`,
        "-o",
        "json",
      ]),
    ) as {
      items: {
        metadata: { name: string; labels: Record<string, string>; deletionTimestamp?: string };
        status: { conditions?: { type: string; status: string }[] };
      }[];
    };
    const out: Record<string, string[]> = {};
    for (const pod of pods.items) {
      const ready = pod.status.conditions?.some((c) => c.type === "Ready" && c.status === "True");
      if (!ready || pod.metadata.deletionTimestamp) continue;
      const name = pod.metadata.labels["app.kubernetes.io/component"] ?? "?";
      (out[name] ??= []).push(pod.metadata.name);
    }
    return out;
  };
  /** `helm install` or `helm upgrade` of the release with the provider's values, --wait. */
  const install = (verb: "install" | "upgrade", extra: string[] = []) =>
    h(
      [
        verb,
        RELEASE,
        chart,
        "-n",
        NS,
        ...cluster.valuesFiles.flatMap((file) => ["-f", file]),
        "--set",
        `jobChannelNamespaces={${APPS}}`,
        "--set",
        "monitoring.enabled=true",
        "--wait",
        "--timeout=5m",
        ...extra,
      ],
      330_000,
    );

  /** Runs `node -e script` in the pod (the project's images all have Node) and resolves with its output. */
  const nodeIn = (pod: string, script: string) =>
    k(["-n", NS, "exec", pod, "--", "node", "-e", script]);
  /** The relay pod's `jobchannel_relay_connections`, read from its own /metrics. */
  const relayConnections = async (pod: string): Promise<number> => {
    const script =
      "fetch('http://127.0.0.1:8080/metrics').then(r=>r.text()).then(t=>console.log(t))";
    const metrics = await nodeIn(pod, script);
    return Number(/^jobchannel_relay_connections(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1] ?? 0);
  };
  /**
   * A host port for the Service `name` (port 8080) through kube-proxy, once its /healthz answers:
   * kube-proxy programs a brand-new Service a moment after its pods are Ready, and a connection
   * before that is refused.
   */
  const servicePort = async (name: string): Promise<number> => {
    const port = await cluster.forwardService(NS, name, 8080);
    await waitFor(
      () =>
        fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.ok,
          () => false,
        ),
      { timeoutMs: 30_000, what: `${name} to answer through its Service` },
    );
    return port;
  };
  /** Waits until `kind/name` exists (the operator creates it). */
  const created = (namespace: string, object: string, what: string) =>
    waitFor(
      async () =>
        (await k(["-n", namespace, "get", object, "--ignore-not-found", "-o", "name"])) !== "",
      { timeoutMs: 90_000, what },
    );

  before(async () => {
    let since = Date.now();
    cluster = await openCluster();
    kubeconfig = cluster.kubeconfigPath;
    phase(`cluster ready (${cluster.provider})`, since);
    if (cluster.provider === "local") {
      for (const name of IMAGES) {
        if (!existsSync(imageArchive(name)))
          throw new Error(`${imageArchive(name)} is missing: run \`make images\``);
      }
    }
    since = Date.now();
    await cluster.loadImages(IMAGES);
    phase("images loaded into the node", since);
    // helm keeps its cache and config here, not in the home folder.
    helmHome = await mkdtemp(join(tmpdir(), "jobchannel-helm-"));
    process.env["HELM_CACHE_HOME"] = join(helmHome, "cache");
    process.env["HELM_CONFIG_HOME"] = join(helmHome, "config");
    process.env["HELM_DATA_HOME"] = join(helmHome, "data");
    // The release's namespace and a JobChannel namespace enforce the restricted Pod Security
    // Standard: a pod of the chart, or a worker of the operator, that breaks it is refused.
    const namespaces = [NS, APPS]
      .map(
        (name) =>
          `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n  labels:\n` +
          `    pod-security.kubernetes.io/enforce: restricted\n` +
          `    pod-security.kubernetes.io/enforce-version: latest\n`,
      )
      .join("---\n");
    await k(["apply", "--server-side", "-f", "-"], namespaces);
    // The Prometheus Operator's CRDs (`make tools` fetches them), for the chart's monitors and rules.
    // bin/crds/prometheus-operator links to the cache: kubectl reads a linked folder as a file.
    const monitoringCrds = realpathSync(
      join(dirname(toolPath("kubectl")), "crds", "prometheus-operator"),
    );
    await k(["apply", "--server-side", "-f", monitoringCrds]);
    await k(["wait", "--for=condition=Established", "--timeout=60s", "-f", monitoringCrds]);
    since = Date.now();
    console.log(await install("install"));
    phase("helm install --wait", since);
    relaySecret = await secretValue(NS, "jobchannel-relay-auth", "RELAY_JWT_SECRET");
  });

  after(async () => {
    for (const server of servers) server.close();
    await cluster?.stop();
    if (helmHome) await rm(helmHome, { recursive: true, force: true });
    phase("whole suite", started);
  });

  it("runs Redis, two operators and two relays from the project's images, Ready under the restricted Pod Security Standard, and CoreDNS", async () => {
    const pods = await readyPods();
    console.log(await k(["get", "pods", "-A", "-o", "wide"]));
    assert.equal(pods["redis"]?.length, 1, "one Redis");
    assert.equal(pods["operator"]?.length, 2, "two operators");
    assert.equal(pods["relay"]?.length, 2, "two relays");
    const images = await k([
      "-n",
      NS,
      "get",
      "pods",
      "-l",
      `app.kubernetes.io/instance=${RELEASE}`,
      "-o",
      "jsonpath={.items[*].spec.containers[*].image}",
    ]);
    assert.deepEqual([...new Set(images.split(" "))].sort(), [
      "localhost/jobchannel/operator:dev",
      "localhost/jobchannel/redis:7",
      "localhost/jobchannel/relay:dev",
    ]);
    const dns = await k([
      "-n",
      "kube-system",
      "get",
      "pods",
      "-l",
      "k8s-app=kube-dns",
      "-o",
      "jsonpath={.items[*].status.conditions[?(@.type=='Ready')].status}",
    ]);
    assert.match(dns, /True/, "CoreDNS is Ready");
    const status = JSON.parse(await h(["status", RELEASE, "-n", NS, "-o", "json"])) as {
      info: { status: string };
    };
    assert.equal(status.info.status, "deployed");
    const holder = await waitFor(
      async () =>
        (await jsonpath(NS, "lease/jobchannel-operator", "{.spec.holderIdentity}")) || false,
      { timeoutMs: 60_000, what: "an operator to hold the leader Lease" },
    );
    assert.ok(
      pods["operator"]?.some((pod) => holder.startsWith(pod)),
      `leader ${holder}`,
    );
  });

  it("writes the Redis Secret into each listed JobChannel namespace, with the release namespace's URL", async () => {
    const url = await secretValue(NS, "jobchannel-redis", "REDIS_URL");
    assert.match(
      url,
      /^redis:\/\/:[A-Za-z0-9]{32}@jobchannel-redis\.jobchannel\.svc\.cluster\.local:6379$/,
    );
    assert.equal(await secretValue(APPS, "jobchannel-redis", "REDIS_URL"), url);
  });

  it("answers kubectl logs and kubectl exec against the pods", async () => {
    const [relay] = await podsOf(NS, RELAY);
    assert.ok(relay);
    const logs = await k(["-n", NS, "logs", relay]);
    assert.match(logs, /"msg"/, "the relay logs pino JSON lines");
    const user = await nodeIn(relay, "console.log(process.getuid())");
    assert.notEqual(user.trim(), "0", "the relay does not run as root");
    const write = await nodeIn(
      relay,
      "try{require('fs').writeFileSync('/app/x','')}catch(e){console.log(e.code)}",
    );
    assert.equal(write.trim(), "EROFS", "the root filesystem is read-only");
  });

  it("resolves Service names through CoreDNS and reaches them through kube-proxy from inside a pod", async () => {
    const [relay] = await podsOf(NS, RELAY);
    assert.ok(relay);
    // The relay's own REDIS_URL (from the chart's Secret) names the Redis Service by its DNS name.
    const script = [
      "const u=new URL(process.env.REDIS_URL);const dns=require('dns').promises;",
      "(async()=>{const a=await dns.lookup(u.hostname);",
      "const s=require('net').connect(Number(u.port),u.hostname);",
      "s.on('connect',()=>s.write('AUTH '+decodeURIComponent(u.password)+'\\r\\nPING\\r\\n'));let r='';",
      "s.on('data',d=>{r+=d;if(r.includes('PONG')){console.log(u.hostname+' '+a.address+' '+r.trim().split(/\\s+/).join(' '));s.end()}});})()",
    ].join("");
    const out = await nodeIn(relay, script);
    assert.match(
      out,
      /^jobchannel-redis\.jobchannel\.svc\.cluster\.local \d+\.\d+\.\d+\.\d+ \+OK \+PONG$/m,
    );
  });

  it("reconciles the example JobChannels into worker Deployments whose pods become Ready", async () => {
    await k(["apply", "--server-side", "-n", NS, "-f", join(root, "examples", "jobchannels")]);
    for (const name of ["file-upload", "bulk-upload", "pdf-extraction", "job-updates"]) {
      await created(NS, `deployment/${name}-worker`, `${name}-worker to be created`);
      await rollout(NS, `deployment/${name}-worker`);
      await k(["-n", NS, "wait", `jobchannel/${name}`, "--for=condition=Ready", "--timeout=120s"]);
    }
    const config = await k([
      "-n",
      NS,
      "get",
      "configmap",
      "jobchannel-relay",
      "-o",
      "jsonpath={.data.channels\\.json}",
    ]);
    const names = (JSON.parse(config) as { channels: { name: string }[] }).channels.map(
      (c) => c.name,
    );
    assert.deepEqual(names.sort(), ["bulk-upload", "file-upload", "job-updates", "pdf-extraction"]);
    console.log(await k(["get", "pods", "-A", "-o", "wide"]));
  });

  it("gives host processes a port through kubectl port-forward run from the host", async () => {
    const forward = spawn(
      toolPath("kubectl"),
      [`--kubeconfig=${kubeconfig}`, "-n", NS, "port-forward", "svc/jobchannel-relay", ":8080"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    try {
      let output = "";
      forward.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
      const port = await waitFor(
        () => /Forwarding from 127\.0\.0\.1:(\d+)/.exec(output)?.[1] ?? false,
        {
          timeoutMs: 30_000,
          what: "kubectl port-forward to listen",
        },
      );
      const response = await fetch(`http://127.0.0.1:${port}/readyz`);
      assert.equal(response.status, 200);
    } finally {
      const closed = new Promise((resolve) => forward.once("close", resolve));
      forward.kill("SIGTERM");
      await closed;
    }
  });

  it("streams a job submitted to a worker Service to a WebSocket client of the relay Service, and the raw PUBLISH path too", async () => {
    const relayPort = await servicePort("jobchannel-relay");
    const workerPort = await servicePort("file-upload-worker");
    const alice = await relayClient(relayPort, "alice", ["file-upload"]);
    try {
      const { jobId, sha256 } = await uploadJob(
        workerPort,
        "alice",
        "hello from a pod\n".repeat(1000),
      );
      const job = (await finalJob(alice.client, "file-upload", jobId)) as JobUpdate & {
        result?: { sha256: string; bytes: number };
      };
      assert.equal(job.status, "completed");
      assert.equal(job.result?.sha256, sha256);
      assert.equal(job.result?.bytes, 17_000);

      // The original guide's worker: a raw PUBLISH of its JSON, straight into Redis.
      const [redis] = await podsOf(NS, component("redis"));
      assert.ok(redis);
      const password = new URL(await secretValue(NS, "jobchannel-redis", "REDIS_URL")).password;
      const raw = {
        jobId: "raw-1",
        status: "completed",
        progress: 100,
        timestamp: Date.now(),
        userId: "alice",
      };
      await k([
        "-n",
        NS,
        "exec",
        redis,
        "--",
        "redis-cli",
        "--no-auth-warning",
        "-a",
        decodeURIComponent(password),
        "PUBLISH",
        "jobchannel:file-upload",
        JSON.stringify(raw),
      ]);
      const seen = await finalJob(alice.client, "file-upload", "raw-1");
      assert.equal(seen.status, "completed");
    } finally {
      alice.close();
    }
  });

  it("shows a job's progress in the dashboard in Chromium, through the relay and worker Services", async () => {
    const dashboardDir = join(root, "client", "dashboard", "dist");
    const workerPorts = new Map<string, Promise<number>>();
    const gateway = await startGateway({
      dashboardDir,
      relayPort: await servicePort("jobchannel-relay"),
      workerPort(channel) {
        let port = workerPorts.get(channel);
        if (!port) {
          port = servicePort(`${channel}-worker`);
          workerPorts.set(channel, port);
        }
        return port;
      },
      token: await token("bob"),
    });
    servers.push(gateway.server);
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      await page.goto(`${gateway.url}/`);
      await page.locator('.connection[data-state="open"]').waitFor({ timeout: 30_000 });
      await page.getByLabel("Job type").selectOption("file-upload");
      await page.getByLabel("File", { exact: true }).setInputFiles({
        name: "report.txt",
        mimeType: "text/plain",
        buffer: Buffer.from("quarterly numbers\n".repeat(500)),
      });
      await page.getByLabel("User id").fill("bob");
      await page.getByRole("button", { name: "Start job" }).click();
      const done = page.locator('li[data-channel="file-upload"][data-status="completed"]').first();
      await done.waitFor({ timeout: 90_000 });
      assert.equal(await done.locator(".badge").textContent(), "Completed");
      await page.screenshot({
        path: join(root, "test-results", "pods-dashboard.png"),
        fullPage: true,
      });
    } finally {
      await browser.close();
    }
  });

  it("runs a custom job type from its own image, as docs/add-a-job-type.md says", async () => {
    const relayPort = await servicePort("jobchannel-relay");
    const result = await followTutorial({
      apply: (manifest) => k(["apply", "--server-side", "-f", "-"], manifest),
      rollout: (name) => rollout(NS, `deployment/${name}`),
      forward: () => servicePort("prime-count-worker"),
      watch: () => relayClient(relayPort, "carol", ["prime-count"]),
    });
    assert.equal(result.status, "completed");
    assert.deepEqual(result.result, { limit: 1_000_000, primes: 78_498 });
    assert.ok(result.progressSeen > 1, "progress arrived in steps before the end");
  });

  it("is scraped by a real Prometheus through the chart's monitors under traffic, and every rule and dashboard expression answers", async () => {
    // Prometheus's own ServiceAccount: discovery and the pod proxy, nothing more.
    await k(["apply", "--server-side", "-f", "-"], PROMETHEUS_RBAC);
    const prometheusToken = (
      await k(["-n", "monitoring", "create", "token", "prometheus", "--duration=1h"])
    ).trim();
    const config = loadYaml(await readFile(kubeconfig, "utf8")) as {
      clusters: { cluster: { server: string; "certificate-authority-data": string } }[];
    };
    const apiCluster = config.clusters[0]?.cluster;
    assert.ok(apiCluster);
    const monitors = (
      JSON.parse(
        await k([
          "get",
          "servicemonitors,podmonitors",
          "-A",
          "-l",
          `app.kubernetes.io/instance=${RELEASE}`,
          "-o",
          "json",
        ]),
      ) as { items: Monitor[] }
    ).items;
    assert.deepEqual(monitors.map((m) => m.kind).sort(), [
      "PodMonitor",
      "ServiceMonitor",
      "ServiceMonitor",
    ]);
    const ruleGroups = (
      JSON.parse(await k(["-n", NS, "get", "prometheusrules", "-o", "json"])) as {
        items: { spec: { groups: RuleGroup[] } }[];
      }
    ).items.flatMap((r) => r.spec.groups);
    assert.ok(ruleGroups.length > 0, "the release's PrometheusRule has groups");
    const prometheus = await startPrometheus({
      monitors,
      ruleGroups,
      api: {
        server: apiCluster.server,
        token: prometheusToken,
        caPem: Buffer.from(apiCluster["certificate-authority-data"], "base64").toString("utf8"),
      },
      list: async (kind) => JSON.parse(await k(["get", kind, "-A", "-o", "json"])) as unknown,
    });
    const relayPort = await servicePort("jobchannel-relay");
    const workerPort = await servicePort("job-updates-worker");
    const watcher = await relayClient(relayPort, "pat", ["job-updates"]);
    // Traffic for the whole check: a job a second through the worker Service, to the relays.
    const traffic = jobStream(workerPort, "pat", 1000);
    try {
      const workerPods = (await podsOf(NS, "app.kubernetes.io/component=worker")).length;
      const targets = await waitFor(
        async () => {
          await prometheus.discover();
          const { activeTargets } = await prometheus.api<{
            activeTargets: { labels: Record<string, string>; health: string; lastError: string }[];
          }>("targets", { state: "active" });
          const up = activeTargets.filter((t) => t.health === "up");
          const count = (job: RegExp) => up.filter((t) => job.test(t.labels["job"] ?? "")).length;
          return count(/^jobchannel-relay$/) === 2 &&
            count(/^jobchannel-operator$/) === 2 &&
            count(/-workers$/) >= workerPods
            ? activeTargets
            : false;
        },
        {
          timeoutMs: 60_000,
          what: `Prometheus to scrape 2 relays, 2 operators and ${workerPods} workers`,
        },
      );
      console.log(`# ${targets.length} targets up, through the API server's pod proxy`);
      // The recording rules have turned the traffic into rates.
      await waitFor(
        async () =>
          (await prometheus.query("channel:jobchannel_relay_messages_delivered:rate5m > 0"))
            .length > 0,
        { timeoutMs: 60_000, what: "the delivered rate to be recorded" },
      );

      const { groups } = await prometheus.api<{
        groups: { rules: { name: string; health: string; lastError?: string }[] }[];
      }>("rules");
      for (const rule of groups.flatMap((g) => g.rules)) {
        assert.equal(rule.health, "ok", `rule ${rule.name}: ${rule.lastError ?? ""}`);
      }
      const recorded = new Set(
        ruleGroups.flatMap((g) => g.rules.map((r) => r.record).filter(Boolean)),
      );
      const expressions = [
        ...ruleGroups.flatMap((g) =>
          g.rules.map((r) => ({
            where: r.alert ?? r.record ?? "?",
            expr: r.expr,
            alert: !!r.alert,
          })),
        ),
        ...dashboardExpressions(await loadDashboard()).map(({ where, expr }) => ({
          where,
          expr: expandGrafanaVariables(expr),
          alert: false,
        })),
      ];
      // Every metric an expression reads is one the running release exposes.
      const read = new Set(expressions.flatMap(({ expr }) => metricNamesIn(expr)));
      for (const name of read) {
        if (recorded.has(name) || name === "up") continue;
        const family = name.replace(/_(?:bucket|sum|count)$/, "");
        const metadata = await prometheus.api<Record<string, unknown[]>>("metadata", {
          metric: family,
        });
        const exposed = (metadata[family]?.length ?? 0) > 0 || (metadata[name]?.length ?? 0) > 0;
        assert.ok(exposed, `no scraped target exposes ${name}`);
      }
      let answered = 0;
      for (const { where, expr, alert } of expressions) {
        const result = await prometheus.query(expr);
        if (alert) {
          assert.deepEqual(result, [], `alert ${where} holds on a healthy release: ${expr}`);
          continue;
        }
        // Expected to answer whenever every selector it reads has series now.
        let inputs = true;
        for (const selector of selectorsIn(expr)) {
          if ((await prometheus.query(`count(${selector})`)).length === 0) inputs = false;
        }
        if (inputs) {
          assert.ok(result.length > 0, `${where} returns no series: ${expr}`);
          answered += 1;
        } else {
          console.log(`# ${where} reads a selector with no series (no such events yet): ${expr}`);
        }
      }
      console.log(`# ${answered} of ${expressions.length} expressions answered with series`);
      const firing = await prometheus.query('ALERTS{alertstate="firing"}');
      assert.deepEqual(firing, [], "no alert fires on a healthy release");
      for (const jobId of await traffic.stop())
        assert.equal((await finalJob(watcher.client, "job-updates", jobId)).status, "completed");
    } finally {
      await traffic.stop().catch(() => undefined);
      watcher.close();
      await prometheus.stop();
    }
  });

  it("reconnects the clients of a deleted relay pod through the Service to the other replica, and they converge", async () => {
    const relayPort = await servicePort("jobchannel-relay");
    const workerPort = await servicePort("file-upload-worker");
    const pods = await podsOf(NS, RELAY);
    const baseline = await Promise.all(pods.map((pod) => relayConnections(pod)));
    const clients = await Promise.all(
      Array.from({ length: 6 }, () => relayClient(relayPort, "dave", ["file-upload"])),
    );
    try {
      // Where kube-proxy sent them: each pod's connection gauge before and after they connected.
      const after = await Promise.all(pods.map((pod) => relayConnections(pod)));
      const ours = after.map((count, i) => count - (baseline[i] ?? 0));
      const most = Math.max(...ours);
      const victim = pods[ours.indexOf(most)];
      assert.ok(victim && most > 0, `our connections per relay pod: ${ours.join(", ")}`);
      await k(["-n", NS, "delete", "pod", victim, "--wait=false"]);
      const deletedAt = Date.now();
      const closed = await waitFor(
        () => {
          const gone = clients.filter((c) => c.closes.length > 0);
          return gone.length >= most ? gone : false;
        },
        { timeoutMs: 60_000, what: `the ${most} clients of ${victim} to be closed` },
      );
      console.log(`# ${closed.length} of ${clients.length} clients were on the deleted pod`);
      for (const c of closed)
        assert.equal(c.closes[0]?.code, 1001, "a drained connection closes with 1001");
      await waitFor(() => clients.every((c) => c.client.state === "open"), {
        timeoutMs: 60_000,
        what: "every client to be connected again",
      });
      const reconnectedAt = Date.now();
      const { jobId } = await uploadJob(
        workerPort,
        "dave",
        "written after a relay pod went away\n",
      );
      const final = await completedAtEach(clients, "file-upload", jobId);
      recordNodeFault(
        "a relay pod deleted, its clients reconnect to the other replica",
        `${clients.length} clients, 2 relay pods, 1 job after the reconnect`,
        1,
        clients,
        [final],
        (reconnectedAt - deletedAt) / 1000,
      );
      await rollout(NS, "deployment/jobchannel-relay");
    } finally {
      for (const c of clients) c.close();
    }
  });

  it("drains with 1001 on a relay rollout only after the old pods left the Service's ready endpoints, and every client converges", async () => {
    const relayPort = await servicePort("jobchannel-relay");
    const workerPort = await servicePort("file-upload-worker");
    const clients = await Promise.all(
      Array.from({ length: 4 }, () => relayClient(relayPort, "erin", ["file-upload"])),
    );
    const old = await podsOf(NS, RELAY);
    // When each old pod's endpoint stopped being ready, from a watch on the Service's
    // EndpointSlices: each event arrives as the API server sends it, where polling with kubectl
    // would see it a whole kubectl run late on a loaded machine.
    const notReadyAt = new Map<string, number>();
    const watcher = spawn(
      toolPath("kubectl"),
      [
        `--kubeconfig=${kubeconfig}`,
        "-n",
        NS,
        "get",
        "endpointslices",
        "-l",
        "kubernetes.io/service-name=jobchannel-relay",
        "--watch",
        "-o",
        "json",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    // kubectl prints each event's object as indented JSON that ends with a "}" line of its own.
    let pending = "";
    let listed = false;
    watcher.stdout.on("data", (chunk: Buffer) => {
      const now = Date.now();
      pending += chunk.toString("utf8");
      let end: number;
      while ((end = pending.indexOf("\n}\n")) !== -1) {
        const slice = JSON.parse(pending.slice(0, end + 2)) as {
          endpoints?: { targetRef?: { name: string }; conditions?: { ready?: boolean } }[];
        };
        pending = pending.slice(end + 3);
        listed = true;
        for (const endpoint of slice.endpoints ?? []) {
          const pod = endpoint.targetRef?.name;
          const left = endpoint.conditions?.ready === false;
          if (pod && left && old.includes(pod) && !notReadyAt.has(pod)) notReadyAt.set(pod, now);
        }
      }
    });
    const watch = new Promise((resolve) => watcher.once("close", resolve));
    try {
      await waitFor(() => listed, { timeoutMs: 30_000, what: "the EndpointSlice watch to list" });
      await k(["-n", NS, "rollout", "restart", "deployment/jobchannel-relay"]);
      const restartedAt = Date.now();
      await rollout(NS, "deployment/jobchannel-relay");
      await waitFor(async () => (await podsOf(NS, RELAY)).every((p) => !old.includes(p)), {
        timeoutMs: 120_000,
        what: "the old relay pods to be gone",
      });
      for (const c of clients) {
        await waitFor(() => c.closes.length > 0 && c.client.state === "open", {
          timeoutMs: 60_000,
          what: "a reconnect",
        });
        assert.equal(c.closes[0]?.code, 1001, "closed by the drain, not by a lost connection");
      }
      const firstClose = Math.min(...clients.map((c) => c.closes[0]?.at ?? Infinity));
      const firstNotReady = Math.min(...notReadyAt.values());
      assert.ok(
        firstNotReady < firstClose,
        `an old pod left the ready endpoints ${firstClose - firstNotReady} ms before the first 1001`,
      );
      const reconnectedAt = Date.now();
      const { jobId } = await uploadJob(workerPort, "erin", "after the rollout\n");
      const final = await completedAtEach(clients, "file-upload", jobId);
      recordNodeFault(
        "relay rollout: every relay pod drained (1001) and replaced",
        `${clients.length} clients, 2 relay pods, 1 job after the rollout`,
        old.length,
        clients,
        [final],
        (reconnectedAt - restartedAt) / 1000,
      );
    } finally {
      watcher.kill("SIGTERM");
      await watch;
      for (const c of clients) c.close();
    }
  });

  it("upgrades to changed values under live clients with no final update lost, leaving channels.json and the secrets alone", async () => {
    const relayPort = await servicePort("jobchannel-relay");
    const workerPort = await servicePort("job-updates-worker");
    const before = {
      channels: await channelsJson(),
      jwt: await secretValue(NS, "jobchannel-relay-auth", "RELAY_JWT_SECRET"),
      redisUrl: await secretValue(NS, "jobchannel-redis", "REDIS_URL"),
      relays: (await readyPods())["relay"] ?? [],
    };
    assert.match(before.jwt, /^[A-Za-z0-9]{48}$/);
    const clients = await Promise.all(
      Array.from({ length: 4 }, () => relayClient(relayPort, "uma", ["job-updates"])),
    );
    // Jobs keep arriving through the worker Service for the whole upgrade.
    const traffic = jobStream(workerPort, "uma", 400);
    let jobIds: string[];
    try {
      const since = Date.now();
      // New relay and operator pod templates: both Deployments roll while clients are connected.
      console.log(
        await install("upgrade", [
          "--set",
          "relay.logLevel=debug",
          "--set",
          "operator.logLevel=debug",
        ]),
      );
      phase("helm upgrade --wait under traffic", since);
      // The old relays drain after the new ones are Ready: jobs keep coming until they are gone.
      await waitFor(
        async () => (await podsOf(NS, RELAY)).every((pod) => !before.relays.includes(pod)),
        { timeoutMs: 120_000, what: "the old relay pods to be gone" },
      );
    } catch (error) {
      for (const c of clients) c.close();
      throw error;
    } finally {
      jobIds = await traffic.stop();
    }
    try {
      console.log(`# ${jobIds.length} jobs submitted during the upgrade and the old relays' drain`);
      assert.ok(jobIds.length >= 5, "jobs arrived during the whole upgrade");
      const finals = new Map<string, JobUpdate>();
      for (const { client, closes } of clients) {
        await waitFor(() => closes.length > 0 && client.state === "open", {
          timeoutMs: 60_000,
          what: "each client to be drained from an old relay and connected to a new one",
        });
        assert.ok(
          closes.every((c) => c.code === 1001),
          `closed only by drains: ${closes.map((c) => c.code).join(", ")}`,
        );
        for (const jobId of jobIds) {
          const final = await finalJob(client, "job-updates", jobId);
          assert.equal(final.status, "completed");
          finals.set(jobId, final);
        }
      }
      recordNodeFault(
        "helm upgrade under traffic: relay and operator pods rolled",
        `${clients.length} clients, a job every 400 ms through the worker Service`,
        before.relays.length,
        clients,
        [...finals.values()],
        null,
      );
      console.log(
        `# reconnects per client: ${clients.map((c) => c.closes.length).join(", ")}; every client saw all ${jobIds.length} jobs completed`,
      );
    } finally {
      for (const c of clients) c.close();
    }
    const history = JSON.parse(await h(["history", RELEASE, "-n", NS, "-o", "json"])) as {
      revision: number;
      status: string;
    }[];
    assert.deepEqual(
      history.map((r) => [r.revision, r.status]),
      [
        [1, "superseded"],
        [2, "deployed"],
      ],
    );
    const pods = await readyPods();
    assert.equal(pods["relay"]?.length, 2);
    assert.ok(
      pods["relay"]?.every((pod) => !before.relays.includes(pod)),
      "the relays rolled to the new template",
    );
    assert.equal(await channelsJson(), before.channels, "channels.json is untouched");
    const managers = (
      await jsonpath(NS, "configmap/jobchannel-relay", "{.metadata.managedFields[*].manager}")
    )
      .split(" ")
      .filter(Boolean);
    assert.deepEqual([...new Set(managers)], ["jobchannel-operator"], "only the operator owns it");
    assert.equal(await secretValue(NS, "jobchannel-relay-auth", "RELAY_JWT_SECRET"), before.jwt);
    assert.equal(await secretValue(NS, "jobchannel-redis", "REDIS_URL"), before.redisUrl);
    assert.equal(await secretValue(APPS, "jobchannel-redis", "REDIS_URL"), before.redisUrl);
  });

  it("hands leadership to the other operator pod when the leader's pod is killed", async () => {
    const holder = async () =>
      (await jsonpath(NS, "lease/jobchannel-operator", "{.spec.holderIdentity}")).trim();
    const first = await waitFor(holder, { timeoutMs: 60_000, what: "a leader" });
    const pods = await podsOf(NS, component("operator"));
    const leaderPod = pods.find((pod) => first.startsWith(pod));
    assert.ok(leaderPod, `the holder ${first} is one of ${pods.join(", ")}`);
    await k(["-n", NS, "delete", "pod", leaderPod, "--grace-period=0", "--force"]);
    const killedAt = Date.now();
    const next = await waitFor(
      async () => {
        const current = await holder();
        return current !== "" && !current.startsWith(leaderPod) ? current : false;
      },
      { timeoutMs: 120_000, what: "another operator pod to take the Lease" },
    );
    console.log(`# leadership moved from ${first} to ${next}`);
    // The new leader reconciles: a new JobChannel gets its worker.
    await k(
      ["apply", "--server-side", "-f", "-"],
      `apiVersion: jobchannel.io/v1alpha1\nkind: JobChannel\nmetadata: {name: after-failover, namespace: ${NS}}\nspec:\n  access: public\n  visibility: channel\n  worker: {jobType: job-updates, replicas: 1}\n`,
    );
    await created(
      NS,
      "deployment/after-failover-worker",
      "the new leader to create after-failover-worker",
    );
    recordNodeFault(
      "the leading operator's pod force-deleted, another pod leads and reconciles",
      "2 operator pods, 1 JobChannel applied after the loss",
      1,
      [],
      [],
      (Date.now() - killedAt) / 1000,
    );
  });

  it("starts the workers of a JobChannel in a namespace the chart does not list once its team adds the Redis Secret", async () => {
    await k(["create", "namespace", UNLISTED]);
    const manifest = `apiVersion: jobchannel.io/v1alpha1\nkind: JobChannel\nmetadata: {name: reports, namespace: ${UNLISTED}}\nspec:\n  access: public\n  visibility: channel\n  worker: {jobType: bulk-upload, replicas: 1}\n`;
    await k(["apply", "--server-side", "-f", "-"], manifest);
    // Workers read REDIS_URL from a Secret in their own namespace: without it the kubelet names it.
    const missing = await waitFor(
      async () => {
        const out = await k([
          "-n",
          UNLISTED,
          "get",
          "pods",
          "-l",
          "jobchannel.io/jobchannel=reports",
          "-o",
          "jsonpath={.items[*].status.containerStatuses[*].state.waiting.message}",
        ]);
        return /secret "jobchannel-redis" not found/.test(out) ? out : false;
      },
      { timeoutMs: 120_000, what: "the worker pod to report the missing Secret" },
    );
    console.log(`# without the Secret: ${missing}`);
    await k([
      "-n",
      UNLISTED,
      "create",
      "secret",
      "generic",
      "jobchannel-redis",
      `--from-literal=REDIS_URL=${await secretValue(NS, "jobchannel-redis", "REDIS_URL")}`,
    ]);
    await rollout(UNLISTED, "deployment/reports-worker");
    await k([
      "-n",
      UNLISTED,
      "wait",
      "jobchannel/reports",
      "--for=condition=Ready",
      "--timeout=120s",
    ]);
  });

  it("uninstalls everything the release made, keeping the CRD and the JobChannels", async () => {
    const since = Date.now();
    await h(["uninstall", RELEASE, "-n", NS, "--wait", "--timeout=3m"], 200_000);
    phase("helm uninstall --wait", since);
    const kept = await k([
      "get",
      "crd/jobchannels.jobchannel.io",
      "-o",
      "jsonpath={.metadata.annotations.helm\\.sh/resource-policy}",
    ]);
    assert.equal(kept, "keep");
    assert.equal(
      (await k(["get", "jobchannels", "-A", "-o", "name"])).split("\n").filter(Boolean).length,
      7,
      "the four examples, prime-count, after-failover and reports",
    );
    const labelled = `app.kubernetes.io/instance=${RELEASE}`;
    const kinds =
      "deployments,statefulsets,services,secrets,configmaps,serviceaccounts,roles,rolebindings,poddisruptionbudgets,leases";
    for (const namespace of [NS, APPS]) {
      const left = await k(["-n", namespace, "get", kinds, "-l", labelled, "-o", "name"]);
      assert.equal(left.trim(), "", `nothing labelled with the release is left in ${namespace}`);
    }
    const clusterWide = await k([
      "get",
      "clusterroles,clusterrolebindings",
      "-l",
      labelled,
      "-o",
      "name",
    ]);
    assert.equal(clusterWide.trim(), "", "no cluster-wide RBAC of the release is left");
    await waitFor(async () => Object.keys(await readyPods()).length === 0, {
      timeoutMs: 120_000,
      what: "the release's pods to be gone",
    });
    // The operator's ConfigMap belongs to the operator's Deployment: the garbage collector takes it.
    await waitFor(
      async () =>
        (await k([
          "-n",
          NS,
          "get",
          "configmap/jobchannel-relay",
          "--ignore-not-found",
          "-o",
          "name",
        ])) === "",
      { timeoutMs: 60_000, what: "the relay ConfigMap to be collected with the operator" },
    );
    // What stays besides the JobChannels: what they own (their worker Deployments and Services).
    console.log(
      `# left after uninstall:\n${await k(["-n", NS, "get", "configmaps,deployments,services,secrets", "-o", "name"])}`,
    );
  });

  it("leaves no process, mount, cgroup or namespace behind after cluster-down", async (t) => {
    const local = cluster.local;
    if (!local) return t.skip(`the ${cluster.provider} provider tears its cluster down itself`);
    const { sandbox, pid, bridgePid, processes } = local.state;
    await local.stop();
    for (const p of [pid, bridgePid, ...processes.map((c) => c.pid)]) {
      assert.throws(() => process.kill(p, 0), /ESRCH/, `pid ${p} is gone`);
    }
    assert.equal(existsSync(sandbox.dir), false);
    const mounts = await readFile("/proc/self/mountinfo", "utf8");
    assert.equal(mounts.includes(sandbox.dir), false, "no mount under the sandbox folder");
    for (const controller of ["cpu", "memory", "pids", "systemd"]) {
      assert.equal(existsSync(`/sys/fs/cgroup/${controller}/jobchannel-node-${sandbox.id}`), false);
    }
  });
});
