// skaffold.yaml without skaffold: its published JSON schema, the image templates it hands helm, the chart values they set, and the local-node build script's refusals.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { loadYaml } from "@kubernetes/client-node";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { repoRoot } from "../src/paths.ts";
import { renderChart } from "./helpers/helm-offline.ts";

const execFileAsync = promisify(execFile);
const root = repoRoot();
const fixtures = join(import.meta.dirname, "fixtures");

/** sha256 of JSON.stringify of skaffold's schema file as published (fixtures/README.md says where). */
const UPSTREAM_SCHEMA_SHA256 = "efde5ea75255d49e4723531b5c133f448f08bae0c2e3b1f224cc2096740544b9";

interface Artifact {
  image: string;
  context?: string;
  docker?: { dockerfile: string };
  custom?: { buildCommand: string; dependencies?: { dockerfile?: { path: string } } };
}
interface Release {
  name: string;
  chartPath: string;
  valuesFiles?: string[];
  setValueTemplates: Record<string, string>;
}
interface Patch {
  op: "add" | "replace";
  path: string;
  value: unknown;
}
interface SkaffoldConfig {
  apiVersion: string;
  build: { artifacts: Artifact[]; tagPolicy?: { envTemplate?: { template: string } } };
  deploy: { helm: { releases: Release[] } };
  profiles: { name: string; build?: SkaffoldConfig["build"]; patches?: Patch[] }[];
}

/** One line per ajv error: where, what, and the offending property when there is one. */
function readable(errors: readonly ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .map((e) => {
      const extra =
        "additionalProperty" in e.params ? ` (${String(e.params["additionalProperty"])})` : "";
      return `${e.instancePath || "/"} ${e.message ?? e.keyword}${extra}`;
    })
    .join("\n");
}

/** A JSON pointer's tokens (RFC 6901). */
function tokens(pointer: string): string[] {
  return pointer
    .slice(1)
    .split("/")
    .map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
}

/** The config with a profile applied as skaffold applies it: its fields over the top level, then its patches. */
function withProfile(config: SkaffoldConfig, name: string): SkaffoldConfig {
  const profile = config.profiles.find((p) => p.name === name);
  assert.ok(profile, `profile ${name}`);
  const merged = structuredClone(config) as SkaffoldConfig & Record<string, unknown>;
  if (profile.build) merged.build = { ...merged.build, ...structuredClone(profile.build) };
  for (const patch of profile.patches ?? []) {
    const path = tokens(patch.path);
    const last = path.pop()!;
    let parent: unknown = merged;
    for (const token of path) {
      assert.ok(parent && typeof parent === "object" && token in parent, `${patch.path} resolves`);
      parent = (parent as Record<string, unknown>)[token];
    }
    if (Array.isArray(parent) && last === "-") parent.push(structuredClone(patch.value));
    else {
      const target = parent as Record<string, unknown>;
      assert.equal(last in target, patch.op === "replace", `${patch.op} ${patch.path}`);
      target[last] = structuredClone(patch.value);
    }
  }
  return merged;
}

/**
 * The --set values skaffold gives helm for builds tagged `<image>:<tag>` without a digest (a
 * local build), following skaffold v2's helm deployer: IMAGE_<FIELD>_<image with . - / : as _>,
 * and a trailing "@" dropped.
 */
function expandTemplates(templates: Record<string, string>, tag: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(templates).map(([key, template]) => {
      const value = template.replace(
        /\{\{\.IMAGE_([A-Z_]+?)_(localhost_jobchannel_[a-z_]+)\}\}/g,
        (_, field: string, suffix: string) => {
          const name = suffix.replace(/^localhost_jobchannel_/, "").replaceAll("_", "-");
          const fields: Record<string, string> = {
            DOMAIN: "localhost",
            REPO_NO_DOMAIN: `jobchannel/${name}`,
            TAG: tag,
            DIGEST: "",
          };
          assert.ok(field in fields, `template field ${field}`);
          return fields[field]!;
        },
      );
      return [key, value.replace(/@$/, "")];
    }),
  );
}

const sanitize = (image: string) => image.replace(/[./:-]/g, "_");

