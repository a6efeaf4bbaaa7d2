// The KMS output's flip path measured in a process of its own (so its CPU clock counts nothing
// else), on the fake card the KMS tests use: a 1920x1080 XRGB8888 guest framebuffer whose bytes
// are a shared file mapping, as a guest's mapped pages are in the simulator.
//   copy path:      a card without PRIME import, so every flip copies the frame into our buffer;
//   zero-copy path: a card that imports the guest's dma-buf and scans it out as it is;
//   copy code:      copyRegion alone, the rows the copy path writes, for the same bytes.
// Every iteration's CPU time (user + system, this process) is recorded. A separate audit pass
// poisons every buffer the card gave us before each flip and counts the bytes that changed after
// it: the bytes copied per frame, measured rather than assumed (the copy path is its control).
// Arguments: SOURCE_FILE ITERATIONS. Prints one JSON object.
import { closeSync, openSync } from 'node:fs';
import { copyRegion } from '../../src/drm/kms/copy.js';
import { KmsBackend } from '../../src/drm/kms/kms-backend.js';
import type { FlipResult, FramebufferDesc, Output } from '../../src/drm/output.js';
import { native } from '../../src/native/addon.js';
import type { NativeFdPoller } from '../../src/native/fd.js';
import { domId } from '../../src/util/ids.js';
import type { ExportedDmaBuf } from '../../src/xen/platform.js';
import { FakeDrm, mode, type FakeCardOptions } from '../../test/kms/fake-drm.js';

const W = 1920;
const H = 1080;
const PITCH = W * 4;
const FRAME = PITCH * H;
const XR24 = 0x34325258;
const POISON = 0xff; // the source holds bytes <= 0x7f only, so any byte written changes

export interface KmsWorkerResult {
  readonly copyCodeCpuUs: number[];
  readonly copyFlipCpuUs: number[];
  readonly zeroCopyFlipCpuUs: number[];
  readonly copyBytesPerFrame: number[];
  readonly zeroCopyBytesPerFrame: number[];
  readonly copyPath: string;
  readonly zeroCopyPath: string;
}

/** The fake card, remembering every dumb buffer it hands out so the audit can poison them. */
class AuditedDrm extends FakeDrm {
  readonly dumbMemory = new Map<number, Uint8Array>();

  override createDumb(width: number, height: number, bpp: number): { handle: number; pitch: number; size: number } {
    const d = super.createDumb(width, height, bpp);
    this.dumbMemory.set(d.handle, new Uint8Array(this.mapDumb(d.handle, d.size).buffer));
    return d;
  }

  override destroyDumb(handle: number): void {
    this.dumbMemory.delete(handle);
    super.destroyDumb(handle);
  }
}

interface Card {
  readonly dev: AuditedDrm;
  readonly backend: KmsBackend;
  readonly out: Output;
  vblank(): void;
}

function card(opts: Partial<FakeCardOptions>): Card {
  const dev = new AuditedDrm({ connectors: [{ name: 'HDMI-A-1', modes: [mode(W, H, 60, true)] }], ...opts });
  const poller: NativeFdPoller = { start() {}, stop() {}, ref() {}, unref() {}, close() {} };
  const silent = () => undefined;
  const log = {
    info: silent,
    warn: silent,
    error: silent,
    debug: silent,
    trace: silent,
    fatal: silent,
    child: () => log,
  } as never;
  const backend = KmsBackend.open({
    log,
    cardDeps: { open: () => dev, list: () => ['card0'], exists: () => true },
    makePoller: () => poller,
    closeFd: (fd) => dev.dmabufs.delete(fd),
  });
  return {
    dev,
    backend,
    out: backend.output('HDMI-A-1')!,
    vblank() {
      dev.vblank();
      backend.onReadable(0);
    },
  };
}

let nextId = 1;
let nextFd = 500;

function framebuffer(dev: FakeDrm, bytes: Uint8Array, exportable: boolean): FramebufferDesc {
  const exportDmaBuf = (): Promise<ExportedDmaBuf> => {
    const fd = nextFd++;
    dev.dmabufs.set(fd, bytes);
    return Promise.resolve({ fd, size: bytes.length, close: () => (dev.dmabufs.delete(fd), Promise.resolve()) });
  };
  return {
    id: nextId++,
    width: W,
    height: H,
    fourcc: XR24,
    pitch: PITCH,
    offset: 0,
    buffer: { domid: domId(1), size: bytes.length, bytes, ...(exportable ? { exportDmaBuf } : {}) },
  };
}

