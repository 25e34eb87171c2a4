// What the local stack prints once it listens: where everything is, and a first job to start.

/** The start-up text for a stack at `url` (e.g. http://localhost:8080). */
export function banner(url: string, backend: string): string {
  const ws = url.replace(/^http/, "ws");
  return [
    "",
    `jobchannel is running (${backend})`,
    "",
    `  Dashboard   ${url}/`,
    `  Relay       ${ws}/ws`,
    `  Worker API  ${url}/api/`,
    "",
    "Start a job from the dashboard, or as the original guide did:",
    "",
    `  curl -X POST ${url}/api/jobs/pdf-extraction -F file=@test.pdf -F userId=123`,
    "",
    "Press Ctrl-C to stop.",
    "",
  ].join("\n");
}
