// Follows docs/add-a-job-type.md step by step, with the blocks read from the document itself.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { JobUpdate, JobChannelClient } from "@jobchannel/client";
import { waitFor } from "@jobchannel/testkit";
import { repoRoot } from "../../src/paths.ts";

/** The fenced blocks of a Markdown document, with their info strings. */
export function fencedBlocks(markdown: string): { info: string; body: string }[] {
  const blocks: { info: string; body: string }[] = [];
  const fence = /^```([^\n]*)\n([\s\S]*?)^```$/gm;
  for (let match = fence.exec(markdown); match; match = fence.exec(markdown)) {
    blocks.push({ info: (match[1] ?? "").trim(), body: match[2] ?? "" });
  }
  return blocks;
}

/** What the tutorial needs from the cluster. */
export interface TutorialCluster {
  apply(manifest: string): Promise<unknown>;
  rollout(deployment: string): Promise<unknown>;
  /** A host port of the worker Service. */
  forward(): Promise<number>;
  /** A client subscribed to the tutorial's channel as the user of its curl step. */
  watch(): Promise<{ client: JobChannelClient; close(): void }>;
}

/** The final update of the tutorial's job, and how many progress updates came before it. */
export interface TutorialResult extends JobUpdate {
  readonly progressSeen: number;
}

export async function followTutorial(cluster: TutorialCluster): Promise<TutorialResult> {
  const doc = readFileSync(join(repoRoot(), "docs", "add-a-job-type.md"), "utf8");
  const blocks = fencedBlocks(doc);

  // Step 2: the Dockerfile shown is the one `make images` builds.
  const dockerfile = blocks.find((b) => b.info.startsWith("dockerfile"));
  assert.ok(dockerfile, "the tutorial shows its Dockerfile");
  assert.equal(
    dockerfile.body,
    readFileSync(join(repoRoot(), "worker", "examples", "Dockerfile"), "utf8"),
    "the Dockerfile in the tutorial is worker/examples/Dockerfile",
  );

  // Step 3: the JobChannel.
  const resource = blocks.find((b) => b.info === "yaml" && b.body.includes("kind: JobChannel"));
  assert.ok(resource, "the tutorial declares a JobChannel");
  await cluster.apply(resource.body);
  await cluster.rollout("prime-count-worker");

  // Step 4: the curl command's body, sent to the worker Service.
  const curl = blocks.find((b) => b.info === "sh" && b.body.includes("/api/jobs/prime-count"));
  const body = curl && /-d '([^']+)'/.exec(curl.body)?.[1];
  assert.ok(body, "the tutorial starts a job with curl -d");
  const watcher = await cluster.watch();
  try {
    let progressSeen = 0;
    const stop = watcher.client.on("jobs", () => progressSeen++);
    const port = await cluster.forward();
    const response = await fetch(`http://127.0.0.1:${port}/api/jobs/prime-count`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    assert.equal(response.status, 202, await response.clone().text());
    const { jobId } = (await response.json()) as { jobId: string };
    // Step 5: the updates reach a subscriber of the channel.
    const job = await waitFor(
      () => {
        const current = watcher.client.job("prime-count", jobId);
        return current && (current.status === "completed" || current.status === "failed")
          ? current
          : false;
      },
      { timeoutMs: 120_000, intervalMs: 100, what: `prime-count job ${jobId} to finish` },
    );
    stop();
    return { ...job, progressSeen };
  } finally {
    watcher.close();
  }
}
