// Serves the built dashboard: GET and HEAD of files under one directory, nothing outside it.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { extname, join, resolve, sep } from "node:path";

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2",
};

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>jobchannel: dashboard not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>The dashboard is not built</h1>
<p>The relay (<code>/ws</code>) and the worker API (<code>/api/</code>) are running, but there is no built
dashboard to serve. Build it with <code>make dev</code> (or <code>npm run build</code>) and reload this page.</p>
</body></html>
`;

/** Resolves a URL path to a file path inside `root`, or undefined when it would leave it. */
export function resolveInside(root: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes("\0") || decoded.includes("\\")) return undefined;
  const base = resolve(root);
  const path = resolve(join(base, decoded));
  return path === base || path.startsWith(base + sep) ? path : undefined;
}

type Next = () => void;

/**
 * A request handler (Express middleware shape) serving `root`. Directories serve their
 * index.html; unknown paths go to `next`. Hashed files under /assets/ are cached for good, the
 * rest revalidated, so a rebuilt dashboard shows at the next reload.
 */
export function createStaticHandler(
  root: string,
): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  return (req, res, next) => {
    if (req.method !== "GET" && req.method !== "HEAD") return next();
    const pathname = new URL(req.url ?? "/", "http://local").pathname;
    const target = resolveInside(root, pathname);
    if (target === undefined) return next();
    void serve(root, target, pathname, req, res, next);
  };
}

async function fileAt(path: string): Promise<{ path: string; size: number } | undefined> {
  try {
    const info = await stat(path);
    if (info.isFile()) return { path, size: info.size };
    if (info.isDirectory()) {
      const index = await stat(join(path, "index.html")).catch(() => undefined);
      if (index?.isFile()) return { path: join(path, "index.html"), size: index.size };
    }
  } catch {
    // Missing: the caller moves on.
  }
  return undefined;
}

async function serve(
  root: string,
  target: string,
  pathname: string,
  req: IncomingMessage,
  res: ServerResponse,
  next: Next,
): Promise<void> {
  const file = await fileAt(target);
  if (!file) {
    if (pathname === "/" && !(await fileAt(resolve(root)))) {
      res.writeHead(503, {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
      });
      res.end(req.method === "HEAD" ? undefined : NOT_BUILT);
      return;
    }
    next();
    return;
  }
  res.writeHead(200, {
    "content-type": CONTENT_TYPES[extname(file.path)] ?? "application/octet-stream",
    "content-length": file.size,
    "cache-control": pathname.startsWith("/assets/")
      ? "public, max-age=31536000, immutable"
      : "no-cache",
    "x-content-type-options": "nosniff",
  });
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  const stream = createReadStream(file.path);
  stream.on("error", () => res.destroy());
  stream.pipe(res);
}
