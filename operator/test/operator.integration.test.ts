// The operator against a real control plane: examples applied, children, relay ConfigMap, status, drift, GC, conflicts, API restarts.
// The examples are applied once, before the tests; a test that edits or deletes applies its own
// JobChannels, so that each runs alone (--test-name-pattern) or in any order.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { freePort, startProcess, waitFor } from "@jobchannel/testkit";
import { REPO_ROOT, type Json } from "./fixtures.ts";
import {
  OPERATOR_NAMESPACE,
  condition,
  startCluster,
  startOperator,
  type TestCluster,
  type TestOperator,
} from "./cluster.ts";

const SEED = ["bulk-upload", "file-upload", "job-updates", "pdf-extraction"];
const WAIT = { timeoutMs: 60_000, intervalMs: 250 };

const RELAY_BIN = fileURLToPath(new URL("relay/bin/jobchannel-relay.js", REPO_ROOT));

let cluster: TestCluster;
let operator: TestOperator;

async function relayChannels(): Promise<Json[]> {
  const cm = await cluster.getJson(["configmap", "jobchannel-relay", "-n", OPERATOR_NAMESPACE]);
  return cm ? JSON.parse(cm.data["channels.json"]).channels : [];
}

/** Opens a WebSocket, subscribes to `channel` and resolves with the first frame the relay sends back. */
function firstReply(url: string, channel: string): Promise<Json> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error("no reply from the relay"));
    }, 5000);
    socket.addEventListener("open", () =>
      socket.send(JSON.stringify({ type: "subscribe", channels: [channel] })),
    );
    socket.addEventListener("message", (event) => {
      clearTimeout(timer);
      socket.close();
      resolve(JSON.parse(String(event.data)));
    });
    socket.addEventListener("error", () => {
      clearTimeout(timer);
      reject(new Error("WebSocket error"));
    });
  });
}

/** `kubectl patch jc <name> -n apps --type=merge -p <patch>`. */
function patchJobChannel(name: string, patch: object): Promise<string> {
  return cluster.kubectl([
    "patch",
    "jc",
    name,
    "-n",
    "apps",
    "--type=merge",
    "-p",
    JSON.stringify(patch),
  ]);
}

/** `kubectl apply` of a JobChannel in apps. */
function applyJobChannel(name: string, spec: object): Promise<string> {
  return cluster.kubectl(
    ["apply", "-f", "-"],
    JSON.stringify({
      apiVersion: "jobchannel.io/v1alpha1",
      kind: "JobChannel",
      metadata: { name, namespace: "apps" },
      spec,
    }),
  );
}

/** Waits until `kubectl get <kind> <name> -n <ns>` finds the object (or, with `gone`, no longer does). */
function waitForObject(
  kind: string,
  name: string,
  namespace: string,
  gone = false,
): Promise<unknown> {
  return waitFor(
    async () => ((await cluster.getJson([kind, name, "-n", namespace])) === undefined) === gone,
    {
      ...WAIT,
      what: `${kind} ${namespace}/${name} to be ${gone ? "gone" : "there"}`,
    },
  );
}

/** Applies a JobChannel in apps and waits for its relay entry and, with workers, its Deployment. */
async function ownJobChannel(name: string, spec: object): Promise<Json> {
  await applyJobChannel(name, spec);
  await waitFor(async () => (await relayChannels()).some((c) => c.name === name), {
    ...WAIT,
    what: `${name}'s relay entry`,
  });
  if (!("worker" in spec)) return undefined;
  return await waitFor(() => cluster.getJson(["deployment", `${name}-worker`, "-n", "apps"]), {
    ...WAIT,
    what: `${name}'s Deployment`,
  });
}

/** Deletes a JobChannel of apps, if there, and waits until its relay entry is gone. */
async function deleteJobChannel(name: string, namespace = "apps"): Promise<void> {
  await cluster.kubectl(["delete", "jc", name, "-n", namespace, "--ignore-not-found"]);
  await waitFor(async () => !(await relayChannels()).some((c) => c.name === name), {
    ...WAIT,
    what: `${name}'s relay entry to go`,
  });
}

