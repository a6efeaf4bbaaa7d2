// xenstored's access log (/var/log/xen/xenstored-access.log in dom0): every request and every
// watch event with xenstored's own millisecond timestamp. Teardown is timed from it, because a shell
// loop polling `xenstore-read` under emulation adds a second of fork cost to what it measures.

export interface AccessLine {
  /** Milliseconds since the epoch (dom0's clock). */
  t: number;
  /** The connection, e.g. A7 (a socket client), D0 (a domain); without a transaction suffix. */
  conn: string;
  /** 'w event', 'write', 'rm', 'watch', 'commit', ... */
  op: string;
  path: string;
  /** The rest: a written value, or a watch event's token. */
  arg: string;
}

const LINE =
  /^\[(\d{4})(\d{2})(\d{2})T(\d{2}:\d{2}:\d{2}\.\d{3})Z\]\s+(?:r\(\d+\):)?([A-Z]\d+)(?:\.\d+)?\s+(w event|\S+)\s*(\S*)\s?(.*)$/;

export function parseAccessLog(text: string): AccessLine[] {
  const out: AccessLine[] = [];
  for (const raw of text.split('\n')) {
    const m = LINE.exec(raw.trimEnd());
    if (!m) continue;
    out.push({
      t: Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}Z`),
      conn: m[5]!,
      op: m[6]!,
      path: m[7]!,
      arg: m[8]!.trim(),
    });
  }
  return out;
}

export interface TeardownTimes {
  /** The toolstack's first change to the device (online=0, state Closing, or a removal). */
  toolstackAt?: number;
  /** The first watch event the daemon received about the device after that. */
  daemonSawAt?: number;
  /** The daemon's write of state Closed (6). */
  closedAt?: number;
  /** The backend directory's removal by the toolstack. */
  removedAt?: number;
}

/**
 * Finds, after `sinceMs`, how a device's teardown went: the daemon is the connection whose watch
 * token starts with `tokenPrefix` (vdispld's client names its tokens so).
 */
export function teardownTimes(
  lines: AccessLine[],
  bePath: string,
  fePath: string,
  sinceMs: number,
  tokenPrefix = 'vdispld:',
): TeardownTimes {
  const under = (p: string, root: string): boolean => p === root || p.startsWith(`${root}/`);
  const ours = (p: string): boolean => under(p, bePath) || under(p, fePath);
  const r: TeardownTimes = {};
  let daemon: string | undefined;
  for (const l of lines) {
    if (l.t < sinceMs) continue;
    if (l.op === 'w event' && l.arg.startsWith(tokenPrefix)) {
      daemon ??= l.conn;
      if (r.toolstackAt !== undefined && r.daemonSawAt === undefined && ours(l.path)) r.daemonSawAt = l.t;
      continue;
    }
    const change = (l.op === 'write' || l.op === 'rm') && ours(l.path);
    if (!change) continue;
    const byDaemon = daemon !== undefined && l.conn === daemon;
    if (
      !byDaemon &&
      r.toolstackAt === undefined &&
      l.conn.startsWith('A') &&
      ((l.op === 'write' &&
        ((l.path === `${bePath}/online` && l.arg === '0') || (l.path === `${bePath}/state` && l.arg === '5'))) ||
        l.op === 'rm')
    ) {
      r.toolstackAt = l.t;
    }
    if (byDaemon && r.closedAt === undefined && l.op === 'write' && l.path === `${bePath}/state` && l.arg === '6')
      r.closedAt = l.t;
    if (!byDaemon && r.removedAt === undefined && l.op === 'rm' && l.path === bePath) r.removedAt = l.t;
  }
  return r;
}
