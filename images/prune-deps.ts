// Cuts an installed node_modules down to what the named workspaces load at run time.
//
//   node images/prune-deps.ts relay      (in the repository root, after npm ci --omit=dev)
//
// npm ci --workspace=<w> --omit=dev is not enough on its own: npm also installs the workspaces
// reachable through <w>'s devDependencies (testkit, e2e, and what they use), and keeps whatever
// another workspace needs as a production dependency. This walks dependencies,
// optionalDependencies and peerDependencies from the named workspaces with Node's lookup rules and
// deletes every package and link nobody reached. A required dependency that cannot be found
// fails the build.
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

interface PackageJson {
  name?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

const root = process.cwd();
const workspaces = process.argv.slice(2);
if (workspaces.length === 0) {
  console.error("usage: node images/prune-deps.ts <workspace>...");
  process.exit(2);
}

function readPackage(dir: string): PackageJson {
  return JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as PackageJson;
}

/** The real directory `name` resolves to from `fromDir`, as Node looks it up, or undefined. */
function lookup(name: string, fromDir: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return realpathSync(candidate);
    if (dir === root || dir === dirname(dir)) return undefined;
  }
}

const kept = new Set<string>();
const queue = workspaces.map((w) => realpathSync(resolve(root, w)));
const problems: string[] = [];
while (queue.length > 0) {
  const dir = queue.pop()!;
  if (kept.has(dir)) continue;
  kept.add(dir);
  const pkg = readPackage(dir);
  const wanted: [string, boolean][] = [
    ...Object.keys(pkg.dependencies ?? {}).map((n): [string, boolean] => [n, true]),
    ...Object.keys(pkg.optionalDependencies ?? {}).map((n): [string, boolean] => [n, false]),
    ...Object.keys(pkg.peerDependencies ?? {}).map((n): [string, boolean] => [
      n,
      !pkg.peerDependenciesMeta?.[n]?.optional,
    ]),
  ];
  for (const [name, required] of wanted) {
    const found = lookup(name, dir);
    if (found) queue.push(found);
    else if (required) problems.push(`${pkg.name ?? dir} needs ${name}, which is not installed`);
  }
}
if (problems.length > 0) {
  for (const p of problems) console.error(`prune-deps: ${p}`);
  process.exit(1);
}

let removed = 0;
/** Deletes the packages under `modules` (a node_modules folder) that nothing reached. */
function prune(modules: string): void {
  if (!existsSync(modules)) return;
  for (const entry of readdirSync(modules)) {
    const path = join(modules, entry);
    if (entry === ".bin") continue;
    if (entry === ".package-lock.json") {
      // npm's record of the full install; it no longer describes this folder.
      rmSync(path);
      continue;
    }
    if (entry.startsWith("@")) {
      prune(path);
      if (readdirSync(path).length === 0) rmSync(path, { recursive: true });
      continue;
    }
    const real = existsSync(path) ? realpathSync(path) : undefined;
    if (real && kept.has(real)) {
      if (!lstatSync(path).isSymbolicLink()) prune(join(path, "node_modules"));
      continue;
    }
    rmSync(path, { recursive: true, force: true });
    removed += 1;
  }
}

/** Deletes the .bin links whose package is gone. */
function pruneBins(bin: string): void {
  if (!existsSync(bin)) return;
  for (const entry of readdirSync(bin)) {
    if (!existsSync(join(bin, entry))) rmSync(join(bin, entry));
  }
}

prune(join(root, "node_modules"));
pruneBins(join(root, "node_modules", ".bin"));
console.log(
  `prune-deps: kept ${kept.size - workspaces.length} packages for ${workspaces.join(", ")}; removed ${removed}`,
);
