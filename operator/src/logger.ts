// The operator's pino logger: JSON lines with a stable msg.
import { pino, type Logger } from "pino";

export function createLogger(level: string): Logger {
  return pino({ level, base: { component: "jobchannel-operator" } });
}
