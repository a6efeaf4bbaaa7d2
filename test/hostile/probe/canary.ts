// A process that does nothing but notice when it did not run: the machine's own stalls (a shared,
// loaded machine deschedules every process now and then). A campaign sets a guest's late flip or a
// daemon's loop stall against these: one the canary shared at the same moment is the machine's,
// one it did not share is the program's. Forked by MachineCanary; answers 'report' with its stalls.
const TICK_MS = 1;
/** Gaps shorter than this are timer jitter, not stalls. */
const RECORD_MS = 5;
const KEEP = 100_000;

const stalls: [number, number][] = [];
let last = performance.now();
const timer = setInterval(() => {
  const now = performance.now();
  const gap = now - last - TICK_MS;
  last = now;
  if (gap >= RECORD_MS && stalls.length < KEEP) stalls.push([Date.now(), Math.round(gap * 10) / 10]);
}, TICK_MS);

process.on('message', (m: unknown) => {
  if (m === 'report') process.send?.(stalls);
  if (m === 'exit') {
    clearInterval(timer);
    process.disconnect?.();
  }
});
process.send?.('ready');
