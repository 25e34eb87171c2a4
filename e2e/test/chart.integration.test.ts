// The Helm chart on the real local node: install with --wait, a JobChannel reconciled and streamed, upgrade, uninstall.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { JobChannelClient } from "@jobchannel/client";
import { waitFor } from "@jobchannel/testkit";
import { SignJWT } from "jose";
import { startCluster, type LocalCluster } from "../src/cluster.ts";
import { imageArchive, repoRoot } from "../src/paths.ts";
import { helm, kubectl } from "../src/tools.ts";

const NS = "jobchannel";
/** A namespace for JobChannels other than the release's: the chart writes the Redis Secret there. */
const APPS = "apps";
const RELEASE = "jobchannel";
const root = repoRoot();
const chart = join(root, "charts", "jobchannel");
const localValues = join(chart, "values-local.yaml");
const IMAGES = ["redis", "operator", "relay", "worker"] as const;
const started = Date.now();

function phase(name: string, since: number): void {
  console.log(`# phase ${name}: ${((Date.now() - since) / 1000).toFixed(1)} s`);
}

/** A deal record the built-in job-updates worker screens (worker/src/jobs/job-updates.ts). */
const DEAL = {
  company: { name: "Northwind Freight Ltd", country: "GB", directors: ["Ada Marlow"] },
  financials: { revenue: 40_000_000, ebitda: 6_000_000, netDebt: 9_000_000 },
  deal: { enterpriseValue: 48_000_000, currency: "GBP" },
};

