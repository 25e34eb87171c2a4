// The dashboard as code against the file the chart ships, and the identity Grafana keys it by.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { DASHBOARD_FILE, RENDER_COMMAND } from "../src/chart-file.ts";
import {
  DASHBOARD_TITLE,
  DASHBOARD_UID,
  dashboardJson,
  jobchannelDashboard,
} from "../src/dashboard.ts";

describe("the jobchannel dashboard", () => {
  it("is rendered exactly into the chart's file", async () => {
    const committed = await readFile(DASHBOARD_FILE, "utf8");
    assert.ok(
      committed === dashboardJson(),
      `charts/jobchannel/files/grafana-dashboard.json differs from monitoring/src: run \`${RENDER_COMMAND}\` and commit the file`,
    );
  });

  it("keeps its uid and title", () => {
    const dashboard = jobchannelDashboard();
    assert.equal(DASHBOARD_UID, "jobchannel-overview");
    assert.equal(DASHBOARD_TITLE, "jobchannel");
    assert.equal(dashboard.uid, DASHBOARD_UID);
    assert.equal(dashboard.title, DASHBOARD_TITLE);
  });

  it("has a Prometheus data source variable and a multi-value channel variable with All", () => {
    const [datasource, channel, ...more] = jobchannelDashboard().templating?.list ?? [];
    assert.equal(more.length, 0);
    assert.deepEqual(
      { name: datasource?.name, type: datasource?.type, query: datasource?.query },
      { name: "datasource", type: "datasource", query: "prometheus" },
    );
    assert.equal(channel?.name, "channel");
    assert.equal(channel?.type, "query");
    assert.deepEqual(channel?.datasource, { type: "prometheus", uid: "${datasource}" });
    assert.equal(channel?.multi, true);
    assert.equal(channel?.includeAll, true);
    assert.equal(channel?.allValue, ".*");
  });

  it("lays rows and panels on the 24-unit grid without overlap, numbered uniquely", () => {
    const panels = jobchannelDashboard().panels ?? [];
    const ids = panels.map((p) => p.id);
    assert.deepEqual(
      ids,
      panels.map((_, i) => i + 1),
    );
    const taken = new Set<string>();
    for (const panel of panels) {
      const { x, y, w, h } = panel.gridPos ?? { x: -1, y: -1, w: 0, h: 0 };
      assert.ok(x >= 0 && x + w <= 24, `panel ${panel.id} fits the width`);
      for (let row = y; row < y + h; row++) {
        for (let col = x; col < x + w; col++) {
          assert.ok(!taken.has(`${col},${row}`), `panel ${panel.id} overlaps another`);
          taken.add(`${col},${row}`);
        }
      }
    }
  });
});
