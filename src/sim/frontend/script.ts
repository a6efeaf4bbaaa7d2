// Scripted guest userspace: exactly the given steps, each one DRM call (one displif request) or
// a raw slot, with the status the guest would see. Names given in a step refer to the buffers
// and framebuffers made by earlier steps, of this script or of earlier ones on the same card.
import { formatByName } from '../../displif/formats.js';
import { SLOT_SIZE, XEN_EINVAL, XEN_ETIMEDOUT } from '../../displif/constants.js';
import type { DrmCard, Framebuffer, GemObject } from './card.js';
import { WAIT_BACK_MS, type CtrlChannel } from './channel.js';
import { drawFrame } from './pattern.js';
import type { ScriptStep, StepResult } from './protocol.js';
import { Errno } from '../../util/errno.js';

const { ENOENT } = Errno;

export interface ScriptTarget {
  readonly card: DrmCard;
  readonly domid: number;
  ctrl(conn: number): CtrlChannel | undefined;
}

/** What scripts named, kept across the scripts run on one card. */
export interface ScriptNames {
  readonly buffers: Map<string, GemObject>;
  readonly fbs: Map<string, Framebuffer>;
}

export function scriptNames(): ScriptNames {
  return { buffers: new Map(), fbs: new Map() };
}

export async function runScript(
  t: ScriptTarget,
  steps: readonly ScriptStep[],
  names: ScriptNames = scriptNames(),
): Promise<StepResult[]> {
  const { buffers, fbs } = names;
  const results: StepResult[] = [];
  for (const step of steps) {
    const started = performance.now();
    const done = (status: number, extra: Partial<StepResult> = {}): void => {
      results.push({ op: step.op, status, ms: performance.now() - started, ...extra });
    };
    switch (step.op) {
      case 'dumb-create': {
        const r = await t.card.dumbCreate(step.width, step.height, step.bpp, step.cookie);
        if (r.obj) buffers.set(step.name, r.obj);
        done(r.status, r.obj ? { pitch: r.obj.pitch } : {});
        break;
      }
      case 'prime-import': {
        const r = await t.card.primeImport(step.size, step.offset ?? 0, step.cookie);
        if (r.obj) buffers.set(step.name, r.obj);
        done(r.status);
        break;
      }
      case 'add-fb': {
        const obj = buffers.get(step.buffer);
        if (!obj) {
          done(-ENOENT);
          break;
        }
        const r = await t.card.addFb(obj, step.width, step.height, step.format, step.cookie);
        if (r.fb) fbs.set(step.name, r.fb);
        done(r.status);
        break;
      }
      case 'rm-fb': {
        const fb = fbs.get(step.fb);
        done(fb ? await t.card.rmFb(fb) : -ENOENT);
        break;
      }
      case 'gem-close': {
        const obj = buffers.get(step.buffer);
        done(obj ? await t.card.gemClose(obj) : -ENOENT);
        break;
      }
      case 'enable': {
        const fb = fbs.get(step.fb);
        done(fb ? await t.card.enable(step.conn, fb, step.x, step.y) : -ENOENT);
        break;
      }
      case 'disable':
        done(await t.card.disable(step.conn));
        break;
      case 'flip': {
        const fb = fbs.get(step.fb);
        if (!fb) {
          done(-ENOENT);
          break;
        }
        const r = await t.card.pageFlip(step.conn, fb);
        done(r.status, { flip: r.outcome });
        break;
      }
      case 'draw': {
        const obj = buffers.get(step.buffer);
        const format = formatByName(step.format);
        const bytes = obj?.shbuf.bytes;
        if (!obj || !format || !bytes) {
          done(-ENOENT);
          break;
        }
        const pitch = obj.pitch || step.width * format.cpp;
        try {
          drawFrame(
            { bytes, offset: obj.offset, pitch, width: step.width, height: step.height, format },
            { frame: step.frame, domid: t.domid, connector: step.connector ?? 0 },
          );
          done(0);
        } catch {
          // The step asked for a picture the buffer cannot hold: that step fails with -EINVAL.
          done(-XEN_EINVAL);
        }
        break;
      }
      case 'raw': {
        const ch = t.ctrl(step.conn);
        if (!ch || step.bytes.length !== SLOT_SIZE) {
          done(-XEN_EINVAL);
          break;
        }
        const status = await ch.request(step.bytes[2] ?? 0, (slot) => {
          // Everything but the id the driver assigns.
          slot.set(Uint8Array.from(step.bytes).subarray(2), 2);
        });
        done(status);
        break;
      }
      case 'sleep':
        await new Promise((r) => setTimeout(r, Math.min(step.ms, 2 * WAIT_BACK_MS)));
        done(0);
        break;
    }
    const last = results[results.length - 1];
    if (last && last.status === -XEN_ETIMEDOUT && !t.card.isPlugged) break;
  }
  return results;
}
