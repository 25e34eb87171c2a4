// Hostile HTTP against a jobchannel-worker process on a real redis-server: path traversal in
// filenames and paths, multipart bombs, wrong Content-Types, bodies shorter than their
// Content-Length, and JSON bombs. Each gets its documented status and code, no file lands outside
// the blob store, the process stays healthy, and a canary's requests keep being answered.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  fuzzRuns,
  fuzzSeed,
  percentile,
  recordHostile,
  RefusalTally,
  startRedis,
  type Started,
  type TestRedis,
  waitFor,
} from "@jobchannel/testkit";
import fc from "fast-check";
import { postFile, Recorder } from "./helpers.ts";
import { startWorkerProcess } from "./upload-helpers.ts";

const MAX_JSON_BYTES = 64 * 1024;
const seed = fuzzSeed("worker HTTP");
const tally = new RefusalTally();
/** Where a traversing filename would land if the worker wrote uploads to disk by name. */
const target = mkdtempSync(join(tmpdir(), "jobchannel-traversal-"));

let redis: TestRedis;
let recorder: Recorder;
let worker: { process: Started; base: string; port: number };
let canaryTimer: NodeJS.Timeout | undefined;
const canaryLatencies: number[] = [];
let crashes = 0;
let stopping = false;

before(async () => {
  redis = await startRedis();
  recorder = await Recorder.start(redis.url);
  worker = await startWorkerProcess({
    REDIS_URL: redis.url,
    JOBCHANNEL_MAX_JSON_BYTES: String(MAX_JSON_BYTES),
    JOBCHANNEL_MAX_UPLOAD_BYTES: String(1024 * 1024),
    JOBCHANNEL_JOB_TYPES: "file-upload,job-updates,bulk-upload",
  });
  worker.process.child.once("exit", () => {
    if (!stopping) crashes = 1;
  });
  // The canary: a steady stream of requests whose answers keep coming while the cases run.
  canaryTimer = setInterval(() => {
    const start = performance.now();
    void fetch(`${worker.base}/api/jobs`).then(
      async (res) => {
        await res.arrayBuffer();
        if (res.status === 200) canaryLatencies.push(performance.now() - start);
      },
      () => undefined,
    );
  }, 50);
});

after(async () => {
  stopping = true;
  clearInterval(canaryTimer);
  recordHostile({
    surface: "worker: HTTP",
    cases: tally.cases,
    refusals: tally.refusals,
    crashes,
    seed,
    canaryP99Ms: Math.round(percentile(canaryLatencies, 99) * 10) / 10,
  });
  await worker?.process.stop(3000);
  await recorder?.close();
  await redis?.stop();
  rmSync(target, { recursive: true, force: true });
});

/** The process is alive and ready, and the canary got answers since the last check. */
async function survived(): Promise<void> {
  assert.equal(worker.process.child.exitCode, null, `worker alive: ${worker.process.logTail()}`);
  assert.equal((await fetch(`${worker.base}/healthz`)).status, 200);
  assert.equal((await fetch(`${worker.base}/readyz`)).status, 200);
  const seen = canaryLatencies.length;
  await waitFor(() => canaryLatencies.length > seen, { what: "a canary answer" });
}

/** A raw HTTP exchange: writes `head` and `body`, optionally half-closes, and reads the answer. */
function raw(
  head: string,
  body: Buffer | string,
  endAfter: boolean,
): Promise<{ status: number | undefined; code: string | undefined; text: string }> {
  return new Promise((resolve) => {
    const socket = connect(worker.port, "127.0.0.1");
    let text = "";
    const timer = setTimeout(() => socket.destroy(), 10_000);
    socket.on("data", (d: Buffer) => (text += d.toString("latin1")));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)?.[1];
      const code = /"code":"([a-z_]+)"/.exec(text)?.[1];
      resolve({ status: status ? Number(status) : undefined, code, text });
    });
    socket.write(head);
    socket.write(body);
    if (endAfter) socket.end();
  });
}

/** Asserts a documented refusal: status and code of the worker's table in docs/errors.md. */
const DOCUMENTED: Record<number, readonly string[]> = {
  400: ["bad_request", "invalid_json", "invalid_input", "missing_file"],
  404: ["unknown_job_type", "job_not_found", "bad_request"],
  405: ["method_not_allowed"],
  413: ["payload_too_large"],
  415: ["unsupported_media_type"],
};

async function answer(res: Response): Promise<{ status: number; code: string | undefined }> {
  const body = (await res.json().catch(() => ({}))) as { error?: { code?: string } };
  return { status: res.status, code: body.error?.code };
}

