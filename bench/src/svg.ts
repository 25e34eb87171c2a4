// Hand-written SVG plots of a run: p99 latency against delivery rate, and CPU per delivery against
// delivery rate, one panel per ladder scenario, one line per system. No plotting dependency.
import type { BenchResult, Step } from "./result-types.ts";
import { SCENARIOS } from "./scenarios.ts";

const COLORS: Record<string, string> = {
  relay: "#d62728",
  baseline: "#7f7f7f",
  socketio: "#1f77b4",
  centrifugo: "#2ca02c",
};
const PANEL_W = 340;
const PANEL_H = 240;
const MARGIN = { left: 56, right: 14, top: 30, bottom: 42 };
const COLUMNS = 3;

interface Axis {
  /** Maps a value to a pixel offset from the panel's plot origin. */
  at(value: number): number;
  ticks: { value: number; label: string }[];
}

const esc = (text: string): string =>
  text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/`/g, "");

function linear(max: number, pixels: number, format: (v: number) => string): Axis {
  const step = niceStep(max / 4);
  const top = Math.max(step, Math.ceil(max / step) * step);
  const ticks = [];
  for (let v = 0; v <= top + step / 2; v += step) ticks.push({ value: v, label: format(v) });
  return { at: (v) => (Math.min(v, top) / top) * pixels, ticks };
}

function log10(min: number, max: number, pixels: number): Axis {
  const lo = Math.floor(Math.log10(min));
  const hi = Math.ceil(Math.log10(max));
  const ticks = [];
  for (let e = lo; e <= hi; e++) ticks.push({ value: 10 ** e, label: String(10 ** e) });
  return {
    at: (v) =>
      ((Math.log10(Math.min(Math.max(v, 10 ** lo), 10 ** hi)) - lo) / (hi - lo || 1)) * pixels,
    ticks,
  };
}

function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(raw || 1));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

const thousands = (v: number): string => (v >= 1000 ? `${Math.round(v / 1000)}k` : String(v));

function plot(
  result: BenchResult,
  title: string,
  yLabel: string,
  y: (s: Step) => number,
  yAxis: (values: number[]) => Axis,
  reference?: { value: number; label: string },
): string {
  const scenarios = SCENARIOS.filter(
    (s) => s.kind === "ladder" && result.runs.some((r) => r.scenario === s.id),
  );
  const rows = Math.max(1, Math.ceil(scenarios.length / COLUMNS));
  const width = COLUMNS * PANEL_W;
  const height = rows * PANEL_H + 60;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="14">${esc(title)} (${esc(result.date.slice(0, 10))})</text>`,
  ];
  const systems = [...new Set(result.runs.map((r) => r.system))];
  systems.forEach((system, i) => {
    const x = 20 + i * 120;
    out.push(
      `<line x1="${x}" y1="${height - 14}" x2="${x + 22}" y2="${height - 14}" stroke="${COLORS[system] ?? "black"}" stroke-width="2.5"/>`,
      `<text x="${x + 27}" y="${height - 10}">${esc(system)}</text>`,
    );
  });
  scenarios.forEach((scenario, index) => {
    const ox = (index % COLUMNS) * PANEL_W + MARGIN.left;
    const oy = Math.floor(index / COLUMNS) * PANEL_H + 28 + MARGIN.top;
    const w = PANEL_W - MARGIN.left - MARGIN.right;
    const h = PANEL_H - MARGIN.top - MARGIN.bottom;
    const runs = result.runs.filter((r) => r.scenario === scenario.id);
    const steps = runs.flatMap((r) => r.steps).filter((s) => Number.isFinite(y(s)));
    const xAxis = linear(Math.max(1, ...steps.map((s) => s.deliveriesPerSec)), w, thousands);
    const yA = yAxis(steps.map(y));
    const px = (s: Step): number => ox + xAxis.at(s.deliveriesPerSec);
    const py = (v: number): number => oy + h - yA.at(v);
    out.push(
      `<text x="${ox + w / 2}" y="${oy - 8}" text-anchor="middle" font-size="12">${esc(scenario.title)}</text>`,
      `<rect x="${ox}" y="${oy}" width="${w}" height="${h}" fill="none" stroke="#999"/>`,
    );
    for (const t of xAxis.ticks)
      out.push(
        `<text x="${ox + xAxis.at(t.value)}" y="${oy + h + 14}" text-anchor="middle">${t.label}</text>`,
      );
    for (const t of yA.ticks)
      out.push(
        `<line x1="${ox}" y1="${py(t.value)}" x2="${ox + w}" y2="${py(t.value)}" stroke="#eee"/>`,
        `<text x="${ox - 4}" y="${py(t.value) + 4}" text-anchor="end">${t.label}</text>`,
      );
    out.push(
      `<text x="${ox + w / 2}" y="${oy + h + 30}" text-anchor="middle">deliveries/s</text>`,
      `<text transform="translate(${ox - 42},${oy + h / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`,
    );
    if (reference)
      out.push(
        `<line x1="${ox}" y1="${py(reference.value)}" x2="${ox + w}" y2="${py(reference.value)}" stroke="#000" stroke-dasharray="4 3"/>`,
        `<text x="${ox + w - 2}" y="${py(reference.value) - 3}" text-anchor="end">${esc(reference.label)}</text>`,
      );
    for (const run of runs) {
      const points = run.steps
        .filter((s) => Number.isFinite(y(s)))
        .sort((a, b) => a.deliveriesPerSec - b.deliveriesPerSec);
      const color = COLORS[run.system] ?? "black";
      if (points.length > 1)
        out.push(
          `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map((s) => `${px(s).toFixed(1)},${py(y(s)).toFixed(1)}`).join(" ")}"/>`,
        );
      for (const s of points)
        out.push(
          `<circle cx="${px(s).toFixed(1)}" cy="${py(y(s)).toFixed(1)}" r="3" fill="${s.sustained ? color : "white"}" stroke="${color}"/>`,
        );
    }
  });
  out.push("</svg>", "");
  return out.join("\n");
}

/** p99 latency (log scale) against deliveries/s; open circles are rungs not sustained. */
export function plotLatency(result: BenchResult): string {
  return plot(
    result,
    "p99 latency against delivery rate",
    "p99 ms (log)",
    (s) => s.p99Ms,
    (v) => log10(Math.max(0.1, Math.min(1, ...v)), Math.max(100, ...v), PANEL_H - 72),
    { value: 50, label: "50 ms" },
  );
}

/** Server CPU per delivery against deliveries/s. */
export function plotCpu(result: BenchResult): string {
  return plot(
    result,
    "Server CPU per delivery against delivery rate",
    "µs CPU / delivery",
    (s) => s.cpuPerDeliveryUs,
    (v) => linear(Math.max(1, ...v), PANEL_H - 72, (x) => String(x)),
  );
}
