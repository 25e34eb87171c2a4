// Command line behind `make cluster-up`, `make cluster-down` and `make cluster-status`: a local control plane that outlives the command.
import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { waitFor } from "@jobchannel/testkit";
import { startControlPlane, type ComponentProcess, type ControlPlane } from "./control-plane.ts";
import { repoRoot } from "./paths.ts";

const USAGE = "usage: cluster-cli up|down|status";

/** What `up` leaves in .cluster/state.json for `down` and `status`. */
interface ClusterState {
  /** The supervising process that owns the components and stops them on SIGTERM. */
  readonly pid: number;
  readonly server: string;
  readonly dir: string;
  readonly processes: readonly ComponentProcess[];
}

const clusterDir = join(repoRoot(), ".cluster");
const paths = {
  kubeconfig: join(clusterDir, "kubeconfig"),
  state: join(clusterDir, "state.json"),
  pid: join(clusterDir, "pid"),
  log: join(clusterDir, "control-plane.log"),
};

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readState(): Promise<ClusterState | undefined> {
  try {
    return JSON.parse(await readFile(paths.state, "utf8")) as ClusterState;
  } catch {
    return undefined;
  }
}

async function removeState(): Promise<void> {
  await Promise.all(
    [paths.kubeconfig, paths.state, paths.pid].map((path) => rm(path, { force: true })),
  );
}

async function logTail(lines = 40): Promise<string> {
  const text = await readFile(paths.log, "utf8").catch(() => "");
  return text.split("\n").slice(-lines).join("\n");
}

function describe(state: ClusterState): string {
  const components = state.processes.map((p) => `${p.name} (pid ${p.pid})`).join(", ");
  return [
    `server:     ${state.server}`,
    `kubeconfig: ${paths.kubeconfig}`,
    `components: ${components}, supervised by pid ${state.pid}`,
    `logs:       ${join(state.dir, "logs")}`,
  ].join("\n");
}

/** Starts the supervisor in the background and returns once its control plane is ready. */
async function up(): Promise<number> {
  const existing = await readState();
  if (existing && alive(existing.pid)) {
    console.log(`the local control plane is already running\n${describe(existing)}`);
    return 0;
  }
  await mkdir(clusterDir, { recursive: true });
  await removeState();
  const log = openSync(paths.log, "w");
  const supervisor = spawn(process.execPath, [import.meta.filename, "serve"], {
    detached: true,
    stdio: ["ignore", log, log],
  });
  closeSync(log);
  const exited = new Promise<number>((resolve) =>
    supervisor.once("exit", (code) => resolve(code ?? 1)),
  );
  let exitCode: number | undefined;
  void exited.then((code) => (exitCode = code));
  console.log("starting etcd, kube-apiserver and kube-controller-manager...");
  const state = await waitFor(
    async () => {
      if (exitCode !== undefined) return { failed: exitCode };
      const current = await readState();
      return current !== undefined && current.pid === supervisor.pid ? { state: current } : false;
    },
    { timeoutMs: 300_000, intervalMs: 250, what: "the local control plane" },
  ).catch((error: unknown) => ({ failed: error instanceof Error ? error.message : String(error) }));
  if ("failed" in state) {
    if (supervisor.pid !== undefined && alive(supervisor.pid))
      process.kill(supervisor.pid, "SIGTERM");
    console.error(
      `the local control plane did not start (${state.failed}); last lines of ${paths.log}:\n${await logTail()}`,
    );
    return 1;
  }
  supervisor.unref();
  console.log(`the local control plane is running\n${describe(state.state)}`);
  console.log(
    `use it with: export KUBECONFIG=${paths.kubeconfig}; stop it with: make cluster-down`,
  );
  return 0;
}

/** Runs in the background: owns the control plane until SIGTERM/SIGINT, or until a component dies. */
async function serve(): Promise<number> {
  let plane: ControlPlane;
  try {
    plane = await startControlPlane({ handleSignals: false });
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 1;
  }
  await writeFile(paths.kubeconfig, await readFile(plane.kubeconfigPath), { mode: 0o600 });
  const state: ClusterState = {
    pid: process.pid,
    server: plane.server,
    dir: plane.dir,
    processes: plane.processes,
  };
  await writeFile(paths.pid, `${process.pid}\n`);
  await writeFile(`${paths.state}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  await rename(`${paths.state}.tmp`, paths.state);
  console.log(`ready\n${describe(state)}`);

  return new Promise<number>((resolve) => {
    let done = false;
    const shutdown = async (reason: string, code: number): Promise<void> => {
      if (done) return;
      done = true;
      clearInterval(watch);
      console.log(`stopping: ${reason}`);
      await plane.stop();
      await removeState();
      console.log("stopped");
      resolve(code);
    };
    process.once("SIGTERM", () => void shutdown("SIGTERM", 0));
    process.once("SIGINT", () => void shutdown("SIGINT", 0));
    const watch = setInterval(() => {
      const dead = plane.processes.find((p) => !alive(p.pid));
      if (dead) void shutdown(`${dead.name} (pid ${dead.pid}) exited; see ${dead.logPath}`, 1);
    }, 2000);
  });
}

/** Stops the supervisor (which stops the components); kills what is left if it does not answer. */
async function down(): Promise<number> {
  const state = await readState();
  if (!state) {
    await removeState();
    console.log("the local control plane is not running");
    return 0;
  }
  if (alive(state.pid)) process.kill(state.pid, "SIGTERM");
  const stopped = await waitFor(() => !alive(state.pid), {
    timeoutMs: 60_000,
    intervalMs: 200,
    what: "the supervisor to stop",
  }).catch(() => false);
  if (!stopped) {
    console.error(
      `the supervisor (pid ${state.pid}) did not stop within 60 s: killing it and the components`,
    );
    for (const pid of [state.pid, ...state.processes.map((p) => p.pid)]) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        if (alive(pid)) process.kill(pid, "SIGKILL");
      }
    }
    await rm(state.dir, { recursive: true, force: true });
  }
  await removeState();
  const left = state.processes.filter((p) => alive(p.pid));
  if (left.length > 0) {
    console.error(`still running: ${left.map((p) => `${p.name} (pid ${p.pid})`).join(", ")}`);
    return 1;
  }
  console.log("the local control plane is stopped");
  return 0;
}

async function status(): Promise<number> {
  const state = await readState();
  if (!state || !alive(state.pid)) {
    console.log("the local control plane is not running (start it with: make cluster-up)");
    return 1;
  }
  console.log(`the local control plane is running\n${describe(state)}`);
  return 0;
}

const commands: Readonly<Record<string, () => Promise<number>>> = { up, down, status, serve };
const command = commands[process.argv[2] ?? ""];
if (!command) {
  console.error(USAGE);
  process.exitCode = 2;
} else {
  process.exitCode = await command();
}
