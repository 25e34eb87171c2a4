// The PromQL shapes and Prometheus targets every panel is built from.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PROMETHEUS, quantiles, sumRate, timeseries } from "../src/panels.ts";

describe("panel helpers", () => {
  it("sums a rate over Grafana's rate interval, grouped or in total", () => {
    assert.equal(
      sumRate('a_total{channel=~"$channel"}', ["channel"]),
      'sum by (channel) (rate(a_total{channel=~"$channel"}[$__rate_interval]))',
    );
    assert.equal(sumRate("a_total"), "sum(rate(a_total[$__rate_interval]))");
  });

  it("builds one histogram_quantile query per percent, grouped by le too", () => {
    assert.deepEqual(quantiles("h_bucket", ["channel"], [50, 95, 99]), [
      {
        expr: "histogram_quantile(0.5, sum by (channel, le) (rate(h_bucket[$__rate_interval])))",
        legend: "p50 {{channel}}",
      },
      {
        expr: "histogram_quantile(0.95, sum by (channel, le) (rate(h_bucket[$__rate_interval])))",
        legend: "p95 {{channel}}",
      },
      {
        expr: "histogram_quantile(0.99, sum by (channel, le) (rate(h_bucket[$__rate_interval])))",
        legend: "p99 {{channel}}",
      },
    ]);
    assert.deepEqual(
      quantiles("h_bucket", [], [99]).map((q) => q.legend),
      ["p99"],
    );
  });

  it("gives each query of a panel the next refId and the $datasource variable", () => {
    const panel = timeseries({
      title: "t",
      description: "d",
      unit: "s",
      width: 8,
      queries: [
        { expr: "a", legend: "A" },
        { expr: "b", legend: "B" },
      ],
    }).build();
    assert.deepEqual(panel.datasource, PROMETHEUS);
    // As rendered: the SDK's query objects carry a method JSON leaves out.
    assert.deepEqual(JSON.parse(JSON.stringify(panel.targets)), [
      { refId: "A", datasource: PROMETHEUS, expr: "a", legendFormat: "A" },
      { refId: "B", datasource: PROMETHEUS, expr: "b", legendFormat: "B" },
    ]);
    assert.deepEqual(panel.gridPos, { h: 8, w: 8, x: 0, y: 0 });
  });
});
