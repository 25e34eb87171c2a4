// A snapshot on the wire: `subscribed` frames bounded in bytes, sent one page at a time per
// connection as its own queue empties.
import type { JobUpdate } from "@jobchannel/protocol";
import type { Connection } from "./connection.ts";

/** Most bytes of jobs in one `subscribed` frame; a larger snapshot goes out in several. */
export const SNAPSHOT_PAGE_BYTES = 256 * 1024;

/**
 * The `subscribed` frames of a snapshot: at most {@link SNAPSHOT_PAGE_BYTES} of jobs each (one job
 * more when a single job is larger), oldest first; one frame without jobs for an empty snapshot.
 */
export function snapshotPages(channel: string, jobs: readonly JobUpdate[]): string[] {
  const pages: string[][] = [[]];
  let bytes = 0;
  for (const job of jobs) {
    const text = JSON.stringify(job);
    const size = Buffer.byteLength(text) + 1;
    if (bytes > 0 && bytes + size > SNAPSHOT_PAGE_BYTES) {
      pages.push([]);
      bytes = 0;
    }
    pages.at(-1)!.push(text);
    bytes += size;
  }
  const name = JSON.stringify(channel);
  return pages.map((page) => `{"type":"subscribed","channel":${name},"jobs":[${page.join(",")}]}`);
}

function noop(): void {}

/**
 * Sends a snapshot's pages. A page after the first waits until the connection's own queue is
 * empty, and the pages of one connection go one at a time across its channels, so a large
 * snapshot never fills the queue up to the slow-consumer limit. False when `wanted` turned false
 * or the connection closed before the last page.
 */
export function sendPages(
  connection: Connection,
  pages: readonly string[],
  wanted: () => boolean,
): Promise<boolean> {
  const turn = connection.pager.then(async () => {
    for (const [i, page] of pages.entries()) {
      if (i > 0) await connection.flushed();
      if (!wanted() || !connection.open) return false;
      connection.sendText(page);
    }
    return true;
  });
  connection.pager = turn.then(noop, noop);
  return turn;
}
