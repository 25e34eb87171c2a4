// Command line behind `make cluster-up`, `cluster-down` and `cluster-status`: a local one-node cluster that outlives the command.
//
// `up` makes the node's sandbox (e2e/scripts/node-sandbox.sh), starts the supervisor inside its
// namespaces (`serve`: control plane, node, CoreDNS, and a Unix socket to the API server), then a
// host bridge (`bridge`) from a host loopback port to that socket, and writes a kubeconfig for it.
// `down` stops all three and removes the sandbox, and fails if anything is left behind.
import { execFile, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readdirSync } from "node:fs";
import { cp, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import type { Server } from "node:net";
import { waitFor } from "@jobchannel/testkit";
import { forwardToNamespace, portOf, serveForwarder } from "./bridge.ts";
import { startControlPlane, type ComponentProcess } from "./control-plane.ts";
import { ControlPlaneError, ControlPlaneErrorCode } from "./errors.ts";
import { renderKubeconfig } from "./kubeconfig.ts";
import { startNode } from "./node.ts";
import { imageArchive, NODE_IMAGES, repoRoot } from "./paths.ts";

const execFileAsync = promisify(execFile);

const USAGE = `usage: cluster-cli up|down|status|load-images [ARCHIVE...]|exec -- COMMAND...

  up            start a one-node cluster (control plane, kubelet, containerd, kube-proxy, CoreDNS)
                in its own network and mount namespaces; kubeconfig in $JOBCHANNEL_CLUSTER_DIR
                (default .cluster/) reaches it through a bridge on a host loopback port
  down          stop it and remove its namespaces, mounts, cgroups and files; exits 1 if any is left
  status        say whether it runs, where, and where its logs are
  load-images   import OCI archives (default: every .images/*.oci.tar) into the node's containerd
  exec -- CMD   run CMD inside the node's namespaces (e.g. ctr, iptables, crictl)`;

/** The supervisor's forwarding socket in the sandbox folder (see bridge.ts). */
export const FORWARD_SOCKET = "forward.sock";

/** The node's name and address inside the sandbox (node-sandbox.sh puts the address on its veth). */
const NODE = { name: "jobchannel-node", address: "172.30.0.2" } as const;

/** What `up` leaves in state.json for `down`, `status` and the tests. */
export interface ClusterState {
  /** The supervisor inside the sandbox, which owns the control plane and the node. */
  readonly pid: number;
  /** The host bridge; 0 until it runs. */
  readonly bridgePid: number;
  /** The API server as the host reaches it (through the bridge). */
  readonly server: string;
  /** The API server's port inside the sandbox. */
  readonly apiServerPort: number;
  /** The control plane's folder (certificates, data, `logs/<component>.log`). */
  readonly dir: string;
  readonly sandbox: { readonly dir: string; readonly id: string };
  readonly processes: readonly ComponentProcess[];
}

const clusterDir = process.env["JOBCHANNEL_CLUSTER_DIR"] ?? join(repoRoot(), ".cluster");
const sandboxScript = join(repoRoot(), "e2e", "scripts", "node-sandbox.sh");
const paths = {
  kubeconfig: join(clusterDir, "kubeconfig"),
  state: join(clusterDir, "state.json"),
  pid: join(clusterDir, "pid"),
  log: join(clusterDir, "cluster.log"),
  bridgeLog: join(clusterDir, "bridge.log"),
};

function alive(pid: number): boolean {
  if (pid <= 0) return false;
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

async function writeState(state: ClusterState): Promise<void> {
  await writeFile(`${paths.state}.tmp`, `${JSON.stringify(state, null, 2)}\n`);
  await rename(`${paths.state}.tmp`, paths.state);
}

async function removeState(): Promise<void> {
  await Promise.all(
    [paths.kubeconfig, paths.state, paths.pid].map((path) => rm(path, { force: true })),
  );
}

async function logTail(path: string, lines = 40): Promise<string> {
  const text = await readFile(path, "utf8").catch(() => "");
  return text.split("\n").slice(-lines).join("\n");
}

function describe(state: ClusterState): string {
  const components = state.processes.map((p) => `${p.name} (pid ${p.pid})`).join(", ");
  return [
    `server:     ${state.server} (bridge pid ${state.bridgePid} into the node's namespaces)`,
    `kubeconfig: ${paths.kubeconfig}`,
    `node:       ${NODE.name} at ${NODE.address}, sandbox ${state.sandbox.dir}`,
    `components: ${components}, supervised by pid ${state.pid}`,
    `logs:       ${join(state.dir, "logs")}`,
  ].join("\n");
}

/** Runs node-sandbox.sh; a failure becomes a coded error carrying its output. */
async function sandbox(command: "create" | "destroy" | "check", dir: string, id: string) {
  try {
    await execFileAsync("bash", [sandboxScript, command, dir, id], { timeout: 120_000 });
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new ControlPlaneError(
      ControlPlaneErrorCode.SandboxFailed,
      `node-sandbox.sh ${command} ${dir}: ${`${stdout}${stderr}`.trim() || String(error)}`,
      { cause: error },
    );
  }
}

/** `nsenter` into the sandbox's network and mount namespaces, then `command`. */
function inSandbox(sandboxDir: string, command: readonly string[]): string[] {
  return [
    `--net=${join(sandboxDir, "ns", "net")}`,
    `--mount=${join(sandboxDir, "ns", "mnt")}`,
    "--",
    ...command,
  ];
}

/** Starts a detached process logging to `log`; resolves with its pid and a promise of its exit code. */
function spawnDetached(command: string, args: readonly string[], log: string, env = process.env) {
  const fd = openSync(log, "a");
  const child = spawn(command, [...args], { detached: true, stdio: ["ignore", fd, fd], env });
  closeSync(fd);
  const exited = new Promise<number>((resolve) => child.once("exit", (code) => resolve(code ?? 1)));
  return { child, exited };
}

/** Makes the sandbox, starts the supervisor in it and the bridge beside it; returns once all are ready. */
async function up(): Promise<number> {
  const existing = await readState();
  if (existing && alive(existing.pid)) {
    console.log(`the local cluster is already running\n${describe(existing)}`);
    return 0;
  }
  const missing = NODE_IMAGES.map((name) => imageArchive(name)).filter((p) => !existsSync(p));
  if (missing.length > 0) {
    console.error(
      `the node needs these image archives: ${missing.join(", ")}; run \`make images\` first`,
    );
    return 1;
  }
  await mkdir(clusterDir, { recursive: true });
  await removeState();
  await writeFile(paths.log, "");
  const id = randomBytes(4).toString("hex");
  const sandboxDir = join(tmpdir(), `jobchannel-node-${id}`);
  const started = Date.now();
  await sandbox("create", sandboxDir, id);

  const supervisor = spawnDetached(
    "nsenter",
    inSandbox(sandboxDir, [process.execPath, import.meta.filename, "serve"]),
    paths.log,
    {
      ...process.env,
      JOBCHANNEL_CLUSTER_DIR: clusterDir,
      JOBCHANNEL_SANDBOX_DIR: sandboxDir,
      JOBCHANNEL_SANDBOX_ID: id,
    },
  );
  let exitCode: number | undefined;
  void supervisor.exited.then((code) => (exitCode = code));
  console.log(`starting the control plane and the node in ${sandboxDir}...`);
  const ready = await waitFor(
    async () => {
      if (exitCode !== undefined) return { failed: `the supervisor exited with code ${exitCode}` };
      const current = await readState();
      return current !== undefined && current.pid === supervisor.child.pid
        ? { state: current }
        : false;
    },
    { timeoutMs: 600_000, intervalMs: 250, what: "the local cluster" },
  ).catch((error: unknown) => ({ failed: error instanceof Error ? error.message : String(error) }));
  if ("failed" in ready) {
    if (supervisor.child.pid !== undefined && alive(supervisor.child.pid))
      process.kill(supervisor.child.pid, "SIGTERM");
    await supervisor.exited;
    // Keep the component logs for the reader: the sandbox folder goes away.
    const logs = join(clusterDir, "logs");
    await rm(logs, { recursive: true, force: true });
    await cp(join(sandboxDir, "control-plane", "logs"), logs, { recursive: true }).catch(
      () => undefined,
    );
    await sandbox("destroy", sandboxDir, id).catch((error: unknown) =>
      console.error(String(error)),
    );
    console.error(
      `the local cluster did not start (${ready.failed}); component logs in ${join(clusterDir, "logs")}; last lines of ${paths.log}:\n${await logTail(paths.log)}`,
    );
    return 1;
  }
  supervisor.child.unref();

  await writeFile(paths.bridgeLog, "");
  const bridge = spawnDetached(process.execPath, [import.meta.filename, "bridge"], paths.bridgeLog);
  const bridged = await waitFor(
    async () => {
      const current = await readState();
      return current !== undefined && current.bridgePid === bridge.child.pid ? current : false;
    },
    { timeoutMs: 30_000, intervalMs: 100, what: "the host bridge" },
  ).catch(() => undefined);
  if (!bridged) {
    console.error(
      `the host bridge did not start; ${paths.bridgeLog}:\n${await logTail(paths.bridgeLog)}`,
    );
    return 1;
  }
  bridge.child.unref();
  console.log(
    `the local cluster is running (${Math.round((Date.now() - started) / 1000)} s)\n${describe(bridged)}`,
  );
  console.log(
    `use it with: export KUBECONFIG=${paths.kubeconfig}; stop it with: make cluster-down`,
  );
  return 0;
}

/** Puts this process into the sandbox cgroup, so that everything it starts (and every Pod) is found and ended at teardown. */
async function joinSandboxCgroup(id: string): Promise<void> {
  const name = `jobchannel-node-${id}`;
  const roots = [
    "/sys/fs/cgroup",
    ...readdirSync("/sys/fs/cgroup").map((c) => join("/sys/fs/cgroup", c)),
  ];
  for (const root of roots) {
    const procs = join(root, name, "cgroup.procs");
    if (existsSync(procs)) await writeFile(procs, `${process.pid}\n`);
  }
}

/** Runs inside the sandbox: owns the control plane and the node until SIGTERM/SIGINT, or until a component dies. */
async function serve(): Promise<number> {
  const sandboxDir = process.env["JOBCHANNEL_SANDBOX_DIR"];
  const id = process.env["JOBCHANNEL_SANDBOX_ID"];
  if (!sandboxDir || !id) {
    console.error("serve runs inside the sandbox that `cluster-cli up` makes");
    return 2;
  }
  await joinSandboxCgroup(id);
  const plane = await startControlPlane({
    handleSignals: false,
    dir: join(sandboxDir, "control-plane"),
    node: NODE,
  }).catch((error: unknown) => error as Error);
  if (plane instanceof Error) {
    console.error(plane.message);
    return 1;
  }
  const node = await startNode(plane, {
    ...NODE,
    cgroupRoot: `/jobchannel-node-${id}`,
    images: NODE_IMAGES.map((name) => imageArchive(name)),
    pauseImage: "localhost/jobchannel/pause:3.10",
    corednsImage: "localhost/jobchannel/coredns:1.14.7",
  }).catch((error: unknown) => error as Error);
  if (node instanceof Error) {
    console.error(node.message);
    await plane.stop();
    return 1;
  }
  const api: Server = await serveForwarder(join(sandboxDir, FORWARD_SOCKET));
  const processes = [...plane.processes, ...node.processes];
  await writeFile(paths.pid, `${process.pid}\n`);
  await writeState({
    pid: process.pid,
    bridgePid: 0,
    server: "",
    apiServerPort: plane.apiServerPort,
    dir: plane.dir,
    sandbox: { dir: sandboxDir, id },
    processes,
  });
  console.log("ready");

  return new Promise<number>((resolve) => {
    let done = false;
    const shutdown = async (reason: string, code: number): Promise<void> => {
      if (done) return;
      done = true;
      clearInterval(watch);
      console.log(`stopping: ${reason}`);
      api.close();
      await node.stop();
      await plane.stop();
      console.log("stopped");
      resolve(code);
    };
    process.once("SIGTERM", () => void shutdown("SIGTERM", 0));
    process.once("SIGINT", () => void shutdown("SIGINT", 0));
    const watch = setInterval(() => {
      const dead = processes.find((p) => !alive(p.pid));
      if (dead) void shutdown(`${dead.name} (pid ${dead.pid}) exited; see ${dead.logPath}`, 1);
    }, 2000);
  });
}

/** Runs on the host: forwards a free loopback port to the supervisor's API socket, and writes the kubeconfig for it. */
async function bridge(): Promise<number> {
  const state = await readState();
  if (!state) {
    console.error("no running cluster to bridge to");
    return 1;
  }
  const server = await forwardToNamespace(
    0,
    join(state.sandbox.dir, FORWARD_SOCKET),
    `127.0.0.1:${state.apiServerPort}`,
  );
  const url = `https://127.0.0.1:${portOf(server)}`;
  const pki = join(state.dir, "pki");
  const kubeconfig = await renderKubeconfig({
    server: url,
    caCert: join(pki, "ca.crt"),
    client: { cert: join(pki, "admin.crt"), key: join(pki, "admin.key") },
    user: "jobchannel-admin",
  });
  await writeFile(paths.kubeconfig, kubeconfig, { mode: 0o600 });
  await writeState({ ...state, bridgePid: process.pid, server: url });
  console.log(`bridging ${url} to the API server of ${state.sandbox.dir}`);
  return new Promise<number>((resolve) => {
    const end = (): void => {
      clearInterval(watch);
      server.close();
      resolve(0);
    };
    process.once("SIGTERM", end);
    process.once("SIGINT", end);
    // The bridge has nothing to do once the supervisor is gone.
    const watch = setInterval(() => {
      if (!alive(state.pid)) end();
    }, 1000);
  });
}

/** Stops the supervisor and the bridge, then removes the sandbox; fails if anything is left. */
async function down(): Promise<number> {
  const state = await readState();
  if (!state) {
    await removeState();
    console.log("the local cluster is not running");
    return 0;
  }
  for (const pid of [state.pid, state.bridgePid]) if (alive(pid)) process.kill(pid, "SIGTERM");
  const stopped = await waitFor(() => !alive(state.pid) && !alive(state.bridgePid), {
    timeoutMs: 90_000,
    intervalMs: 200,
    what: "the supervisor and the bridge to stop",
  }).catch(() => false);
  if (!stopped) {
    console.error(
      `the supervisor (pid ${state.pid}) did not stop within 90 s: killing what is left`,
    );
    if (alive(state.bridgePid)) process.kill(state.bridgePid, "SIGKILL");
  }
  // Kills whatever still runs in the sandbox cgroups (Pods, shims), unmounts and removes it all.
  try {
    await sandbox("destroy", state.sandbox.dir, state.sandbox.id);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    return 1;
  }
  await removeState();
  const left = [state.pid, state.bridgePid, ...state.processes.map((p) => p.pid)].filter(alive);
  if (left.length > 0) {
    console.error(`still running: ${left.join(", ")}`);
    return 1;
  }
  console.log("the local cluster is stopped; no process, mount, cgroup or namespace is left");
  return 0;
}

async function status(): Promise<number> {
  const state = await readState();
  if (!state || !alive(state.pid)) {
    console.log("the local cluster is not running (start it with: make cluster-up)");
    return 1;
  }
  console.log(`the local cluster is running\n${describe(state)}`);
  return 0;
}

/** Runs a command inside the node's namespaces, as the node's own components see the world. */
async function exec(args: readonly string[]): Promise<number> {
  const state = await readState();
  if (!state || !alive(state.pid)) {
    console.error("the local cluster is not running (start it with: make cluster-up)");
    return 1;
  }
  const command = args[0] === "--" ? args.slice(1) : args;
  if (command.length === 0) {
    console.error(USAGE);
    return 2;
  }
  const child = spawn("nsenter", inSandbox(state.sandbox.dir, command), { stdio: "inherit" });
  return new Promise((resolve) => child.once("exit", (code) => resolve(code ?? 1)));
}

/** Imports image archives into the node's containerd (all of .images/ when none are named). */
async function loadImages(args: readonly string[]): Promise<number> {
  const archives =
    args.length > 0
      ? args
      : readdirSync(join(repoRoot(), ".images"))
          .filter((f) => f.endsWith(".oci.tar"))
          .map((f) => join(repoRoot(), ".images", f));
  for (const archive of archives) {
    const code = await exec([
      "--",
      join(repoRoot(), "bin", "ctr"),
      "--address=/run/containerd/containerd.sock",
      "--namespace=k8s.io",
      "images",
      "import",
      archive,
    ]);
    if (code !== 0) return code;
  }
  return 0;
}

const argv = process.argv.slice(3);
const commands: Readonly<Record<string, () => Promise<number>>> = {
  up,
  down,
  status,
  serve,
  bridge,
  exec: () => exec(argv),
  "load-images": () => loadImages(argv),
};
const command = commands[process.argv[2] ?? ""];
if (!command) {
  console.error(USAGE);
  process.exitCode = 2;
} else {
  // Exit at once: forwarded connections still open must not keep a stopped supervisor or bridge alive.
  process.exit(await command());
}
