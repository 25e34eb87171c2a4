// Drives the real local control plane through @kubernetes/client-node and the pinned kubectl, as the operator and users will.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { waitFor } from "@jobchannel/testkit";
import { startControlPlane, type ControlPlane } from "../src/control-plane.ts";
import { KUBERNETES_VERSION } from "../src/paths.ts";
import { kubectl } from "../src/tools.ts";

const GROUP = "e2e.jobchannel.io";
const VERSION = "v1";
const PLURAL = "widgets";

const CRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ${PLURAL}.${GROUP}
spec:
  group: ${GROUP}
  scope: Namespaced
  names: {plural: ${PLURAL}, singular: widget, kind: Widget}
  versions:
  - name: ${VERSION}
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer, minimum: 1}
`;

/** A one-replica Deployment; no node runs its Pod, but the controllers act on it all the same. */
function deployment(namespace: string, name: string): k8s.V1Deployment {
  const labels = { app: name };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: "main", image: "registry.invalid/jobchannel/worker:e2e" }] },
      },
    },
  };
}

function ownedBy(object: k8s.KubernetesObject, uid: string | undefined): boolean {
  return (
    uid !== undefined && (object.metadata?.ownerReferences ?? []).some((ref) => ref.uid === uid)
  );
}

describe("the local control plane", { timeout: 600_000 }, () => {
  let plane: ControlPlane;
  let core: k8s.CoreV1Api;
  let apps: k8s.AppsV1Api;
  let custom: k8s.CustomObjectsApi;
  let kc: k8s.KubeConfig;
  const createWidget = (name: string, size: number): Promise<unknown> =>
    custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: "e2e-ns",
      plural: PLURAL,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: "Widget",
        metadata: { name },
        spec: { size },
      },
    });
  const run = (args: readonly string[], input?: string): Promise<string> =>
    kubectl(args, { kubeconfig: plane.kubeconfigPath, ...(input === undefined ? {} : { input }) });

  before(async () => {
    plane = await startControlPlane();
    kc = new k8s.KubeConfig();
    kc.loadFromFile(plane.kubeconfigPath);
    core = kc.makeApiClient(k8s.CoreV1Api);
    apps = kc.makeApiClient(k8s.AppsV1Api);
    custom = kc.makeApiClient(k8s.CustomObjectsApi);
  });

  after(async () => {
    await plane?.stop();
  });

  it("reports the pinned Kubernetes version from the server and from kubectl", async () => {
    const versions = JSON.parse(await run(["version", "-o", "json"])) as {
      clientVersion: { gitVersion: string };
      serverVersion: { gitVersion: string };
    };
    assert.equal(versions.serverVersion.gitVersion, KUBERNETES_VERSION);
    assert.equal(versions.clientVersion.gitVersion, KUBERNETES_VERSION);
    const code = await kc.makeApiClient(k8s.VersionApi).getCode();
    assert.equal(code.gitVersion, KUBERNETES_VERSION);
  });

  it("creates a namespace through client-node that kubectl lists", async () => {
    await core.createNamespace({ body: { metadata: { name: "e2e-ns" } } });
    const names = await run(["get", "namespaces", "-o", "jsonpath={.items[*].metadata.name}"]);
    assert.ok(names.split(" ").includes("e2e-ns"), names);
    await run(["create", "namespace", "e2e-kubectl"]);
    const read = await core.readNamespace({ name: "e2e-kubectl" });
    assert.equal(read.status?.phase, "Active");
  });

  it("serves a custom resource applied through kubectl and created through client-node", async () => {
    await run(["apply", "-f", "-"], CRD);
    await run(["wait", "--for=condition=Established", `crd/${PLURAL}.${GROUP}`, "--timeout=60s"]);
    await run(
      ["apply", "-n", "e2e-ns", "-f", "-"],
      `apiVersion: ${GROUP}/${VERSION}\nkind: Widget\nmetadata: {name: from-kubectl}\nspec: {size: 2}\n`,
    );
    const fromKubectl = (await custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: "e2e-ns",
      plural: PLURAL,
      name: "from-kubectl",
    })) as { spec: { size: number } };
    assert.equal(fromKubectl.spec.size, 2);

    await createWidget("from-client", 3);
    const size = await run([
      "get",
      "widget",
      "from-client",
      "-n",
      "e2e-ns",
      "-o",
      "jsonpath={.spec.size}",
    ]);
    assert.equal(size, "3");

    await assert.rejects(
      createWidget("too-small", 0),
      (error: unknown) => error instanceof k8s.ApiException && error.code === 422,
    );
  });

  it("streams ADDED and MODIFIED events of a custom resource to a watch", async () => {
    const events: { type: string; name: string; size: number }[] = [];
    let watchError: unknown;
    const watch = new k8s.Watch(kc);
    const controller = await watch.watch(
      `/apis/${GROUP}/${VERSION}/namespaces/e2e-ns/${PLURAL}`,
      { fieldSelector: "metadata.name=watched" },
      (type, object: { metadata: { name: string }; spec: { size: number } }) =>
        events.push({ type, name: object.metadata.name, size: object.spec.size }),
      (error: unknown) => (watchError = error),
    );
    try {
      await createWidget("watched", 1);
      await waitFor(() => events.some((e) => e.type === "ADDED"), {
        timeoutMs: 15_000,
        what: "the ADDED event",
      });
      await run([
        "patch",
        "widget",
        "watched",
        "-n",
        "e2e-ns",
        "--type=merge",
        "-p",
        '{"spec":{"size":5}}',
      ]);
      await waitFor(() => events.some((e) => e.type === "MODIFIED" && e.size === 5), {
        timeoutMs: 15_000,
        what: "the MODIFIED event",
      });
      assert.equal(watchError, undefined);
      assert.deepEqual(
        events.map((e) => [e.type, e.name, e.size]),
        [
          ["ADDED", "watched", 1],
          ["MODIFIED", "watched", 5],
        ],
      );
    } finally {
      controller.abort();
    }
  });

  it("runs the deployment controller and garbage collector on a Deployment applied server-side through client-node", async () => {
    const applied = await apps.patchNamespacedDeployment(
      {
        name: "by-client",
        namespace: "e2e-ns",
        body: deployment("e2e-ns", "by-client"),
        fieldManager: "jobchannel-e2e",
        force: true,
      },
      k8s.setHeaderOptions("Content-Type", k8s.PatchStrategy.ServerSideApply),
    );
    const uid = applied.metadata?.uid;
    assert.ok(
      applied.metadata?.managedFields?.some(
        (f) => f.manager === "jobchannel-e2e" && f.operation === "Apply",
      ),
      "the Deployment is managed by an Apply of jobchannel-e2e",
    );

    const replicaSet = await waitFor(
      async () =>
        (
          await apps.listNamespacedReplicaSet({
            namespace: "e2e-ns",
            labelSelector: "app=by-client",
          })
        ).items.find((rs) => ownedBy(rs, uid)),
      { timeoutMs: 60_000, intervalMs: 250, what: "the ReplicaSet of the Deployment" },
    );
    const pod = await waitFor(
      async () =>
        (
          await core.listNamespacedPod({ namespace: "e2e-ns", labelSelector: "app=by-client" })
        ).items.find((p) => ownedBy(p, replicaSet.metadata?.uid)),
      { timeoutMs: 60_000, intervalMs: 250, what: "the Pod of the ReplicaSet" },
    );
    assert.equal(pod.spec?.serviceAccountName, "default");

    await run(["delete", "deployment", "by-client", "-n", "e2e-ns", "--wait=true"]);
    await waitFor(
      async () =>
        (
          await apps.listNamespacedReplicaSet({
            namespace: "e2e-ns",
            labelSelector: "app=by-client",
          })
        ).items.length === 0 &&
        (await core.listNamespacedPod({ namespace: "e2e-ns", labelSelector: "app=by-client" }))
          .items.length === 0,
      { timeoutMs: 60_000, intervalMs: 250, what: "garbage collection of the ReplicaSet and Pod" },
    );
  });

  it("runs the deployment controller and garbage collector on a Deployment applied server-side through kubectl", async () => {
    await run(
      ["apply", "--server-side", "--field-manager=jobchannel-e2e", "-f", "-"],
      JSON.stringify(deployment("e2e-kubectl", "by-kubectl")),
    );
    const selector = "app=by-kubectl";
    await waitFor(
      async () =>
        (
          await run(["get", "replicasets", "-n", "e2e-kubectl", "-l", selector, "-o", "name"])
        ).trim() !== "",
      {
        timeoutMs: 60_000,
        intervalMs: 250,
        what: "the ReplicaSet of the Deployment",
      },
    );
    await apps.deleteNamespacedDeployment({
      name: "by-kubectl",
      namespace: "e2e-kubectl",
      propagationPolicy: "Background",
    });
    await waitFor(
      async () =>
        (
          await run(["get", "replicasets,pods", "-n", "e2e-kubectl", "-l", selector, "-o", "name"])
        ).trim() === "",
      { timeoutMs: 60_000, intervalMs: 250, what: "garbage collection of the ReplicaSet and Pod" },
    );
  });

  it("leaves no process behind when stopped", async () => {
    assert.equal(plane.processes.length, 3);
    await plane.stop();
    const alive = plane.processes.filter(({ pid }) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    assert.deepEqual(alive, []);
  });
});
