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
 * Reports of a known bug in the guests' kernel that the harness's own teardown provokes, recognised
 * by their call trace and counted apart (a figure), not as crashes. Linux 6.1's xen-drm-front: when
 * the backend closes (the daemon stops, or a scenario restarts it) while no program holds the
 * guest's card open, xen_drm_drv_fini drops the last reference to the DRM device and its release
 * (drm_atomic_helper_shutdown) takes a new one: "refcount_t: addition on 0" and "underflow", two
 * WARNs, in any guest and with any backend.
 */
export const KNOWN_GUEST_KERNEL_BUGS: readonly RegExp[] = [/\bxen_drm_drv_fini\+/];

/** A WARN or BUG report spans "------------[ cut here ]------------" to "---[ end trace ... ]---". */
const REPORT_START = /-{5,}\[ cut here \]-{5,}/;
const REPORT_END = /---\[ end trace [0-9a-f]* \]---/;
/** A report without its end line (a truncated log) is taken to end after this many lines. */
const REPORT_MAX_LINES = 80;

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

export interface CrashScan {
  /** Each crash or warning line, prefixed with its source. */
  crashes: string[];
  /** The warning lines of reports that are a known guest-kernel bug (KNOWN_GUEST_KERNEL_BUGS). */
  known: string[];
}

/**
 * The lines of `sources` that report a crash or a kernel warning, each prefixed with its source.
 * A line is left out when its report (the whole cut-here block it is in, or the line alone) matches
 * one of `expected` — what a scenario provoked on purpose and asserted itself — and counted as
 * known when its report matches one of `known`.
 */
export function scanKernelLogs(
  sources: readonly CrashSource[],
  expected: readonly RegExp[] = [],
  known: readonly RegExp[] = KNOWN_GUEST_KERNEL_BUGS,
): CrashScan {
  const scan: CrashScan = { crashes: [], known: [] };
  for (const { name, text } of sources) {
    const lines = text
      .split('\n')
      .map((l) => l.replace(/\r$/, '').replace(/^\r+/, ''))
      .filter((l) => !AGENT_LINE.test(l));
    lines.forEach((line, i) => {
      if (!CRASH_PATTERNS.some((re) => re.test(line))) return;
      const report = reportAround(lines, i);
      if (expected.some((re) => report.some((l) => re.test(l)))) return;
      const into = known.some((re) => report.some((l) => re.test(l))) ? scan.known : scan.crashes;
      into.push(`${name}: ${line.trim()}`);
    });
  }
  return scan;
}

/** The cut-here block line i belongs to, or that line alone. */
function reportAround(lines: readonly string[], i: number): readonly string[] {
  let start = -1;
  for (let j = i; j >= 0 && j > i - REPORT_MAX_LINES; j--) {
    if (REPORT_START.test(lines[j]!)) {
      start = j;
      break;
    }
    if (j < i && REPORT_END.test(lines[j]!)) break;
  }
  if (start < 0) return [lines[i]!];
  let end = i;
  while (end < lines.length - 1 && end < start + REPORT_MAX_LINES && !REPORT_END.test(lines[end]!)) {
    if (REPORT_START.test(lines[end + 1]!)) break;
    end++;
  }
  return lines.slice(start, end + 1);
}
