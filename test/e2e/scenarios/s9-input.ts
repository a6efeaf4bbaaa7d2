// 9. Input: dom0's devices reach the guest with focus through kbdif. dom0 makes a keyboard, an
// absolute pointer and a multi-touch screen with uinput (image/e2e-input.c); vdispld reads them
// (`--input-device`, grabbed) and serves two guests' vkbd devices (`vkb = [ 'backend-type=linux,
// unique-id=...' ]` beside a vdispl connector of the same unique-id); each guest's xen-kbdfront
// gives it a keyboard, a pointer and a touch screen whose axes are its connector's resolution, and
// the guest reads back from /dev/input/event* exactly the key codes, pointer positions (scaled to
// its connector) and touch contacts it was sent. The switch key combination moves focus; keys held
// when it moves are released in the guest that had them; the other guest gets nothing. Destroying
// the focused guest while input streams to it leaves the daemon's mappings as they were before it
// existed, and the other guest carries on.
import { hasCommand } from '../lib/daemon.js';
import type { Guest } from '../lib/guest.js';
import { keyTrace, parseRecording, pointerTrace, touchTrace, type RecordedDevice } from '../lib/evdev-trace.js';
import { sleep, type Ctx, type Scenario } from '../lib/scenario.js';
import { waitValues, XenbusState } from '../lib/xs.js';
import { createGuest, daemonLog, startBackend, type ConnectorSpec } from './steps.js';

const FIFO = '/tmp/e2e-input.fifo';
const KBD = 'Xen Virtual Keyboard';
const PTR = 'Xen Virtual Pointer';
const MT = 'Xen Virtual Multi-touch';

const KEY = { leftctrl: 29, leftalt: 56, f12: 88, a: 30, b: 48, c: 46, x: 45, z: 44, leftshift: 42 } as const;
const BTN_LEFT = 0x110;
const BTN_TOUCH = 0x14a;
/** dom0's pointer axes are 0..32767, its touch screen's 0..4095 (e2e-input.c). */
const PTR_SPAN = 32768;
const MT_SPAN = 4096;

interface InputGuest {
  guest: Guest;
  domid: number;
  conn: ConnectorSpec;
}

const vinputBackend = (domid: number): string => `/local/domain/0/backend/vinput/${domid}/0`;
const vkbdFrontend = (domid: number): string => `/local/domain/${domid}/device/vkbd/0`;

/** Lines for e2e-input's FIFO: one input_event each, SYN_REPORT where a frame ends. */
class Script {
  readonly lines: string[] = [];
  private ev(dev: 'k' | 'p' | 't', type: number, code: number, value: number): this {
    this.lines.push(`${dev} ${type} ${code} ${value}`);
    return this;
  }
  private syn(dev: 'k' | 'p' | 't'): this {
    return this.ev(dev, 0, 0, 0);
  }
  key(code: number, value: 0 | 1): this {
    return this.ev('k', 1, code, value).syn('k');
  }
  tap(code: number): this {
    return this.key(code, 1).key(code, 0);
  }
  /** The daemon's default switch combination: leftctrl+leftalt+f12, pressed and released. */
  switchFocus(): this {
    return this.key(KEY.leftctrl, 1)
      .key(KEY.leftalt, 1)
      .key(KEY.f12, 1)
      .key(KEY.f12, 0)
      .key(KEY.leftalt, 0)
      .key(KEY.leftctrl, 0);
  }
  pointer(x: number, y: number): this {
    return this.ev('p', 3, 0, x).ev('p', 3, 1, y).syn('p');
  }
  button(code: number, value: 0 | 1): this {
    return this.ev('p', 1, code, value).syn('p');
  }
  /** One touch frame: each slot down/moved to (x, y), or lifted (null). */
  touch(changes: Record<number, [number, number] | null>, tracking: Map<number, number>): this {
    let fingers = [...tracking.keys()].length;
    for (const [s, pos] of Object.entries(changes)) {
      const slot = Number(s);
      this.ev('t', 3, 0x2f, slot);
      if (pos === null) {
        this.ev('t', 3, 0x39, -1);
        tracking.delete(slot);
      } else {
        if (!tracking.has(slot)) {
          tracking.set(slot, 100 + slot);
          this.ev('t', 3, 0x39, 100 + slot);
        }
        this.ev('t', 3, 0x35, pos[0]).ev('t', 3, 0x36, pos[1]);
      }
    }
    const now = tracking.size;
    if ((fingers === 0) !== (now === 0)) this.ev('t', 1, BTN_TOUCH, now > 0 ? 1 : 0);
    fingers = now;
    return this.syn('t');
  }
  sleep(ms: number): this {
    this.lines.push(`s ${ms}`);
    return this;
  }
}