describe("skaffold.yaml", () => {
  let config: SkaffoldConfig;
  let schema: object;
  let validate: ValidateFunction;
  let home: string;

  before(async () => {
    config = loadYaml(await readFile(join(root, "skaffold.yaml"), "utf8")) as SkaffoldConfig;
    const version = config.apiVersion.replace(/^skaffold\//, "");
    schema = JSON.parse(
      await readFile(join(fixtures, `skaffold-${version}.schema.json`), "utf8"),
    ) as object;
    // strict: false lets the schema's own keywords (x-intellij-html-description, ...) through.
    validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
    home = await mkdtemp(join(tmpdir(), "jobchannel-skaffold-"));
  });
  after(() => rm(home, { recursive: true, force: true }));

  it("uses skaffold/v4beta14, whose published schema is the fixture, unchanged", async () => {
    assert.equal(config.apiVersion, "skaffold/v4beta14");
    assert.equal(
      createHash("sha256").update(JSON.stringify(schema)).digest("hex"),
      UPSTREAM_SCHEMA_SHA256,
    );
    assert.match(
      await readFile(join(fixtures, "README.md"), "utf8"),
      new RegExp(UPSTREAM_SCHEMA_SHA256),
    );
  });

  it("passes its schema", () => {
    assert.ok(validate(config), readable(validate.errors));
  });

  it("fails its schema on an unknown field and on a wrong type, saying where", () => {
    const unknown = structuredClone(config);
    (unknown.deploy.helm.releases[0] as unknown as Record<string, unknown>)["chartpath"] = "x";
    assert.equal(validate(unknown), false);
    assert.match(
      readable(validate.errors),
      /^\/deploy\/helm\/releases\/0 must NOT have additional properties \(chartpath\)$/m,
    );

    const wrongType = structuredClone(config) as unknown as {
      deploy: { helm: { releases: Record<string, unknown>[] } };
    };
    wrongType.deploy.helm.releases[0]!["createNamespace"] = "yes";
    assert.equal(validate(wrongType), false);
    assert.match(
      readable(validate.errors),
      /^\/deploy\/helm\/releases\/0\/createNamespace must be boolean$/m,
    );
  });

  it("builds relay, worker and operator from their Dockerfiles with the repository root as context", () => {
    assert.deepEqual(
      config.build.artifacts.map((a) => [a.image, a.context, a.docker?.dockerfile]),
      ["relay", "worker", "operator"].map((n) => [
        `localhost/jobchannel/${n}`,
        ".",
        `${n}/Dockerfile`,
      ]),
    );
  });

  for (const profile of [undefined, "kind", "local-node"]) {
    it(`wires every image it builds into the chart${profile ? ` (profile ${profile})` : ""}`, async () => {
      const effective = profile ? withProfile(config, profile) : config;
      assert.ok(validate(effective), readable(validate.errors));
      const [release] = effective.deploy.helm.releases;
      assert.ok(release);
      const artifacts = effective.build.artifacts;
      for (const artifact of artifacts) {
        const dockerfile =
          artifact.docker?.dockerfile ?? artifact.custom?.dependencies?.dockerfile?.path;
        if (dockerfile) assert.ok(existsSync(join(root, dockerfile)), dockerfile);
        const script = artifact.custom?.buildCommand.match(/^bash (\S+)/)?.[1];
        if (artifact.custom)
          assert.ok(script && existsSync(join(root, script)), artifact.custom.buildCommand);
      }
      // Every template names a built image, and every built image is set in the chart.
      const named = new Set(
        Object.values(release.setValueTemplates).flatMap((t) =>
          [...t.matchAll(/\{\{\.IMAGE_[A-Z_]+?_(localhost_jobchannel_[a-z_]+)\}\}/g)].map(
            (m) => m[1],
          ),
        ),
      );
      assert.deepEqual([...named].sort(), artifacts.map((a) => sanitize(a.image)).sort());

      // helm renders the chart with those values: the images the pods run.
      const tag = "0123abcd";
      const values = expandTemplates(release.setValueTemplates, tag);
      const objects = await renderChart<{
        kind: string;
        spec: {
          template: {
            spec: { containers: { image: string; env?: { name: string; value?: string }[] }[] };
          };
        };
      }>(
        home,
        ...(release.valuesFiles ?? []).flatMap((f) => ["-f", join(root, f)]),
        ...Object.entries(values).flatMap(([k, v]) => ["--set", `${k}=${v}`]),
      );
      const workloads = objects.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet");
      const images = workloads.flatMap((o) => o.spec.template.spec.containers.map((c) => c.image));
      const workerImage = workloads
        .flatMap((o) => o.spec.template.spec.containers.flatMap((c) => c.env ?? []))
        .find((e) => e.name === "JOBCHANNEL_WORKER_IMAGE")?.value;
      const ref = (name: string) => `localhost/jobchannel/${name}:${tag}`;
      const redis = {
        default: "docker.io/library/redis:7.4",
        kind: ref("redis"),
        "local-node": "localhost/jobchannel/redis:7",
      }[profile ?? "default"];
      assert.deepEqual([...new Set(images)].sort(), [ref("operator"), redis, ref("relay")].sort());
      assert.equal(workerImage, ref("worker"));
    });
  }

  it("makes skaffold ask the local-node build for the references make images builds", async () => {
    const localNode = withProfile(config, "local-node");
    assert.deepEqual(localNode.build.tagPolicy, { envTemplate: { template: "dev" } });
    const { stdout } = await execFileAsync(
      "bash",
      ["-c", "source images/common.sh && echo $REF_RELAY $REF_WORKER $REF_OPERATOR"],
      { cwd: root },
    );
    assert.deepEqual(
      localNode.build.artifacts.map((a) => `${a.image}:dev`),
      stdout.trim().split(" "),
    );
  });

  it("has images/skaffold-build.sh refuse what it cannot build, before building anything", async () => {
    const run = async (env: Record<string, string>) => {
      try {
        await execFileAsync("bash", [join(root, "images", "skaffold-build.sh")], {
          env: {
            PATH: process.env["PATH"],
            HOME: home,
            JOBCHANNEL_CACHE: join(home, "cache"),
            ...env,
          },
        });
        return "";
      } catch (error) {
        return (error as { stderr: string }).stderr;
      }
    };
    assert.match(await run({}), /IMAGE is not set; skaffold's custom builder sets it/);
    assert.match(
      await run({ IMAGE: "registry.example.com/relay:abc" }),
      /IMAGE=registry\.example\.com\/relay:abc: the local-node profile builds localhost\/jobchannel\/relay:dev, localhost\/jobchannel\/worker:dev and localhost\/jobchannel\/operator:dev only/,
    );
    assert.match(
      await run({ IMAGE: "localhost/jobchannel/relay:dev", PUSH_IMAGE: "true" }),
      /PUSH_IMAGE=true: the local node has no registry/,
    );
  });
});
