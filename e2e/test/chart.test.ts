// The Helm chart without a cluster: lint, render, and check what every rendered object promises.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadAllYaml, loadYaml } from "@kubernetes/client-node";
import { repoRoot, toolPath } from "../src/paths.ts";
import { VALUE_SETS, workerPodLabels } from "./helpers/chart-values.ts";
import { helmOffline, renderChart } from "./helpers/helm-offline.ts";

const root = repoRoot();
const chart = join(root, "charts", "jobchannel");
const localValues = join(chart, "values-local.yaml");
const productionValues = join(chart, "values-production.yaml");
const helmBinary = toolPath("helm");

/** A rendered object, as far as these checks read it. */
interface RenderedObject {
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    annotations?: Record<string, string>;
    labels?: Record<string, string>;
  };
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

  it("passes helm lint --strict and renders with every value set: default, production, external Redis, local node, kind, everything optional on", async (t) => {
    if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
    for (const [name, values] of Object.entries(VALUE_SETS)) {
      await helm(["lint", "--strict", chart, ...values]);
      assert.ok((await render(...values)).length > 10, `the ${name} value set renders`);
    }
  });

  it("labels every object and pod template with the app.kubernetes.io labels and the component it belongs to", async (t) => {
    if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
    const { version, appVersion } = loadYaml<{ version: string; appVersion: string }>(
      await readFile(join(chart, "Chart.yaml"), "utf8"),
    );
    // Objects of one component carry its name; the CRD is the operator's API. The workers'
    // PodMonitor is about the operator's worker pods, and the rule file and dashboard span them all.
    const componentOf = (o: RenderedObject): string => {
      if (o.kind === "CustomResourceDefinition") return "operator";
      if (o.kind === "PodMonitor") return "worker";
      if (o.kind === "PrometheusRule" || o.metadata.name === "jobchannel-dashboard")
        return "monitoring";
      return /^jobchannel-(operator|relay|redis)\b/.exec(o.metadata.name)?.[1] ?? "none";
    };
    const standard = (component: string) => ({
      "app.kubernetes.io/name": "jobchannel",
      "app.kubernetes.io/instance": "jobchannel",
      "app.kubernetes.io/version": appVersion,
      "app.kubernetes.io/component": component,
      "app.kubernetes.io/part-of": "jobchannel",
      "app.kubernetes.io/managed-by": "Helm",
      "helm.sh/chart": `jobchannel-${version}`,
    });
    const kinds = new Set<string>();
    for (const [name, values] of Object.entries(VALUE_SETS)) {
      for (const object of await render(...values)) {
        const where = `${name}: ${object.kind}/${object.metadata.name}`;
        const component = componentOf(object);
        assert.notEqual(component, "none", `${where} belongs to a component`);
        assert.deepEqual(
          Object.fromEntries(
            Object.entries(object.metadata.labels ?? {}).filter(([k]) =>
              /^(app\.kubernetes\.io|helm\.sh)\//.test(k),
            ),
          ),
          standard(component),
          where,
        );
        kinds.add(object.kind);
        const template = (object.spec as { template?: { metadata?: { labels?: object } } })
          ?.template;
        if (template) {
          assert.ok(["operator", "relay", "redis"].includes(component), where);
          assert.deepEqual(template.metadata?.labels, standard(component), `${where} pod template`);
        }
      }
    }
    for (const kind of ["Ingress", "HTTPRoute", "NetworkPolicy", "HorizontalPodAutoscaler"])
      assert.ok(kinds.has(kind), `${kind} is among the objects checked`);
    // The worker pods are the operator's: it labels them itself (operator/src/desired-worker.ts).
    assert.equal(workerPodLabels()["app.kubernetes.io/component"], "worker");
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

  it("renders the default-channel admission policy only where the cluster serves MutatingAdmissionPolicy v1beta1, and only with the CRD", async (t) => {
    if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
    const served = [
      "--api-versions",
      "admissionregistration.k8s.io/v1beta1/MutatingAdmissionPolicy",
    ];
    const policies = (objects: RenderedObject[]) =>
      objects.filter((o) => o.kind.startsWith("MutatingAdmissionPolicy")).map((o) => o.kind);
    const source = loadAllYaml(
      await readFile(join(root, "crds", "jobchannel-default-channel.yaml"), "utf8"),
    ) as RenderedObject[];
    const rendered = await render(...served);
    assert.deepEqual(policies(rendered), [
      "MutatingAdmissionPolicy",
      "MutatingAdmissionPolicyBinding",
    ]);
    const policy = find(rendered, "MutatingAdmissionPolicy", "jobchannel-default-channel");
    assert.deepEqual(policy.spec, source[0]!.spec);
    assert.deepEqual(policies(await render()), [], "not rendered where the API is not served");
    assert.deepEqual(policies(await render(...served, "--set", "crds.install=false")), []);
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
      /set exactly one of redis.enabled=true, redis.url, redis.cluster.nodes or redis.existingSecret/,
    );
    await assert.rejects(
      render("--set", "redis.enabled=false"),
      /set exactly one of redis.enabled=true, redis.url, redis.cluster.nodes or redis.existingSecret/,
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

  it("refuses bad values through values.schema.json in helm template and helm lint, naming the value", async (t) => {
    if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
    // One mistake each: a wrong type, an unknown key, a bad enum, a negative or zero count, a bad
    // URL scheme, a malformed name, quantity, duration or origin, a missing Gateway parent.
    const cases: [string, RegExp][] = [
      ["operator.logLevel=loud", /\/operator\/logLevel': value must be one of/],
      ["relay.replicas=0", /\/relay\/replicas': minimum: got 0, want 1/],
      ["operator.replicas=-1", /\/operator\/replicas': minimum: got -1, want 1/],
      ["relay.replicas=two", /\/relay\/replicas': got string, want integer/],
      ["networkPolicy.enabled=yes", /\/networkPolicy\/enabled': got string, want boolean/],
      [
        "redis.url=http://elsewhere:6379",
        /\/redis\/url': 'http:\/\/elsewhere:6379' does not match/,
      ],
      ["auth.jwksUrl=ftp://keys", /\/auth\/jwksUrl': 'ftp:\/\/keys' does not match/],
      ["jobChannelNamespaces={Apps}", /\/jobChannelNamespaces\/0': 'Apps' does not match/],
      ["relay.replica=3", /\/relay': additional properties 'replica' not allowed/],
      ["monitor.enabled=true", /at '': additional properties 'monitor' not allowed/],
      ["redis.auth.password=a:b@c", /\/redis\/auth\/password': 'a:b@c' does not match/],
      ["relay.ingress.pathType=Regex", /\/relay\/ingress\/pathType': value must be one of/],
      ["relay.httpRoute.enabled=true", /\/relay\/httpRoute\/parentRefs': minItems: got 0, want 1/],
      [
        "relay.httpRoute.timeouts.request=forever",
        /\/relay\/httpRoute\/timeouts\/request': 'forever' does not match/,
      ],
      ["relay.resources.limits.memory=lots", /\/relay\/resources\/limits\/memory': 'lots'/],
      ["relay.allowedOrigins={app.example.com}", /\/relay\/allowedOrigins\/0': 'app.example.com'/],
      [
        "networkPolicy.apiServer.ports={0}",
        /\/networkPolicy\/apiServer\/ports\/0': minimum: got 0, want 1/,
      ],
    ];
    const refused = async ([value, message]: [string, RegExp]): Promise<void> => {
      await assert.rejects(render("--set", value), message, `helm template --set ${value}`);
      // helm lint reports on stdout.
      const lint = await helm(["lint", "--strict", chart, "--set", value]).then(
        () => assert.fail(`helm lint --set ${value} passes`),
        (error: Error) => String((error.cause as { stdout?: string } | undefined)?.stdout),
      );
      assert.match(lint, message, `helm lint --set ${value}`);
    };
    await Promise.all(cases.map(refused));
  });

  it("closes every object of values.schema.json that lists its properties, so a misspelt key is refused", async () => {
    const schema = JSON.parse(await readFile(join(chart, "values.schema.json"), "utf8")) as object;
    const open: string[] = [];
    const visit = (node: unknown, path: string): void => {
      if (node === null || typeof node !== "object") return;
      const record = node as Record<string, unknown>;
      if (record["properties"] && record["additionalProperties"] !== false) open.push(path);
      for (const [key, child] of Object.entries(record)) {
        // "if" and "then" hold conditions on an object described elsewhere, not objects of values.
        if (key !== "if" && key !== "then") visit(child, `${path}/${key}`);
      }
    };
    visit(schema, "");
    assert.deepEqual(open, []);
  });

  it("renders an external Redis by URL (also values-external-redis.yaml) or by Secret without the bundled StatefulSet", async (t) => {
    if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
    for (const [values, url] of [
      [["--set", "redis.enabled=false", "--set", "redis.url=rediss://r:6380"], "rediss://r:6380"],
      [["-f", join(chart, "values-external-redis.yaml")], "rediss://redis.example.internal:6380"],
    ] as const) {
      const byUrl = await render(...values);
      assert.equal(
        byUrl.some((o) => o.kind === "StatefulSet"),
        false,
      );
      const secret = find(byUrl, "Secret", "jobchannel-redis");
      assert.equal(Buffer.from(secret.data?.["REDIS_URL"] ?? "", "base64").toString(), url);
    }
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

  it("renders an external Redis Cluster (also values-external-redis-cluster.yaml) as a redis+cluster:// REDIS_URL for relays and workers", async (t) => {
    if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
    const file = join(chart, "values-external-redis-cluster.yaml");
    for (const [values, url] of [
      [
        [
          "--set",
          "redis.enabled=false",
          "--set",
          "redis.cluster.nodes={a.example:7000,b.example:7001}",
          "--set",
          "redis.cluster.password=s3cret",
          "--set",
          "redis.cluster.tls=true",
          "--set",
          "jobChannelNamespaces={apps}",
        ],
        "rediss+cluster://:s3cret@a.example:7000,b.example:7001",
      ],
      [
        ["-f", file],
        "redis+cluster://redis-cluster-0.redis-cluster.data.svc.cluster.local:6379,redis-cluster-1.redis-cluster.data.svc.cluster.local:6379,redis-cluster-2.redis-cluster.data.svc.cluster.local:6379",
      ],
      [
        ["--set", "redis.enabled=false", "--set", "redis.url=redis+cluster://c:7000"],
        "redis+cluster://c:7000",
      ],
    ] as const) {
      const objects = await render(...values);
      assert.equal(
        objects.some((o) => o.kind === "StatefulSet"),
        false,
        "no bundled Redis",
      );
      const secrets = objects.filter(
        (o) => o.kind === "Secret" && o.metadata.name === "jobchannel-redis",
      );
      assert.ok(secrets.length >= 1);
      for (const secret of secrets) {
        const data = (secret as { data?: Record<string, string> }).data ?? {};
        assert.equal(Buffer.from(data["REDIS_URL"] ?? "", "base64").toString(), url);
      }
      // The relay reads REDIS_URL from that Secret; workers get it through JOBCHANNEL_REDIS_SECRET.
      const relay = podSpecOf(find(objects, "Deployment", "jobchannel-relay"));
      assert.match(JSON.stringify(relay.containers[0]), /jobchannel-redis/);
      const operator = podSpecOf(find(objects, "Deployment", "jobchannel-operator"));
      assert.equal(envOf(operator.containers[0], "JOBCHANNEL_REDIS_SECRET"), "jobchannel-redis");
    }
    await assert.rejects(
      render("--set", "redis.cluster.nodes={a.example:7000}"),
      /exactly one of redis.enabled=true, redis.url, redis.cluster.nodes or redis.existingSecret/,
    );
    await assert.rejects(
      render("--set", "redis.enabled=false", "--set", "redis.cluster.nodes={not-a-node}"),
      /redis\.cluster\.nodes/,
    );
  });

  it("renders values-production.yaml: an external Redis by Secret, an HPA from three relays, a PDB, spread relays, NetworkPolicies and monitoring", async (t) => {
    if (!existsSync(helmBinary)) return t.skip(`no ${helmBinary}: run \`make tools\``);
    const objects = await render("-f", productionValues);
    assert.equal(
      objects.some((o) => o.kind === "StatefulSet" || o.metadata.name === "jobchannel-redis"),
      false,
      "no bundled Redis and no chart-made Redis Secret",
    );
    const operator = podSpecOf(find(objects, "Deployment", "jobchannel-operator"));
    assert.equal(
      envOf(operator.containers[0], "JOBCHANNEL_REDIS_SECRET"),
      "jobchannel-redis-external",
    );
    const relayDeployment = find(objects, "Deployment", "jobchannel-relay");
    const relay = podSpecOf(relayDeployment) as PodSpec & {
      topologySpreadConstraints?: { topologyKey: string }[];
      containers: (Container & { resources?: { requests?: object; limits?: object } })[];
    };
    assert.equal((relayDeployment.spec as { replicas?: number }).replicas, undefined);
    assert.equal(
      (find(objects, "HorizontalPodAutoscaler", "jobchannel-relay").spec as { minReplicas: number })
        .minReplicas,
      3,
    );
    assert.ok(find(objects, "PodDisruptionBudget", "jobchannel-relay"));
    assert.deepEqual(
      relay.topologySpreadConstraints?.map((c) => c.topologyKey),
      ["kubernetes.io/hostname", "topology.kubernetes.io/zone"],
    );
    assert.ok(relay.containers[0]?.resources?.requests && relay.containers[0].resources.limits);
    assert.deepEqual(
      objects
        .filter((o) => o.kind === "NetworkPolicy")
        .map((o) => o.metadata.name)
        .sort(),
      ["jobchannel-operator", "jobchannel-relay"],
    );
    assert.equal(objects.filter((o) => o.kind === "ServiceMonitor").length, 2);
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
