// Starts a job of any type the worker serves: an upload (file, CSV, PDF) or a JSON record.
import { useId, useRef, useState, type FormEvent } from "react";
import { startJob, type JobTypeInfo } from "./api.ts";

interface TypeCopy {
  description: string;
  accept?: string;
  fileLabel?: string;
  /** Text prefilled in the JSON or CSV box. */
  example?: string;
}

const SAMPLE_CSV = `name,email,phone,amount
Ada Lovelace,ada@example.com,+44 20 7946 0000,120.50
Alan Turing,alan@example.com,,99
Grace Hopper,not-an-email,,10`;

const SAMPLE_RECORD = JSON.stringify(
  {
    company: {
      name: "Northwind Traders Ltd",
      country: "GB",
      industry: "Wholesale",
      directors: ["Jane Smith", "Omar Haddad"],
    },
    financials: {
      revenue: 42_000_000,
      ebitda: 6_300_000,
      netDebt: 9_000_000,
      previousRevenue: 38_000_000,
    },
    deal: { enterpriseValue: 51_000_000, currency: "GBP" },
  },
  null,
  2,
);

const COPY: Record<string, TypeCopy> = {
  "file-upload": {
    description: "Any file: the worker streams it and reports its size and SHA-256.",
    fileLabel: "File",
  },
  "bulk-upload": {
    description: "A contacts CSV (name, email, phone, amount): every row is parsed and validated.",
    accept: ".csv,text/csv",
    fileLabel: "CSV file",
    example: SAMPLE_CSV,
  },
  "pdf-extraction": {
    description: "A PDF: its text is extracted page by page.",
    accept: ".pdf,application/pdf",
    fileLabel: "PDF file",
  },
  "job-updates": {
    description:
      "A deal record (company, financials, deal) screened in five steps: consistency, ratios, watch-list names, country risk, score.",
    example: SAMPLE_RECORD,
  },
};

/** "File" reads "file" mid-sentence; "PDF file" stays as it is. */
function midSentence(label: string): string {
  return label.replace(/^[A-Z][a-z]/, (c) => c.toLowerCase());
}

type Outcome = { kind: "started"; text: string } | { kind: "error"; text: string } | undefined;

export function StartJobForm({ types }: { types: readonly JobTypeInfo[] }) {
  const [selected, setSelected] = useState<string | undefined>();
  const type = types.find((t) => t.name === selected) ?? types[0];
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome>();
  const form = useRef<HTMLFormElement>(null);
  const ids = { type: useId(), file: useId(), text: useId(), user: useId(), description: useId() };

  if (!type) return <p className="empty">The worker serves no job types.</p>;
  const copy = COPY[type.name] ?? { description: `A ${type.name} job.` };
  const takesFile = type.upload !== "none";
  const takesCsv = type.name === "bulk-upload";
  const takesJson = type.upload === "none";

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const data = new FormData(event.currentTarget);
    const userId = String(data.get("userId") ?? "").trim();
    const file = data.get("file");
    const hasFile = file instanceof File && file.size > 0;
    let body: FormData | Record<string, unknown>;
    if (takesJson) {
      let record: unknown;
      try {
        record = JSON.parse(String(data.get("record") ?? ""));
      } catch (e) {
        setOutcome({
          kind: "error",
          text: `The record is not valid JSON: ${(e as Error).message}`,
        });
        return;
      }
      if (record === null || typeof record !== "object" || Array.isArray(record)) {
        setOutcome({ kind: "error", text: "The record must be a JSON object." });
        return;
      }
      body = userId
        ? { ...(record as Record<string, unknown>), userId }
        : (record as Record<string, unknown>);
    } else {
      const csv = String(data.get("csv") ?? "").trim();
      if (type.upload === "required" && !hasFile) {
        setOutcome({
          kind: "error",
          text: `Choose a ${midSentence(copy.fileLabel ?? "file")} to upload.`,
        });
        return;
      }
      if (takesCsv && !hasFile && csv === "") {
        setOutcome({ kind: "error", text: "Choose a CSV file or paste CSV text." });
        return;
      }
      body = new FormData();
      if (userId) body.set("userId", userId);
      if (takesCsv && !hasFile) body.set("csv", csv);
      if (hasFile) body.set("file", file);
    }
    setBusy(true);
    setOutcome(undefined);
    try {
      const jobId = await startJob(type.name, body);
      setOutcome({ kind: "started", text: `Started ${type.name} job ${jobId.slice(0, 8)}.` });
      const input = form.current?.querySelector<HTMLInputElement>('input[type="file"]');
      if (input) input.value = "";
    } catch (e) {
      setOutcome({ kind: "error", text: `The job was not started: ${(e as Error).message}` });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form ref={form} className="start-job" onSubmit={submit} aria-busy={busy} noValidate>
      <label htmlFor={ids.type}>Job type</label>
      <select
        id={ids.type}
        name="type"
        value={type.name}
        aria-describedby={ids.description}
        onChange={(e) => {
          setSelected(e.target.value);
          setOutcome(undefined);
        }}
      >
        {types.map((t) => (
          <option key={t.name} value={t.name}>
            {t.name}
          </option>
        ))}
      </select>
      <p id={ids.description} className="hint">
        {copy.description}
      </p>

      {takesFile && (
        <>
          <label htmlFor={ids.file}>
            {copy.fileLabel ?? "File"}
            {type.upload === "optional" && <span className="optional"> (optional)</span>}
          </label>
          <input
            id={ids.file}
            key={`file-${type.name}`}
            type="file"
            name="file"
            accept={copy.accept}
            required={type.upload === "required"}
          />
        </>
      )}
      {(takesCsv || takesJson) && (
        <>
          <label htmlFor={ids.text}>{takesCsv ? "Or paste CSV text" : "Record (JSON)"}</label>
          <textarea
            id={ids.text}
            key={`text-${type.name}`}
            name={takesCsv ? "csv" : "record"}
            rows={takesCsv ? 5 : 6}
            defaultValue={copy.example ?? "{}"}
            spellCheck={false}
          />
        </>
      )}
      <label htmlFor={ids.user}>
        User id <span className="optional">(development mode identity, optional)</span>
      </label>
      <input id={ids.user} name="userId" autoComplete="off" placeholder="123" />

      <button type="submit" disabled={busy}>
        {busy ? "Starting…" : "Start job"}
      </button>
      <div role="status">
        {outcome?.kind === "started" && <p className="outcome outcome-ok">{outcome.text}</p>}
      </div>
      {outcome?.kind === "error" && (
        <p className="outcome outcome-error" role="alert">
          {outcome.text}
        </p>
      )}
    </form>
  );
}
