// Builds the dashboard into client/dashboard/dist. JSX is compiled by Vite's own transform with the
// automatic runtime, so no React plugin is needed for a production build.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root,
  // Relative asset URLs, so the built files work under any path (the API and relay stay at /api and /ws).
  base: "./",
  logLevel: "warn",
  oxc: { jsx: { runtime: "automatic" } },
  // `vite --config dashboard/vite.config.ts` serves the dashboard from source against a running
  // local stack (make dev) on port 8080.
  server: {
    proxy: {
      "/api": "http://localhost:8080",
      "/ws": { target: "ws://localhost:8080", ws: true },
    },
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: true,
    rolldownOptions: {
      onwarn(warning, warn) {
        // @jobchannel/client/react opens with "use client" for React Server Components; a single-page
        // bundle has no server components, so dropping the directive loses nothing.
        if (warning.code === "MODULE_LEVEL_DIRECTIVE" && warning.message.includes('"use client"'))
          return;
        warn(warning);
      },
    },
  },
});
