// Shared test helpers: fixtures (a real PDF, CSV), a Redis subscriber that records updates, HTTP posts.
import { Readable } from "node:stream";
import type { JobUpdate } from "@jobchannel/protocol";
import { waitFor } from "@jobchannel/testkit";
import { Redis } from "ioredis";
import { PDFDocument, StandardFonts } from "pdf-lib";
import pino from "pino";
import type { JobContext, JobFile } from "../src/job.ts";
import { blobFile } from "../src/blob-store.ts";
import { MemoryBlobStore } from "../src/blob-store-memory.ts";

export const silentLogger = pino({ level: "silent" });

/** The text of the PDF fixture, line by line per page. */
export const PDF_PAGES: readonly (readonly string[])[] = [
  ["Quarterly report", "Revenue grew by twelve percent."],
  ["Second page", "Operating margin held at 18 percent."],
  ["Third page", "Outlook: steady demand in all regions."],
];

/** A real multi-page PDF with {@link PDF_PAGES} drawn as text. */
export async function makePdf(
  pages: readonly (readonly string[])[] = PDF_PAGES,
): Promise<Uint8Array> {
  const doc = await PDFDocument.create();
  const font = await doc.embedFont(StandardFonts.Helvetica);
  for (const lines of pages) {
    const page = doc.addPage([595, 842]);
    lines.forEach((line, i) => page.drawText(line, { x: 56, y: 780 - i * 24, size: 14, font }));
  }
  return doc.save();
}

/** A contacts CSV: `valid` good rows, then the given bad rows. */
export function makeCsv(valid: number, badRows: readonly string[] = []): string {
  const lines = ["name,email,phone,amount"];
  for (let i = 1; i <= valid; i++)
    lines.push(
      `Person ${i},person${i}@example.com,+44 20 7946 ${String(i).padStart(4, "0")},${i}.50`,
    );
  return [...lines, ...badRows].join("\n") + "\n";
}

/** Records every update published on `jobchannel:<channel>` through a real Redis subscription. */
export class Recorder {
  readonly updates: JobUpdate[] = [];
  readonly #redis: Redis;

  private constructor(redis: Redis) {
    this.#redis = redis;
  }

  static async start(redisUrl: string, pattern = "jobchannel:*"): Promise<Recorder> {
    const redis = new Redis(redisUrl);
    const recorder = new Recorder(redis);
    redis.on("pmessage", (_pattern: string, _channel: string, message: string) => {
      recorder.updates.push(JSON.parse(message) as JobUpdate);
    });
    await redis.psubscribe(pattern);
    return recorder;
  }

  of(jobId: string): JobUpdate[] {
    return this.updates.filter((u) => u.jobId === jobId);
  }

  /** Waits until the job publishes a terminal update; returns all its updates. */
  async terminal(jobId: string, timeoutMs = 15_000): Promise<JobUpdate[]> {
    await waitFor(
      () => this.of(jobId).some((u) => u.status === "completed" || u.status === "failed"),
      {
        timeoutMs,
        what: `a terminal update of job ${jobId}`,
      },
    );
    return this.of(jobId);
  }

  async close(): Promise<void> {
    await this.#redis.quit();
  }
}

/** A decoded answer body; tests read its fields loosely. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers differ per endpoint; assertions check them
export type Answer = { status: number; body: any };

/** POSTs JSON; resolves with status and decoded body. */
export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** POSTs a multipart form with an upload in the field `file`, as `curl -F file=@... -F userId=...` does. */
export async function postFile(
  url: string,
  file: { bytes: Uint8Array | string; name: string; type?: string },
  fields: Record<string, string> = {},
  headers: Record<string, string> = {},
): Promise<Answer> {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  const data = typeof file.bytes === "string" ? file.bytes : new Uint8Array(file.bytes);
  form.append(
    "file",
    new Blob([data], { type: file.type ?? "application/octet-stream" }),
    file.name,
  );
  const res = await fetch(url, { method: "POST", body: form, headers });
  return { status: res.status, body: await res.json() };
}

/** Asserts a job's updates go queued -> processing (increasing progress) -> completed with strictly increasing seq. */
export function lifecycleProblem(updates: readonly JobUpdate[]): string | undefined {
  if (updates[0]?.status !== "queued") return `first update is ${updates[0]?.status}, not queued`;
  const last = updates[updates.length - 1]!;
  if (last.status !== "completed") return `last update is ${last.status}: ${last.error ?? ""}`;
  for (let i = 1; i < updates.length; i++) {
    if (!(updates[i]!.seq! > updates[i - 1]!.seq!)) return `seq does not increase at update ${i}`;
  }
  const progress = updates.filter((u) => u.status === "processing").map((u) => u.progress ?? 0);
  for (let i = 1; i < progress.length; i++)
    if (progress[i]! < progress[i - 1]!) return `progress goes back at ${i}: ${progress.join(",")}`;
  if (!progress.some((p) => p > 0 && p < 100) && progress.length < 2)
    return `no intermediate progress: ${progress.join(",")}`;
  return undefined;
}

/** A handler context without a runner: records progress, reads `bytes` as the upload. */
export async function fakeContext<I>(
  input: I,
  upload?: { bytes: Uint8Array | string; filename?: string; mimeType?: string },
): Promise<{
  context: JobContext<I>;
  progress: { percent: number; fields: Record<string, unknown> }[];
}> {
  const progress: { percent: number; fields: Record<string, unknown> }[] = [];
  let file: JobFile | undefined;
  if (upload) {
    const store = new MemoryBlobStore();
    const bytes = Buffer.from(upload.bytes);
    const { ref } = await store.put(Readable.from([bytes]));
    file = blobFile(store, {
      blob: ref,
      filename: upload.filename ?? "upload",
      mimeType: upload.mimeType ?? "application/octet-stream",
      bytes: bytes.length,
    });
  }
  const context: JobContext<I> = {
    jobId: "job-1",
    channel: "test",
    userId: undefined,
    input,
    file,
    attempt: 1,
    signal: new AbortController().signal,
    log: silentLogger,
    progress: async (percent, fields = {}) => void progress.push({ percent, fields }),
  };
  return { context, progress };
}
