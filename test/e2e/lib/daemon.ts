// vdispld in dom0, started as systemd would start systemd/vdispld.service (see dom0/vdispld-service.sh).
// The unit is the source of truth for Type, the watchdog, the timeouts and the runtime directory; the
// harness only swaps ExecStart's binary for the host's node running the working tree's dist/.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { shq, type Dom0 } from './dom0.js';
import { REPO_DIR } from './image.js';

export interface UnitSettings {
  type: string;
  execArgs: string[];
  watchdogSec?: number;
  timeoutStartSec: number;
  timeoutStopSec: number;
  runtimeDirectory?: string;
  runtimeDirectoryMode?: string;
  umask?: string;
}

/** systemd time spans as the unit uses them: "10s", "1min 30s", "500ms", or bare seconds. */
export function parseTimespan(v: string): number {
  let total = 0;
  const re = /(\d+(?:\.\d+)?)\s*(ms|s|sec|min|m|h)?/g;
  let m: RegExpExecArray | null;
  let any = false;
  while ((m = re.exec(v))) {
    any = true;
    const n = Number(m[1]);
    const unit = m[2] ?? 's';
    total += unit === 'ms' ? n / 1000 : unit === 'min' || unit === 'm' ? n * 60 : unit === 'h' ? n * 3600 : n;
  }
  if (!any) throw new Error(`not a systemd time span: ${v}`);
  return total;
}

/** The [Service] settings of a unit file that change how the service is started and stopped. */
export function parseUnit(text: string): UnitSettings {
  const kv = new Map<string, string>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      section = sec[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    if (section === 'Service' && eq > 0) kv.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  const exec = (kv.get('ExecStart') ?? '')
    .replace(/^[-@:+!]+/, '')
    .split(/\s+/)
    .filter(Boolean);
  if (exec.length === 0) throw new Error('unit has no ExecStart');
  const timeout = kv.get('TimeoutSec');
  return {
    type: kv.get('Type') ?? 'simple',
    execArgs: exec.slice(1),
    watchdogSec: kv.has('WatchdogSec') ? parseTimespan(kv.get('WatchdogSec')!) : undefined,
    timeoutStartSec: parseTimespan(kv.get('TimeoutStartSec') ?? timeout ?? '90s'),
    timeoutStopSec: parseTimespan(kv.get('TimeoutStopSec') ?? timeout ?? '90s'),
    runtimeDirectory: kv.get('RuntimeDirectory'),
    runtimeDirectoryMode: kv.get('RuntimeDirectoryMode'),
    umask: kv.get('UMask'),
  };
}

/** Whether the working tree's build has the `run` command (the daemon) yet. */
export function daemonAvailable(): { ok: boolean; why: string } {
  const main = join(REPO_DIR, 'dist', 'src', 'main.js');
  if (!existsSync(main)) return { ok: false, why: 'dist/src/main.js missing (npm run build)' };
  const r = spawnSync(process.execPath, [main, '--help'], { encoding: 'utf8', timeout: 30_000 });
  if (!/^\s+run\b/m.test(r.stdout ?? '')) return { ok: false, why: '`vdispld run` is not in the build yet' };
  return { ok: true, why: '' };
}

/** Whether the build has a given subcommand (e.g. snapshot, status). */
export function hasCommand(name: string): boolean {
  const main = join(REPO_DIR, 'dist', 'src', 'main.js');
  const r = spawnSync(process.execPath, [main, '--help'], { encoding: 'utf8', timeout: 30_000 });
  return new RegExp(`^\\s+${name}\\b`, 'm').test(r.stdout ?? '');
}

/**
 * The start timeout the harness allows: the unit's, but never below this. Node's start under TCG on
 * the shared 2-core host measured 16-75 s to READY=1, and over 90 s (the unit's own bound) once at
 * load 17; that measures the emulation, not vdispld. Each start's READY time is logged by the
 * service script (and printed by the start check) so a slow start stays visible.
 */
const EMULATED_START_FLOOR_S = 240;

export class Daemon {
  readonly unit: UnitSettings;
  private readonly startTimeoutS: number;

  constructor(
    private readonly dom0: Dom0,
    shareDir: string,
    unitPath = join(REPO_DIR, 'systemd', 'vdispld.service'),
    nodeOptions = '',
  ) {
    this.unit = parseUnit(readFileSync(unitPath, 'utf8'));
    this.startTimeoutS = Math.max(Math.ceil(this.unit.timeoutStartSec), EMULATED_START_FLOOR_S);
    // Emulation is slow: give start and stop at least the unit's own timeouts, never less.
    const env = [
      `SVC_TYPE=${this.unit.type}`,
      `SVC_WATCHDOG_USEC=${this.unit.watchdogSec ? Math.round(this.unit.watchdogSec * 1e6) : ''}`,
      `SVC_TIMEOUT_START=${this.startTimeoutS}`,
      `SVC_TIMEOUT_STOP=${Math.ceil(this.unit.timeoutStopSec)}`,
      `SVC_RUNTIME_DIR=${this.unit.runtimeDirectory ?? ''}`,
      `SVC_RUNTIME_MODE=${this.unit.runtimeDirectoryMode ?? '0755'}`,
      `SVC_UMASK=${this.unit.umask ?? ''}`,
      `SVC_NODE_OPTIONS=${shq(nodeOptions)}`,
    ];
    writeFileSync(join(shareDir, 'service.env'), env.join('\n') + '\n');
  }

  private svc(args: string): Promise<{ rc: number; out: string }> {
    return this.dom0.exec(
      `sh /opt/vdispld/test/e2e/dom0/vdispld-service.sh ${args}`,
      this.startTimeoutS + Math.ceil(this.unit.timeoutStopSec) + 30,
    );
  }

  /** Starts the daemon with the unit's arguments plus `extra`; throws unless it became ready. */
  async start(extra: string[]): Promise<string> {
    const r = await this.svc(`start ${[...this.unit.execArgs, ...extra].map(shq).join(' ')}`);
    if (r.rc !== 0) throw new Error(`vdispld did not start: ${r.out.trim()}`);
    return r.out.trim();
  }

  /** Stops it (SIGTERM, then SIGKILL after TimeoutStopSec); returns the exit status as systemd sees it. */
  async stop(): Promise<{ clean: boolean; detail: string }> {
    const r = await this.svc('stop');
    const m = /exit (\d+)/.exec(r.out);
    const status = m ? Number(m[1]) : NaN;
    // systemd counts exit 0 and death by SIGTERM (143 here) as a clean stop
    return { clean: r.rc === 0 && (status === 0 || status === 143), detail: r.out.trim() };
  }

  async status(): Promise<{ running: boolean; detail: string }> {
    const r = await this.svc('status');
    return { running: r.rc === 0, detail: r.out.trim() };
  }
}
