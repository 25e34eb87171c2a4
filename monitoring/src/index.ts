// The dashboard as code: its builder, its JSON, and where the chart keeps it.
export { DASHBOARD_TITLE, DASHBOARD_UID, dashboardJson, jobchannelDashboard } from "./dashboard.ts";
export { DASHBOARD_FILE, RENDER_COMMAND } from "./chart-file.ts";
