// The logger factory. Everything logs through pino with structured fields (domid, dev, conn) so a
// line about one guest can be found among many; the operations work adds a journald destination.
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface LoggerOptions {
  readonly level?: LevelWithSilent;
  /** Where lines go; default stderr (stdout is for command output such as the demo's JSON). */
  readonly destination?: DestinationStream | 'stderr' | 'stdout';
  /** Service name in every line. */
  readonly name?: string;
}

export function isLogLevel(s: string): s is LevelWithSilent {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const dest = opts.destination ?? 'stderr';
  const stream =
    dest === 'stderr'
      ? pino.destination({ fd: 2, sync: true })
      : dest === 'stdout'
        ? pino.destination({ fd: 1, sync: true })
        : dest;
  return pino(
    {
      name: opts.name ?? 'vdispld',
      level: opts.level ?? 'info',
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    stream,
  );
}

/** A logger that drops everything: for tests and library use without a sink. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
