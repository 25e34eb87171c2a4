// Built-in job type bulk-upload: a contacts CSV parsed with csv-parse and validated row by row.
import { parse, type CsvError } from "csv-parse";
import { Readable } from "node:stream";
import { UnrecoverableError } from "../errors.ts";
import { defineJob, invalidInput, type JobFile } from "../job.ts";

/** One refused row: its line in the file and why. */
export interface InvalidRow {
  line: number;
  reason: string;
}

/** The `result` of a completed bulk-upload job. */
export interface BulkUploadResult {
  /** Data rows read (the header excluded, empty lines skipped). */
  rows: number;
  validRows: number;
  invalidRows: number;
  /** The first {@link MAX_REPORTED_ERRORS} invalid rows. */
  errors: InvalidRow[];
  errorsTruncated: boolean;
  /** The header, as normalized (trimmed, lower case). */
  columns: string[];
  /** Sum of the `amount` column over valid rows (0 without the column). */
  totalAmount: number;
}

/** Input: the CSV text when it is not uploaded as a file. */
export interface BulkUploadInput {
  csv?: string;
}

export const REQUIRED_COLUMNS = ["name", "email"] as const;
export const MAX_REPORTED_ERRORS = 50;
/** Wider files are refused: the header is part of the result. */
export const MAX_COLUMNS = 100;

const EMAIL = /^[^\s@",;<>]+@[^\s@",;<>]+\.[^\s@",;<>]+$/;
const PHONE = /^\+?[0-9 ()-]{7,20}$/;
const AMOUNT = /^-?\d+(\.\d+)?$/;

/** Why a row is invalid, or `undefined`. `seen` maps emails (lower case) to the line they were first on. */
export function rowProblem(
  values: Readonly<Record<string, string>>,
  line: number,
  seen: Map<string, number>,
): string | undefined {
  const name = values.name?.trim() ?? "";
  if (name === "") return "name is empty";
  if (name.length > 200) return "name is longer than 200 characters";
  const email = values.email?.trim() ?? "";
  if (email === "") return "email is empty";
  if (email.length > 254 || !EMAIL.test(email))
    return `email ${JSON.stringify(email.slice(0, 80))} is not a valid address`;
  const first = seen.get(email.toLowerCase());
  if (first !== undefined) return `email ${email} repeats line ${first}`;
  const phone = values.phone?.trim() ?? "";
  if (phone !== "" && !PHONE.test(phone))
    return `phone ${JSON.stringify(phone.slice(0, 40))} is not a phone number`;
  const amount = values.amount?.trim() ?? "";
  if (amount !== "" && !AMOUNT.test(amount))
    return `amount ${JSON.stringify(amount.slice(0, 40))} is not a number`;
  if (amount !== "" && Number(amount) < 0) return `amount ${amount} is negative`;
  seen.set(email.toLowerCase(), line);
  return undefined;
}

async function* textChunks(text: string): AsyncIterable<Buffer> {
  const bytes = Buffer.from(text, "utf8");
  for (let i = 0; i < bytes.length; i += 64 * 1024) yield bytes.subarray(i, i + 64 * 1024);
}

function sourceOf(
  file: JobFile | undefined,
  input: BulkUploadInput,
): { chunks: AsyncIterable<Buffer>; bytes: number } {
  if (file) return { chunks: file.chunks(64 * 1024), bytes: file.bytes };
  const csv = input.csv ?? "";
  return { chunks: textChunks(csv), bytes: Buffer.byteLength(csv) };
}

export const bulkUpload = defineJob<BulkUploadInput, BulkUploadResult>({
  name: "bulk-upload",
  upload: "optional",
  parseInput({ body, file }) {
    if (file) return {};
    if (typeof body.csv !== "string" || body.csv.trim() === "") {
      throw invalidInput(
        "csv",
        'send the CSV as an upload in the field "file" or as the text field "csv"',
      );
    }
    return { csv: body.csv };
  },
  fields: (_input, file) => ({ filename: file?.filename ?? "inline.csv" }),
  async handler({ file, input, progress, signal }) {
    const source = sourceOf(file, input);
    const readable = Readable.from(source.chunks);
    const parser = parse({
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      info: true,
      trim: false,
    });
    readable.on("error", (e) => parser.destroy(e));
    readable.pipe(parser);
    let columns: string[] | undefined;
    const seen = new Map<string, number>();
    const errors: InvalidRow[] = [];
    let rows = 0;
    let invalidRows = 0;
    let totalAmount = 0;
    try {
      for await (const { record, info } of parser as AsyncIterable<{
        record: string[];
        info: { lines: number; bytes: number };
      }>) {
        signal.throwIfAborted();
        if (!columns) {
          if (record.length > MAX_COLUMNS) {
            throw new UnrecoverableError(
              `the CSV has ${record.length} columns, more than the limit of ${MAX_COLUMNS}`,
            );
          }
          columns = record.map((c) => c.trim().toLowerCase().slice(0, 100));
          const missing = REQUIRED_COLUMNS.filter((c) => !columns!.includes(c));
          if (missing.length > 0) {
            throw new UnrecoverableError(
              `the CSV header lacks the column(s) ${missing.join(", ")}; it has ${columns.join(", ")}`,
            );
          }
          continue;
        }
        rows++;
        let problem: string | undefined;
        if (record.length !== columns.length) {
          problem = `expected ${columns.length} fields, got ${record.length}`;
        } else {
          const values: Record<string, string> = {};
          columns.forEach((c, i) => (values[c] = record[i]!));
          problem = rowProblem(values, info.lines, seen);
          if (!problem && values.amount) totalAmount += Number(values.amount);
        }
        if (problem) {
          invalidRows++;
          if (errors.length < MAX_REPORTED_ERRORS)
            errors.push({ line: info.lines, reason: problem });
        }
        const percent = source.bytes === 0 ? 100 : (info.bytes / source.bytes) * 100;
        await progress(Math.min(99, percent), { rowsProcessed: rows, invalidRows });
      }
    } catch (e) {
      const csv = e as CsvError & { lines?: number };
      if (typeof csv.code === "string" && csv.code.startsWith("CSV_")) {
        throw new UnrecoverableError(
          `the CSV cannot be parsed at line ${csv.lines ?? "?"}: ${csv.message}`,
        );
      }
      throw e;
    } finally {
      readable.destroy();
    }
    if (!columns)
      throw new UnrecoverableError("the CSV is empty: it needs a header line with name and email");
    return {
      rows,
      validRows: rows - invalidRows,
      invalidRows,
      errors,
      errorsTruncated: invalidRows > errors.length,
      columns,
      totalAmount: Math.round(totalAmount * 100) / 100,
    };
  },
});
