// Loaded into the daemon under test with `--import` when a campaign measures it
// (DaemonProcessOptions.probe): the daemon's event-loop lag, written as JSON to
// HOSTILE_LOOP_PROBE_OUT (DAEMON_LAG_FILE in the probe directory) when the process exits. Nothing of the daemon itself changes.
import { writeFileSync } from 'node:fs';
import { LoopLag } from './loop-lag.js';

const out = process.env.HOSTILE_LOOP_PROBE_OUT;
if (out) {
  const lag = new LoopLag();
  process.once('exit', () => {
    writeFileSync(out, JSON.stringify(lag.summary()));
    lag.close();
  });
}
