// Commands in dom0 through the 9p share (see dom0/agent.sh): the host writes numbered scripts, the
// agent runs them one at a time and leaves their output and exit status beside them.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Machine } from './machine.js';

export interface ExecResult {
  rc: number;
  out: string;
  /** Host seconds the command took, including the agent's polling. */
  seconds: number;
}

export class CommandFailed extends Error {
  constructor(
    readonly cmd: string,
    readonly result: ExecResult,
  ) {
    super(`dom0 command failed (exit ${result.rc}): ${cmd}\n${result.out.trimEnd().split('\n').slice(-20).join('\n')}`);
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Dom0 {
  private n = 0;
  readonly cmdDir: string;

  constructor(
    private readonly machine: Machine,
    readonly shareDir: string,
  ) {
    this.cmdDir = join(shareDir, 'cmd');
    mkdirSync(this.cmdDir, { recursive: true });
  }

  /** Resolves once the agent has announced itself on the console. */
  async ready(timeoutMs: number): Promise<void> {
    await this.machine.console.waitFor(/E2E-DOM0: agent ready/, timeoutMs);
  }

  /**
   * Runs `cmd` with /bin/sh in dom0; coreutils' timeout bounds it there, and the host gives up a
   * little later. Never throws for a non-zero exit: see run() for that.
   */
  async exec(cmd: string, timeoutS = 60): Promise<ExecResult> {
    const n = ++this.n;
    const base = join(this.cmdDir, String(n));
    const t0 = performance.now();
    writeFileSync(`${base}.body`, cmd + '\n');
    writeFileSync(`${base}.sh.tmp`, `exec timeout -k 5 ${timeoutS} sh ${'/mnt/share/cmd'}/${n}.body\n`);
    renameSync(`${base}.sh.tmp`, `${base}.sh`);
    const deadline = t0 + (timeoutS + 30) * 1000;
    while (!existsSync(`${base}.rc`)) {
      if (!this.machine.running) throw new Error(`machine stopped while dom0 ran: ${cmd}`);
      if (performance.now() > deadline) throw new Error(`dom0 agent did not answer within ${timeoutS + 30}s: ${cmd}`);
      await sleep(100);
    }
    const rc = Number(readFileSync(`${base}.rc`, 'utf8').trim());
    const out = existsSync(`${base}.out`) ? readFileSync(`${base}.out`, 'utf8') : '';
    return { rc, out, seconds: (performance.now() - t0) / 1000 };
  }

  /** Like exec(), but a non-zero exit is an error. Returns the output. */
  async run(cmd: string, timeoutS = 60): Promise<string> {
    const r = await this.exec(cmd, timeoutS);
    if (r.rc !== 0) throw new CommandFailed(cmd, r);
    return r.out;
  }

  /** Ends the agent; dom0 then syncs and powers off. */
  stop(): void {
    writeFileSync(join(this.cmdDir, 'stop'), '');
  }
}

/** Single-quotes a string for /bin/sh. */
export function shq(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}
