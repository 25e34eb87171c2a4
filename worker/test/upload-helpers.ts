// Helpers of the upload tests: a worker process from source, multipart bodies generated on the fly, and its memory from /proc.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { freePort, startProcess, waitFor, type Started } from "@jobchannel/testkit";

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
export const MiB = 1024 * 1024;

/** A jobchannel-worker process run from source with `env`, ready to take jobs. */
export async function startWorkerProcess(
  env: Record<string, string>,
): Promise<{ process: Started; base: string; port: number }> {
  const port = await freePort();
  const started = startProcess(process.execPath, [MAIN], {
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    env: { PATH: process.env.PATH, PORT: String(port), LOG_LEVEL: "warn", ...env },
  });
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${base}/readyz`)).status === 200, {
    timeoutMs: 20_000,
    what: `worker on ${port}: ${started.logTail()}`,
  });
  return { process: started, base, port };
}

/** Resident memory of a process now and at its peak (VmRSS, VmHWM), in MiB. */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string): number => Number(/\d+/.exec(status.split(`${field}:`)[1]!)![0]);
  return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
}

/**
 * Bytes a process has read through read(2) so far (`rchar` in /proc/<pid>/io): sockets included,
 * so the difference over a refused upload is what the server actually took off the connection.
 */
export function bytesReadBy(pid: number): number {
  return Number(/^rchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"))![1]);
}

/** Pseudo-random bytes made 64 KiB at a time, so a test never holds an upload. */
export function* pseudoRandom(total: number, seed: number): Generator<Buffer> {
  let n = seed >>> 0 || 1;
  for (let sent = 0; sent < total;) {
    const size = Math.min(64 * 1024, total - sent);
    const chunk = Buffer.allocUnsafe(size);
    for (let i = 0; i + 4 <= size; i += 4) {
      n ^= n << 13;
      n ^= n >>> 17;
      n ^= n << 5;
      chunk.writeUInt32LE(n >>> 0, i);
    }
    chunk.fill(7, size - (size % 4));
    sent += size;
    yield chunk;
  }
}

const BOUNDARY = "----jobchannel-upload-test";

function preamble(fields: Record<string, string>, filename: string): Buffer {
  let text = "";
  for (const [name, value] of Object.entries(fields))
    text += `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`;
  text += `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`;
  return Buffer.from(text);
}

const EPILOGUE = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);

/**
 * POSTs a multipart upload of `bytes` pseudo-random bytes generated while sending (with
 * Content-Length); resolves with the answer and the SHA-256 of what was sent.
 */
export function postGenerated(
  url: string,
  bytes: number,
  seed: number,
  fields: Record<string, string> = { userId: "u1" },
): Promise<{ status: number; body: Record<string, unknown>; sha256: string }> {
  return postStream(url, pseudoRandom(bytes, seed), bytes, `upload-${seed}.bin`, fields);
}

/**
 * POSTs a multipart upload of the `bytes` bytes `source` yields, sending as the socket drains
 * (with Content-Length); resolves with the answer and the SHA-256 of what was sent.
 */
export function postStream(
  url: string,
  source: Iterator<Buffer>,
  bytes: number,
  filename: string,
  fields: Record<string, string> = { userId: "u1" },
): Promise<{ status: number; body: Record<string, unknown>; sha256: string }> {
  const head = preamble(fields, filename);
  const hash = createHash("sha256");
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: "POST",
      headers: {
        "content-type": `multipart/form-data; boundary=${BOUNDARY}`,
        "content-length": String(head.length + bytes + EPILOGUE.length),
      },
    });
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode!,
          body: JSON.parse(Buffer.concat(chunks).toString() || "{}") as Record<string, unknown>,
          sha256: hash.digest("hex"),
        }),
      );
    });
    req.on("error", reject);
    req.write(head);
    const pump = (): void => {
      for (;;) {
        const next = source.next();
        if (next.done) {
          req.end(EPILOGUE);
          return;
        }
        hash.update(next.value);
        if (!req.write(next.value)) {
          req.once("drain", pump);
          return;
        }
      }
    };
    pump();
  });
}

/**
 * Sends a multipart upload of `declared` bytes over a raw socket, generating it as the socket
 * drains, until the server answers or closes; `chunked` sends no Content-Length. Resolves with the
 * status line and the bytes the socket accepted before the server's answer ended the upload.
 */
export function sendUntilRefused(
  port: number,
  path: string,
  declared: number,
  chunked: boolean,
): Promise<{ statusLine: string; retryAfter: string | undefined; sentBytes: number }> {
  const head = preamble({ userId: "u1" }, "huge.bin");
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    let answer = "";
    let sent = 0;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      socket.destroy();
      const statusLine = answer.split("\r\n")[0] ?? "";
      const retryAfter = /\r\nretry-after: *(\S+)/i.exec(answer)?.[1];
      resolve({ statusLine, retryAfter, sentBytes: sent });
    };
    socket.on("data", (d: Buffer) => {
      answer += d.toString("latin1");
      // The whole answer is in once its JSON body closes.
      if (/\r\n\r\n[\s\S]*\}$/.test(answer)) finish();
    });
    socket.on("error", finish);
    socket.on("close", finish);
    const headers = [
      `POST ${path} HTTP/1.1`,
      "Host: 127.0.0.1",
      `Content-Type: multipart/form-data; boundary=${BOUNDARY}`,
      chunked ? "Transfer-Encoding: chunked" : `Content-Length: ${head.length + declared}`,
      "",
      "",
    ].join("\r\n");
    const frame = (data: Buffer): Buffer =>
      chunked
        ? Buffer.concat([Buffer.from(`${data.length.toString(16)}\r\n`), data, Buffer.from("\r\n")])
        : data;
    socket.write(headers);
    socket.write(frame(head));
    const source = pseudoRandom(declared, 99);
    const pump = (): void => {
      while (!done) {
        const next = source.next();
        if (next.done) return;
        sent += next.value.length;
        if (!socket.write(frame(next.value))) {
          socket.once("drain", pump);
          return;
        }
      }
    };
    socket.once("connect", pump);
  });
}