async function env(deployment: Json): Promise<Json> {
  const container = deployment.spec.template.spec.containers[0];
  return Object.fromEntries(container.env.map((e: Json) => [e.name, e.value ?? e.valueFrom]));
}

// A renew deadline longer than the API server restart below: an outage shorter than it is ridden
// out; a longer one ends the process (tested in leader-hung-renewal).
const OPERATOR_ARGS = ["--lease-duration-seconds", "60", "--renew-deadline-seconds", "40"];

describe("jobchannel-operator against a real control plane", { timeout: 600_000 }, () => {
  before(async () => {
    cluster = await startCluster(["apps", "team-b"]);
    // Workers read REDIS_URL from this Secret in their own namespace, as the chart creates it.
    for (const ns of ["apps", "team-b"]) {
      await cluster.kubectl([
        "create",
        "secret",
        "generic",
        "jobchannel-redis",
        "-n",
        ns,
        "--from-literal=REDIS_URL=redis://redis:6379",
      ]);
    }
    operator = await startOperator(cluster, { args: OPERATOR_ARGS });
    await cluster.kubectl([
      "apply",
      "-n",
      "apps",
      "-f",
      new URL("examples/jobchannels/", REPO_ROOT).pathname,
    ]);
    // Every test may read the examples' children: they exist before the first one starts.
    await waitFor(
      async () => {
        const listed = (await relayChannels()).map((c) => c.name);
        return SEED.every((s) => listed.includes(s));
      },
      { ...WAIT, what: "the examples in the relay ConfigMap" },
    );
    for (const s of SEED) await waitForObject("deployment", `${s}-worker`, "apps");
  });

  after(async () => {
    await operator?.stop();
    await cluster?.stop();
  });

  it("turns kubectl apply of the examples into worker Deployments, Services and a relay ConfigMap listing all four", async () => {
    const seedWorkers = SEED.map((s) => `${s}-worker`);
    const names = (list: Json) =>
      list.items
        .map((o: Json) => o.metadata.name)
        .filter((n: string) => seedWorkers.includes(n))
        .sort();
    await waitFor(
      async () =>
        isDeepStrictEqual(names(await cluster.getJson(["deployments", "-n", "apps"])), seedWorkers),
      { ...WAIT, what: "four worker Deployments" },
    );
    await waitFor(
      async () =>
        isDeepStrictEqual(names(await cluster.getJson(["services", "-n", "apps"])), seedWorkers),
      { ...WAIT, what: "four worker Services" },
    );
    const channels = await relayChannels();
    assert.deepEqual(
      channels.map((c) => c.name).filter((n) => SEED.includes(n)),
      SEED,
    );
    const cm = await cluster.getJson(["configmap", "jobchannel-relay", "-n", OPERATOR_NAMESPACE]);
    assert.equal(
      cm.metadata.ownerReferences,
      undefined,
      "no owner without JOBCHANNEL_OPERATOR_DEPLOYMENT",
    );
    assert.deepEqual(
      channels.find((c) => c.name === "bulk-upload"),
      {
        name: "bulk-upload",
        access: "authenticated",
        visibility: "user",
        history: { maxJobs: 500, ttlSeconds: 3600 },
        maxMessageBytes: 65536,
      },
    );
  });

  it("applies children with server-side apply, a controller ownerReference and the secret-sourced REDIS_URL", async () => {
    const d = await cluster.getJson([
      "deployment",
      "file-upload-worker",
      "-n",
      "apps",
      "--show-managed-fields",
    ]);
    const jc = await cluster.getJson(["jc", "file-upload", "-n", "apps"]);
    assert.deepEqual(
      d.metadata.ownerReferences.map((r: Json) => [r.kind, r.name, r.uid, r.controller]),
      [["JobChannel", "file-upload", jc.metadata.uid, true]],
    );
    assert.ok(
      d.metadata.managedFields.some(
        (f: Json) => f.manager === "jobchannel-operator" && f.operation === "Apply",
      ),
      "managed by jobchannel-operator through Apply",
    );
    const vars = await env(d);
    assert.equal(vars.JOBCHANNEL_JOB_TYPES, "file-upload");
    assert.deepEqual(vars.REDIS_URL, {
      secretKeyRef: { name: "jobchannel-redis", key: "REDIS_URL" },
    });
    assert.equal(vars.JOBCHANNEL_CONCURRENCY, "4");
    assert.equal(d.spec.template.spec.containers[0].image, "jobchannel/worker:test");
  });

  it("reports ChannelRegistered=True and worker availability as the deployment controller does", async () => {
    for (const name of SEED) {
      const jc = await waitFor(
        async () => {
          const jc = await cluster.getJson(["jc", name, "-n", "apps"]);
          const workers = condition(jc, "WorkersAvailable");
          return condition(jc, "ChannelRegistered")?.status === "True" &&
            workers?.status === "False"
            ? jc
            : undefined;
        },
        { ...WAIT, what: `${name}'s conditions` },
      );
      const deployment = await cluster.getJson(["deployment", `${name}-worker`, "-n", "apps"]);
      // No kubelet runs here: pods are created but never become ready, and the status says so.
      assert.equal(condition(jc, "WorkersAvailable")?.reason, "WorkersUnavailable");
      assert.match(condition(jc, "WorkersAvailable")!.message, /MinimumReplicasUnavailable/);
      assert.equal(condition(jc, "Ready")?.status, "False");
      await waitFor(
        async () => {
          const fresh = await cluster.getJson(["jc", name, "-n", "apps"]);
          const d = await cluster.getJson(["deployment", `${name}-worker`, "-n", "apps"]);
          return (
            fresh.status.workers.replicas === (d.status.replicas ?? 0) &&
            fresh.status.workers.readyReplicas === (d.status.readyReplicas ?? 0)
          );
        },
        { ...WAIT, what: `${name}'s worker counts to match its Deployment` },
      );
      assert.equal(jc.status.workers.desiredReplicas, deployment.spec.replicas);
      assert.equal(jc.status.observedGeneration, jc.metadata.generation);
      assert.equal(jc.status.redisChannel, `jobchannel:${name}`);
    }
  });

  it("prints CHANNEL, ACCESS, WORKERS, READY and AGE for kubectl get jc", async () => {
    const text = await cluster.kubectl(["get", "jc", "-n", "apps"]);
    const [header, ...rows] = text
      .trim()
      .split("\n")
      .map((l) => l.trim().split(/\s+/));
    assert.deepEqual(header, ["NAME", "CHANNEL", "ACCESS", "WORKERS", "READY", "AGE"]);
    const fileUpload = rows.find((r) => r[0] === "file-upload");
    assert.deepEqual(fileUpload?.slice(0, 5), [
      "file-upload",
      "file-upload",
      "authenticated",
      "0/2",
      "False",
    ]);
    // The category is spelled like the singular name, which kubectl resolves first: a get by
    // that word never reaches the category. Discovery and --categories do.
    const discovery = JSON.parse(
      await cluster.kubectl(["get", "--raw", "/apis/jobchannel.io/v1alpha1"]),
    ) as Json;
    const resource = discovery.resources.find((r: Json) => r.name === "jobchannels");
    assert.deepEqual(resource.categories, ["jobchannel"]);
    assert.deepEqual(resource.shortNames, ["jc"]);
    assert.equal(resource.singularName, "jobchannel");
    const inCategory = await cluster.kubectl([
      "api-resources",
      "--categories=jobchannel",
      "-o",
      "name",
    ]);
    assert.deepEqual(inCategory.trim().split("\n"), ["jobchannels.jobchannel.io"]);
  });

  it("records Events on condition transitions", async () => {
    const events = await cluster.getJson(["events.events.k8s.io", "-n", "apps"]);
    const ours = events.items.filter(
      (e: Json) => e.reportingController === "jobchannel.io/operator",
    );
    assert.ok(
      ours.some((e: Json) => e.reason === "Registered" && e.regarding.name === "file-upload"),
    );
    assert.ok(ours.some((e: Json) => e.reason === "WorkersUnavailable" && e.type === "Warning"));
    // Waiting is not a problem: pending states are Normal.
    const pending = ours.filter((e: Json) =>
      ["RegistrationPending", "DeploymentPending", "ChannelNotRegistered"].includes(e.reason),
    );
    assert.ok(pending.length > 0);
    for (const e of pending) assert.equal(e.type, "Normal", `${e.reason} ${e.note}`);
  });

  it("updates the children, the relay entry and observedGeneration when a spec is edited", async () => {
    await ownJobChannel("edited", {
      access: "authenticated",
      worker: { jobType: "file-upload", replicas: 2 },
    });
    await patchJobChannel("edited", {
      spec: { access: "public", worker: { replicas: 3, concurrency: 7 } },
    });
    const d = await waitFor(
      async () => {
        const d = await cluster.getJson(["deployment", "edited-worker", "-n", "apps"]);
        return d.spec.replicas === 3 ? d : undefined;
      },
      { ...WAIT, what: "3 replicas" },
    );
    assert.equal((await env(d)).JOBCHANNEL_CONCURRENCY, "7");
    await waitFor(
      async () => (await relayChannels()).find((c) => c.name === "edited")?.access === "public",
      {
        ...WAIT,
        what: "the relay entry to say public",
      },
    );
    await waitFor(
      async () => {
        const jc = await cluster.getJson(["jc", "edited", "-n", "apps"]);
        return (
          jc.metadata.generation === 2 &&
          jc.status.observedGeneration === 2 &&
          jc.status.workers.desiredReplicas === 3
        );
      },
      { ...WAIT, what: "observedGeneration 2" },
    );
    await deleteJobChannel("edited");
  });

  it("brings back deleted children and the relay ConfigMap, and repairs hand edits", async () => {
    const before = await ownJobChannel("repaired", {
      worker: { jobType: "bulk-upload", replicas: 1 },
    });
    const service = await waitFor(
      () => cluster.getJson(["service", "repaired-worker", "-n", "apps"]),
      { ...WAIT, what: "repaired's Service" },
    );
    await cluster.kubectl([
      "delete",
      "deployment",
      "repaired-worker",
      "-n",
      "apps",
      "--wait=false",
    ]);
    await cluster.kubectl(["delete", "service", "repaired-worker", "-n", "apps", "--wait=false"]);
    await waitFor(
      async () => {
        const d = await cluster.getJson(["deployment", "repaired-worker", "-n", "apps"]);
        return d && d.metadata.uid !== before.metadata.uid;
      },
      { ...WAIT, what: "the Deployment to come back" },
    );
    await waitFor(
      async () => {
        const again = await cluster.getJson(["service", "repaired-worker", "-n", "apps"]);
        return again && again.metadata.uid !== service.metadata.uid;
      },
      { ...WAIT, what: "the Service to come back" },
    );
    await cluster.kubectl(["scale", "deployment", "repaired-worker", "-n", "apps", "--replicas=5"]);
    await waitFor(
      async () =>
        (await cluster.getJson(["deployment", "repaired-worker", "-n", "apps"])).spec.replicas ===
        1,
      { ...WAIT, what: "replicas to be repaired to 1" },
    );
    await cluster.kubectl([
      "patch",
      "service",
      "repaired-worker",
      "-n",
      "apps",
      "--type=merge",
      "-p",
      JSON.stringify({ spec: { selector: { "jobchannel.io/jobchannel": "someone-else" } } }),
    ]);
    await waitFor(
      async () =>
        (await cluster.getJson(["service", "repaired-worker", "-n", "apps"])).spec.selector[
          "jobchannel.io/jobchannel"
        ] === "repaired",
      { ...WAIT, what: "the Service selector to be repaired" },
    );
    const channels = await relayChannels();
    await cluster.kubectl([
      "patch",
      "configmap",
      "jobchannel-relay",
      "-n",
      OPERATOR_NAMESPACE,
      "--type=merge",
      "-p",
      JSON.stringify({ data: { "channels.json": '{"channels":[]}' } }),
    ]);
    await waitFor(async () => (await relayChannels()).length === channels.length, {
      ...WAIT,
      what: "the relay ConfigMap to be repaired",
    });
    await cluster.kubectl(["delete", "configmap", "jobchannel-relay", "-n", OPERATOR_NAMESPACE]);
    await waitFor(async () => (await relayChannels()).length === channels.length, {
      ...WAIT,
      what: "the relay ConfigMap to come back",
    });
    await deleteJobChannel("repaired");
  });

  it("refuses an invalid JobChannel with a readable message", async () => {
    const invalid = (spec: object, name = "broken") =>
      JSON.stringify({
        apiVersion: "jobchannel.io/v1alpha1",
        kind: "JobChannel",
        metadata: { name, namespace: "apps" },
        spec,
      });
    await assert.rejects(
      cluster.kubectl(
        ["apply", "-f", "-"],
        invalid({
          channel: "Not_A_Label",
          access: "everyone",
          worker: { jobType: "x", replicas: 1000 },
        }),
      ),
      (error: Error) => {
        assert.match(error.message, /spec\.channel: Invalid value: "Not_A_Label"/);
        assert.match(error.message, /spec\.access: Unsupported value: "everyone"/);
        assert.match(
          error.message,
          /spec\.worker\.replicas: Invalid value: 1000: .*less than or equal to 100/,
        );
        return true;
      },
    );
    await assert.rejects(
      cluster.kubectl(["apply", "-f", "-"], invalid({ worker: { replicas: 1 } })),
      /spec\.worker\.jobType is required when spec\.worker\.image is not set/,
    );
    await assert.rejects(
      patchJobChannel("file-upload", { spec: { channel: "other" } }),
      /spec\.channel is immutable/,
    );
  });

  it("gives a second claim on a channel ChannelConflict, no workers and no relay entry, and hands it over when the owner goes", async () => {
    await ownJobChannel("claimed", {
      access: "authenticated",
      worker: { jobType: "job-updates", replicas: 1 },
    });
    const manifest = JSON.stringify({
      apiVersion: "jobchannel.io/v1alpha1",
      kind: "JobChannel",
      metadata: { name: "uploads", namespace: "team-b" },
      spec: {
        channel: "claimed",
        access: "public",
        worker: { jobType: "job-updates", replicas: 1 },
      },
    });
    await cluster.kubectl(["apply", "-f", "-"], manifest);
    const loser = await waitFor(
      async () => {
        const jc = await cluster.getJson(["jc", "uploads", "-n", "team-b"]);
        return condition(jc, "Ready")?.reason === "ChannelConflict" ? jc : undefined;
      },
      { ...WAIT, what: "ChannelConflict" },
    );
    assert.match(condition(loser, "Ready")!.message, /apps\/claimed/);
    assert.equal(condition(loser, "ChannelRegistered")?.status, "False");
    assert.equal(
      await cluster.getJson(["deployment", "uploads-worker", "-n", "team-b"]),
      undefined,
    );
    const entries = (await relayChannels()).filter((c) => c.name === "claimed");
    assert.deepEqual(
      entries.map((c) => c.access),
      ["authenticated"],
      "the older claim's settings stay",
    );
    const events = await cluster.getJson(["events.events.k8s.io", "-n", "team-b"]);
    assert.ok(
      events.items.some((e: Json) => e.reason === "ChannelConflict" && e.type === "Warning"),
    );

    // Deleting the owner: its children go by garbage collection, the channel passes to the newer claim.
    await cluster.kubectl(["delete", "jc", "claimed", "-n", "apps", "--wait=false"]);
    await waitForObject("deployment", "claimed-worker", "apps", true);
    await waitForObject("service", "claimed-worker", "apps", true);
    await waitFor(
      async () => {
        const jc = await cluster.getJson(["jc", "uploads", "-n", "team-b"]);
        return condition(jc, "ChannelRegistered")?.status === "True";
      },
      { ...WAIT, what: "the newer claim to take the channel" },
    );
    assert.equal((await relayChannels()).find((c) => c.name === "claimed")?.access, "public");
    assert.ok(await cluster.getJson(["deployment", "uploads-worker", "-n", "team-b"]));
    await deleteJobChannel("uploads", "team-b");
  });

  it("removes a deleted JobChannel's children and its relay entry", async () => {
    await ownJobChannel("removed", { worker: { jobType: "pdf-extraction", replicas: 1 } });
    await cluster.kubectl(["delete", "jc", "removed", "-n", "apps", "--wait=false"]);
    await waitFor(async () => !(await relayChannels()).some((c) => c.name === "removed"), {
      ...WAIT,
      what: "the relay entry to go",
    });
    await waitForObject("deployment", "removed-worker", "apps", true);
    await waitForObject("service", "removed-worker", "apps", true);
  });

  it("exports each JobChannel's desired and available workers and Ready as gauges, and drops them when it is deleted", async () => {
    const gauges = (name: string) =>
      Promise.all(
        ["workers_desired", "workers_available", "jobchannel_ready"].map((metric) =>
          operator.sample(`jobchannel_operator_${metric}`, { namespace: "apps", jobchannel: name }),
        ),
      );
    const fromStatus = (jc: Json) => [
      jc.status.workers.desiredReplicas,
      jc.status.workers.availableReplicas,
      condition(jc, "Ready")?.status === "True" ? 1 : 0,
    ];
    // Three desired, none available: no kubelet runs here.
    await ownJobChannel("gauged", { worker: { jobType: "file-upload", replicas: 3 } });
    const gauged = await waitFor(
      async () => {
        const jc = await cluster.getJson(["jc", "gauged", "-n", "apps"]);
        return isDeepStrictEqual(await gauges("gauged"), fromStatus(jc)) ? jc : undefined;
      },
      { ...WAIT, what: "gauged's gauges to match its status" },
    );
    assert.deepEqual(fromStatus(gauged), [3, 0, 0]);

    // Without spec.worker a registered channel is Ready.
    await applyJobChannel("metered", { access: "public" });
    await waitFor(async () => isDeepStrictEqual(await gauges("metered"), [0, 0, 1]), {
      ...WAIT,
      what: "metered's gauges",
    });
    assert.equal(
      condition(await cluster.getJson(["jc", "metered", "-n", "apps"]), "Ready")?.status,
      "True",
    );

    for (const name of ["metered", "gauged"]) {
      await cluster.kubectl(["delete", "jc", name, "-n", "apps"]);
      await waitFor(async () => (await gauges(name)).every((value) => value === undefined), {
        ...WAIT,
        what: `${name}'s gauges to go`,
      });
    }
  });

  it("recovers from an API server stop and restart and converges without restarting itself", async () => {
    const restartsBefore = await operator.metric("jobchannel_operator_watch_restarts_total");
    await cluster.restartApiServer(3000);
    assert.equal(operator.process.child.exitCode, null, "the operator kept running");
    // A restarted API server serves custom resources a moment after /readyz.
    await waitFor(
      () =>
        applyJobChannel("reports", { worker: { image: "example/reports:1", replicas: 1 } }).then(
          () => true,
          (error) => {
            if (/not found|ServiceUnavailable/.test(String(error))) return false;
            throw error;
          },
        ),
      { ...WAIT, what: "the JobChannel API to be served again" },
    );
    await waitForObject("deployment", "reports-worker", "apps");
    await waitFor(async () => (await relayChannels()).some((c) => c.name === "reports"), {
      ...WAIT,
      what: "its relay entry",
    });
    assert.ok((await operator.metric("jobchannel_operator_watch_restarts_total")) > restartsBefore);
    assert.equal(operator.process.child.exitCode, null);
    await deleteJobChannel("reports");
  });

  it("feeds a relay watching the ConfigMap: a newly applied JobChannel is served without a relay restart", async () => {
    const port = await freePort();
    const relay = startProcess(process.execPath, [RELAY_BIN], {
      env: {
        PATH: process.env.PATH ?? "",
        PORT: String(port),
        RELAY_HOST: "127.0.0.1",
        RELAY_CONFIG_CONFIGMAP: `${OPERATOR_NAMESPACE}/jobchannel-relay`,
        KUBECONFIG: cluster.kubeconfig,
        LOG_LEVEL: "warn",
      },
    });
    try {
      await waitFor(
        async () => {
          if (relay.child.exitCode !== null) throw new Error(`relay exited: ${relay.logTail()}`);
          return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
        },
        { timeoutMs: 30_000, what: "the relay to be ready" },
      );
      const url = `ws://127.0.0.1:${port}/ws`;
      assert.equal(
        (await firstReply(url, "live-news")).type,
        "error",
        "unknown before the JobChannel exists",
      );
      await applyJobChannel("live-news", { access: "public" });
      const reply = await waitFor(
        async () => {
          const frame = await firstReply(url, "live-news");
          return frame.type === "subscribed" ? frame : undefined;
        },
        { ...WAIT, what: "the relay to serve the new channel" },
      );
      assert.equal(reply.channel, "live-news");
      assert.equal(relay.child.exitCode, null, "the relay was not restarted");
    } finally {
      await relay.stop(5000);
    }
  });

  it("serves /healthz, /readyz and controller-runtime's metric names", async () => {
    const base = `http://127.0.0.1:${operator.port}`;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    const text = await operator.metrics();
    for (const name of [
      "controller_runtime_reconcile_total",
      "controller_runtime_reconcile_errors_total",
      "controller_runtime_reconcile_time_seconds_bucket",
      "workqueue_depth",
      "workqueue_adds_total",
      "workqueue_retries_total",
      "workqueue_queue_duration_seconds_bucket",
      "workqueue_work_duration_seconds_bucket",
      "leader_election_master_status",
      "jobchannel_operator_watch_relists_total",
    ]) {
      assert.match(text, new RegExp(`^${name}`, "m"), name);
    }
    assert.ok(
      (await operator.metric("controller_runtime_reconcile_total", { result: "success" })) > 0,
    );
    assert.equal(await operator.metric("leader_election_master_status"), 1);
  });

  it("logs the object key on reconcile lines and stops cleanly on SIGTERM, releasing its Lease", async () => {
    await ownJobChannel("logged", { access: "public" });
    await waitFor(() => /"key":"apps\/logged"/.test(operator.process.logTail()), {
      ...WAIT,
      what: "a reconcile line with the key apps/logged",
    });
    await deleteJobChannel("logged");
    await operator.stop();
    assert.equal(operator.process.child.exitCode, 0);
    const lease = await cluster.getJson(["lease", "jobchannel-operator", "-n", OPERATOR_NAMESPACE]);
    assert.equal(lease.spec.holderIdentity ?? "", "");
    // Tests after this one (in any order) find an operator running and leading again.
    operator = await startOperator(cluster, { args: OPERATOR_ARGS });
    await waitFor(async () => (await operator.metric("leader_election_master_status")) === 1, {
      ...WAIT,
      what: "the restarted operator to lead",
    });
  });
});

