// Loaded into the daemon under test with `--import` when a campaign measures it
// (DaemonProcessOptions.probe): the daemon's event-loop lag, written as JSON to
// HOSTILE_LOOP_PROBE_OUT (DAEMON_LAG_FILE in the probe directory) when the process exits. Nothing of the daemon itself changes.
// SIGUSR2 marks a window: the lag since the previous mark (or the start) goes to `<out>.<n>` for the
// nth mark and the measurement starts afresh, so a campaign can measure one phase (an attack) alone.
import { renameSync, writeFileSync } from 'node:fs';
import { LoopLag } from './loop-lag.js';

const out = process.env.HOSTILE_LOOP_PROBE_OUT;
/** Stalls kept with their time from this length up (HOSTILE_LOOP_PROBE_RECORD_MS; default the probe's first bar). */
const recordMs = Number(process.env.HOSTILE_LOOP_PROBE_RECORD_MS) || undefined;
if (out) {
  let lag = new LoopLag(recordMs);
  let marks = 0;
  process.on('SIGUSR2', () => {
    const s = lag.summary();
    lag.close();
    lag = new LoopLag(recordMs);
    marks++;
    // Written whole, then renamed: the campaign polls for the file.
    writeFileSync(`${out}.${marks}.tmp`, JSON.stringify(s));
    renameSync(`${out}.${marks}.tmp`, `${out}.${marks}`);
  });
  process.once('exit', () => {
    writeFileSync(out, JSON.stringify(lag.summary()));
    lag.close();
  });
}
