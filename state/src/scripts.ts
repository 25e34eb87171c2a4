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

/**
 * The publish script for Redis Cluster mode: the same script, publishing with `SPUBLISH` on the
 * channel's sharded pub/sub name (ARGV[6]), so the state write and the publish stay one atomic
 * script on the shard that owns the channel's hash tag.
 */
export const PUBLISH_UPDATE_SHARDED: ScriptDefinition = sharded(PUBLISH_UPDATE);

function sharded(script: ScriptDefinition): ScriptDefinition {
  const call = 'redis.call("PUBLISH", ARGV[6], payload)';
  const [before, after, extra] = script.lua.split(call);
  if (before === undefined || after === undefined || extra !== undefined) {
    throw new Error(`${script.name}: expected exactly one ${call}`);
  }
  return {
    name: `${script.name}Sharded`,
    numberOfKeys: script.numberOfKeys,
    lua: `${before}redis.call("SPUBLISH", ARGV[6], payload)${after}`,
  };
}

/** publish-update behind the guard of publish-guard-4.lua, as one script (ARGV[8] is the guard). */
export const PUBLISH_GUARDED: ScriptDefinition = {
  name: "publishGuarded",
  numberOfKeys: 4,
  lua: `${load("publish-guard-4.lua").lua}\n${PUBLISH_UPDATE.lua}`,
};
/** {@link PUBLISH_GUARDED} for Redis Cluster mode, publishing with `SPUBLISH`. */
export const PUBLISH_GUARDED_SHARDED: ScriptDefinition = sharded(PUBLISH_GUARDED);
