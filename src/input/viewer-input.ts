// Input from the browser viewer: one JSON message per burst of DOM events on a connector's canvas,
// validated here (the viewer is loopback-only, but a page is still a program we did not write) and
// turned into the router's source events. Positions are in the canvas's displayed CSS pixels with
// its displayed size; the router scales them to the guest's connector.
import { BROWSER_BUTTON_CODES, BROWSER_KEY_CODES } from './browser-keys.js';
import type { SourceEvent } from './router.js';

/** Events per message at most (a browser coalesces pointer moves per frame; 64 is plenty). */
export const MAX_VIEWER_EVENTS = 64;
const MAX_COORD = 1 << 16;

export interface ViewerInputMessage {
  readonly key: string;
  readonly events: SourceEvent[];
}

const num = (v: unknown, lo: number, hi: number): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) && v >= lo && v <= hi ? v : undefined;

/** One message from the page, or undefined if anything in it is malformed (the whole message is dropped). */
export function parseViewerInput(m: unknown): ViewerInputMessage | undefined {
  if (typeof m !== 'object' || m === null) return undefined;
  const { key, events } = m as { key?: unknown; events?: unknown };
  if (
    typeof key !== 'string' ||
    !/^\d{1,5}\/\d{1,9}\/\d$/.test(key) ||
    !Array.isArray(events) ||
    events.length > MAX_VIEWER_EVENTS
  )
    return undefined;
  const out: SourceEvent[] = [];
  for (const e of events as unknown[]) {
    if (typeof e !== 'object' || e === null) return undefined;
    const ev = e as Record<string, unknown>;
    const w = num(ev['w'], 1, MAX_COORD);
    const h = num(ev['h'], 1, MAX_COORD);
    const x = w === undefined ? undefined : num(ev['x'], 0, w);
    const y = h === undefined ? undefined : num(ev['y'], 0, h);
    switch (ev['t']) {
      case 'move':
        if (x === undefined || y === undefined) return undefined;
        out.push({ kind: 'abs', x, y, w: w!, h: h! });
        break;
      case 'button': {
        const b = num(ev['button'], 0, BROWSER_BUTTON_CODES.length - 1);
        if (b === undefined || !Number.isInteger(b) || typeof ev['down'] !== 'boolean') return undefined;
        out.push({ kind: 'key', code: BROWSER_BUTTON_CODES[b]!, pressed: ev['down'] });
        break;
      }
      case 'wheel': {
        const steps = num(ev['steps'], -100, 100);
        if (steps === undefined || !Number.isInteger(steps)) return undefined;
        out.push({ kind: 'wheel', steps });
        break;
      }
      case 'key': {
        if (typeof ev['code'] !== 'string' || typeof ev['down'] !== 'boolean') return undefined;
        const code = BROWSER_KEY_CODES.get(ev['code']);
        if (code !== undefined) out.push({ kind: 'key', code, pressed: ev['down'] });
        break;
      }
      case 'touch': {
        const id = num(ev['id'], 0, 1e9);
        const phase = ev['phase'];
        if (
          x === undefined ||
          y === undefined ||
          id === undefined ||
          !Number.isInteger(id) ||
          (phase !== 'down' && phase !== 'motion' && phase !== 'up')
        )
          return undefined;
        out.push({ kind: 'touch', phase, id, x, y, w: w!, h: h! });
        break;
      }
      case 'touch-frame':
        out.push({ kind: 'touch-frame' });
        break;
      default:
        return undefined;
    }
  }
  return { key, events: out };
}
