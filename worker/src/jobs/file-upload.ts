// Built-in job type file-upload: SHA-256 and byte count of an upload, progress by bytes read.
import { createHash } from "node:crypto";
import { UnrecoverableError } from "../errors.ts";
import { defineJob, uploadFields } from "../job.ts";

/** The `result` of a completed file-upload job. */
export interface FileUploadResult {
  /** SHA-256 of the upload, lower-case hex. */
  sha256: string;
  bytes: number;
  filename: string;
  mimeType: string;
}

/** Bytes hashed between two reads from the upload store (and at most one progress update each). */
const CHUNK_BYTES = 256 * 1024;

export const fileUpload = defineJob<Record<string, never>, FileUploadResult>({
  name: "file-upload",
  upload: "required",
  parseInput: () => ({}),
  fields: uploadFields,
  async handler({ file, progress, signal }) {
    if (!file) throw new UnrecoverableError("file-upload needs an upload in the field file");
    const hash = createHash("sha256");
    let done = 0;
    for await (const chunk of file.chunks(CHUNK_BYTES)) {
      signal.throwIfAborted();
      hash.update(chunk);
      done += chunk.length;
      await progress(file.bytes === 0 ? 100 : (done / file.bytes) * 100, { bytesProcessed: done });
    }
    if (done !== file.bytes) throw new Error(`read ${done} bytes of an upload of ${file.bytes}`);
    return {
      sha256: hash.digest("hex"),
      bytes: done,
      filename: file.filename,
      mimeType: file.mimeType,
    };
  },
});
