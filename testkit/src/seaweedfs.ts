// A real S3-compatible server for tests: SeaweedFS's `weed mini` (built by `make tools` into bin/weed) on free loopback ports.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "./ports.ts";
import { startProcess, type Started } from "./process.ts";
import { waitFor } from "./wait.ts";

/** A running SeaweedFS with one bucket and one identity allowed everything. */
export interface TestS3 {
  /** The S3 endpoint, `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Stops the server and removes its data. */
  stop(): Promise<void>;
}

/** Options of {@link startSeaweedfs}. */
export interface SeaweedfsOptions {
  /** @default "jobchannel-test" */
  bucket?: string;
  /** The weed binary. @default $JOBCHANNEL_WEED, else bin/weed of this repository */
  binary?: string;
}

const DEFAULT_BINARY = fileURLToPath(new URL("../../bin/weed", import.meta.url));

/**
 * Starts `weed mini` (master, volume, filer and S3 in one process) on 127.0.0.1 with every port
 * free-picked, and resolves once the S3 endpoint serves the bucket.
 */
export async function startSeaweedfs(options: SeaweedfsOptions = {}): Promise<TestS3> {
  const binary = options.binary ?? process.env.JOBCHANNEL_WEED ?? DEFAULT_BINARY;
  if (!existsSync(binary))
    throw new Error(`no SeaweedFS binary at ${binary}: run \`make tools\` (it builds bin/weed)`);
  const bucket = options.bucket ?? "jobchannel-test";
  const accessKeyId = "jobchannel";
  const secretAccessKey = "jobchannel-test-secret";
  const dir = mkdtempSync(join(tmpdir(), "jobchannel-seaweedfs-"));
  const config = join(dir, "s3.json");
  writeFileSync(
    config,
    JSON.stringify({
      identities: [
        {
          name: "jobchannel",
          credentials: [{ accessKey: accessKeyId, secretKey: secretAccessKey }],
          actions: ["Admin", "Read", "Write", "List", "Tagging"],
        },
      ],
    }),
  );
  const ports: number[] = [];
  for (let i = 0; i < 10; i++) ports.push(await freePort());
  const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc, admin, adminGrpc] =
    ports as [number, number, number, number, number, number, number, number, number, number];
  const server: Started = startProcess(binary, [
    "mini",
    "-ip=127.0.0.1",
    "-ip.bind=127.0.0.1",
    `-dir=${dir}`,
    `-master.port=${master}`,
    `-master.port.grpc=${masterGrpc}`,
    "-master.telemetry=false",
    `-volume.port=${volume}`,
    `-volume.port.grpc=${volumeGrpc}`,
    `-filer.port=${filer}`,
    `-filer.port.grpc=${filerGrpc}`,
    `-s3.port=${s3}`,
    `-s3.port.grpc=${s3Grpc}`,
    "-s3.port.iceberg=0",
    "-s3.port.lance=0",
    `-s3.config=${config}`,
    `-bucket=${bucket}`,
    "-webdav=false",
    "-admin.ui=false",
    `-admin.port=${admin}`,
    `-admin.port.grpc=${adminGrpc}`,
    "-admin.port.legacy=0",
  ]);
  const endpoint = `http://127.0.0.1:${s3}`;
  const stop = async (): Promise<void> => {
    await server.stop(5000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const exited = once(server.child, "exit").then(([code]: unknown[]) => {
      throw new Error(`weed exited with ${String(code)}`);
    });
    // An unsigned request is refused, but only a bucket that exists is refused for want of access.
    const ready = waitFor(
      async () => {
        const res = await fetch(`${endpoint}/${bucket}`, { method: "GET" });
        const body = await res.text();
        return res.status < 500 && !body.includes("NoSuchBucket");
      },
      { timeoutMs: 60_000, intervalMs: 200, what: `SeaweedFS S3 on ${endpoint}` },
    );
    exited.catch(() => undefined);
    await Promise.race([ready, exited]);
  } catch (e) {
    await stop();
    throw new Error(`${(e as Error).message}\n${server.logTail()}`, { cause: e });
  }
  return { endpoint, bucket, region: "us-east-1", accessKeyId, secretAccessKey, stop };
}
