// The channel config read from a file, reloaded when it changes (also through a Kubernetes
// ConfigMap volume, whose files change by a symlink swap in their directory).
import { watch, type FSWatcher } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname } from "node:path";
import type { Logger } from "pino";
import { configFeed, type ChannelConfigSource } from "./config-source.ts";
import { RelayError, RelayErrorCode } from "./errors.ts";

/** Options of {@link fileConfigSource}. */
export interface FileConfigSourceOptions {
  logger: Logger;
  /** Re-read interval as a safety net for file systems without change events, ms. @default 2000 */
  pollMs?: number;
}

/** Watches `path`: a change event on its directory, or the poll, re-reads it; unchanged text is ignored. */
export function fileConfigSource(
  path: string,
  options: FileConfigSourceOptions,
): ChannelConfigSource {
  const log = options.logger.child({ configFile: path });
  let watcher: FSWatcher | undefined;
  let poll: NodeJS.Timeout | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let stopped = false;

  return {
    start(onConfig) {
      const feed = configFeed(log, onConfig);
      const load = async (): Promise<void> => {
        let text: string;
        try {
          text = await readFile(path, "utf8");
        } catch (e) {
          const why = (e as NodeJS.ErrnoException).code ?? String(e);
          feed.refuse(
            new RelayError(RelayErrorCode.ChannelConfigUnavailable, `cannot read ${path}: ${why}`),
          );
          return;
        }
        if (!stopped) feed.offer(text);
      };
      const schedule = (): void => {
        clearTimeout(debounce);
        debounce = setTimeout(() => void load(), 50);
      };
      try {
        const name = basename(path);
        // The directory is watched, not the file: editors and ConfigMap volumes replace files.
        watcher = watch(dirname(path), (_event, file) => {
          if (file === null || file === name || file.startsWith("..")) schedule();
        });
        watcher.on("error", (e) =>
          log.warn({ err: e.message }, "channel config watch failed, polling only"),
        );
      } catch (e) {
        log.warn({ err: (e as Error).message }, "channel config watch failed, polling only");
      }
      poll = setInterval(() => void load(), options.pollMs ?? 2000);
      poll.unref();
      void load();
    },
    async stop() {
      stopped = true;
      watcher?.close();
      clearInterval(poll);
      clearTimeout(debounce);
    },
  };
}
