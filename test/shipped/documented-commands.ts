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
