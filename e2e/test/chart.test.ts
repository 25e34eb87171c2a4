// The Helm chart without a cluster: lint, render, and check what every rendered object promises.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadAllYaml } from "@kubernetes/client-node";
import { repoRoot, toolPath } from "../src/paths.ts";
import { helmOffline, renderChart } from "./helpers/helm-offline.ts";

const root = repoRoot();
const chart = join(root, "charts", "jobchannel");
const localValues = join(chart, "values-local.yaml");
const helmBinary = toolPath("helm");

/** A rendered object, as far as these checks read it. */
interface RenderedObject {
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  data?: Record<string, string>;
  spec?: Record<string, unknown>;
  rules?: {
    apiGroups?: string[];
    resources?: string[];
    resourceNames?: string[];
    verbs: string[];
  }[];
  roleRef?: { kind: string; name: string };
}

interface Container {
  name: string;
  env?: { name: string; value?: string }[];
  lifecycle?: { preStop?: { sleep?: { seconds: number } } };
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    runAsNonRoot?: boolean;
    runAsUser?: number;
    capabilities?: { drop?: string[]; add?: string[] };
  };
}

interface PodSpec {
  securityContext?: {
    runAsNonRoot?: boolean;
    runAsUser?: number;
    seccompProfile?: { type: string };
  };
  containers: Container[];
  terminationGracePeriodSeconds?: number;
}

