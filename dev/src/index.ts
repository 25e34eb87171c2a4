// Public surface of @jobchannel/dev: the one-process local stack, for tests and embedding.
export { banner } from "./banner.ts";
export {
  DEFAULT_DASHBOARD_DIR,
  VARIABLES,
  helpText,
  loadConfig,
  redactUrl,
  type DevConfig,
} from "./config.ts";
export { DevError, DevErrorCode, ERROR_CODES } from "./errors.ts";
export { main } from "./main.ts";
export { startStack, type Stack, type StackOptions } from "./stack.ts";
export { createStaticHandler, resolveInside } from "./static-files.ts";