describe("jobchannel-operator scoped by WATCH_NAMESPACES", { timeout: 300_000 }, () => {
  let scopedCluster: TestCluster;
  let scoped: TestOperator;

  before(async () => {
    scopedCluster = await startCluster(["apps", "team-b"]);
    scoped = await startOperator(scopedCluster, {
      env: { WATCH_NAMESPACES: "team-b", LEADER_ELECTION: "false" },
    });
  });

  after(async () => {
    await scoped?.stop();
    await scopedCluster?.stop();
  });

  it("reconciles JobChannels in the listed namespaces only", async () => {
    const manifest = (name: string, namespace: string) =>
      JSON.stringify({
        apiVersion: "jobchannel.io/v1alpha1",
        kind: "JobChannel",
        metadata: { name, namespace },
        spec: { worker: { jobType: name, replicas: 1 } },
      });
    await scopedCluster.kubectl(["apply", "-f", "-"], manifest("outside", "apps"));
    await scopedCluster.kubectl(["apply", "-f", "-"], manifest("inside", "team-b"));
    await waitFor(
      async () =>
        (await scopedCluster.getJson(["deployment", "inside-worker", "-n", "team-b"])) !==
        undefined,
      { ...WAIT, what: "the watched namespace's Deployment" },
    );
    const cm = await waitFor(
      () => scopedCluster.getJson(["configmap", "jobchannel-relay", "-n", OPERATOR_NAMESPACE]),
      { ...WAIT, what: "the relay ConfigMap" },
    );
    assert.deepEqual(
      JSON.parse(cm.data["channels.json"]).channels.map((c: Json) => c.name),
      ["inside"],
    );
    const outside = await scopedCluster.getJson(["jc", "outside", "-n", "apps"]);
    assert.equal(outside.status, undefined, "a JobChannel outside the scope is left alone");
    assert.equal(
      await scopedCluster.getJson(["deployment", "outside-worker", "-n", "apps"]),
      undefined,
    );
  });
});

