// The two backends a figure compares, each a separate process on the simulated host:
// - vdispld itself, `vdispld run --platform sim` as compiled JavaScript on headless outputs,
//   serving dom0's vdispl devices as it would serve a real dom0's;
// - the C ring floor (bench/floor/ring-floor.c) in a driver domain of its own, serving the
//   devices whose backend is that domain. Its XenBus handshake is done here, in TypeScript, and
//   is not measured: the floor only stands for the rings.
// Both can live on one host at once, so rounds of a figure can alternate between them.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface, type Interface } from 'node:readline';
import type { SimHost } from '../../src/sim/index.js';
import type { VdisplPaths } from '../../src/sim/index.js';
import type { XsWatch } from '../../src/xenstore/types.js';
import { track } from './children.js';
import type { NotifySocket } from './notify.js';

const XENBUS_INIT_WAIT = 2;
const XENBUS_INITIALISED = 3;
const XENBUS_CONNECTED = 4;
const STOP_TIMEOUT_MS = 10_000;

/**
 * The domain name of every bench guest. Only dom0's configuration decides which guest connector an
 * output shows (issue #16's routing): a connector whose unique-id merely equals an output's name
 * gets an output of its own, at 60 Hz whatever the named one's rate. So vdispld is started with
 * `--connector bench/X=X` for each named output X, as an operator maps a guest's connectors, and
 * every bench guest is named `bench` (the simulator's toolstack, unlike xl, does not insist on
 * unique names; the connectors' unique-ids are what differ among one daemon's guests). A build from
 * before routing reads `bench/X` as a unique-id no connector has and shows connector X on output X
 * by its name, as it always did.
 */
export const BENCH_GUEST_NAME = 'bench';

/** The `--connector` mapping that puts connector X of a bench guest on the named output X. */
function mappingOf(headlessSpec: string): string {
  const name = headlessSpec.slice(0, headlessSpec.indexOf('='));
  return `${BENCH_GUEST_NAME}/${name}=${name}`;
}

export interface Backend {
  readonly kind: 'vdispld' | 'floor';
  readonly pid: number;
  /** Spawn to READY=1, in milliseconds. */
  readonly readyMs: number;
  /** Makes the backend serve a device the toolstack just created (the floor needs telling). */
  serve(paths: VdisplPaths): Promise<void>;
  /** Ends the process (SIGTERM, then SIGKILL after 10 s); resolves once it is gone. Idempotent. */
  stop(): Promise<void>;
}

async function waitReady(child: ChildProcess, notify: NotifySocket, spawnedNs: bigint, what: string): Promise<number> {
  const exited = once(child, 'exit').then(([code, signal]) => {
    throw new Error(`${what} exited (${String(code ?? signal)}) before READY=1`);
  });
  const at = await Promise.race([notify.nextReady(30_000), exited]);
  return Number(at - spawnedNs) / 1e6;
}

function stopper(child: ChildProcess): () => Promise<void> {
  let stopping: Promise<void> | undefined;
  return () =>
    (stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await gone;
      clearTimeout(timer);
    })());
}

export interface DaemonSpawnOptions {
  readonly mainJs: string;
  readonly host: SimHost;
  readonly notify: NotifySocket;
  /** The domain it serves from: 0, or a driver domain. */
  readonly domid?: number;
  /** Named headless outputs (NAME=WxH@HZ); connectors with that unique-id are shown there. */
  readonly headless: readonly string[];
  /** Where the control socket goes (never the system's /run/vdispld). */
  readonly controlSocket: string;
  /** Extra node flags (--cpu-prof ...). */
  readonly nodeArgs?: readonly string[];
  readonly logLevel?: string;
  /** `--quota KEY=N,...` for vdispld (a build that does not know a key refuses to start). */
  readonly quota?: string;
}

/** A clean environment: nothing of the caller's VDISPLD_* settings leaks into the measurement. */
function childEnv(notify: NotifySocket): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: notify.path };
  for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG']) if (process.env[k] !== undefined) env[k] = process.env[k];
  return env;
}

