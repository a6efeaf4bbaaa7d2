// systemd's readiness protocol (sd_notify(3)) over the addon's datagram sender: READY, STATUS,
// WATCHDOG, STOPPING. Without $NOTIFY_SOCKET (not started by systemd with Type=notify) every call is
// a no-op. A failure to notify never takes the daemon down: it is reported to onError once per kind.
import { native } from './addon.js';

export interface SdNotifier {
  /** True when $NOTIFY_SOCKET is set. */
  readonly enabled: boolean;
  /** READY=1 (and STATUS= when given): the daemon serves guests now. */
  ready(status?: string): void;
  status(status: string): void;
  /** WATCHDOG=1: call at watchdogIntervalMs() while the event loop is healthy. */
  watchdog(): void;
  stopping(status?: string): void;
  /**
   * Half of WatchdogSec when systemd asked this process for keep-alives (WATCHDOG_USEC, and
   * WATCHDOG_PID unset or ours), else undefined.
   */
  watchdogIntervalMs(): number | undefined;
}

export interface SdNotifyEnv {
  readonly NOTIFY_SOCKET?: string | undefined;
  readonly WATCHDOG_USEC?: string | undefined;
  readonly WATCHDOG_PID?: string | undefined;
}

/** One line of STATUS=: newlines would start a new assignment, so they become spaces. */
function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').slice(0, 1024);
}

export function sdNotifier(
  env: SdNotifyEnv = process.env,
  opts: { send?: (socket: string, message: string) => void; onError?: (err: unknown) => void; pid?: number } = {},
): SdNotifier {
  const socket = env.NOTIFY_SOCKET !== undefined && env.NOTIFY_SOCKET !== '' ? env.NOTIFY_SOCKET : undefined;
  const send = opts.send ?? ((s: string, m: string) => native().sdNotify(s, m));
  const reported = new Set<string>();
  const notify = (kind: string, lines: string[]): void => {
    if (socket === undefined) return;
    try {
      send(socket, lines.join('\n') + '\n');
    } catch (err) {
      if (!reported.has(kind)) {
        reported.add(kind);
        opts.onError?.(err);
      }
    }
  };
  const withStatus = (first: string, status: string | undefined): string[] =>
    status === undefined ? [first] : [first, `STATUS=${oneLine(status)}`];
  return {
    enabled: socket !== undefined,
    ready: (status) => notify('ready', withStatus('READY=1', status)),
    status: (status) => notify('status', [`STATUS=${oneLine(status)}`]),
    watchdog: () => notify('watchdog', ['WATCHDOG=1']),
    stopping: (status) => notify('stopping', withStatus('STOPPING=1', status)),
    watchdogIntervalMs() {
      if (socket === undefined || env.WATCHDOG_USEC === undefined) return undefined;
      if (!/^[0-9]{1,15}$/.test(env.WATCHDOG_USEC)) return undefined;
      if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== String(opts.pid ?? process.pid)) return undefined;
      const usec = Number(env.WATCHDOG_USEC);
      return usec > 0 ? Math.max(1, Math.floor(usec / 2000)) : undefined;
    },
  };
}
