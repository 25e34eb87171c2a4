// Runs the pinned kubectl and helm from bin/ against a kubeconfig, with a bounded time and stderr in errors.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { ControlPlaneError, ControlPlaneErrorCode } from "./errors.ts";
import { toolPath } from "./paths.ts";

/** Options of {@link kubectl} and {@link helm}. */
export interface ToolOptions {
  /** The kubeconfig to use; passed as `--kubeconfig`. */
  readonly kubeconfig: string;
  /** Written to the tool's stdin (e.g. manifests for `apply -f -`). @default nothing */
  readonly input?: string;
  /** Kill the tool and fail after this many milliseconds. @default 60000 */
  readonly timeoutMs?: number;
}

/** Runs `tool args...` and resolves with its stdout; rejects when it exits non-zero or runs too long. */
function runTool(
  tool: "kubectl" | "helm",
  args: readonly string[],
  options: ToolOptions,
): Promise<string> {
  const binary = toolPath(tool);
  if (!existsSync(binary)) {
    return Promise.reject(
      new ControlPlaneError(
        ControlPlaneErrorCode.BinaryMissing,
        `no ${tool} at ${binary}: run \`make tools\` first`,
      ),
    );
  }
  const timeoutMs = options.timeoutMs ?? 60_000;
  const command = `${tool} ${args.join(" ")}`;
  return new Promise((resolve, reject) => {
    const child = spawn(binary, [`--kubeconfig=${options.kubeconfig}`, ...args], {
      stdio: ["pipe", "pipe", "pipe"],
      timeout: timeoutMs,
      killSignal: "SIGKILL",
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", (error) =>
      reject(
        new ControlPlaneError(ControlPlaneErrorCode.ToolFailed, `${command}: ${error.message}`, {
          cause: error,
        }),
      ),
    );
    child.on("close", (code, signal) => {
      if (code === 0) {
        resolve(Buffer.concat(stdout).toString("utf8"));
        return;
      }
      const why =
        signal === "SIGKILL"
          ? `was killed after ${timeoutMs} ms`
          : `exited with ${signal ?? `code ${code}`}`;
      const detail = Buffer.concat(stderr).toString("utf8").trim();
      reject(
        new ControlPlaneError(ControlPlaneErrorCode.ToolFailed, `${command} ${why}: ${detail}`),
      );
    });
    child.stdin.end(options.input ?? "");
  });
}

/** Runs the pinned `bin/kubectl` with `--kubeconfig` and resolves with its stdout. */
export function kubectl(args: readonly string[], options: ToolOptions): Promise<string> {
  return runTool("kubectl", args, options);
}

/** Runs the pinned `bin/helm` with `--kubeconfig` and resolves with its stdout. */
export function helm(args: readonly string[], options: ToolOptions): Promise<string> {
  return runTool("helm", args, options);
}
