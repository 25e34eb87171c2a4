import assert from "node:assert/strict";
import { test } from "node:test";
import { bulkUpload, rowProblem } from "../../src/jobs/bulk-upload.ts";
import { fakeContext, makeCsv } from "../helpers.ts";

test("validates a row's name, email, phone and amount", () => {
  const seen = new Map<string, number>();
  assert.equal(
    rowProblem(
      { name: "Ada", email: "ada@example.com", phone: "+44 20 7946 0000", amount: "3.5" },
      2,
      seen,
    ),
    undefined,
  );
  assert.equal(rowProblem({ name: " ", email: "b@example.com" }, 3, seen), "name is empty");
  assert.match(rowProblem({ name: "B", email: "nope" }, 3, seen)!, /not a valid address/);
  assert.equal(
    rowProblem({ name: "C", email: "ADA@example.com" }, 4, seen),
    "email ADA@example.com repeats line 2",
  );
  assert.match(
    rowProblem({ name: "D", email: "d@example.com", phone: "call me" }, 5, seen)!,
    /not a phone number/,
  );
  assert.match(
    rowProblem({ name: "E", email: "e@example.com", amount: "1e9" }, 6, seen)!,
    /not a number/,
  );
  assert.match(
    rowProblem({ name: "F", email: "f@example.com", amount: "-2" }, 7, seen)!,
    /negative/,
  );
});

test("reports invalid rows with their line and counts the rest", async () => {
  const csv = makeCsv(200, [
    "Broken,broken-at-example.com,,1",
    "Short,short@example.com",
    ",noname@example.com,,2",
  ]);
  const { context, progress } = await fakeContext({}, { bytes: csv, filename: "contacts.csv" });
  const result = await bulkUpload.handler(context);
  assert.equal(result.rows, 203);
  assert.equal(result.invalidRows, 3);
  assert.equal(result.validRows, 200);
  assert.deepEqual(
    result.errors.map((e) => e.line),
    [202, 203, 204],
  );
  assert.match(result.errors[1]!.reason, /expected 4 fields, got 2/);
  assert.equal(result.totalAmount, (200 * 201) / 2 + 200 * 0.5);
  assert.ok(progress.length >= 10);
  for (let i = 1; i < progress.length; i++)
    assert.ok(progress[i]!.percent >= progress[i - 1]!.percent);
  assert.equal(progress.at(-1)!.fields.rowsProcessed, 203);
});

test("fails on a CSV syntax error with the line", async () => {
  const { context } = await fakeContext({
    csv: 'name,email\nAda,ada@example.com\n"Bob,bob@example.com\n',
  });
  await assert.rejects(
    bulkUpload.handler(context),
    (e: Error) => e.name === "UnrecoverableError" && /cannot be parsed at line/.test(e.message),
  );
});

test("fails when a required column is missing", async () => {
  const { context } = await fakeContext({ csv: "name,phone\nAda,123\n" });
  await assert.rejects(bulkUpload.handler(context), /lacks the column\(s\) email/);
});

test("asks for a file or a csv field", () => {
  assert.throws(() => bulkUpload.parseInput({ body: {}, file: undefined }), {
    code: "invalid_input",
    field: "csv",
  });
  assert.deepEqual(bulkUpload.parseInput({ body: { csv: "name,email\n" }, file: undefined }), {
    csv: "name,email\n",
  });
});