describe("jobchannel-operator with JOBCHANNEL_OPERATOR_DEPLOYMENT", { timeout: 300_000 }, () => {
  const DEPLOYMENT = "jobchannel-operator";
  const env = { JOBCHANNEL_OPERATOR_DEPLOYMENT: DEPLOYMENT, LEADER_ELECTION: "false" };
  let ownedCluster: TestCluster;
  let owned: TestOperator | undefined;

  const relayConfigMap = () =>
    ownedCluster.getJson(["configmap", "jobchannel-relay", "-n", OPERATOR_NAMESPACE]);

  before(async () => {
    ownedCluster = await startCluster(["apps"]);
  });

  after(async () => {
    await owned?.stop();
    await ownedCluster?.stop();
  });

  it("refuses to start with operator_deployment_unreadable when that Deployment cannot be read", async () => {
    await ownedCluster.kubectl([
      "delete",
      "deployment",
      DEPLOYMENT,
      "-n",
      OPERATOR_NAMESPACE,
      "--ignore-not-found",
    ]);
    await assert.rejects(startOperator(ownedCluster, { env }), (error: Error) => {
      assert.match(error.message, /operator exited with 1/);
      assert.match(error.message, /"code":"operator_deployment_unreadable"/);
      assert.match(error.message, /cannot read Deployment jobchannel\/jobchannel-operator/);
      return true;
    });
  });

  it("makes its Deployment the relay ConfigMap's owner, so the ConfigMap goes when the Deployment is deleted", async () => {
    await ownedCluster.kubectl(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: DEPLOYMENT, namespace: OPERATOR_NAMESPACE },
        spec: {
          replicas: 0,
          selector: { matchLabels: { app: DEPLOYMENT } },
          template: {
            metadata: { labels: { app: DEPLOYMENT } },
            spec: { containers: [{ name: "operator", image: "jobchannel/operator:test" }] },
          },
        },
      }),
    );
    const deployment = await ownedCluster.getJson([
      "deployment",
      DEPLOYMENT,
      "-n",
      OPERATOR_NAMESPACE,
    ]);
    owned = await startOperator(ownedCluster, { env });
    let log = "";
    owned.process.child.stdout!.on("data", (chunk: Buffer) => (log += chunk.toString("utf8")));
    const applies = () => log.split('"msg":"relay config applied"').length - 1;
    const first = await waitFor(relayConfigMap, { ...WAIT, what: "the relay ConfigMap" });
    assert.deepEqual(first.metadata.ownerReferences, [
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        name: DEPLOYMENT,
        uid: deployment.metadata.uid,
        controller: false,
        blockOwnerDeletion: false,
      },
    ]);

    // As in helm uninstall: the Deployment goes while its operator still runs.
    const appliesBefore = applies();
    await ownedCluster.kubectl(["delete", "deployment", DEPLOYMENT, "-n", OPERATOR_NAMESPACE]);
    await waitFor(async () => (await relayConfigMap())?.metadata.uid !== first.metadata.uid, {
      ...WAIT,
      what: "the garbage collector to delete the relay ConfigMap",
    });
    // The running operator writes it again, naming the Deployment that is gone...
    await waitFor(() => applies() > appliesBefore, {
      ...WAIT,
      what: "the operator to apply the relay ConfigMap again",
    });
    await owned.stop();
    owned = undefined;
    // ...and that ConfigMap is collected too.
    await waitFor(async () => (await relayConfigMap()) === undefined, {
      ...WAIT,
      what: "the re-applied relay ConfigMap to be collected",
    });
  });
});
