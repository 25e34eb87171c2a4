// pdf-extraction's worker thread: pdf.js (unpdf) parses the document here, so a large PDF never blocks the main event loop (and its lock renewals).
// A document up to `wholeBytes` is read whole, in one range. A larger one pdf.js reads through
// range requests the main thread answers from the blob store, and it is reopened once its pages
// have loaded `reopenBytes` (or as much as opening it took, if more), so the thread holds about
// that much of the upload, whatever its size.
import { parentPort, workerData } from "node:worker_threads";
import { getDocumentProxy, getResolvedPDFJS } from "unpdf";

/** What the main thread sends: the bytes of a range the thread asked for. */
export type ToThread = { kind: "data"; reader: number; begin: number; chunk: Uint8Array };

/** What the thread asks or answers: a range to read, the page count, each page's text items in order, then `done`, or `error`. */
export type FromThread =
  | { kind: "range"; reader: number; begin: number; end: number }
  | { kind: "pages"; pages: number }
  | { kind: "page"; page: number; items: { str?: string; hasEOL?: boolean }[] }
  | { kind: "done" }
  | { kind: "error"; stage: "open" | "page"; page?: number; message: string };

/** Data the thread starts with. */
export interface ThreadData {
  /** The upload's size. */
  bytes: number;
  /** Documents with more pages are refused before any page is read. */
  maxPages: number;
  /** Documents up to this size are read whole; larger ones by ranges. */
  wholeBytes: number;
  /** Once a document's pages have loaded this many bytes, it is closed and opened again at the next page. */
  reopenBytes: number;
  /** Bytes pdf.js asks for at once (rounded up to whole chunks of this size). */
  rangeChunkBytes: number;
}

const port = parentPort!;
const { bytes, maxPages, wholeBytes, reopenBytes, rangeChunkBytes } = workerData as ThreadData;
const send = (message: FromThread): void => port.postMessage(message);

const { PDFDataRangeTransport } = await getResolvedPDFJS();

let readers = 0;

/** One opened document's reader: it asks the main thread for ranges and counts what they bring. */
class BlobRanges extends PDFDataRangeTransport {
  readonly id = ++readers;
  loadedBytes = 0;

  constructor() {
    super(bytes, null);
  }

  override requestDataRange(begin: number, end: number): void {
    send({ kind: "range", reader: this.id, begin, end });
  }

  receive(begin: number, chunk: Uint8Array): void {
    this.loadedBytes += chunk.length;
    this.onDataRange(begin, chunk);
  }
}

let reader: BlobRanges | undefined;
let whole: { id: number; resolve: (chunk: Uint8Array) => void } | undefined;

// Answers for a reader closed since its request are dropped.
port.on("message", (message: ToThread) => {
  if (message.reader === reader?.id) reader.receive(message.begin, message.chunk);
  else if (message.reader === whole?.id) whole.resolve(message.chunk);
});

type Document = Awaited<ReturnType<typeof getDocumentProxy>>;

async function openWhole(): Promise<Document> {
  const data = await new Promise<Uint8Array>((resolve) => {
    whole = { id: ++readers, resolve };
    send({ kind: "range", reader: whole.id, begin: 0, end: bytes });
  });
  return getDocumentProxy(data, { verbosity: 0 });
}

async function openByRanges(): Promise<Document> {
  reader = new BlobRanges();
  return getDocumentProxy(undefined, {
    range: reader,
    rangeChunkSize: rangeChunkBytes,
    // Only what parsing needs is read: no streaming of the whole file, no background fetching.
    disableStream: true,
    disableAutoFetch: true,
    verbosity: 0,
  });
}

async function extract(): Promise<void> {
  const byRanges = bytes > wholeBytes;
  let pdf: Document;
  // What opening the document loaded (the trailer, the xref, the page tree): pages load past it.
  let openedWith: number;
  try {
    pdf = byRanges ? await openByRanges() : await openWhole();
    openedWith = reader?.loadedBytes ?? 0;
  } catch (e) {
    send({ kind: "error", stage: "open", message: (e as Error).message });
    return;
  }
  try {
    send({ kind: "pages", pages: pdf.numPages });
    if (pdf.numPages > maxPages) return;
    for (let n = 1; n <= pdf.numPages; n++) {
      try {
        // Reopening costs what opening took, so it waits for at least as much again: a document
        // whose page tree alone is large is not reopened at every page.
        if (byRanges && reader!.loadedBytes - openedWith >= Math.max(reopenBytes, openedWith)) {
          await pdf.loadingTask.destroy();
          pdf = await openByRanges();
          openedWith = reader!.loadedBytes;
        }
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

await extract();
