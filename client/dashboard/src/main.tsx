// Entry point of the dashboard: the app under an error boundary, so a failure never leaves a blank page.
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./app.tsx";
import { ErrorBoundary } from "./error-boundary.tsx";
import "./styles.css";

const root = document.getElementById("root");
if (!root) throw new Error("the page has no #root element");
createRoot(root).render(
  <StrictMode>
    <ErrorBoundary what="dashboard">
      <App />
    </ErrorBoundary>
  </StrictMode>,
);