/** Where the router puts a dom0 position of `span` on a connector axis of `size` pixels. */
const scale = (v: number, span: number, size: number): number => Math.min(size - 1, Math.floor((v * size) / span));

async function inject(ctx: Ctx, s: Script, what: string): Promise<void> {
  const file = `/tmp/batch-${what}.txt`;
  await ctx.dom0.run(`cat > ${file} <<'EOF'\n${s.lines.join('\n')}\nEOF\ncat ${file} > ${FIFO}`, 60);
}

/**
 * The guest's recording once the recorder has opened its devices and, with `done`, once its
 * keyboard shows that key event (the batch's last), then a moment more for the other devices.
 */
async function recording(guest: Guest, done?: string): Promise<Map<string, RecordedDevice>> {
  for (let i = 0; i < 60; i++) {
    const text = await guest.log('rec');
    const kbd = parseRecording(text).get(KBD);
    if (/^recording \d+ devices$/m.test(text) && (done === undefined || (kbd && keyTrace(kbd.events).includes(done)))) {
      if (done === undefined) return parseRecording(text);
      await sleep(1000);
      return parseRecording(await guest.log('rec'));
    }
    await sleep(500);
  }
  return parseRecording(await guest.log('rec'));
}

function traces(rec: Map<string, RecordedDevice>): { keys: string[]; ptr: string[]; touch: string[] } {
  return {
    keys: keyTrace(rec.get(KBD)?.events ?? []),
    ptr: pointerTrace(rec.get(PTR)?.events ?? []),
    touch: touchTrace(rec.get(MT)?.events ?? []),
  };
}

function same(ctx: Ctx, name: string, got: string[], want: string[]): boolean {
  return ctx.check(name, JSON.stringify(got) === JSON.stringify(want), `got [${got.join(' | ')}]`);
}

