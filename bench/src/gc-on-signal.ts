// Preloaded into the server under test (node --expose-gc --import): SIGUSR2 runs a full GC, so
// the benchmark can read memory per idle connection without the garbage of the handshakes.
const gc = (globalThis as { gc?: () => void }).gc;
process.on("SIGUSR2", () => {
  gc?.();
  gc?.();
});
