// Loads the Lua scripts in src/commands (named <name>-<numKeys>.lua) for ioredis defineCommand.
import { readFileSync } from "node:fs";

export interface ScriptDefinition {
  readonly name: string;
  readonly numberOfKeys: number;
  readonly lua: string;
}

function load(file: string): ScriptDefinition {
  // Resolves from both src/ and dist/, which sit side by side in the package.
  const lua = readFileSync(new URL(`../src/commands/${file}`, import.meta.url), "utf8");
  const match = /^(.*)-(\d+)\.lua$/.exec(file);
  if (!match) throw new Error(`script file name must be <name>-<numKeys>.lua: ${file}`);
  return {
    name: match[1]!.replace(/-(\w)/g, (_, c: string) => c.toUpperCase()),
    numberOfKeys: Number(match[2]),
    lua,
  };
}

export const PUBLISH_UPDATE = load("publish-update-4.lua");
export const SNAPSHOT = load("snapshot-2.lua");
