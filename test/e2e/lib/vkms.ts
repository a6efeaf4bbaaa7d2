// dom0's display in the Arm64 lab is vkms, which has no screen to look at: what it composed is read
// through its CRCs (debugfs crtc-0/crc), one CRC-32 of the whole composed frame per vblank. Two
// frames with the same CRC are the same picture, so a guest's picture is checked against a reference
// dom0 draws itself, natively, on the same vkms in the same run.
import { parseConnectors, parseCrtcs } from './modetest.js';
import type { Dom0 } from './dom0.js';

/** vkms's one output as the kernel names it (the same name bochs-drm gives its connector). */
export const VKMS_CONNECTOR = 'Virtual-1';
/** vkms's preferred mode: the guests in this lab use it, so the guest's picture fills the screen. */
export const VKMS_MODE = { width: 1024, height: 768 };

const CRC_DIR = '/sys/kernel/debug/dri/0/crtc-0/crc';

export interface CrcEntry {
  readonly frame: number;
  readonly crc: string;
}

/** Lines of debugfs crc/data: "0x<frame> 0x<crc>", each line ended by a newline and a NUL byte. */
export function parseCrcLines(out: string): CrcEntry[] {
  return [...out.replaceAll('\0', '').matchAll(/^\s*0x([0-9a-f]+)\s+0x([0-9a-f]+)\s*$/gim)].map((m) => ({
    frame: parseInt(m[1]!, 16),
    crc: m[2]!.toLowerCase(),
  }));
}

/**
 * The CRC of a picture that stayed put: the last `n` entries agree (the first frames after the
 * capture starts may still show what was there before). Undefined when they do not.
 */
export function stableCrc(entries: readonly CrcEntry[], n = 3): string | undefined {
  if (entries.length < n) return undefined;
  const tail = entries.slice(-n);
  return tail.every((e) => e.crc === tail[0]!.crc) ? tail[0]!.crc : undefined;
}

/** Reads `frames` CRCs of what vkms shows now (the capture starts when data is opened). */
export async function readCrcs(dom0: Dom0, frames = 6, timeoutS = 60): Promise<CrcEntry[]> {
  const r = await dom0.exec(
    `echo auto > ${CRC_DIR}/control && timeout ${timeoutS} head -n ${frames} ${CRC_DIR}/data`,
    timeoutS + 10,
  );
  return parseCrcLines(r.out);
}

/** Polls the CRC until it is stable and equal to `want` or the time is up; returns the last seen. */
export async function waitForCrc(
  dom0: Dom0,
  want: string,
  timeoutS: number,
): Promise<{ ok: boolean; last: string; seconds: number }> {
  const t0 = performance.now();
  let last = 'none';
  while ((performance.now() - t0) / 1000 < timeoutS) {
    const crc = stableCrc(await readCrcs(dom0, 5));
    last = crc ?? 'unstable';
    if (crc === want) return { ok: true, last, seconds: (performance.now() - t0) / 1000 };
  }
  return { ok: false, last, seconds: (performance.now() - t0) / 1000 };
}

export interface Pipe {
  readonly connector: number;
  readonly crtc: number;
}

/** vkms's Virtual-1 connector and its first CRTC, from modetest in dom0. */
export async function vkmsPipe(dom0: Dom0): Promise<Pipe> {
  const c = parseConnectors(await dom0.run('modetest -M vkms -c', 60)).find((x) => x.name === VKMS_CONNECTOR);
  const crtc = parseCrtcs(await dom0.run('modetest -M vkms -p', 60))[0];
  if (!c || crtc === undefined) throw new Error(`vkms: no ${VKMS_CONNECTOR} connector or no CRTC`);
  return { connector: c.id, crtc };
}

/**
 * dom0 itself draws modetest's `pattern` on vkms (as DRM master), then reads the CRC of it and stops
 * modetest again: the reference a guest's picture is compared with.
 */
export async function nativeCrc(
  dom0: Dom0,
  pipe: Pipe,
  pattern: 'smpte' | 'plain',
  tag: string,
): Promise<string | undefined> {
  const { width, height } = VKMS_MODE;
  // (modetest's stdout is block-buffered into the file: the CRC itself says when the picture is up)
  await dom0.run(
    `(sleep 3600 | modetest -M vkms -s ${pipe.connector}@${pipe.crtc}:${width}x${height} -F ${pattern},${pattern} ` +
      `> /mnt/share/out/dom0-modetest-${tag}.log 2>&1 &) ; sleep 2`,
    60,
  );
  let crc: string | undefined;
  for (let i = 0; i < 8 && crc === undefined; i++) crc = stableCrc(await readCrcs(dom0, 5));
  await dom0.run(
    'killall modetest; i=0; while pidof modetest >/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; ! pidof modetest >/dev/null',
    30,
  );
  return crc;
}
