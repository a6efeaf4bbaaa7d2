// 8. The KMS output alone on dom0's real bochs-drm: test/kms/scenario-kms.ts (owned by the KMS
// output) drives the card with frames from memory — exact mode, 120 event-completed flips, a centred
// smaller screen, DRM master taken by another process and given back, restore on close. At each step
// it writes <step>.json with the pixels it expects and waits for <step>.ack; the harness screendumps,
// compares every sample exactly, then acks. No Xen guest is involved, so this isolates the display half.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pixel } from '../lib/picture.js';
import { sleep, type Scenario } from '../lib/scenario.js';
import { DOM0_CONNECTOR } from './steps.js';

interface StepLine {
  step: string;
  ok: boolean;
  hz?: number;
  expect?: { mode?: string; samples?: { x: number; y: number; rgb: number[] }[] } | string;
}

export const kmsDom0: Scenario = {
  id: '8-kms-dom0',
  title: "KMS output alone on dom0's bochs-drm: test/kms/scenario-kms.ts steps checked by screendump",
  async run(ctx) {
    const script = '/opt/vdispld/test/kms/scenario-kms.ts';
    const ok = await ctx.dom0.exec(`test -f ${script}`);
    if (ok.rc !== 0) ctx.blocked('test/kms/scenario-kms.ts is not in the tree');
    // `vdispld outputs --json` on the real card: the kernel's connector name, its modes, and what
    // bochs-drm can do for the copy path (dumb buffers) — what an operator reads to write --connector.
    const listed = await ctx.dom0.exec('/opt/node/bin/node /opt/vdispld/dist/src/main.js outputs --json', 90);
    ctx.check('vdispld outputs --json exits 0 in dom0', listed.rc === 0, listed.out.slice(0, 200));
    if (listed.rc === 0) {
      const report = JSON.parse(listed.out.slice(listed.out.indexOf('{'))) as {
        cards: {
          path: string;
          driver?: string;
          caps?: { dumbBuffers: boolean };
          connectors?: {
            name: string;
            connection: string;
            modes: { width: number; height: number; preferred: boolean }[];
          }[];
        }[];
      };
      const bochs = report.cards.find((c) => c.driver === 'bochs-drm');
      const conn = bochs?.connectors?.find((k) => k.name === DOM0_CONNECTOR);
      ctx.check(
        `outputs lists bochs-drm with ${DOM0_CONNECTOR} connected`,
        conn?.connection === 'connected',
        JSON.stringify(bochs ?? report).slice(0, 200),
      );
      ctx.check(
        'outputs lists its modes, one preferred, and dumb-buffer support',
        (conn?.modes.length ?? 0) > 1 && conn!.modes.some((m) => m.preferred) && bochs?.caps?.dumbBuffers === true,
        `${conn?.modes.length ?? 0} modes; caps ${JSON.stringify(bochs?.caps)}`,
      );
    }
    const dir = join(ctx.shareDir, 'kms');
    await ctx.dom0.run(
      `mkdir -p /mnt/share/kms; cd /opt/vdispld && (setsid sh -c '/opt/node/bin/node --import tsx test/kms/scenario-kms.ts ` +
        `--connector ${DOM0_CONNECTOR} --handshake /mnt/share/kms > /mnt/share/out/scenario-kms.log 2>&1; ` +
        `echo $? > /mnt/share/kms/exit' < /dev/null > /dev/null 2>&1 &)`,
    );
    const seen = new Set<string>();
    const deadline = performance.now() + 300_000;
    while (!existsSync(join(dir, 'exit')) && performance.now() < deadline) {
      const order = ['exact', 'flips', 'centred', 'master-taken', 'master-back', 'close'];
      const next = order.find((s) => !seen.has(s) && existsSync(join(dir, `${s}.json`)));
      if (!next) {
        await sleep(200);
        continue;
      }
      // the script writes the file in dom0 while we may already see part of it through 9p
      const text = readFileSync(join(dir, `${next}.json`), 'utf8');
      if (!text.endsWith('\n')) {
        await sleep(100);
        continue;
      }
      seen.add(next);
      const line = JSON.parse(text) as StepLine;
      ctx.check(`scenario-kms step ${next}: the script's own check`, line.ok, JSON.stringify(line).slice(0, 200));
      if (line.hz !== undefined) ctx.figure('KMS flips on bochs-drm under TCG (Hz)', line.hz);
      const samples = typeof line.expect === 'object' ? (line.expect.samples ?? []) : [];
      if (samples.length) {
        const img = await ctx.screendump(`kms-${next}`);
        const bad = samples.filter((s) => {
          if (s.x >= img.width || s.y >= img.height) return true;
          const p = pixel(img, s.x, s.y);
          return p[0] !== s.rgb[0] || p[1] !== s.rgb[1] || p[2] !== s.rgb[2];
        });
        ctx.check(
          `scenario-kms step ${next}: dom0's screen has the expected pixels`,
          bad.length === 0,
          bad.length
            ? `screen ${img.width}x${img.height}; ${bad
                .slice(0, 3)
                .map(
                  (s) =>
                    `(${s.x},${s.y}) want ${s.rgb.join(',')} got ${s.x < img.width && s.y < img.height ? pixel(img, s.x, s.y).join(',') : 'outside'}`,
                )
                .join('; ')}`
            : `${samples.length} samples`,
        );
      }
      writeFileSync(join(dir, `${next}.ack`), '');
    }
    const exit = existsSync(join(dir, 'exit')) ? readFileSync(join(dir, 'exit'), 'utf8').trim() : 'none (timed out)';
    ctx.check('scenario-kms exits 0', exit === '0', `exit ${exit}`);
    ctx.check('scenario-kms ran every step', seen.size === 6, [...seen].join(' '));
  },
};
