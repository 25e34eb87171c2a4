// The relay reading its channel config from a ConfigMap through a real Kubernetes API server
// (the local control plane of e2e/): not ready until the ConfigMap exists, then every change live.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startControlPlane, type ControlPlane } from "@jobchannel/e2e";
import {
  freePort,
  startProcess,
  startRedis,
  waitFor,
  type Started,
  type TestRedis,
} from "@jobchannel/testkit";
import * as k8s from "@kubernetes/client-node";
import { connect, subscribed, type TestClient } from "./helpers/client.ts";
import { readReadiness, waitForReadiness } from "./helpers/readiness.ts";
import { RELAY_BIN } from "./helpers/relay-process.ts";

const NAMESPACE = "default";
const NAME = "jobchannel-relay";

function configMap(channels: unknown[]): k8s.V1ConfigMap {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: NAME, namespace: NAMESPACE },
    data: { "channels.json": JSON.stringify({ channels }) },
  };
}

describe("ConfigMap channel config", () => {
  let cluster: ControlPlane;
  let redis: TestRedis;
  let relay: Started;
  let core: k8s.CoreV1Api;
  let http: string;
  let ws: string;
  const clients: TestClient[] = [];

  before(async () => {
    [cluster, redis] = await Promise.all([startControlPlane(), startRedis()]);
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    core = kc.makeApiClient(k8s.CoreV1Api);
    const port = await freePort();
    http = `http://127.0.0.1:${port}`;
    ws = `ws://127.0.0.1:${port}/ws`;
    relay = startProcess(process.execPath, [RELAY_BIN], {
      env: {
        ...process.env,
        PORT: String(port),
        RELAY_HOST: "127.0.0.1",
        REDIS_URL: redis.url,
        RELAY_CONFIG_CONFIGMAP: `${NAMESPACE}/${NAME}`,
        KUBECONFIG: cluster.kubeconfigPath,
        LOG_LEVEL: "warn",
      },
    });
  });

  after(async () => {
    for (const c of clients) c.ws.terminate();
    await relay?.stop(2000);
    await redis?.stop();
    await cluster?.stop();
  });

  test("is not ready while the ConfigMap is missing, and ready once it exists, in /readyz and jobchannel_relay_ready", async () => {
    const readiness = await waitFor(
      async () => {
        if (relay.child.exitCode !== null) throw new Error(relay.logTail());
        const reading = await readReadiness(http);
        return reading.status === 503 ? reading : undefined;
      },
      { what: "the relay to answer /readyz", timeoutMs: 15_000 },
    );
    assert.equal(readiness.body.config, false);
    assert.equal(readiness.gauge, 0, "jobchannel_relay_ready beside /readyz 503");
    await core.createNamespacedConfigMap({
      namespace: NAMESPACE,
      body: configMap([
        { name: "alpha", access: "public" },
        { name: "beta", access: "public" },
      ]),
    });
    await waitForReadiness(http, true, {
      what: "the relay to load the ConfigMap",
      timeoutMs: 30_000,
    });
  });

  test("applies a changed ConfigMap live", async () => {
    const client = await connect(`${ws}?channels=alpha,beta`);
    clients.push(client);
    await subscribed(client, "alpha");
    await subscribed(client, "beta");
    await core.replaceNamespacedConfigMap({
      name: NAME,
      namespace: NAMESPACE,
      body: configMap([
        { name: "beta", access: "public" },
        { name: "gamma", access: "public" },
      ]),
    });
    const removed = await client.frame(
      (f) => f.type === "unsubscribed",
      "unsubscribed alpha",
      30_000,
    );
    assert.deepEqual(removed, {
      type: "unsubscribed",
      channel: "alpha",
      reason: "channel_removed",
    });
    client.send({ type: "subscribe", channels: ["gamma"] });
    await subscribed(client, "gamma");
    assert.equal(client.frames.filter((f) => f.type === "unsubscribed").length, 1, "beta stays");
  });
});
