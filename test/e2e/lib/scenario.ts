// The scenario framework: each scenario boots its own machine, does its work through a Ctx, and
// records checks. A scenario passes only if it ran to the end and every check held; it is `blocked`
// (never silently passed) when something it needs does not exist yet, e.g. the daemon's `run`, or
// when a check could not be judged on this host (its own baseline in the same run misses the bar).
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scanKernelLogs, type CrashSource } from './crash-scan.js';
import { Daemon } from './daemon.js';
import { Dom0 } from './dom0.js';
import { Guest, type GuestConfig } from './guest.js';
import type { Arm64Lab } from './arm64-image.js';
import { REPO_DIR, type Image } from './image.js';
import { Machine } from './machine.js';
import { readPpm, writePng, type Rgb } from './picture.js';

export type Outcome = 'pass' | 'fail' | 'blocked';

export class Blocked extends Error {}

/** A check this host could not judge, and why (e.g. the idle baseline already misses its bar). */
export interface Unjudged {
  name: string;
  why: string;
}

/** The outcome of a scenario that ran to the end: any failed check fails it; else any unjudged one blocks it. */
export function verdict(
  checks: readonly Check[],
  unjudged: readonly Unjudged[],
): { outcome: Outcome; reason?: string } {
  const failed = checks.filter((c) => !c.ok);
  if (failed.length > 0) return { outcome: 'fail', reason: `failed checks: ${failed.map((c) => c.name).join('; ')}` };
  if (unjudged.length > 0)
    return {
      outcome: 'blocked',
      reason: `not judged on this host: ${unjudged.map((u) => `${u.name} (${u.why})`).join('; ')}`,
    };
  return { outcome: 'pass' };
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface Scenario {
  id: string;
  title: string;
  /** Xen command-line options the scenario's machine boots with (x86), beyond the lab's own. */
  xenArgs?: string[];
  /** dom0 kernel command-line options (the Arm64 lab), beyond the lab's own, e.g. a vkms parameter. */
  dom0Args?: string[];
  /** Runs the scenario. Throwing fails it (Blocked: blocks it); failed checks fail it at the end. */
  run(ctx: Ctx): Promise<void>;
}

export interface Environment {
  /** The x86 lab's image or the Arm64 lab's files. */
  image: Image | Arm64Lab;
  nodeDir: string;
  /** Whether `vdispld run` exists in the build; when not, why. */
  daemon: { ok: boolean; why: string };
  /** Extra arguments for every `vdispld run` (from --daemon-args; printed when used). */
  daemonArgs: string[];
  /** NODE_OPTIONS for the daemon (from --node-options, e.g. --cpu-prof); printed when used. */
  nodeOptions: string;
  echo: boolean;
  /** Explicit, loud overrides (e.g. the flip-rate floor) — printed with the results. */
  flipMinHz: number;
}

export interface ScenarioResult {
  id: string;
  title: string;
  outcome: Outcome;
  seconds: number;
  reason?: string;
  checks: Check[];
  marks: Record<string, number>;
  dir: string;
  figures: Record<string, number | string>;
}

export class Ctx {
  readonly checks: Check[] = [];
  readonly unjudged: Unjudged[] = [];
  readonly marks: Record<string, number> = {};
  readonly figures: Record<string, number | string> = {};
  readonly guests: Guest[] = [];
  daemon: Daemon | undefined;
  daemonStarted = false;
  /** Kernel-log lines a scenario provokes on purpose and has asserted itself (see expectKernelLine). */
  readonly expectedKernelLines: RegExp[] = [];
  private shots = 0;

  constructor(
    readonly env: Environment,
    readonly machine: Machine,
    readonly dom0: Dom0,
    readonly dir: string,
    readonly shareDir: string,
  ) {}

  get arch(): 'x86' | 'arm64' {
    return 'kind' in this.env.image ? 'arm64' : 'x86';
  }

  /** Records a check; a false one fails the scenario at the end but lets it go on collecting. */
  check(name: string, ok: boolean, detail = ''): boolean {
    this.checks.push({ name, ok, detail });
    console.log(`    ${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
    return ok;
  }

  /**
   * A check this host cannot judge: its baseline measured in the same run already misses the bar.
   * The scenario goes on; if every other check holds it ends `blocked` with this reason, not `pass`.
   */
  notJudged(name: string, why: string): void {
    this.unjudged.push({ name, why });
    console.log(`    ---- ${name} — not judged: ${why}`);
  }

  /** A check the rest of the scenario depends on: a false one stops it. */
  require(name: string, ok: boolean, detail = ''): void {
    if (!this.check(name, ok, detail)) throw new Error(`required check failed: ${name}`);
  }

  blocked(reason: string): never {
    throw new Blocked(reason);
  }

  /** Host seconds since QEMU started; a repeated name gets #2, #3, ... */
  mark(name: string): void {
    let key = name;
    for (let i = 2; key in this.marks; i++) key = `${name}#${i}`;
    this.marks[key] = Number(this.machine.console.now().toFixed(2));
  }

  /**
   * A kernel-log line the crash scan must not count, because the scenario provokes it and checks it
   * with its own, stricter assertion (scenario 7: a PV guest's rss-counter report on SIGBUS).
   */
  expectKernelLine(re: RegExp): void {
    this.expectedKernelLines.push(re);
  }

  figure(name: string, value: number | string): void {
    this.figures[name] = value;
    console.log(`    figure ${name} = ${value}`);
  }

  guest(config: GuestConfig): Guest {
    const g = new Guest(this.dom0, { arch: this.arch, ...config });
    this.guests.push(g);
    return g;
  }

  /** The daemon's service wrapper (reads systemd/vdispld.service); only when `run` exists. */
  service(): Daemon {
    if (!this.env.daemon.ok) this.blocked(`needs the daemon: ${this.env.daemon.why}`);
    this.daemon ??= new Daemon(this.dom0, this.shareDir, undefined, this.env.nodeOptions);
    return this.daemon;
  }

  /** QEMU's screendump of dom0's display, kept as PPM and PNG in the scenario folder. */
  async screendump(name: string): Promise<Rgb> {
    const base = join(this.dir, `screen-${String(++this.shots).padStart(2, '0')}-${name}`);
    await this.machine.screendump(`${base}.ppm`);
    const img = readPpm(`${base}.ppm`);
    writePng(`${base}.png`, img);
    return img;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Copies what dom0 and the guests logged into the scenario folder; never throws. */
async function collectLogs(ctx: Ctx): Promise<void> {
  const step = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
    try {
      await fn();
    } catch (e) {
      writeFileSync(join(ctx.dir, `collect-${what}.error.txt`), String(e));
    }
  };
  if (!ctx.machine.running) return;
  const guestDmesg: CrashSource[] = [];
  for (const g of ctx.guests) {
    await step(`guest-${g.name}-dmesg`, async () => {
      const r = await g.exec('dmesg', 20);
      if (r.rc !== 0) return; // destroyed: its console log below still has what it printed
      writeFileSync(join(ctx.dir, `guest-${g.name}-dmesg.log`), r.out);
      guestDmesg.push({ name: `guest ${g.name} dmesg`, text: r.out });
    });
    await step(`guest-${g.name}-programs`, async () => {
      // what the guest's background programs (modetest) printed
      const r = await g.exec('for f in /tmp/*.log; do [ -e "$f" ] && { echo "==== $f"; cat "$f"; }; done; true', 20);
      if (r.rc === 0 && r.out.trim()) writeFileSync(join(ctx.dir, `guest-${g.name}-programs.log`), r.out);
    });
  }
  await step('dom0', () =>
    ctx.dom0.exec(
      'O=/mnt/share/out; mkdir -p $O; cp /var/log/xen/console/*.log /var/log/xen/*.log $O/ 2>/dev/null; ' +
        'xl dmesg > $O/xen-dmesg.log 2>&1; dmesg > $O/dom0-dmesg.log; xl list > $O/xl-list.txt 2>&1; ' +
        'xenstore-ls -f > $O/xenstore.txt 2>&1; ps -eo pid,stat,etime,args > $O/dom0-ps.txt; true',
      60,
    ),
  );
  await step('crashes', () => {
    // Any process that crashed, and any kernel BUG or WARN, in dom0 or a guest makes the run
    // untrustworthy, whoever is to blame: dom0's dmesg, each live guest's dmesg, and every guest's
    // console (a destroyed guest's only record; its kernel prints warnings there, see guest.ts).
    const out = join(ctx.shareDir, 'out');
    const dom0Dmesg = join(out, 'dom0-dmesg.log');
    const consoles = readdirSync(out)
      .filter((f) => /^guest-.*\.log$/.test(f))
      .map((f) => ({ name: `${f.replace(/\.log$/, '')} console`, text: readFileSync(join(out, f), 'utf8') }));
    if (!existsSync(dom0Dmesg)) {
      ctx.check(
        'no process crashed and no kernel BUG or WARNING in dom0 or a guest (kernel logs)',
        false,
        "dom0's dmesg was not collected",
      );
      return Promise.resolve();
    }
    const scan = scanKernelLogs(
      [{ name: 'dom0 dmesg', text: readFileSync(dom0Dmesg, 'utf8') }, ...guestDmesg, ...consoles],
      ctx.expectedKernelLines,
    );
    // a known guest-kernel bug the teardown provokes (crash-scan.ts): shown, not failed
    if (scan.known.length)
      ctx.figure('known guest-kernel warnings (xen-drm-front fini, crash-scan.ts)', scan.known.length);
    ctx.check(
      'no process crashed and no kernel BUG or WARNING in dom0 or a guest (kernel logs)',
      scan.crashes.length === 0,
      scan.crashes.slice(0, 3).join(' | '),
    );
    return Promise.resolve();
  });
}

export async function runScenario(s: Scenario, env: Environment, runsDir: string): Promise<ScenarioResult> {
  const dir = join(runsDir, s.id);
  const shareDir = join(dir, 'share');
  mkdirSync(join(shareDir, 'out'), { recursive: true });
  const t0 = performance.now();
  const result: ScenarioResult = {
    id: s.id,
    title: s.title,
    outcome: 'fail',
    seconds: 0,
    checks: [],
    marks: {},
    dir,
    figures: {},
  };
  let machine: Machine | undefined;
  let ctx: Ctx | undefined;
  try {
    machine = await Machine.start({
      image: env.image,
      runDir: dir,
      echo: env.echo,
      xenArgs: s.xenArgs,
      dom0Args: s.dom0Args,
      shares: {
        share: { path: shareDir, readonly: false },
        repo: { path: REPO_DIR, readonly: true },
        node: { path: env.nodeDir, readonly: true },
        // the Arm64 lab: the addon built for arm64 (dom0 binds it over the tree's) and the guest's files
        ...('kind' in env.image
          ? { native: { path: env.image.addonDir, readonly: true }, lab: { path: env.image.dir, readonly: true } }
          : {}),
      },
    });
    const dom0 = new Dom0(machine, shareDir);
    ctx = new Ctx(env, machine, dom0, dir, shareDir);
    // dom0 has taken 241 s to its agent at host load 11 (16-160 s usually)
    await dom0.ready(420_000);
    ctx.mark('dom0_ready');
    await s.run(ctx);
    if (ctx.daemonStarted && ctx.daemon) {
      const st = await ctx.daemon.status();
      ctx.check('daemon still running at the end (no crash)', st.running, st.detail);
      const stop = await ctx.daemon.stop();
      ctx.check('daemon stops cleanly on SIGTERM within TimeoutStopSec', stop.clean, stop.detail);
    }
    const v = verdict(ctx.checks, ctx.unjudged);
    result.outcome = v.outcome;
    if (v.reason !== undefined) result.reason = v.reason;
  } catch (e) {
    const err = e as Error;
    const failedChecks = ctx?.checks.filter((c) => !c.ok) ?? [];
    if (err instanceof Blocked && failedChecks.length === 0) {
      result.outcome = 'blocked';
      result.reason = err.message;
    } else {
      result.outcome = 'fail';
      result.reason =
        err instanceof Blocked
          ? `${failedChecks.map((c) => c.name).join('; ')} (then blocked: ${err.message})`
          : err.message;
    }
  } finally {
    if (ctx) {
      const before = ctx.checks.length;
      await collectLogs(ctx);
      const late = ctx.checks.slice(before).filter((c) => !c.ok);
      if (late.length) {
        const names = late.map((c) => c.name).join('; ');
        result.reason =
          result.outcome === 'fail'
            ? `${result.reason ?? ''}; ${names}`
            : `failed checks: ${names}${result.reason ? ` (was: ${result.reason})` : ''}`;
        result.outcome = 'fail';
      }
    }
    if (machine) {
      // Nothing in dom0 needs a clean shutdown: its disk is a snapshot and the share is written
      // through. Give the agent a moment to stop, then quit QEMU.
      if (machine.running && ctx) ctx.dom0.stop();
      await machine.close(2_000);
    }
    if (ctx) {
      result.checks = ctx.checks;
      result.marks = ctx.marks;
      result.figures = ctx.figures;
    }
    result.seconds = Number(((performance.now() - t0) / 1000).toFixed(1));
    flattenShare(shareDir, dir);
    writeFileSync(join(dir, 'result.json'), JSON.stringify(result, null, 1) + '\n');
  }
  return result;
}

/** Puts share/out/* (daemon, guest console, Xen logs) beside the serial log: one folder to read. */
function flattenShare(shareDir: string, dir: string): void {
  const out = join(shareDir, 'out');
  if (!existsSync(out)) return;
  for (const f of readdirSync(out)) {
    try {
      copyFileSync(join(out, f), join(dir, f));
    } catch {
      /* a directory or a vanished file: leave it in share/out */
    }
  }
}

export { sleep };
