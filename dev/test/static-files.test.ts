// Tests of the dashboard file server: content, caching, and nothing outside its directory.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createStaticHandler, resolveInside } from "../src/static-files.ts";

let dir: string;
let server: Server;
let base: string;

function serve(root: string): Promise<{ server: Server; base: string }> {
  const handler = createStaticHandler(root);
  const s = createServer((req, res) =>
    handler(req, res, () => {
      res.writeHead(404).end("next");
    }),
  );
  return new Promise((resolve) =>
    s.listen(0, "127.0.0.1", () =>
      resolve({ server: s, base: `http://127.0.0.1:${(s.address() as AddressInfo).port}` }),
    ),
  );
}

describe("createStaticHandler", () => {
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "jobchannel-static-"));
    mkdirSync(join(dir, "assets"));
    mkdirSync(join(dir, "guide"));
    writeFileSync(join(dir, "index.html"), "<!doctype html><title>dash</title>");
    writeFileSync(join(dir, "assets", "index-abc123.js"), "console.log(1)");
    writeFileSync(join(dir, "guide", "index.html"), "guide");
    writeFileSync(join(tmpdir(), "jobchannel-secret.txt"), "secret");
    ({ server, base } = await serve(dir));
  });

  after(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(join(tmpdir(), "jobchannel-secret.txt"), { force: true });
  });

  it("serves index.html at / without long caching", async () => {
    const response = await fetch(`${base}/`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(response.headers.get("cache-control"), "no-cache");
    assert.equal(await response.text(), "<!doctype html><title>dash</title>");
  });

  it("serves hashed assets with a long cache and their content type", async () => {
    const response = await fetch(`${base}/assets/index-abc123.js?v=1`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.match(response.headers.get("cache-control") ?? "", /immutable/);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
  });

  it("serves a directory's index.html", async () => {
    assert.equal(await (await fetch(`${base}/guide/`)).text(), "guide");
  });

  it("answers HEAD without a body", async () => {
    const response = await fetch(`${base}/`, { method: "HEAD" });
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-length"), "34");
  });

  it("passes unknown paths, other methods and escapes to the next handler", async () => {
    assert.equal((await fetch(`${base}/nope.js`)).status, 404);
    assert.equal((await fetch(`${base}/`, { method: "POST" })).status, 404);
    assert.equal((await fetch(`${base}/..%2fjobchannel-secret.txt`)).status, 404);
    assert.equal((await fetch(`${base}/%2e%2e/jobchannel-secret.txt`)).status, 404);
  });

  it("explains how to build the dashboard when it is missing", async () => {
    const missing = await serve(join(dir, "does-not-exist"));
    try {
      const response = await fetch(`${missing.base}/`);
      assert.equal(response.status, 503);
      assert.match(await response.text(), /make dev/);
    } finally {
      missing.server.close();
    }
  });
});

describe("resolveInside", () => {
  it("keeps paths inside the root and refuses the rest", () => {
    assert.equal(resolveInside("/srv/web", "/a/b.js"), "/srv/web/a/b.js");
    assert.equal(resolveInside("/srv/web", "/../etc/passwd"), undefined);
    assert.equal(resolveInside("/srv/web", "/..%2f..%2fetc/passwd"), undefined);
    assert.equal(resolveInside("/srv/web", "/a%00.js"), undefined);
    assert.equal(resolveInside("/srv/web", "/%E0%A4%A"), undefined);
    assert.equal(resolveInside("/srv/web", "/a\\..\\b"), undefined);
  });
});
