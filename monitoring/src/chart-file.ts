// Where the chart keeps the rendered dashboard, and the command that rewrites it.
import { join } from "node:path";

/** charts/jobchannel/files/grafana-dashboard.json, which templates/grafana-dashboard.yaml ships in a ConfigMap. */
export const DASHBOARD_FILE = join(
  import.meta.dirname,
  "..",
  "..",
  "charts",
  "jobchannel",
  "files",
  "grafana-dashboard.json",
);

/** The command that renders the dashboard into {@link DASHBOARD_FILE} (`make build` runs it too). */
export const RENDER_COMMAND = "npm run build:dashboard -w monitoring";
