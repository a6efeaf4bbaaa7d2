// Where log lines go: JSON lines on stderr, or entries sent to journald over its native protocol
// when the daemon runs under systemd (JOURNAL_STREAM names our stderr) or is told to. Either way a
// noisy guest's lines are rate-limited first. The sink is a pino destination: pino serialises,
// the sink parses the line back once to route it.
import { fstatSync } from 'node:fs';
import type { DestinationStream } from 'pino';
import { GuestRateLimit, DEFAULT_RATE_LIMIT, type RateLimitOptions } from './guest-rate-limit.js';
import { encodeEntry } from './journal-encode.js';
import { recordFields } from './journal-fields.js';
import { JournalSocket } from './journal-socket.js';

export const JOURNAL_SOCKET = '/run/systemd/journal/socket';
/** Well under the socket's send buffer; an entry larger than this keeps only its main fields. */
const MAX_DATAGRAM = 60 * 1024;

export type SinkFormat = 'json' | 'journal';

export interface LogSinkOptions {
  readonly format: SinkFormat;
  readonly journalSocket?: string;
  /** JSON lines go here, and journal entries when journald cannot be reached (default stderr). */
  readonly fallback?: { write(s: string): unknown };
  readonly rateLimit?: RateLimitOptions | false;
  readonly now?: () => number;
  readonly identifier?: string;
}

export interface LogSinkStats {
  readonly written: number;
  readonly rateLimited: number;
  /** Journal entries dropped: journald's queue stayed full past our bound, or it went away. */
  readonly journalDropped: number;
}

/**
 * True when `journalStream` ("dev:inode", systemd's JOURNAL_STREAM) is the file behind `fd`: our
 * output already goes to the journal, so structured entries should go there directly.
 */
export function journalStreamMatches(journalStream: string | undefined, fd: number): boolean {
  const m = /^(\d+):(\d+)$/.exec(journalStream ?? '');
  if (!m) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return st.dev === BigInt(m[1]!) && st.ino === BigInt(m[2]!);
  } catch {
    // An fd that cannot be stat'ed is not journald's stream.
    return false;
  }
}

/** The format for the log-format setting: 'auto' picks the journal under systemd. */
export function chooseFormat(
  setting: 'auto' | 'json' | 'journal',
  env: Readonly<Record<string, string | undefined>> = process.env,
): SinkFormat {
  if (setting !== 'auto') return setting;
  return journalStreamMatches(env['JOURNAL_STREAM'], 2) || journalStreamMatches(env['JOURNAL_STREAM'], 1)
    ? 'journal'
    : 'json';
}

export class LogSink implements DestinationStream {
  private socket: JournalSocket | undefined;
  private closed = false;
  private journalDown = false;
  private readonly limit: GuestRateLimit | undefined;
  private readonly fallback: { write(s: string): unknown };
  private readonly now: () => number;
  private written = 0;

  constructor(private readonly opts: LogSinkOptions) {
    this.limit = opts.rateLimit === false ? undefined : new GuestRateLimit(opts.rateLimit ?? DEFAULT_RATE_LIMIT);
    this.fallback = opts.fallback ?? process.stderr;
    this.now = opts.now ?? Date.now;
  }

  get stats(): LogSinkStats {
    return {
      written: this.written,
      rateLimited: this.limit?.dropped ?? 0,
      journalDropped: this.socket?.stats.dropped ?? 0,
    };
  }

  write(line: string): void {
    if (this.closed) {
      // A line after shutdown (a last error) still reaches stderr.
      this.fallback.write(line.endsWith('\n') ? line : `${line}\n`);
      return;
    }
    let rec: Record<string, unknown> | undefined;
    try {
      const v: unknown = JSON.parse(line);
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) rec = v as Record<string, unknown>;
    } catch {
      /* not a pino line: passed on as it is */
    }
    if (!rec) {
      this.route(line.endsWith('\n') ? line : `${line}\n`, { msg: line.trimEnd(), level: 30 });
      return;
    }
    const domid = typeof rec['domid'] === 'number' ? rec['domid'] : undefined;
    if (this.limit) {
      const v = this.limit.check(domid, this.now());
      if (!v.pass) return;
      if (v.suppressed > 0) {
        const notice = {
          level: 40,
          time: rec['time'],
          name: rec['name'],
          domid,
          suppressed: v.suppressed,
          msg: `dom${domid}: ${v.suppressed} log lines suppressed (rate limit)`,
        };
        this.route(`${JSON.stringify(notice)}\n`, notice);
      }
    }
    this.route(line.endsWith('\n') ? line : `${line}\n`, rec);
  }

  /** Idempotent; closes the journal socket (later lines go to the fallback stream). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket?.close();
    this.socket = undefined;
  }

  private route(jsonLine: string, rec: Record<string, unknown>): void {
    this.written++;
    if (this.opts.format === 'json' || this.journalDown) {
      this.fallback.write(jsonLine);
      return;
    }
    const fields = recordFields(rec, { identifier: this.opts.identifier });
    let buf = encodeEntry(fields);
    if (buf.length > MAX_DATAGRAM)
      buf = encodeEntry(
        fields
          .filter(([n]) =>
            ['MESSAGE', 'PRIORITY', 'SYSLOG_IDENTIFIER', 'DOMID', 'DEVID', 'CONNECTOR', 'OP', 'ERRNO'].includes(n),
          )
          .map(([n, v]) => [n, v.slice(0, 4096)] as const),
      );
    this.send(buf, jsonLine);
  }

  private send(buf: Buffer, jsonLine: string): void {
    this.socket ??= new JournalSocket(this.opts.journalSocket ?? JOURNAL_SOCKET, (reason) => {
      // journald is gone (or never was): keep the lines, as JSON, where stderr goes.
      this.journalDown = true;
      this.fallback.write(
        `${JSON.stringify({ level: 40, msg: `journald unreachable (${reason}); logging JSON to stderr` })}\n`,
      );
    });
    if (!this.socket.send(buf)) this.fallback.write(jsonLine);
  }
}
