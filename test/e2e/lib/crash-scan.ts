// The crash scan: kernel-log lines that make a run untrustworthy whoever is to blame — a process
// killed by a fault, a kernel BUG or oops, a panic, and a kernel WARN (WARN_ON, refcount and list
// corruption reports, lockdep), in dom0 or in a guest. Pure: the scenario framework hands it the
// texts (dom0's dmesg, each guest's dmesg, the guests' console logs).

/** What a crash or a kernel warning prints, each at the start of a kernel message. */
const CRASH_PATTERNS: readonly RegExp[] = [
  /segfault at/,
  /general protection/,
  /\btraps: /,
  /Kernel panic/,
  /\bBUG: /,
  /Unable to handle kernel/,
  /Internal error: Oops/,
  // __warn(): "WARNING: CPU: 0 PID: 42 at drivers/...", also lockdep's "WARNING: possible ...";
  // only where a kernel message starts (after its time stamp), not anywhere in a line
  /(?:^|\] )WARNING: /,
];

/**
 * A line the guest's command agent printed on its console (`E2E-G<boot>.<n>| ...`): a command's
 * output, e.g. the guest's dmesg the harness collected, which is scanned as a source of its own.
 */
const AGENT_LINE = /^E2E-G[0-9a-f]*\.\d+[| ]/;

export interface CrashSource {
  /** Where the text came from, e.g. "dom0 dmesg", "guest guest-fe console". */
  name: string;
  text: string;
}

/**
 * The lines of `sources` that report a crash or a kernel warning, each prefixed with its source,
 * leaving out those a scenario provoked on purpose and asserted itself (`expected`).
 */
export function crashLines(sources: readonly CrashSource[], expected: readonly RegExp[] = []): string[] {
  return sources.flatMap(({ name, text }) =>
    text
      .split('\n')
      .map((l) => l.replace(/\r$/, '').replace(/^\r+/, ''))
      .filter((l) => !AGENT_LINE.test(l))
      .filter((l) => CRASH_PATTERNS.some((re) => re.test(l)) && !expected.some((re) => re.test(l)))
      .map((l) => `${name}: ${l.trim()}`),
  );
}