function judge(
  got: { status: number; code: string | undefined },
  allowed: number[],
  what: string,
): void {
  assert.ok(allowed.includes(got.status), `${what}: status ${got.status} (${got.code})`);
  if (got.status === 202) {
    tally.accepted();
    return;
  }
  assert.ok(
    got.code !== undefined && (DOCUMENTED[got.status] ?? []).includes(got.code),
    `${what}: ${got.status} with undocumented code ${got.code}`,
  );
  tally.refused(`${got.status} ${got.code}`);
}

const traversal = fc.oneof(
  fc.constantFrom(
    `../../../../../../..${target}/owned`,
    `..\\..\\..\\..\\..\\..${target.replaceAll("/", "\\")}\\owned`,
    `${target}/owned`,
    `....//....//....//${target}/owned`,
    `%2e%2e%2f%2e%2e%2f${target}/owned`,
    "..",
    ".",
    "",
    "a\u0000/../../owned",
    "con:owned",
  ),
  fc
    .tuple(
      fc.array(fc.constantFrom("..", ".", "", "%2e%2e", "..\\.."), { maxLength: 8 }),
      fc.string({ maxLength: 12 }),
    )
    .map(([segments, name]) => [...segments, name].join("/")),
);

describe("path traversal", () => {
  test("keeps an upload's filename a bare name and writes nothing where it points", async () => {
    await fc.assert(
      fc.asyncProperty(
        traversal,
        fc.uint8Array({ minLength: 1, maxLength: 2048 }),
        async (name, bytes) => {
          const posted = await postFile(
            `${worker.base}/api/jobs/file-upload`,
            { bytes, name },
            {
              userId: "u1",
            },
          );
          // A name the multipart parser cannot read (a NUL in the header) is a coded 400.
          judge(
            { status: posted.status, code: posted.body.error?.code },
            [202, 400],
            `filename ${JSON.stringify(name)}`,
          );
          if (posted.status !== 202) return;
          const updates = await recorder.terminal(posted.body.jobId as string);
          const final = updates.at(-1)!;
          assert.equal(final.status, "completed", JSON.stringify(final));
          const stored = (final as { result?: { filename?: string } }).result?.filename ?? "";
          assert.ok(!/[/\\]/.test(stored) && stored !== ".." && stored !== ".", `stored ${stored}`);
          assert.ok(
            !existsSync(join(target, "owned")),
            "nothing was written where the name points",
          );
        },
      ),
      { seed, numRuns: fuzzRuns(15, 200) },
    );
    await survived();
  });

  test("refuses traversal in the channel and job id of the path with 400 or 404", async () => {
    const paths = [
      ["POST", "/api/jobs/..%2F..%2Fetc%2Fpasswd"],
      ["POST", "/api/jobs/../../etc/passwd"],
      ["POST", "/api/jobs/%2e%2e"],
      ["GET", "/api/jobs/file-upload/..%2F..%2F..%2Fetc%2Fpasswd"],
      ["GET", "/api/jobs/file-upload/%2e%2e%2f%2e%2e%2fjobchannel:blob:x"],
      ["GET", "/api/jobs/..%5C..%5Cwindows/x"],
    ] as const;
    for (const [method, path] of paths) {
      const got = await raw(
        `${method} ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n`,
        "{}",
        false,
      );
      judge({ status: got.status ?? 0, code: got.code }, [400, 404], `${method} ${path}`);
    }
    await survived();
  });
});

const BOUNDARY = "----hostile-boundary";

function multipart(parts: { name: string; filename?: string; value: string }[]): string {
  let text = "";
  for (const p of parts) {
    const file = p.filename !== undefined ? `; filename="${p.filename}"` : "";
    text += `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${p.name}"${file}\r\n\r\n${p.value}\r\n`;
  }
  return `${text}--${BOUNDARY}--\r\n`;
}

async function post(
  path: string,
  body: string | Uint8Array,
  type: string | undefined,
): Promise<Response> {
  return fetch(`${worker.base}${path}`, {
    method: "POST",
    body,
    headers: type === undefined ? {} : { "content-type": type },
  });
}

describe("multipart bombs", () => {
  test("refuses thousands of fields, or of files, with 400 bad_request", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 102, max: 5000 }),
        fc.constantFrom("fields", "files", "mixed"),
        async (count, kind) => {
          const parts = Array.from({ length: count }, (_, i) =>
            kind === "fields" || (kind === "mixed" && i % 2 === 0)
              ? { name: `f${i}`, value: "x" }
              : { name: "file", filename: `f${i}.bin`, value: "x" },
          );
          const res = await post(
            "/api/jobs/file-upload",
            multipart(parts),
            `multipart/form-data; boundary=${BOUNDARY}`,
          );
          judge(await answer(res), [400, 413], `${count} ${kind}`);
        },
      ),
      { seed, numRuns: fuzzRuns(8, 80) },
    );
    await survived();
  });
});