const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

function cpuUs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return d.user + d.system;
}

/** One flip through the output, to its completion; returns whether it was shown. */
async function flipOnce(c: Card, fb: FramebufferDesc): Promise<boolean> {
  let result: FlipResult | undefined;
  c.out.flip(fb, (r) => (result = r));
  await settle();
  c.vblank();
  await settle();
  return result?.shown ?? false;
}

async function flipPath(
  c: Card,
  fbs: readonly FramebufferDesc[],
  iterations: number,
  audit: number,
): Promise<{ cpu: number[]; bytes: number[] }> {
  await c.out.setConfig({ fb: fbs[0]!, x: 0, y: 0, width: W, height: H });
  for (let i = 0; i < 5; i++) await flipOnce(c, fbs[i % 2]!);
  const cpu: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t = process.cpuUsage();
    const shown = await flipOnce(c, fbs[i % 2]!);
    cpu.push(cpuUs(t));
    if (!shown) throw new Error('a flip was not shown');
  }
  const bytes: number[] = [];
  for (let i = 0; i < audit; i++) {
    for (const m of c.dev.dumbMemory.values()) m.fill(POISON);
    await flipOnce(c, fbs[i % 2]!);
    let changed = 0;
    for (const m of c.dev.dumbMemory.values()) for (let k = 0; k < m.length; k++) if (m[k] !== POISON) changed++;
    bytes.push(changed);
  }
  return { cpu, bytes };
}

async function main(): Promise<void> {
  const [file, iterArg] = process.argv.slice(2);
  const iterations = Number(iterArg);
  if (!file || !(iterations > 0)) throw new Error('usage: kms-worker SOURCE_FILE ITERATIONS');
  const fd = openSync(file, 'r');
  const map = native().mapFd(fd, 0, 2 * FRAME, false);
  closeSync(fd);
  const src = [new Uint8Array(map.buffer, 0, FRAME), new Uint8Array(map.buffer, FRAME, FRAME)];

  // The copy code alone: what the copy path does per frame, two guest frames into two anonymous
  // mappings alternately (the working set of a double-buffered guest on double-buffered scan-out).
  const dst = native().mapAnonymous(2 * FRAME);
  const target = (k: number) => ({
    bytes: new Uint8Array(dst.buffer, k * FRAME, FRAME),
    pitch: PITCH,
    width: W,
    height: H,
  });
  const whole = { x: 0, y: 0, width: W, height: H };
  const source = (k: number) => ({ bytes: src[k]!, limit: FRAME, offset: 0, pitch: PITCH, fourcc: XR24 });
  for (let i = 0; i < 4; i++) copyRegion(source(i % 2), whole, target(i % 2), 0, 0);
  const copyCodeCpuUs: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t = process.cpuUsage();
    const r = copyRegion(source(i % 2), whole, target(i % 2), 0, 0);
    copyCodeCpuUs.push(cpuUs(t));
    if (r.rows !== H) throw new Error(`copyRegion copied ${r.rows} rows`);
  }
  dst.unmap();

  const copyCard = card({ primeImport: false });
  const copyFbs = src.map((b) => framebuffer(copyCard.dev, b, true));
  const copy = await flipPath(copyCard, copyFbs, iterations, 4);
  const copyPath = JSON.stringify(copyCard.out.pathOf(copyFbs[0]!));
  await copyCard.backend.close();

  const zcCard = card({});
  const zcFbs = src.map((b) => framebuffer(zcCard.dev, b, true));
  const zc = await flipPath(zcCard, zcFbs, iterations, 4);
  const zeroCopyPath = JSON.stringify(zcCard.out.pathOf(zcFbs[0]!));
  await zcCard.backend.close();
  map.unmap();

  const result: KmsWorkerResult = {
    copyCodeCpuUs,
    copyFlipCpuUs: copy.cpu,
    zeroCopyFlipCpuUs: zc.cpu,
    copyBytesPerFrame: copy.bytes,
    zeroCopyBytesPerFrame: zc.bytes,
    copyPath,
    zeroCopyPath,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`kms-worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
