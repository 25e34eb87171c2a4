// Preloaded into a relay process under measurement (NODE_OPTIONS="--expose-gc --import <this>"):
// SIGUSR2 runs a full collection, so a memory sample reads what is live rather than wherever
// V8's last collection left the heap.
const gc = (globalThis as { gc?: () => void }).gc;
process.on("SIGUSR2", () => gc?.());
