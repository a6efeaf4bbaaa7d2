// The command lines a user reads in README.md and docs/OPERATIONS.md: every line of a shell code
// block, and every inline code span that is a command with arguments (`vdispld status --json`,
// `journalctl -u vdispld DOMID=5`), not a bare name (`vdispld`, `xl`). Comments after `#` go.
import { readFileSync } from 'node:fs';

export interface DocumentedCommand {
  readonly file: string;
  readonly text: string;
}

/** Programs whose inline mentions are command lines; a span must also have an argument. */
const PROGRAMS = [
  'vdispld',
  'npm',
  'node',
  'bash',
  'journalctl',
  'systemctl',
  'install',
  'xenstore-[a-z]+',
  'ssh',
  'systemd-analyze',
  'kill',
  'xl',
  'modetest',
];
// With an environment assignment in front, the bare program is a command line too.
const COMMAND_SPAN = new RegExp(
  `^(?:(?:${PROGRAMS.join('|')})\\s+\\S|(?:[A-Z][A-Z0-9_]*=\\S*\\s+)+(?:${PROGRAMS.join('|')})\\b)`,
);
const SHELL_BLOCK = /^(?:sh|bash|shell|console)$/;

/** The command lines of one markdown text, in order of appearance, each once. */
export function extractCommands(markdown: string): string[] {
  const out: string[] = [];
  const add = (s: string): void => {
    const t = s.replace(/\s+/g, ' ').trim();
    if (t && !out.includes(t)) out.push(t);
  };
  const prose: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const open = /^\s*```(\S*)/.exec(line);
    if (open) {
      fence = fence === undefined ? open[1]! : undefined;
      continue;
    }
    if (fence === undefined) prose.push(line);
    else if (SHELL_BLOCK.test(fence) && !/^\s*#/.test(line)) add(line.replace(/\s#.*$/, ''));
  }
  // A span may wrap onto the next line of a paragraph.
  for (const m of prose.join(' ').matchAll(/`([^`]+)`/g)) if (COMMAND_SPAN.test(m[1]!.trim())) add(m[1]!);
  return out;
}

/** The command lines of the user documents, with the file each comes from (first mention). */
export function documentedCommands(
  root: string,
  files: readonly string[] = ['README.md', 'docs/OPERATIONS.md'],
): DocumentedCommand[] {
  const out: DocumentedCommand[] = [];
  for (const file of files) {
    for (const text of extractCommands(readFileSync(`${root}/${file}`, 'utf8')))
      if (!out.some((c) => c.text === text)) out.push({ file, text });
  }
  return out;
}

/** Words of a documented line that stand for a value the reader picks (`snapshot DOMID/DEV/CONN`). */
const PLACEHOLDERS = new Set(['DOMID', 'DEV', 'CONN', 'PATH', 'N', 'DIR', 'NAME', 'GUEST', 'UNIQUE_ID', 'OUTPUT']);

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** One word of a documented line as a pattern: placeholders, `<...>` and /tmp paths match any value. */
function wordPattern(word: string): string {
  // A placeholder alone is any value, a path included; inside DOMID/DEV/CONN, one segment.
  if (word.startsWith('/tmp/') || PLACEHOLDERS.has(word)) return '\\S+';
  const assign = /^([A-Za-z_]\w*=)(\/tmp\/.*)$/.exec(word);
  if (assign) return `${escape(assign[1]!)}\\S+`;
  return word
    .split('/')
    .map((seg) =>
      PLACEHOLDERS.has(seg)
        ? '[^\\s/]+'
        : seg
            .split(/(<[^>]+>)/)
            .map((p) => (/^<[^>]+>$/.test(p) ? '\\S+' : escape(p)))
            .join(''),
    )
    .join('/');
}

/**
 * A documented command line (one part of an `a && b` line) as the pattern a line that runs it must
 * match: its words in order, `[...]` optional, placeholders any value, and nothing or more arguments
 * after it (an inline span such as `kill -USR1` or `vdispld run` names the start of a command).
 */
export function commandPattern(doc: string): RegExp {
  const out: string[] = [];
  let optional: string[] | undefined;
  for (const raw of doc.trim().split(/\s+/)) {
    let w = raw;
    if (w.startsWith('[')) {
      optional = [];
      w = w.slice(1);
    }
    const closes = optional !== undefined && w.endsWith(']');
    if (closes) w = w.slice(0, -1);
    const p = wordPattern(w);
    if (optional) optional.push(p);
    else out.push(`\\s+${p}`);
    if (closes && optional) {
      out.push(`(?:\\s+${optional.join('\\s+')})?`);
      optional = undefined;
    }
  }
  return new RegExp(`^${out.join('').replace(/^\\s\+/, '')}(?:\\s|$)`);
}

/** The parts of a documented line (split at `&&`) that no line in `ran` runs as written. */
export function notRunAsDocumented(doc: string, ran: readonly string[]): string[] {
  const lines = ran.map((l) => l.replace(/\s+/g, ' ').trim());
  return doc.split(/\s+&&\s+/).filter((part) => !lines.some((l) => commandPattern(part).test(l)));
}
