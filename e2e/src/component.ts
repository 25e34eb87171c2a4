// One component process of the local cluster: started with its log in a file, probed until ready.
import { createWriteStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { freePort, startProcess, waitFor, type Started } from "@jobchannel/testkit";
import type { CertificateFiles } from "./certificates.ts";
import { ControlPlaneError, ControlPlaneErrorCode } from "./errors.ts";

export interface Component {
  readonly name: string;
  readonly started: Started;
  readonly logPath: string;
  /** Settles once the process has closed its output and the log file is flushed. */
  readonly logClosed: Promise<void>;
}

/** PEM contents for a health probe: the CA to trust and, optionally, a client certificate. */
export interface TlsMaterial {
  readonly ca: Buffer;
  /** Accept any serving certificate: for components that sign their own (kube-scheduler). @default true */
  readonly rejectUnauthorized?: boolean;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

export async function loadTls(ca: string, client?: CertificateFiles): Promise<TlsMaterial> {
  if (!client) return { ca: await readFile(ca) };
  const [caPem, cert, key] = await Promise.all([
    readFile(ca),
    readFile(client.cert),
    readFile(client.key),
  ]);
  return { ca: caPem, cert, key };
}

/** What {@link launchComponent} starts. */
export interface LaunchOptions {
  readonly name: string;
  readonly binary: string;
  readonly args: readonly string[];
  readonly cwd: string;
  /** The log goes to `<logDir>/<name>.log`. */
  readonly logDir: string;
  /** @default this process's environment */
  readonly env?: NodeJS.ProcessEnv;
}

/** Starts one component in its own process group, its stdout and stderr appended to its log file. */
export function launchComponent(options: LaunchOptions): Component {
  const logPath = join(options.logDir, `${options.name}.log`);
  const log = createWriteStream(logPath, { flags: "a" });
  const started = startProcess(options.binary, [...options.args], {
    cwd: options.cwd,
    ...(options.env ? { env: options.env } : {}),
  });
  started.child.stdout?.on("data", (chunk: Buffer) => log.write(chunk));
  started.child.stderr?.on("data", (chunk: Buffer) => log.write(chunk));
  // End the log only after the last output chunk: "close" follows the end of both pipes.
  const logClosed = new Promise<void>((resolve) =>
    started.child.once("close", () => log.end(() => resolve())),
  );
  return { name: options.name, started, logPath, logClosed };
}

/** GET `url` (http or https with the given CA and client certificate); resolves with the status, or 0 on a network error. */
export function probe(url: string, tls?: TlsMaterial): Promise<number> {
  return new Promise((resolve) => {
    const send = url.startsWith("https:") ? httpsRequest : httpRequest;
    const request = send(url, { ...(tls ?? {}), timeout: 2000 }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode ?? 0));
      response.on("error", () => resolve(0));
    });
    request.on("timeout", () => request.destroy());
    request.on("error", () => resolve(0));
    request.end();
  });
}

/** Distinct free loopback ports. */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

function hasExited(component: Component): boolean {
  const { child } = component.started;
  return child.exitCode !== null || child.signalCode !== null;
}

function describeExit(component: Component): string {
  const { child } = component.started;
  return child.signalCode !== null ? `signal ${child.signalCode}` : `code ${child.exitCode}`;
}

/** Waits until `healthy()` or fails with the component's log tail: at once if it exits, else at the deadline. */
export async function waitUntilReady(
  component: Component,
  healthy: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  let outcome: "ready" | "exited";
  try {
    outcome = await waitFor(
      async () =>
        hasExited(component) ? ("exited" as const) : (await healthy()) ? ("ready" as const) : false,
      { timeoutMs, intervalMs: 250, what: `${component.name} to become ready` },
    );
  } catch (error) {
    throw new ControlPlaneError(
      ControlPlaneErrorCode.NotReady,
      `${component.name} did not become ready within ${timeoutMs} ms (log: ${component.logPath}); last log lines:\n${component.started.logTail()}`,
      { cause: error },
    );
  }
  if (outcome === "exited") {
    throw new ControlPlaneError(
      ControlPlaneErrorCode.ComponentExited,
      `${component.name} exited with ${describeExit(component)} before it was ready (log: ${component.logPath}); last log lines:\n${component.started.logTail()}`,
    );
  }
}
