// The quick start in a real browser: the local stack as `make dev` runs it, the dashboard in
// Debian's Chromium, a real PDF uploaded and followed to completion, a late page served from the
// snapshot, and the original guide's example component rendering live jobs.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startRedis, waitFor, type TestRedis } from "@jobchannel/testkit";
import { Redis } from "ioredis";
import type { Page } from "playwright-core";
import { launchChromium, type TestBrowser } from "@jobchannel/testkit/browser";
import { makePdf } from "./helpers/pdf.ts";
import { startStackProcess, type StackProcess } from "./helpers/stack-process.ts";
import { buildWebRoot } from "./helpers/web-root.ts";

const root = join(import.meta.dirname, "../..");
const results = join(root, "test-results");
const PAGES = 40;

let browser: TestBrowser;
let webRoot: string;
let scratch: string;

/** Records every aria-valuenow each job's progress bar shows, from the first paint on. */
const RECORD_PROGRESS = `
  window.__progress = {};
  new MutationObserver(() => {
    for (const bar of document.querySelectorAll('[role="progressbar"]')) {
      const id = bar.closest("[data-job-id]")?.getAttribute("data-job-id");
      if (!id) continue;
      const seen = (window.__progress[id] ??= []);
      const value = Number(bar.getAttribute("aria-valuenow"));
      if (seen[seen.length - 1] !== value) seen.push(value);
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["aria-valuenow"] });
`;

