// pdf-extraction's worker thread: pdf.js (unpdf) parses the document here, so a large PDF never blocks the main event loop (and its lock renewals).
import { parentPort, workerData } from "node:worker_threads";
import { getDocumentProxy } from "unpdf";

/** What the main thread sends: the upload's bytes in order, then `end`. */
export type ToThread = { chunk: Uint8Array } | { end: true };

/** What the thread answers: the page count, each page's text items in order, then `done`, or `error`. */
export type FromThread =
  | { kind: "pages"; pages: number }
  | { kind: "page"; page: number; items: { str?: string; hasEOL?: boolean }[] }
  | { kind: "done" }
  | { kind: "error"; stage: "header" | "open" | "page" | "size"; page?: number; message: string };

/** Data the thread starts with. */
export interface ThreadData {
  /** The upload's size: the thread holds exactly this many bytes, since pdf.js needs random access. */
  bytes: number;
  /** Documents with more pages are refused before any page is read. */
  maxPages: number;
}

const port = parentPort!;
const { bytes, maxPages } = workerData as ThreadData;
const document = new Uint8Array(bytes);
let filled = 0;

const send = (message: FromThread): void => port.postMessage(message);

async function extract(): Promise<void> {
  if (filled !== bytes) {
    send({ kind: "error", stage: "size", message: `got ${filled} of ${bytes} bytes` });
    return;
  }
  if (Buffer.from(document.buffer, 0, Math.min(1024, bytes)).indexOf("%PDF-") === -1) {
    send({ kind: "error", stage: "header", message: "no %PDF- header" });
    return;
  }
  let pdf: Awaited<ReturnType<typeof getDocumentProxy>>;
  try {
    pdf = await getDocumentProxy(document, { verbosity: 0 });
  } catch (e) {
    send({ kind: "error", stage: "open", message: (e as Error).message });
    return;
  }
  try {
    send({ kind: "pages", pages: pdf.numPages });
    if (pdf.numPages > maxPages) return;
    for (let n = 1; n <= pdf.numPages; n++) {
      try {
        const page = await pdf.getPage(n);
        const content = await page.getTextContent();
        send({
          kind: "page",
          page: n,
          items: content.items as { str?: string; hasEOL?: boolean }[],
        });
        page.cleanup();
      } catch (e) {
        send({ kind: "error", stage: "page", page: n, message: (e as Error).message });
        return;
      }
    }
    send({ kind: "done" });
  } finally {
    await pdf.loadingTask.destroy();
  }
}

port.on("message", (message: ToThread) => {
  if ("end" in message) {
    void extract();
    return;
  }
  // More bytes than announced: the size check in extract() refuses the document.
  if (filled + message.chunk.length > bytes) filled = bytes + 1;
  else {
    document.set(message.chunk, filled);
    filled += message.chunk.length;
  }
});