async function bringUp(ctx: Ctx, name: string, conn: ConnectorSpec): Promise<InputGuest> {
  const { guest, domid } = await createGuest(ctx, [conn], false, name, 'pv', `backend-type=linux,unique-id=${conn.id}`);
  await guest.ready(90);
  const s = await waitValues(
    ctx.dom0,
    {
      [`${vinputBackend(domid)}/state`]: [String(XenbusState.Connected)],
      [`${vkbdFrontend(domid)}/state`]: [String(XenbusState.Connected)],
    },
    90,
  );
  ctx.mark(`${name}_vkbd_connected`);
  ctx.check(`${name}: vkbd backend and xen-kbdfront both Connected (4)`, true, `${s.toFixed(2)} s in dom0`);
  const req = await ctx.dom0.run(
    `for k in request-abs-pointer request-multi-touch; do echo "$k=$(xenstore-read ${vkbdFrontend(domid)}/$k 2>/dev/null)"; done; ` +
      `for k in width height multi-touch-width multi-touch-height; do echo "$k=$(xenstore-read ${vinputBackend(domid)}/$k 2>/dev/null)"; done`,
    30,
  );
  const kv = new Map([...req.matchAll(/^([a-z-]+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
  const want = {
    'request-abs-pointer': '1',
    'request-multi-touch': '1',
    width: String(conn.width),
    height: String(conn.height),
    'multi-touch-width': String(conn.width),
    'multi-touch-height': String(conn.height),
  };
  ctx.check(
    `${name}: backend offers ${conn.width}x${conn.height} (its connector) and the frontend asks for the absolute pointer and multi-touch`,
    Object.entries(want).every(([k, v]) => kv.get(k) === v),
    req.trim().replace(/\n/g, ' '),
  );
  // evdev is loaded by the guest's init; the devices xen-kbdfront registered at probe get their nodes then
  const ls = await guest.exec(
    'i=0; until [ "$(ls /dev/input/ 2>/dev/null | grep -c event)" -ge 3 ] || [ $i -ge 150 ]; do sleep 0.2; i=$((i+1)); done; cat /sys/class/input/*/name 2>/dev/null',
    60,
  );
  ctx.require(
    `${name}: xen-kbdfront registered a keyboard, a pointer and a multi-touch device`,
    [KBD, PTR, MT].every((n) => ls.out.includes(n)),
    ls.out.trim().replace(/\n/g, ', '),
  );
  await guest.spawn('rec', 'e2e-input record 1800');
  const rec = await recording(guest);
  const ptr = rec.get(PTR);
  const mt = rec.get(MT);
  const axes = `pointer x ${JSON.stringify(ptr?.abs.get(0))} y ${JSON.stringify(ptr?.abs.get(1))}; touch x ${JSON.stringify(mt?.abs.get(0x35))} y ${JSON.stringify(mt?.abs.get(0x36))}`;
  // xen-kbdfront sets each axis to 0..size (input_set_abs_params(ptr, ABS_X, 0, width))
  ctx.check(
    `${name}: the guest's pointer and touch axes are its connector's ${conn.width}x${conn.height}`,
    JSON.stringify(ptr?.abs.get(0)) === JSON.stringify([0, conn.width]) &&
      JSON.stringify(ptr?.abs.get(1)) === JSON.stringify([0, conn.height]) &&
      JSON.stringify(mt?.abs.get(0x35)) === JSON.stringify([0, conn.width]) &&
      JSON.stringify(mt?.abs.get(0x36)) === JSON.stringify([0, conn.height]),
    axes,
  );
  return { guest, domid, conn };
}

async function daemonStatus(ctx: Ctx): Promise<Record<string, unknown> | undefined> {
  if (!hasCommand('status')) return undefined;
  const r = await ctx.dom0.exec('/opt/node/bin/node /opt/vdispld/dist/src/main.js status --json', 90);
  return r.rc === 0 ? (JSON.parse(r.out) as Record<string, unknown>) : undefined;
}

function mappings(st: Record<string, unknown> | undefined): string {
  const r = (st?.resources ?? {}) as Record<string, unknown>;
  return `grantMappings=${String(r.grantMappings)} mappedPages=${String(r.mappedPages)}`;
}

export const input: Scenario = {
  id: '9-input',
  title:
    "input: dom0's uinput keyboard, pointer and touch screen reach the focused guest's xen-kbdfront exactly, scaled to its connector; focus switch, release of held keys, destroy mid-input",
  async run(ctx) {
    const tool = await ctx.dom0.exec('command -v e2e-input && modprobe uinput && modprobe evdev', 30);
    if (tool.rc !== 0) ctx.blocked(`the image has no e2e-input or uinput: ${tool.out.trim()}`);
    await ctx.dom0.run(
      `rm -f ${FIFO}; mkfifo ${FIFO}; setsid e2e-input make ${FIFO} > /mnt/share/out/e2e-input.log 2>&1 < /dev/null & ` +
        'i=0; until grep -q ready /mnt/share/out/e2e-input.log || [ $i -ge 100 ]; do sleep 0.1; i=$((i+1)); done; cat /mnt/share/out/e2e-input.log',
      30,
    );
    const made = await ctx.dom0.run('cat /mnt/share/out/e2e-input.log', 10);
    const nodes = Object.fromEntries(
      [...made.matchAll(/^([kpt]) (\/dev\/input\/event\d+)$/gm)].map((m) => [m[1], m[2]]),
    );
    ctx.require(
      'dom0: uinput made a keyboard, an absolute pointer and a touch screen',
      nodes.k !== undefined && nodes.p !== undefined && nodes.t !== undefined,
      made.trim().replace(/\n/g, ' '),
    );
    await startBackend(
      ctx,
      {},
      [nodes.k!, nodes.p!, nodes.t!].flatMap((n) => ['--input-device', n]),
    );
    const opened = daemonLog(ctx).filter((l) => /input: (keyboard|touchscreen)/.test(l));
    ctx.check(
      'the daemon opened the three devices (keyboard, and the pointer and touch screen as absolute touch devices)',
      opened.length === 3,
      opened.map((l) => l.slice(0, 160)).join(' | '),
    );

    const a = await bringUp(ctx, 'in-a', { id: 'ina0', width: 800, height: 600 });
    const withA = await daemonStatus(ctx);
    const b = await bringUp(ctx, 'in-b', { id: 'inb0', width: 1024, height: 768 });

    // 1: nobody has focus; the switch combination gives it to the first guest (lowest domid).
    const t1 = new Map<number, number>();
    const s1 = new Script()
      .tap(KEY.a) // before focus: nobody's
      .switchFocus()
      .tap(KEY.a)
      .key(KEY.leftshift, 1)
      .tap(KEY.b)
      .key(KEY.leftshift, 0)
      .pointer(16384, 16384)
      .pointer(0, 32767)
      .pointer(32767, 0)
      .pointer(8192, 24576)
      .button(BTN_LEFT, 1)
      .button(BTN_LEFT, 0)
      .touch({ 0: [1024, 1024] }, t1)
      .touch({ 1: [3072, 2048] }, t1)
      .touch({ 0: [2048, 3072] }, t1)
      .touch({ 0: null }, t1)
      .touch({ 1: null }, t1)
      .tap(KEY.z);
    const t0 = performance.now();
    await inject(ctx, s1, '1');
    const ra = await recording(a.guest, `${KEY.z}:0`);
    ctx.figure(
      'batch 1 injected in dom0 -> read back in the guest (s, including the harness polling)',
      ((performance.now() - t0) / 1000).toFixed(1),
    );
    const A = a.conn;
    const pa = (x: number, y: number): string => `pos ${scale(x, PTR_SPAN, A.width)},${scale(y, PTR_SPAN, A.height)}`;
    const ta = (x: number, y: number): string => `${scale(x, MT_SPAN, A.width)},${scale(y, MT_SPAN, A.height)}`;
    const keysA1 = [
      `${KEY.a}:1`,
      `${KEY.a}:0`,
      `${KEY.leftshift}:1`,
      `${KEY.b}:1`,
      `${KEY.b}:0`,
      `${KEY.leftshift}:0`,
      `${KEY.z}:1`,
      `${KEY.z}:0`,
    ];
    const ptrA = [
      pa(16384, 16384),
      pa(0, 32767),
      pa(32767, 0),
      pa(8192, 24576),
      `key ${BTN_LEFT}:1`,
      `key ${BTN_LEFT}:0`,
    ];
    const touchA = [
      `0:${ta(1024, 1024)}`,
      `0:${ta(1024, 1024)} 1:${ta(3072, 2048)}`,
      `0:${ta(2048, 3072)} 1:${ta(3072, 2048)}`,
      `1:${ta(3072, 2048)}`,
      '',
    ];
    let trA = traces(ra);
    same(
      ctx,
      'in-a: exactly the key codes typed after the switch (not the one before, not the switch keys)',
      trA.keys,
      keysA1,
    );
    same(
      ctx,
      `in-a: the pointer's positions scaled to 800x600 (${ptrA.slice(0, 4).join(', ')}) and its button`,
      trA.ptr,
      ptrA,
    );
    same(ctx, 'in-a: the touch frames, two contacts, scaled to 800x600', trA.touch, touchA);
    let trB = traces(await recording(b.guest));
    same(ctx, 'in-b: nothing while in-a has focus', [...trB.keys, ...trB.ptr, ...trB.touch], []);

    // 2: a key held in in-a when focus moves to in-b is released in in-a, and only there.
    const t2 = new Map<number, number>();
    const s2 = new Script()
      .key(KEY.a, 1)
      .switchFocus()
      .key(KEY.a, 0)
      .tap(KEY.c)
      .pointer(16384, 8192)
      .touch({ 0: [1024, 1024] }, t2)
      .touch({ 0: null }, t2)
      .tap(KEY.z);
    await inject(ctx, s2, '2');
    const rb = await recording(b.guest, `${KEY.z}:0`);
    const B = b.conn;
    trB = traces(rb);
    same(ctx, 'in-b: exactly its keys (no release of a key pressed in in-a, no switch keys)', trB.keys, [
      `${KEY.c}:1`,
      `${KEY.c}:0`,
      `${KEY.z}:1`,
      `${KEY.z}:0`,
    ]);
    same(ctx, 'in-b: the pointer scaled to its own 1024x768', trB.ptr, [
      `pos ${scale(16384, PTR_SPAN, B.width)},${scale(8192, PTR_SPAN, B.height)}`,
    ]);
    same(ctx, 'in-b: the touch frame scaled to 1024x768', trB.touch, [
      `0:${scale(1024, MT_SPAN, B.width)},${scale(1024, MT_SPAN, B.height)}`,
      '',
    ]);
    trA = traces(await recording(a.guest));
    same(
      ctx,
      'in-a: the keys it held when focus moved (a, and the switch keys pressed while it had focus) released there, nothing after',
      trA.keys.slice(keysA1.length),
      [`${KEY.a}:1`, `${KEY.leftctrl}:1`, `${KEY.leftalt}:1`, `${KEY.a}:0`, `${KEY.leftctrl}:0`, `${KEY.leftalt}:0`],
    );
    same(
      ctx,
      'in-a: no pointer or touch after focus left',
      [...trA.ptr.slice(ptrA.length), ...trA.touch.slice(touchA.length)],
      [],
    );

    // 3: in-b destroyed while pointer motion streams to it; in-a carries on, nothing of in-b is left.
    const s3 = new Script();
    for (let i = 0; i < 400; i++) s3.pointer(1000 + 70 * i, 1000 + 50 * i).sleep(20);
    await ctx.dom0.run(
      `cat > /tmp/batch-3.txt <<'EOF'\n${s3.lines.join('\n')}\nEOF\n(cat /tmp/batch-3.txt > ${FIFO} &)`,
      30,
    );
    await sleep(2000);
    const d = await ctx.dom0.exec('xl destroy in-b', 90);
    ctx.check('xl destroy in-b while input streams to it', d.rc === 0, d.out.trim());
    const gone = await ctx.dom0.exec(
      `i=0; while xenstore-exists ${vinputBackend(b.domid)} 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; xenstore-exists ${vinputBackend(b.domid)} && echo still there || echo removed`,
      60,
    );
    ctx.check("in-b's vkbd backend directory is removed", gone.out.includes('removed'), gone.out.trim());
    await ctx.dom0.run(
      `i=0; until grep -q 'batch 3 done' /mnt/share/out/e2e-input.log || [ $i -ge 300 ]; do sleep 0.1; i=$((i+1)); done`,
      60,
    );
    const s4 = new Script().switchFocus().tap(KEY.x);
    await inject(ctx, s4, '4');
    trA = traces(await recording(a.guest, `${KEY.x}:0`));
    same(
      ctx,
      'in-a: after in-b is gone the switch gives it focus again and it gets its key',
      trA.keys.slice(keysA1.length + 6),
      [`${KEY.x}:1`, `${KEY.x}:0`],
    );
    const after = await daemonStatus(ctx);
    if (withA === undefined || after === undefined)
      ctx.figure('mappings after in-b is gone', 'not checked: no `vdispld status --json`');
    else
      ctx.check(
        "the daemon's grant mappings are what they were before in-b existed",
        mappings(after) === mappings(withA),
        `before in-b: ${mappings(withA)}; after: ${mappings(after)}`,
      );
    const vk = (after?.input as { vkbd?: { domid: number }[] } | undefined)?.vkbd;
    if (vk !== undefined)
      ctx.check(
        "vdispld status lists only in-a's vkbd",
        vk.length === 1 && vk[0]?.domid === a.domid,
        JSON.stringify(vk).slice(0, 300),
      );
    const warn = daemonLog(ctx).filter((l) => /broke the kbdif|vkbd.*(fail|error)/i.test(l));
    ctx.check('no vkbd failure in the daemon log', warn.length === 0, warn.slice(0, 2).join(' | '));
  },
};
