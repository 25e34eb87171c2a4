// Proves that the built `@jobchannel/client/react` entry opens with the "use client" directive,
// which React Server Components frameworks (Next.js) need to treat the hooks as client code.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

/** The module's directive prologue: the string-literal statements before any other code. */
function directives(source: string): string[] {
  const found: string[] = [];
  let rest = source;
  for (;;) {
    rest = rest.replace(/^(\s+|\/\/[^\n]*\n|\/\*[\s\S]*?\*\/)+/, "");
    const match = /^(["'])([^"'\n]*)\1\s*;?/.exec(rest);
    if (!match) return found;
    found.push(match[2]!);
    rest = rest.slice(match[0].length);
  }
}

function built(specifier: string): string {
  // Resolved through the package's exports map, so this is the file a bundler loads (run the build first).
  return readFileSync(fileURLToPath(import.meta.resolve(specifier)), "utf8");
}

test('the built React entry opens with "use client"', () => {
  assert.deepEqual(directives(built("@jobchannel/client/react")), ["use client"]);
});

test("the framework-free entry stays usable on a server, without the directive", () => {
  assert.deepEqual(directives(built("@jobchannel/client")), []);
});

test("reads directives after leading comments and stops at the first statement", () => {
  assert.deepEqual(directives('// a\n/* b */\n"use client";\n"use strict"\nexport {};'), [
    "use client",
    "use strict",
  ]);
  assert.deepEqual(directives('export {};\n"use client";'), []);
});