/** Fails the test on any uncaught error or console error of the page. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  return errors;
}

describe("quick start in Chromium", () => {
  before(async () => {
    mkdirSync(results, { recursive: true });
    scratch = join(results, "quickstart-files");
    mkdirSync(scratch, { recursive: true });
    [webRoot, browser] = await Promise.all([buildWebRoot(), launchChromium()]);
  });

  after(async () => {
    await browser?.close();
    if (webRoot) rmSync(webRoot, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  });

  it("uploads a PDF from the dashboard and follows its progress bar to completed with the page count", async (t) => {
    const stack: StackProcess = await startStackProcess({
      REDIS_URL: undefined,
      JOBCHANNEL_DASHBOARD_DIR: webRoot,
    });
    try {
      const pdfPath = join(scratch, "quarterly-report.pdf");
      writeFileSync(pdfPath, await makePdf(PAGES));

      const page = await browser.context.newPage();
      const errors = watchErrors(page);
      await page.addInitScript(RECORD_PROGRESS);
      await page.goto(`${stack.url}/`);
      await page.getByRole("heading", { name: "jobchannel" }).waitFor();
      await page.locator('.connection[data-state="open"]').waitFor({ timeout: 15_000 });

      await page.getByLabel("Job type").selectOption("pdf-extraction");
      await page.getByLabel("PDF file").setInputFiles(pdfPath);
      await page.getByLabel("User id").fill("123");
      await page.getByRole("button", { name: "Start job" }).click();
      await page.getByText(/Started pdf-extraction job/).waitFor();

      const job = page.locator('li[data-channel="pdf-extraction"]').first();
      await job.waitFor();
      const jobId = await job.getAttribute("data-job-id");
      assert.ok(jobId, "the job card names its job id");
      const card = page.locator(`li[data-job-id="${jobId}"]`);
      await page
        .locator(`li[data-job-id="${jobId}"][data-status="completed"]`)
        .waitFor({ timeout: 60_000 });

      const bar = card.getByRole("progressbar", { name: "Progress of quarterly-report.pdf" });
      assert.equal(await bar.getAttribute("aria-valuenow"), "100");
      assert.equal(await bar.getAttribute("aria-valuetext"), "100% (completed)");
      assert.equal(await card.locator('[data-result="Pages"]').textContent(), String(PAGES));
      assert.equal(await card.locator(".badge").textContent(), "Completed");

      const seen = await page.evaluate(
        (id) => (window as unknown as { __progress: Record<string, number[]> }).__progress[id!],
        jobId,
      );
      assert.ok(Array.isArray(seen) && seen.length > 0, "progress values were recorded");
      t.diagnostic(`progress bar values seen: ${seen.join(" ")}`);
      assert.equal(seen.at(-1), 100);
      assert.ok(
        seen.filter((v) => v > 0 && v < 100).length >= 2,
        `the bar advanced through intermediate values, saw ${JSON.stringify(seen)}`,
      );
      for (let i = 1; i < seen.length; i++)
        assert.ok(seen[i]! >= seen[i - 1]!, `progress never goes back: ${JSON.stringify(seen)}`);
      await page.screenshot({
        path: join(results, "quickstart-dashboard.png"),
        fullPage: true,
        animations: "disabled",
      });

      // Every other built-in job type, started from its form.
      const choose = (type: string) => page.getByLabel("Job type").selectOption(type);
      const startButton = page.getByRole("button", { name: "Start job" });
      const finished = async (type: string) => {
        await page.getByText(new RegExp(`Started ${type} job`)).waitFor();
        const done = page.locator(`li[data-channel="${type}"][data-status="completed"]`);
        await done.waitFor({ timeout: 30_000 });
        return done;
      };
      const notes = join(scratch, "notes.txt");
      writeFileSync(notes, "jobchannel streams job progress to browsers.\n".repeat(2000));
      await choose("file-upload");
      await page.getByLabel("File", { exact: true }).setInputFiles(notes);
      await startButton.click();
      const uploaded = await finished("file-upload");
      const sha256 = createHash("sha256").update(readFileSync(notes)).digest("hex");
      assert.equal(await uploaded.locator('[data-result="SHA-256"]').getAttribute("title"), sha256);

      await choose("bulk-upload");
      await startButton.click();
      const csv = await finished("bulk-upload");
      assert.equal(await csv.locator('[data-result="Rows"]').textContent(), "3");
      assert.equal(await csv.locator('[data-result="Invalid rows"]').textContent(), "1");

      await choose("job-updates");
      await startButton.click();
      const screened = await finished("job-updates");
      assert.match(
        (await screened.locator('[data-result="Decision"]').textContent()) ?? "",
        /^(proceed|review|decline)$/,
      );
      assert.equal(await screened.locator(".job-title").textContent(), "Northwind Traders Ltd");

      // A request the form can tell is incomplete is refused in place, as an alert.
      await choose("pdf-extraction");
      await startButton.click();
      assert.equal(await page.getByRole("alert").textContent(), "Choose a PDF file to upload.");
      await page.screenshot({
        path: join(results, "quickstart-all-job-types.png"),
        fullPage: true,
        animations: "disabled",
      });

      // A page opened afterwards gets the finished job from the relay's snapshot.
      const later = await browser.context.newPage();
      const laterErrors = watchErrors(later);
      await later.goto(`${stack.url}/`);
      const snapshotCard = later.locator(`li[data-job-id="${jobId}"]`);
      await snapshotCard.waitFor({ timeout: 15_000 });
      assert.equal(await snapshotCard.getAttribute("data-status"), "completed");
      await waitFor(
        async () => (await later.locator('li[data-status="completed"]').count()) === 4,
        {
          what: "all four finished jobs in the snapshot",
        },
      );
      assert.equal(
        await snapshotCard.locator('[data-result="Pages"]').textContent(),
        String(PAGES),
      );
      assert.equal(
        await snapshotCard.getByRole("progressbar").getAttribute("aria-valuenow"),
        "100",
      );
      await later.screenshot({
        path: join(results, "quickstart-snapshot.png"),
        fullPage: true,
        animations: "disabled",
      });

      // The narrow layout (a phone) stacks the panels and still shows the job.
      await later.setViewportSize({ width: 390, height: 844 });
      await snapshotCard.scrollIntoViewIfNeeded();
      await later.screenshot({
        path: join(results, "quickstart-narrow.png"),
        animations: "disabled",
      });

      assert.deepEqual(errors, []);
      assert.deepEqual(laterErrors, []);
      await page.close();
      await later.close();
    } finally {
      const code = await stack.interrupt();
      assert.equal(code, 0, `Ctrl-C stops the stack cleanly:\n${stack.process.logTail()}`);
    }
  });

  it("renders live jobs in the original guide's example component, with Redis", async () => {
    let redis: TestRedis | undefined;
    let publisher: Redis | undefined;
    let stack: StackProcess | undefined;
    try {
      redis = await startRedis();
      stack = await startStackProcess({ REDIS_URL: redis.url, JOBCHANNEL_DASHBOARD_DIR: webRoot });
      publisher = new Redis(redis.url);

      const page = await browser.context.newPage();
      const errors = watchErrors(page);
      await page.goto(`${stack.url}/guide-example/`);
      await page.getByRole("heading", { name: "Your Job Progress" }).waitFor();

      // The guide's worker: a raw PUBLISH of its JSON (no snapshot entry), so publish until the
      // page's subscription is in place and the update shows.
      const publish = (update: Record<string, unknown>) =>
        publisher!.publish(
          "jobchannel:your-new-channel",
          JSON.stringify({ timestamp: Date.now(), ...update }),
        );
      const list = page.locator("#root");
      await waitFor(
        async () => {
          await publish({
            jobId: "guide-1",
            status: "processing",
            progress: 10,
            customField: "Quarterly report",
          });
          return (await list.textContent())?.includes("Quarterly report - processing");
        },
        { timeoutMs: 20_000, intervalMs: 250, what: "the guide component to show guide-1" },
      );
      await publish({ jobId: "guide-2", status: "queued", customField: "Invoice batch" });
      await page.getByText("Invoice batch - queued").waitFor();
      await page.screenshot({ path: join(results, "guide-example-live.png") });
      // A finished job leaves activeJobs, which is what the component lists.
      await publish({ jobId: "guide-1", status: "completed", progress: 100 });
      await page.getByText("Quarterly report - processing").waitFor({ state: "detached" });
      assert.match((await list.textContent()) ?? "", /Your Job ProgressInvoice batch - queued$/);
      await page.screenshot({ path: join(results, "guide-example-after-completion.png") });
      assert.deepEqual(errors, []);
      await page.close();
    } finally {
      await publisher?.quit().catch(() => undefined);
      const code = await stack?.interrupt();
      if (stack)
        assert.equal(code, 0, `Ctrl-C stops the stack cleanly:\n${stack.process.logTail()}`);
      await redis?.stop();
    }
  });
});
