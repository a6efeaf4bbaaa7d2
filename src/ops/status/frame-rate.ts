// Frames per second per connector, from the backend's shown-flip counters sampled once a second:
// the rate over the last few seconds, so a status or the viewer shows what a guest does now.
// Pure: the caller samples with its own clock.
import type { ConnectorCounters, DeviceProbe } from '../probe.js';
import { connectorKey } from '../probe.js';

const WINDOW = 5;

interface Track {
  stats: ConnectorCounters;
  samples: { atMs: number; shown: number }[];
}

export class FrameRates {
  private readonly tracks = new Map<string, Track>();

  sample(devices: readonly DeviceProbe[], nowMs: number): void {
    const present = new Set<string>();
    for (const d of devices) {
      for (const c of d.connectors) {
        const key = connectorKey(d.domid, d.devId, c.index);
        present.add(key);
        let t = this.tracks.get(key);
        if (!t || t.stats !== c.stats) {
          // A new connection restarts its counters: start the window again.
          t = { stats: c.stats, samples: [] };
          this.tracks.set(key, t);
        }
        t.samples.push({ atMs: nowMs, shown: c.stats.flipsShown });
        if (t.samples.length > WINDOW + 1) t.samples.shift();
      }
    }
    for (const k of this.tracks.keys()) if (!present.has(k)) this.tracks.delete(k);
  }

  /** Frames per second over the window, or undefined before two samples. */
  rate(key: string): number | undefined {
    const s = this.tracks.get(key)?.samples;
    if (!s || s.length < 2) return undefined;
    const a = s[0]!;
    const b = s[s.length - 1]!;
    const dt = (b.atMs - a.atMs) / 1000;
    return dt > 0 ? Math.max(0, b.shown - a.shown) / dt : undefined;
  }
}
