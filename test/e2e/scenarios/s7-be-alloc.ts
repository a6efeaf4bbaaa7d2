// 7. be-alloc=1: the backend allocates the display buffers (gntalloc here) and grants them to the
// guest; the guest draws into them and the picture must reach dom0's screen as with guest buffers.
//
// What this found on x86 PV (the only guest type this emulation runs; see the README): the daemon
// allocates, grants and fills the page directory, the guest kernel maps every granted page, and
// then modetest dies of SIGBUS on its first write. An x86 PV guest's page tables may only point at
// frames it owns; Linux xen-drm-front hands the granted pages to mmap with vm_map_pages, Xen refuses
// the PTEs (the failure is not checked on that path), and the VMA has no fault handler. The guest's
// own evidence: "Bad rss-counter state ... MM_FILEPAGES val:<pages>" with exactly the buffer's page
// count when modetest exits. The scenario therefore proves everything up to the guest's mmap, and
// accepts the SIGBUS only with that exact signature; a draw on screen passes it outright.
import type { Scenario } from '../lib/scenario.js';
import {
  checkResourcesIdle,
  checkToolstackNodes,
  daemonLog,
  modetestErrors,
  createGuest,
  DOM0_CONNECTOR,
  setArgs,
  startBackend,
  startModetest,
  waitConnected,
  waitForSmpte,
  type ConnectorSpec,
} from './steps.js';

const CONNECTORS: ConnectorSpec[] = [{ id: 'id0', width: 800, height: 600 }];
const PAGES = Math.ceil((800 * 600 * 4) / 4096);

export const beAlloc: Scenario = {
  id: '7-be-alloc',
  title: 'be-alloc=1: connect and draw with backend-allocated buffers',
  async run(ctx) {
    await startBackend(ctx, { id0: DOM0_CONNECTOR });
    const { guest, domid } = await createGuest(ctx, CONNECTORS, true);
    await checkToolstackNodes(ctx, domid, CONNECTORS, true);
    const conn = await waitConnected(ctx, guest, domid, 1);
    await startModetest(guest, 'mt', setArgs(conn, CONNECTORS));
    // modetest either draws and stays, or dies at once; give it the time a draw takes here
    // (by name: the spawned pipeline's pid lives on in its `sleep` after modetest is gone)
    const ended = await guest.exec(
      'i=0; while [ $i -lt 300 ] && pidof modetest >/dev/null; do sleep 0.1; i=$((i+1)); done; ! pidof modetest >/dev/null',
      60,
    );
    // generous: the guest's kernel is still writing its report of modetest's exit to the console
    const log = await guest.run('cat /tmp/mt.log', 90);
    const dmesg = await guest.run('dmesg', 90);
    if (ended.rc !== 0) {
      await waitForSmpte(ctx, 'be-alloc-smpte', 800, 600, 45);
      const errors = modetestErrors(log);
      ctx.check('guest modetest reports no error', errors.length === 0, errors.slice(0, 2).join(' | '));
      return;
    }
    const rss = /Bad rss-counter state mm:\S+ type:MM_FILEPAGES val:(\d+)/.exec(dmesg);
    if (rss?.[1] === String(PAGES))
      ctx.expectKernelLine(new RegExp(`BUG: Bad rss-counter state mm:\\S+ type:MM_FILEPAGES val:${PAGES}(?!\\d)`));
    ctx.figure('guest modetest with be-alloc buffers', log.trim().split('\n').slice(-1)[0] ?? '');
    ctx.check(
      'the guest created its be-alloc dumb buffer (no DBUF_CREATE or grant-map failure in modetest or the guest kernel)',
      !/failed to create dumb buffer|cannot allocate|Failed to map page|Failed to .* buffer/i.test(`${log}\n${dmesg}`),
      modetestErrors(log).slice(0, 2).join(' | '),
    );
    ctx.check(
      `the guest's SIGBUS is x86 PV's mmap limit: its kernel counted all ${PAGES} granted pages mapped, none reached the page tables`,
      /Bus error/.test(log) && rss?.[1] === String(PAGES),
      `${/Bus error/.test(log) ? 'Bus error' : 'no bus error'}; rss-counter ${rss?.[1] ?? 'not reported'}`,
    );
    const warned = daemonLog(ctx).filter((l) => /x86 PV guest with be-alloc=1/.test(l));
    ctx.check(
      'the daemon warned once that a PV guest cannot mmap be-alloc buffers',
      warned.length === 1,
      `${warned.length} line(s)`,
    );
    ctx.figure(
      'draw checked by screendump',
      'not possible for an x86 PV guest (see the scenario header and the README)',
    );
    // the guest's GEM object died with modetest: every backend-allocated page must be released
    await checkResourcesIdle(ctx, 'after modetest exits');
  },
};
