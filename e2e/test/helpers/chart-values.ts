// The chart's value sets that the lint, render and server-side dry-run tests all run over.
import { join } from "node:path";
import { desiredDeployment } from "../../../operator/src/desired-worker.ts";
import { CHART } from "./helm-offline.ts";

/** Every optional part on at once: monitoring, Ingress, HTTPRoute, HPA on connections, NetworkPolicies. */
export const EVERYTHING_ON: readonly string[] = [
  "--set",
  "monitoring.enabled=true",
  "--set",
  "jobChannelNamespaces={apps}",
  "--set",
  "operator.watchNamespaces={jobchannel,apps}",
  "--set",
  "redis.persistence.enabled=true",
  "--set",
  "relay.pdb.maxUnavailable=25%",
  "--set",
  "relay.autoscaling.enabled=true",
  "--set",
  "relay.autoscaling.connections.enabled=true",
  "--set",
  "relay.ingress.enabled=true",
  "--set",
  "relay.ingress.className=nginx",
  "--set",
  "relay.ingress.hosts={jobs.example.com}",
  "--set-json",
  'relay.ingress.tls=[{"secretName":"jobs-tls","hosts":["jobs.example.com"]}]',
  "--set-json",
  'relay.ingress.annotations={"nginx.ingress.kubernetes.io/proxy-read-timeout":"3600","nginx.ingress.kubernetes.io/proxy-send-timeout":"3600"}',
  "--set",
  "relay.httpRoute.enabled=true",
  "--set-json",
  'relay.httpRoute.parentRefs=[{"name":"public","namespace":"gateways","sectionName":"https"}]',
  "--set",
  "relay.httpRoute.hostnames={jobs.example.com}",
  "--set",
  "relay.httpRoute.timeouts.request=0s",
  "--set",
  "networkPolicy.enabled=true",
  "--set-json",
  'networkPolicy.relayFrom=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"ingress-nginx"}}}]',
  "--set-json",
  'networkPolicy.redisFrom=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"publishers"}}}]',
  "--set",
  "networkPolicy.apiServer.cidrs={10.0.0.1/32}",
];

/** The value files beside values.yaml, and {@link EVERYTHING_ON}, as `helm` arguments by name. */
export const VALUE_SETS: Readonly<Record<string, readonly string[]>> = {
  default: [],
  production: ["-f", join(CHART, "values-production.yaml")],
  "external Redis": ["-f", join(CHART, "values-external-redis.yaml")],
  "external Redis Cluster": ["-f", join(CHART, "values-external-redis-cluster.yaml")],
  "local node": ["-f", join(CHART, "values-local.yaml")],
  kind: ["-f", join(CHART, "values-kind.yaml")],
  "everything optional on": EVERYTHING_ON,
};

/** Namespaces the value sets put objects into (the release's and jobChannelNamespaces'). */
export const VALUE_SET_NAMESPACES = ["jobchannel", "apps"] as const;

/** The labels the operator gives a worker pod (operator/src/desired-worker.ts), for a JobChannel in `apps`. */
export function workerPodLabels(): Record<string, string> {
  const deployment = desiredDeployment(
    {
      apiVersion: "jobchannel.io/v1alpha1",
      kind: "JobChannel",
      metadata: { name: "reports", namespace: "apps", uid: "uid" },
      spec: {
        access: "authenticated",
        visibility: "user",
        history: { maxJobs: 1000, ttlSeconds: 86400 },
        maxMessageBytes: 65536,
        worker: { jobType: "job-updates", replicas: 1, concurrency: 4 },
      },
    },
    "reports",
    { workerImage: "jobchannel/worker:0.1.0", redisSecret: "jobchannel-redis" },
  ) as { spec: { template: { metadata: { labels: Record<string, string> } } } };
  return deployment.spec.template.metadata.labels;
}
