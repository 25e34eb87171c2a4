#!/usr/bin/env node
// Entry point of the jobchannel-operator command.
import { main } from "../dist/main.js";

// Exit even if a request to a frozen API server still holds the event loop open.
process.exit(await main());
