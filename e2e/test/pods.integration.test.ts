// jobchannel running in pods on the local node: deployed from its images, driven from outside the pods, and faulted.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import type { Server } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { JobChannelClient, type JobUpdate } from "@jobchannel/client";
import { waitFor } from "@jobchannel/testkit";
import { launchChromium } from "@jobchannel/testkit/browser";
import { SignJWT } from "jose";
import { startCluster, type LocalCluster } from "../src/cluster.ts";
import { imageArchive, repoRoot, toolPath } from "../src/paths.ts";
import { kubectl } from "../src/tools.ts";
import { startGateway } from "./helpers/gateway.ts";
import { followTutorial } from "./helpers/tutorial.ts";

const NS = "jobchannel";
const RELAY = "app.kubernetes.io/name=jobchannel-relay";
const APPS = "apps";
const root = repoRoot();
/** The images this suite runs; `make images` builds them (prime-count is the tutorial's). */
const PRODUCT_IMAGES = ["redis", "operator", "relay", "worker"] as const;
/** Matches e2e/manifests/jobchannel.yaml. */
const RELAY_SECRET = "e2e-relay-secret-that-is-long-enough-for-hs256";
const started = Date.now();

function phase(name: string, since: number): void {
  console.log(`# phase ${name}: ${((Date.now() - since) / 1000).toFixed(1)} s`);
}

async function token(sub: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(sub)
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(RELAY_SECRET));
}

