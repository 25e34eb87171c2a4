// Shared test data: JobChannel objects as the API server returns them, and the CRD read from crds/.
import { readFileSync } from "node:fs";
import { load } from "js-yaml";
import { parseJobChannel } from "../src/validate.ts";
import type { JobChannel } from "../src/jobchannel.ts";

/**
 * API objects read back as JSON in tests: assertions walk ad-hoc paths and check the shapes
 * themselves, so a static type would only restate each assertion.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

export const REPO_ROOT = new URL("../../", import.meta.url);

/** The CRD document. */
export function loadCrd(): Json {
  return load(
    readFileSync(new URL("crds/jobchannels.jobchannel.io.yaml", REPO_ROOT), "utf8"),
  ) as Json;
}

/** A raw JobChannel (defaults applied, as the API server stores it). */
export function rawJobChannel(
  name: string,
  overrides: {
    namespace?: string;
    spec?: Record<string, unknown>;
    created?: string;
    generation?: number;
    status?: unknown;
  } = {},
): Record<string, unknown> {
  return {
    apiVersion: "jobchannel.io/v1alpha1",
    kind: "JobChannel",
    metadata: {
      name,
      namespace: overrides.namespace ?? "apps",
      uid: `uid-${name}`,
      generation: overrides.generation ?? 1,
      resourceVersion: "1",
      creationTimestamp: overrides.created ?? "2025-01-01T00:00:00Z",
    },
    spec: {
      access: "authenticated",
      visibility: "user",
      history: { maxJobs: 1000, ttlSeconds: 86400 },
      maxMessageBytes: 65536,
      worker: { jobType: name, replicas: 2, concurrency: 4 },
      ...overrides.spec,
    },
    ...(overrides.status ? { status: overrides.status } : {}),
  };
}

/** A parsed JobChannel; throws if the raw object is invalid. */
export function jobChannel(
  name: string,
  overrides: Parameters<typeof rawJobChannel>[1] = {},
): JobChannel {
  const parsed = parseJobChannel(rawJobChannel(name, overrides));
  if (!parsed.ok) throw new Error(parsed.problems.join("; "));
  return parsed.value;
}