describe("the jobchannel Helm chart on the local node", { timeout: 1_500_000 }, () => {
  let cluster: LocalCluster | undefined;
  let kubeconfig: string;
  let helmHome: string;
  const clients: JobChannelClient[] = [];
  const k = (args: string[], input?: string, timeoutMs = 120_000) =>
    kubectl(args, { kubeconfig, timeoutMs, ...(input === undefined ? {} : { input }) });
  const h = (args: string[], timeoutMs = 120_000) => helm(args, { kubeconfig, timeoutMs });
  const jsonpath = (namespace: string, object: string, path: string) =>
    k(["-n", namespace, "get", object, "-o", `jsonpath=${path}`]);
  const secretValue = async (namespace: string, name: string, key: string) =>
    Buffer.from(await jsonpath(namespace, `secret/${name}`, `{.data.${key}}`), "base64").toString(
      "utf8",
    );
  const channelsJson = () => jsonpath(NS, "configmap/jobchannel-relay", "{.data.channels\\.json}");

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
      const component = pod.metadata.labels["app.kubernetes.io/component"] ?? "?";
      (out[component] ??= []).push(pod.metadata.name);
    }
    return out;
  };

  const install = (verb: "install" | "upgrade", extra: string[] = []) =>
    h(
      [
        verb,
        RELEASE,
        chart,
        "-n",
        NS,
        "-f",
        localValues,
        "--set",
        `jobChannelNamespaces={${APPS}}`,
        "--wait",
        "--timeout=5m",
        ...extra,
      ],
      330_000,
    );

  /** A client of the relay Service whose token is signed with the chart's RELAY_JWT_SECRET. */
  async function subscribed(port: number, sub: string, channel: string): Promise<JobChannelClient> {
    const secret = await secretValue(NS, "jobchannel-relay-auth", "RELAY_JWT_SECRET");
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(sub)
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(secret));
    const client = new JobChannelClient({
      url: `ws://127.0.0.1:${port}/ws`,
      token,
      backoff: { initialMs: 100, maxMs: 1000 },
    });
    clients.push(client);
    client.subscribe([channel]);
    await waitFor(() => client.channel(channel)?.status === "subscribed", {
      timeoutMs: 30_000,
      what: `a subscription to ${channel} with a token signed by the chart's secret`,
    });
    return client;
  }

  before(async () => {
    for (const name of IMAGES) {
      if (!existsSync(imageArchive(name)))
        throw new Error(`${imageArchive(name)} is missing: run \`make images\``);
    }
    // helm keeps its cache and config here, not in the home folder.
    helmHome = await mkdtemp(join(tmpdir(), "jobchannel-helm-"));
    process.env["HELM_CACHE_HOME"] = join(helmHome, "cache");
    process.env["HELM_CONFIG_HOME"] = join(helmHome, "config");
    process.env["HELM_DATA_HOME"] = join(helmHome, "data");
    let since = Date.now();
    cluster = await startCluster();
    kubeconfig = cluster.kubeconfigPath;
    phase("cluster up", since);
    since = Date.now();
    await cluster.loadImages(IMAGES.map((name) => imageArchive(name)));
    phase("images imported into the node", since);
    // Both namespaces enforce the restricted Pod Security Standard: a pod of the chart (or a worker
    // of the operator) that breaks it is refused at admission.
    const namespaces = [NS, APPS]
      .map(
        (name) =>
          `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n  labels:\n` +
          `    pod-security.kubernetes.io/enforce: restricted\n` +
          `    pod-security.kubernetes.io/enforce-version: latest\n`,
      )
      .join("---\n");
    await k(["apply", "--server-side", "-f", "-"], namespaces);
    since = Date.now();
    console.log(await install("install"));
    phase("helm install --wait", since);
  });

  after(async () => {
    for (const client of clients) client.close();
    await cluster?.stop();
    if (helmHome) await rm(helmHome, { recursive: true, force: true });
    phase("whole suite", started);
  });

  it("runs Redis, two operators and two relays Ready under the restricted Pod Security Standard", async () => {
    const pods = await readyPods();
    console.log(await k(["-n", NS, "get", "pods", "-o", "wide"]));
    assert.equal(pods["redis"]?.length, 1, "one Redis");
    assert.equal(pods["operator"]?.length, 2, "two operators");
    assert.equal(pods["relay"]?.length, 2, "two relays");
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

  it("writes the Redis Secret into each JobChannel namespace, with the release namespace's URL", async () => {
    const url = await secretValue(NS, "jobchannel-redis", "REDIS_URL");
    assert.match(
      url,
      /^redis:\/\/:[A-Za-z0-9]{32}@jobchannel-redis\.jobchannel\.svc\.cluster\.local:6379$/,
    );
    assert.equal(await secretValue(APPS, "jobchannel-redis", "REDIS_URL"), url);
  });

  it("reconciles the example JobChannel into a worker Deployment that rolls out, and the JobChannel turns Ready", async () => {
    const since = Date.now();
    await k([
      "apply",
      "--server-side",
      "-n",
      NS,
      "-f",
      join(root, "examples", "jobchannels", "job-updates.yaml"),
    ]);
    await waitFor(
      async () =>
        (await k([
          "-n",
          NS,
          "get",
          "deployment/job-updates-worker",
          "--ignore-not-found",
          "-o",
          "name",
        ])) !== "",
      { timeoutMs: 90_000, what: "the operator to create job-updates-worker" },
    );
    await k(
      ["-n", NS, "rollout", "status", "deployment/job-updates-worker", "--timeout=240s"],
      undefined,
      250_000,
    );
    await k([
      "-n",
      NS,
      "wait",
      "jobchannel/job-updates",
      "--for=condition=Ready",
      "--timeout=120s",
    ]);
    const channels = JSON.parse(await channelsJson()) as { channels: { name: string }[] };
    assert.deepEqual(
      channels.channels.map((c) => c.name),
      ["job-updates"],
    );
    phase("JobChannel Ready", since);
  });

  it("streams a job to a WebSocket client whose token is signed with the generated JWT secret", async () => {
    assert.ok(cluster);
    const relayPort = await cluster.forwardService(NS, "jobchannel-relay", 8080);
    const workerPort = await cluster.forwardService(NS, "job-updates-worker", 8080);
    const client = await subscribed(relayPort, "alice", "job-updates");
    const response = await fetch(`http://127.0.0.1:${workerPort}/api/jobs/job-updates`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ userId: "alice", ...DEAL }),
    });
    assert.equal(response.status, 202, await response.clone().text());
    const { jobId } = (await response.json()) as { jobId: string };
    const job = await waitFor(
      () => {
        const current = client.job("job-updates", jobId);
        return current && (current.status === "completed" || current.status === "failed")
          ? current
          : false;
      },
      { timeoutMs: 90_000, intervalMs: 100, what: `job ${jobId} to finish` },
    );
    assert.equal(job.status, "completed", JSON.stringify(job));
    assert.ok((job as { result?: { decision?: string } }).result?.decision);
  });

  it("upgrades to changed values without touching the operator's channels.json or the generated secrets", async () => {
    assert.ok(cluster);
    const before = {
      channels: await channelsJson(),
      jwt: await secretValue(NS, "jobchannel-relay-auth", "RELAY_JWT_SECRET"),
      redisUrl: await secretValue(NS, "jobchannel-redis", "REDIS_URL"),
      relays: (await readyPods())["relay"] ?? [],
    };
    assert.match(before.jwt, /^[A-Za-z0-9]{48}$/);
    const since = Date.now();
    // New relay and operator pod templates: both Deployments roll, the secrets are rendered again.
    console.log(
      await install("upgrade", [
        "--set",
        "relay.logLevel=debug",
        "--set",
        "operator.logLevel=debug",
      ]),
    );
    phase("helm upgrade --wait", since);
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
    await k(["-n", NS, "wait", "jobchannel/job-updates", "--for=condition=Ready", "--timeout=60s"]);
    // The new relays load the same channels and accept tokens signed before the upgrade.
    const relayPort = await cluster.forwardService(NS, "jobchannel-relay", 8080);
    await subscribed(relayPort, "bob", "job-updates");
  });

  it("uninstalls everything the release made but keeps the CRD and the JobChannels", async () => {
    const since = Date.now();
    await h(["uninstall", RELEASE, "-n", NS, "--wait", "--timeout=3m"], 200_000);
    phase("helm uninstall --wait", since);
    const kept = await k([
      "get",
      "crd/jobchannels.jobchannel.io",
      "-o",
      "jsonpath={.metadata.annotations}",
    ]);
    console.log(`# the kept CRD's annotations: ${kept}`);
    await k(["-n", NS, "get", "jobchannel/job-updates"]);
    const labelled = `app.kubernetes.io/instance=${RELEASE}`;
    const kinds =
      "deployments,statefulsets,services,secrets,serviceaccounts,roles,rolebindings,poddisruptionbudgets";
    for (const namespace of [NS, APPS]) {
      const left = await k(["-n", namespace, "get", kinds, "-l", labelled, "-o", "name"]);
      assert.equal(left.trim(), "", `nothing of the release is left in ${namespace}`);
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
    // What stays, and why: the operator's ConfigMap (it created it, the chart never owned it) and
    // the JobChannel's worker children (owned by the JobChannel, which the CRD keep policy keeps).
    console.log(
      `# left after uninstall:\n${await k(["-n", NS, "get", "configmaps,deployments,services", "-o", "name"])}`,
    );
  });
});