export async function startDaemon(o: DaemonSpawnOptions): Promise<Backend> {
  const args = [
    ...(o.nodeArgs ?? []),
    o.mainJs,
    'run',
    '--platform',
    'sim',
    '--sim-dir',
    o.host.dir,
    '--xenstore',
    o.host.xenstoredPath,
    '--output',
    'headless',
    '--control-socket',
    o.controlSocket,
    ...(o.domid ? ['--domid', String(o.domid)] : []),
    '--log-level',
    o.logLevel ?? 'warn',
    ...o.headless.flatMap((h) => ['--headless', h, '--connector', mappingOf(h)]),
    ...(o.quota ? ['--quota', o.quota] : []),
  ];
  const spawnedNs = process.hrtime.bigint();
  const child = track(
    spawn(process.execPath, args, { env: childEnv(o.notify), stdio: ['ignore', 'inherit', 'inherit'] }),
  );
  const stop = stopper(child);
  try {
    const readyMs = await waitReady(child, o.notify, spawnedNs, 'vdispld');
    return { kind: 'vdispld', pid: child.pid!, readyMs, serve: () => Promise.resolve(), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface FloorSpawnOptions {
  /** ring-floor.c's executable, or the Node floor's bundle (a .mjs, run with this node). */
  readonly exe: string;
  readonly host: SimHost;
  readonly notify: NotifySocket;
  /** The driver domain it runs in (0 only when vdispld is not on the same host). */
  readonly domid: number;
  /** Its vblank clock; 0 sends flip events at once. */
  readonly vblankHz: number;
  /** Node flags for the Node floor (profiling, a memory probe); ignored for the C floor. */
  readonly nodeArgs?: readonly string[];
}

/** The C floor, answering in order the lines it is sent on stdin. */
class FloorProcess implements Backend {
  readonly kind = 'floor' as const;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly replies: ((line: string) => void)[] = [];

  constructor(
    private readonly child: ChildProcess,
    lines: Interface,
    private readonly host: SimHost,
    readonly readyMs: number,
    readonly stop: () => Promise<void>,
  ) {
    lines.on('line', (l) => this.replies.shift()?.(l));
  }

  get pid(): number {
    return this.child.pid!;
  }

  private command(line: string): Promise<string> {
    const p = this.queue.then(
      () =>
        new Promise<string>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`ring floor: no answer to "${line}"`)), 10_000);
          this.replies.push((l) => {
            clearTimeout(timer);
            resolve(l);
          });
          this.child.stdin!.write(`${line}\n`);
        }),
    );
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** The backend half of the XenBus handshake, then the rings go to the floor. */
  async serve(paths: VdisplPaths): Promise<void> {
    const xs = this.host.xs;
    const fe = paths.frontend;
    const feDomid = Number(/^\/local\/domain\/(\d+)\//.exec(fe)?.[1]);
    await xs.write(`${paths.backend}/versions`, '1,2');
    let watch: XsWatch | undefined;
    const initialised = new Promise<void>((resolve) => {
      void xs
        .watch(`${fe}/state`, () => {
          void xs.tryRead(`${fe}/state`).then((s) => {
            if (Number(s) === XENBUS_INITIALISED) resolve();
          });
        })
        .then((w) => (watch = w));
    });
    await xs.write(`${paths.backend}/state`, String(XENBUS_INIT_WAIT));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      initialised,
      new Promise<never>(
        (_, reject) =>
          (timer = setTimeout(() => reject(new Error(`${fe}: the frontend never became Initialised`)), 30_000)),
      ),
    ]).finally(() => clearTimeout(timer));
    await watch?.close();
    for (let i = 0; ; i++) {
      const ref = await xs.tryRead(`${fe}/${i}/req-ring-ref`);
      if (ref === undefined) break;
      const f = async (k: string): Promise<string> => xs.read(`${fe}/${i}/${k}`);
      const line = `add ${paths.backend} ${feDomid} ${i} ${ref} ${await f('req-event-channel')} ${await f('evt-ring-ref')} ${await f('evt-event-channel')}`;
      const answer = await this.command(line);
      if (answer !== 'ok') throw new Error(`ring floor refused ${paths.backend} connector ${i}: ${answer}`);
    }
    await xs.write(`${paths.backend}/state`, String(XENBUS_CONNECTED));
  }
}

export async function startFloor(o: FloorSpawnOptions): Promise<Backend> {
  const spawnedNs = process.hrtime.bigint();
  const args = ['--sim-dir', o.host.dir, '--domid', String(o.domid), '--vblank-hz', String(o.vblankHz)];
  const [cmd, argv] = o.exe.endsWith('.mjs')
    ? [process.execPath, [...(o.nodeArgs ?? []), o.exe, ...args]]
    : [o.exe, args];
  const child = track(
    spawn(cmd, argv, {
      env: childEnv(o.notify),
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  const stop = stopper(child);
  try {
    const readyMs = await waitReady(child, o.notify, spawnedNs, 'the ring floor');
    return new FloorProcess(child, createInterface({ input: child.stdout! }), o.host, readyMs, stop);
  } catch (err) {
    await stop();
    throw err;
  }
}