describe("content types", () => {
  test("refuses a body of a type it does not take with 415, and a multipart type without a boundary with 400", async () => {
    const types = fc.oneof(
      fc.constantFrom(
        "text/plain",
        "application/xml",
        "image/png",
        "multipart/mixed; boundary=x",
        "application/octet-stream",
        "text/html; charset=utf-8",
        "application/jsonx",
        "multipart/form-data",
        "multipart/form-data; boundary=",
      ),
      fc.string({ minLength: 1, maxLength: 40 }).filter((t) => /^[\x21-\x7e ]+$/.test(t)),
    );
    await fc.assert(
      fc.asyncProperty(types, async (type) => {
        const res = await post("/api/jobs/job-updates", '{"company":{}}', type);
        const got = await answer(res);
        const media = type.split(";")[0]!.trim().toLowerCase();
        const takes =
          media === "application/json" ||
          media.endsWith("+json") ||
          media === "multipart/form-data" ||
          media === "application/x-www-form-urlencoded";
        judge(got, takes ? [202, 400, 413] : [415], `content type ${JSON.stringify(type)}`);
      }),
      { seed, numRuns: fuzzRuns(30, 300) },
    );
    await survived();
  });
});

describe("short bodies", () => {
  test("answers a body shorter than its Content-Length with 400 once the client stops sending", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          "application/json",
          `multipart/form-data; boundary=${BOUNDARY}`,
          "application/x-www-form-urlencoded",
        ),
        fc.integer({ min: 1, max: 5000 }),
        async (type, missing) => {
          const body =
            type === "application/json"
              ? '{"company":{"name":"x"}}'
              : type.startsWith("multipart")
                ? multipart([{ name: "file", filename: "a.bin", value: "abc" }])
                : "a=1&b=2";
          const length = Buffer.byteLength(body) + missing;
          const got = await raw(
            `POST /api/jobs/file-upload HTTP/1.1\r\nHost: x\r\nContent-Type: ${type}\r\nContent-Length: ${length}\r\n\r\n`,
            body,
            true,
          );
          judge({ status: got.status ?? 0, code: got.code }, [400], `short ${type}`);
        },
      ),
      { seed, numRuns: fuzzRuns(10, 100) },
    );
    await survived();
  });
});

describe("JSON bombs", () => {
  const bombs = fc.oneof(
    fc.integer({ min: 33, max: MAX_JSON_BYTES / 2 - 10 }).map((d) => ({
      body: `{"a":${"[".repeat(d)}${"]".repeat(d)}}`,
      status: [400],
    })),
    fc.integer({ min: 33, max: 5000 }).map((d) => ({
      body: `${'{"a":'.repeat(d)}1${"}".repeat(d)}`,
      status: [400],
    })),
    fc
      .constantFrom(
        '{"__proto__":{"admin":true},"company":{"name":"x"}}',
        '{"company":{"__proto__":{"name":"x"}}}',
        '{"constructor":{"prototype":{"admin":true}}}',
      )
      .map((body) => ({ body, status: [400] })),
    fc.integer({ min: MAX_JSON_BYTES + 1, max: 8 * MAX_JSON_BYTES }).map((size) => ({
      body: `{"pad":"${"x".repeat(size)}"}`,
      status: [413],
    })),
    fc.integer({ min: 1000, max: MAX_JSON_BYTES / 8 }).map((n) => ({
      body: `{"company":{"name":"x"},"list":[${Array(n).fill("1e999").join(",")}]}`,
      status: [202, 400],
    })),
    fc.json({ maxDepth: 4 }).map((body) => ({ body, status: [202, 400] })),
    fc
      .jsonValue({ maxDepth: 3 })
      .map((v) => ({ body: JSON.stringify({ company: v, financials: v }), status: [202, 400] })),
  );
  test("refuses JSON bombs with 400 invalid_json or 413, and generated bodies with 202 or a coded 400", async () => {
    await fc.assert(
      fc.asyncProperty(bombs, async ({ body, status }) => {
        const res = await post("/api/jobs/job-updates", body, "application/json");
        judge(await answer(res), status, body.slice(0, 120));
      }),
      { seed, numRuns: fuzzRuns(40, 500) },
    );
    assert.equal(({} as Record<string, unknown>).admin, undefined);
    await survived();
  });
});