describe("the jobchannel Helm chart, rendered", { timeout: 120_000 }, () => {
  let helmHome: string;

  const helm = (args: readonly string[]) => helmOffline(helmHome, args);

  const render = (...args: string[]) => renderChart<RenderedObject>(helmHome, ...args);
  const find = (objects: RenderedObject[], kind: string, name: string): RenderedObject => {
    const object = objects.find((o) => o.kind === kind && o.metadata.name === name);
    assert.ok(object, `${kind}/${name} is rendered`);
    return object;
  };
  const podSpecOf = (object: RenderedObject): PodSpec =>
    (object.spec as { template: { spec: PodSpec } }).template.spec;
  const envOf = (container: Container | undefined, name: string): string | undefined =>
    container?.env?.find((e) => e.name === name)?.value;

  before(async () => {
    helmHome = await mkdtemp(join(tmpdir(), "jobchannel-helm-"));
  });

  after(async () => {
    await rm(helmHome, { recursive: true, force: true });
  });

  it("keeps files/crd.yaml byte-identical to crds/jobchannels.jobchannel.io.yaml", async () => {
    // Helm reads no file outside the chart folder (.Files), and a packaged chart must carry its
    // CRD, so the chart holds a copy; this keeps the copy from drifting from the one schema.
    const source = await readFile(join(root, "crds", "jobchannels.jobchannel.io.yaml"));
    const copy = await readFile(join(chart, "files", "crd.yaml"));
    assert.ok(
      source.equals(copy),
      "charts/jobchannel/files/crd.yaml differs from crds/jobchannels.jobchannel.io.yaml: " +
        "cp crds/jobchannels.jobchannel.io.yaml charts/jobchannel/files/crd.yaml",
    );
  });

  it("passes helm lint --strict with the default values and the local-node values", async (t) => {
    if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
    await helm(["lint", "--strict", chart]);
    await helm(["lint", "--strict", chart, "-f", localValues]);
  });

  it("renders every pod non-root, with a read-only root filesystem, no privilege escalation and no capabilities", async (t) => {
    if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
    for (const values of [[], ["-f", localValues]]) {
      const workloads = (await render(...values)).filter((o) =>
        ["Deployment", "StatefulSet"].includes(o.kind),
      );
      assert.deepEqual(workloads.map((o) => o.metadata.name).sort(), [
        "jobchannel-operator",
        "jobchannel-redis",
        "jobchannel-relay",
      ]);
      for (const workload of workloads) {
        const pod = podSpecOf(workload);
        const where = `${workload.kind}/${workload.metadata.name}`;
        assert.equal(pod.securityContext?.runAsNonRoot, true, `${where} runs as non-root`);
        assert.notEqual(pod.securityContext?.runAsUser, 0, `${where} is not uid 0`);
        assert.equal(pod.securityContext?.seccompProfile?.type, "RuntimeDefault", where);
        for (const container of pod.containers) {
          const sc = container.securityContext;
          assert.equal(sc?.readOnlyRootFilesystem, true, `${where} ${container.name} read-only`);
          assert.equal(sc?.allowPrivilegeEscalation, false, `${where} ${container.name}`);
          assert.deepEqual(sc?.capabilities?.drop, ["ALL"], `${where} ${container.name}`);
          assert.equal(sc?.capabilities?.add, undefined, `${where} ${container.name}`);
        }
      }
    }
  });

  it("puts secret values only into Secrets: not into ConfigMaps, other objects or NOTES.txt", async (t) => {
    if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
    const jwt = "chart-test-jwt-secret-that-is-long-enough-1234";
    const password = "chartTestRedisPassword42";
    const values = [
      "--set",
      `auth.jwtSecret=${jwt}`,
      "--set",
      `redis.auth.password=${password}`,
      "--set",
      "jobChannelNamespaces={apps}",
    ];
    const secretish = [jwt, password].flatMap((s) => [s, Buffer.from(s).toString("base64")]);
    const objects = await render(...values);
    for (const object of objects.filter((o) => o.kind !== "Secret")) {
      const text = JSON.stringify(object);
      for (const s of secretish)
        assert.equal(text.includes(s), false, `${object.kind}/${object.metadata.name} leaks`);
    }
    const configMaps = objects.filter((o) => o.kind === "ConfigMap");
    assert.deepEqual(
      configMaps,
      [],
      "the chart renders no ConfigMap (channels.json is the operator's)",
    );
    const secrets = objects.filter((o) => o.kind === "Secret");
    const decoded = (o: RenderedObject, key: string) =>
      Buffer.from(o.data?.[key] ?? "", "base64").toString("utf8");
    const auth = find(secrets, "Secret", "jobchannel-relay-auth");
    assert.equal(decoded(auth, "RELAY_JWT_SECRET"), jwt);
    // The Redis Secret in the release namespace and in each JobChannel namespace, same URL.
    const redis = secrets.filter((o) => o.metadata.name === "jobchannel-redis");
    assert.deepEqual(redis.map((o) => o.metadata.namespace).sort(), ["apps", "jobchannel"]);
    for (const secret of redis)
      assert.equal(
        decoded(secret, "REDIS_URL"),
        `redis://:${password}@jobchannel-redis.jobchannel.svc.cluster.local:6379`,
      );
    assert.equal(
      redis.find((o) => o.metadata.namespace === "apps")?.data?.["REDIS_PASSWORD"],
      undefined,
      "workers' namespaces get the URL only",
    );
    const dryRun = await helm([
      "install",
      "jobchannel",
      chart,
      "-n",
      "jobchannel",
      "--dry-run=client",
      "--hide-secret",
      ...values,
    ]);
    const notes = dryRun.slice(dryRun.indexOf("NOTES:"));
    assert.match(notes, /port-forward svc\/jobchannel-relay/);
    for (const s of secretish) assert.equal(notes.includes(s), false, "NOTES.txt leaks a secret");
  });

  it("renders the CRD from the repository's file with the keep policy", async (t) => {
    if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
    const crd = find(await render(), "CustomResourceDefinition", "jobchannels.jobchannel.io");
    assert.equal(crd.metadata.annotations?.["helm.sh/resource-policy"], "keep");
    const source = loadAllYaml(
      await readFile(join(root, "crds", "jobchannels.jobchannel.io.yaml"), "utf8"),
    )[0] as RenderedObject;
    assert.deepEqual(crd.spec, source.spec);
    const without = await render("--set", "crds.install=false");
    assert.equal(
      without.some((o) => o.kind === "CustomResourceDefinition"),
      false,
    );
  });

  it("grants the operator exactly operator/rbac.yaml's rules, and the relay list and watch of its ConfigMap by name", async (t) => {
    if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
    const objects = await render();
    const reference = loadAllYaml(
      await readFile(join(root, "operator", "rbac.yaml"), "utf8"),
    ) as RenderedObject[];
    for (const kind of ["ClusterRole", "Role"]) {
      assert.deepEqual(
        find(objects, kind, "jobchannel-operator").rules,
        find(reference, kind, "jobchannel-operator").rules,
        `the operator's ${kind}`,
      );
    }
    const relayRole = find(objects, "Role", "jobchannel-relay");
    assert.deepEqual(JSON.parse(JSON.stringify(relayRole.rules)), [
      {
        apiGroups: [""],
        resources: ["configmaps"],
        resourceNames: ["jobchannel-relay"],
        verbs: ["list", "watch"],
      },
    ]);
    const relay = podSpecOf(find(objects, "Deployment", "jobchannel-relay")).containers[0];
    const operator = podSpecOf(find(objects, "Deployment", "jobchannel-operator")).containers[0];
    assert.equal(envOf(relay, "RELAY_CONFIG_CONFIGMAP"), "jobchannel/jobchannel-relay");
    assert.equal(envOf(operator, "JOBCHANNEL_RELAY_CONFIGMAP"), "jobchannel-relay");
    assert.equal(envOf(operator, "JOBCHANNEL_REDIS_SECRET"), "jobchannel-redis");
    assert.equal(envOf(operator, "LEADER_ELECTION"), "true");
    assert.ok(find(objects, "ClusterRoleBinding", "jobchannel-operator"));

    // A watch list binds the ClusterRole in those namespaces only.
    const scoped = await render("--set", "operator.watchNamespaces={apps,jobchannel}");
    assert.equal(
      scoped.some((o) => o.kind === "ClusterRoleBinding"),
      false,
    );
    const bindings = scoped.filter(
      (o) => o.kind === "RoleBinding" && o.roleRef?.kind === "ClusterRole",
    );
    assert.deepEqual(bindings.map((o) => o.metadata.namespace).sort(), ["apps", "jobchannel"]);
    const scopedOperator = podSpecOf(find(scoped, "Deployment", "jobchannel-operator"));
    assert.equal(envOf(scopedOperator.containers[0], "WATCH_NAMESPACES"), "apps,jobchannel");
  });

  it("gives relays a grace period longer than the preStop pause plus the drain, and refuses one that is not", async (t) => {
    if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
    for (const values of [[], ["-f", localValues]]) {
      const pod = podSpecOf(find(await render(...values), "Deployment", "jobchannel-relay"));
      const relay = pod.containers[0];
      const preStop = relay?.lifecycle?.preStop?.sleep?.seconds ?? 0;
      const drain = Number(envOf(relay, "RELAY_DRAIN_SECONDS"));
      assert.ok(preStop > 0, "a preStop pause");
      assert.ok((pod.terminationGracePeriodSeconds ?? 30) > preStop + drain);
    }
    await assert.rejects(
      render("--set", "relay.terminationGracePeriodSeconds=10"),
      /relay.terminationGracePeriodSeconds \(10\) must be larger than/,
    );
  });

  it("refuses Redis values that contradict each other, with a message naming them", async (t) => {
    if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
    await assert.rejects(
      render("--set", "redis.url=redis://elsewhere:6379"),
      /set exactly one of redis.enabled=true, redis.url or redis.existingSecret/,
    );
    await assert.rejects(
      render("--set", "redis.enabled=false"),
      /set exactly one of redis.enabled=true, redis.url or redis.existingSecret/,
    );
    await assert.rejects(
      render(
        "--set",
        "redis.enabled=false",
        "--set",
        "redis.existingSecret=mine",
        "--set",
        "jobChannelNamespaces={apps}",
      ),
      /with redis.existingSecret, create that Secret in each JobChannel namespace yourself/,
    );
  });

  it("refuses bad values through values.schema.json, naming the value", async (t) => {
    if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
    const cases: [string, RegExp][] = [
      ["operator.logLevel=loud", /\/operator\/logLevel': value must be one of/],
      ["relay.replicas=0", /\/relay\/replicas': minimum: got 0, want 1/],
      [
        "redis.url=http://elsewhere:6379",
        /\/redis\/url': 'http:\/\/elsewhere:6379' does not match/,
      ],
      ["jobChannelNamespaces={Apps}", /\/jobChannelNamespaces\/0': 'Apps' does not match/],
      ["relay.replica=3", /\/relay': additional properties 'replica' not allowed/],
      ["redis.auth.password=a:b@c", /\/redis\/auth\/password': 'a:b@c' does not match/],
    ];
    for (const [value, message] of cases) await assert.rejects(render("--set", value), message);
  });

  it("renders an external Redis by URL or by Secret without the bundled StatefulSet", async (t) => {
    if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
    const byUrl = await render(
      "--set",
      "redis.enabled=false",
      "--set",
      "redis.url=rediss://r:6380",
    );
    assert.equal(
      byUrl.some((o) => o.kind === "StatefulSet"),
      false,
    );
    const secret = find(byUrl, "Secret", "jobchannel-redis");
    assert.equal(
      Buffer.from(secret.data?.["REDIS_URL"] ?? "", "base64").toString(),
      "rediss://r:6380",
    );
    const bySecret = await render(
      "--set",
      "redis.enabled=false",
      "--set",
      "redis.existingSecret=team-redis",
    );
    assert.equal(
      bySecret.some((o) => o.kind === "Secret" && o.metadata.name.endsWith("-redis")),
      false,
    );
    const operator = podSpecOf(find(bySecret, "Deployment", "jobchannel-operator"));
    assert.equal(envOf(operator.containers[0], "JOBCHANNEL_REDIS_SECRET"), "team-redis");
  });

  it("leaves the relay's replica count to the HPA when autoscaling is on, and keeps a PDB", async (t) => {
    if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
    const objects = await render("--set", "relay.autoscaling.enabled=true");
    const hpa = find(objects, "HorizontalPodAutoscaler", "jobchannel-relay");
    assert.equal((hpa.spec as { minReplicas: number }).minReplicas, 2);
    const relay = find(objects, "Deployment", "jobchannel-relay");
    assert.equal((relay.spec as { replicas?: number }).replicas, undefined);
    assert.ok(find(objects, "PodDisruptionBudget", "jobchannel-relay"));
  });
});