/** A JobChannelClient against the relay Service (forwarded to a host port), collecting close codes. */
async function relayClient(port: number, sub: string, channels: string[]) {
  const closes: { code: number; at: number }[] = [];
  const client = new JobChannelClient({
    url: `ws://127.0.0.1:${port}/ws`,
    token: await token(sub),
    backoff: { initialMs: 100, maxMs: 1000 },
  });
  client.on("close", ({ code }) => closes.push({ code, at: Date.now() }));
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

describe("jobchannel in pods on the local node", { timeout: 1_800_000 }, () => {
  let cluster: LocalCluster;
  let kubeconfig: string;
  const servers: Server[] = [];
  const k = (args: string[], input?: string, timeoutMs = 120_000) =>
    kubectl(args, { kubeconfig, timeoutMs, ...(input === undefined ? {} : { input }) });
  const rollout = (namespace: string, name: string) =>
    k(["-n", namespace, "rollout", "status", name, "--timeout=240s"], undefined, 250_000);
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
    for (const name of [...PRODUCT_IMAGES, "prime-count"]) {
      if (!existsSync(imageArchive(name)))
        throw new Error(`${imageArchive(name)} is missing: run \`make images\``);
    }
    let since = Date.now();
    cluster = await startCluster();
    kubeconfig = cluster.kubeconfigPath;
    phase("cluster up (control plane, node, CoreDNS)", since);
    since = Date.now();
    await cluster.loadImages([...PRODUCT_IMAGES, "prime-count"].map((name) => imageArchive(name)));
    phase("images imported into the node", since);
    since = Date.now();
    await k(["apply", "--server-side", "-f", join(root, "crds", "jobchannels.jobchannel.io.yaml")]);
    await k([
      "wait",
      "--for=condition=Established",
      "crd/jobchannels.jobchannel.io",
      "--timeout=60s",
    ]);
    await k(["apply", "--server-side", "-f", join(root, "e2e", "manifests", "jobchannel.yaml")]);
    await k(["apply", "--server-side", "-f", join(root, "operator", "rbac.yaml")]);
    for (const name of [
      "deployment/redis",
      "deployment/jobchannel-operator",
      "deployment/jobchannel-relay",
    ]) {
      await rollout(NS, name);
    }
    phase("jobchannel deployed (Redis, operator x2, relay x2)", since);
  });

  after(async () => {
    for (const server of servers) server.close();
    await cluster?.stop();
    phase("whole suite", started);
  });

  it("runs Redis, the operator, the relay and CoreDNS in pods from the project's images, Running and Ready", async () => {
    const pods = JSON.parse(await k(["get", "pods", "-A", "-o", "json"])) as {
      items: {
        metadata: { name: string; namespace: string };
        spec: { containers: { image: string }[] };
        status: { phase: string; conditions?: { type: string; status: string }[] };
      }[];
    };
    console.log(await k(["get", "pods", "-A", "-o", "wide"]));
    const ready = (image: string) =>
      pods.items.filter(
        (p) =>
          p.spec.containers.some((c) => c.image === image) &&
          p.status.phase === "Running" &&
          p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
      ).length;
    assert.equal(ready("localhost/jobchannel/redis:7"), 1);
    assert.equal(ready("localhost/jobchannel/operator:dev"), 2);
    assert.equal(ready("localhost/jobchannel/relay:dev"), 2);
    assert.equal(ready("localhost/jobchannel/coredns:1.14.7"), 1);
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
    const script = [
      "const dns=require('dns').promises;",
      "(async()=>{const a=await dns.lookup('redis.jobchannel.svc.cluster.local');",
      "const s=require('net').connect(6379,'redis');s.on('connect',()=>s.write('PING\\r\\n'));",
      "s.on('data',d=>{console.log(a.address+' '+d.toString().trim());s.end()});})()",
    ].join("");
    const out = await nodeIn(relay, script);
    assert.match(out, /^10\.0\.0\.\d+ \+PONG$/m);
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
      const [redis] = await podsOf(NS, "app.kubernetes.io/name=redis");
      assert.ok(redis);
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
      const { jobId } = await uploadJob(
        workerPort,
        "dave",
        "written after a relay pod went away\n",
      );
      for (const { client } of clients)
        assert.equal((await finalJob(client, "file-upload", jobId)).status, "completed");
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
    // When each old pod's endpoint stopped being ready, as kube-proxy saw it.
    const notReadyAt = new Map<string, number>();
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const slices = JSON.parse(
          await k([
            "-n",
            NS,
            "get",
            "endpointslices",
            "-l",
            "kubernetes.io/service-name=jobchannel-relay",
            "-o",
            "json",
          ]),
        ) as {
          items: {
            endpoints?: { targetRef?: { name: string }; conditions?: { ready?: boolean } }[];
          }[];
        };
        for (const endpoint of slices.items.flatMap((slice) => slice.endpoints ?? [])) {
          const pod = endpoint.targetRef?.name;
          if (
            pod &&
            old.includes(pod) &&
            endpoint.conditions?.ready === false &&
            !notReadyAt.has(pod)
          )
            notReadyAt.set(pod, Date.now());
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
    try {
      await k(["-n", NS, "rollout", "restart", "deployment/jobchannel-relay"]);
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
      const { jobId } = await uploadJob(workerPort, "erin", "after the rollout\n");
      for (const { client } of clients)
        assert.equal((await finalJob(client, "file-upload", jobId)).status, "completed");
    } finally {
      watching = false;
      await watch;
      for (const c of clients) c.close();
    }
  });

  it("hands leadership to the other operator pod when the leader's pod is killed", async () => {
    const holder = async () =>
      (
        await k([
          "-n",
          NS,
          "get",
          "lease",
          "jobchannel-operator",
          "-o",
          "jsonpath={.spec.holderIdentity}",
        ])
      ).trim();
    const first = await waitFor(holder, { timeoutMs: 60_000, what: "a leader" });
    const leaderPod = first.replace(/_\d+$/, "");
    const pods = await podsOf(NS, "app.kubernetes.io/name=jobchannel-operator");
    assert.ok(pods.includes(leaderPod), `the holder ${first} is one of ${pods.join(", ")}`);
    await k(["-n", NS, "delete", "pod", leaderPod, "--grace-period=0", "--force"]);
    const next = await waitFor(
      async () => {
        const current = await holder();
        return current !== "" && !current.startsWith(`${leaderPod}_`) ? current : false;
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
  });

  it("starts the workers of a JobChannel in a second namespace once that namespace has the Redis Secret", async () => {
    await k(["create", "namespace", APPS]);
    const manifest = `apiVersion: jobchannel.io/v1alpha1\nkind: JobChannel\nmetadata: {name: reports, namespace: ${APPS}}\nspec:\n  access: public\n  visibility: channel\n  worker: {jobType: bulk-upload, replicas: 1}\n`;
    await k(["apply", "--server-side", "-f", "-"], manifest);
    // Workers read REDIS_URL from a Secret in their own namespace: without it the kubelet names it.
    const missing = await waitFor(
      async () => {
        const out = await k([
          "-n",
          APPS,
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
      APPS,
      "create",
      "secret",
      "generic",
      "jobchannel-redis",
      "--from-literal=REDIS_URL=redis://redis.jobchannel.svc.cluster.local:6379",
    ]);
    await rollout(APPS, "deployment/reports-worker");
    await k(["-n", APPS, "wait", "jobchannel/reports", "--for=condition=Ready", "--timeout=120s"]);
  });

  it("leaves no process, mount, cgroup or namespace behind after cluster-down", async () => {
    const { sandbox, pid, bridgePid, processes } = cluster.state;
    await cluster.stop();
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
