// Builds the dashboard into client/dashboard/dist. JSX is compiled by Vite's own transform with the
// automatic runtime, so no React plugin is needed for a production build.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root,
  // Relative asset URLs, so the dashboard works wherever it is mounted.
  base: "./",
  logLevel: "warn",
  oxc: { jsx: { runtime: "automatic" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: true,
  },
});
