// Reads V8 CPU profiles (`node --cpu-prof`, or `npm run bench -- --profile DIR`) and prints
// where the time went: self time per function, and total (inclusive) time per function, each as
// a share of the samples. --folded FILE also writes folded stacks ("a;b;c count" per line), the
// input of flamegraph.pl and speedscope, for a flame graph.
//
//   node --import tsx bench/profile-summary.ts [--top N] [--folded FILE] PROFILE...
import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO } from './lib/build.js';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
}

function frameName(f: CallFrame): string {
  const name = f.functionName || '(anonymous)';
  if (!f.url) return name;
  let file = f.url.replace(/^file:\/\//, '');
  file = file.includes('/node_modules/') ? file.slice(file.lastIndexOf('/node_modules/') + 14) : relative(REPO, file);
  // Compiled trees (the benchmark's own build) map back to src/.
  file = file.replace(/^.*?\/vdispld\/(src\/)/, '$1');
  return `${name} ${file}:${f.lineNumber + 1}`;
}

function main(): void {
  const { values, positionals } = parseArgs({
    options: { top: { type: 'string', default: '25' }, folded: { type: 'string' } },
    allowPositionals: true,
  });
  if (positionals.length === 0) {
    process.stderr.write('usage: profile-summary [--top N] [--folded FILE] PROFILE...\n');
    process.exit(2);
  }
  const top = Number(values.top);
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const folded = new Map<string, number>();
  let samples = 0;
  for (const file of positionals) {
    const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const stackCache = new Map<number, string[]>();
    const stackOf = (id: number): string[] => {
      let s = stackCache.get(id);
      if (!s) {
        const up = parent.get(id);
        const name = frameName(byId.get(id)!.callFrame);
        s = up === undefined ? [] : [...stackOf(up), name];
        if (up === undefined && name !== '(root)') s = [name];
        stackCache.set(id, s);
      }
      return s;
    };
    for (const id of p.samples) {
      samples++;
      const stack = stackOf(id);
      const leaf = stack[stack.length - 1] ?? '(root)';
      self.set(leaf, (self.get(leaf) ?? 0) + 1);
      for (const f of new Set(stack)) total.set(f, (total.get(f) ?? 0) + 1);
      const key = stack.join(';') || '(root)';
      folded.set(key, (folded.get(key) ?? 0) + 1);
    }
  }
  // Shares of the busy samples: an idle daemon's profile is mostly (idle), which says nothing.
  const idle = self.get('(idle)') ?? 0;
  const busy = samples - idle;
  self.delete('(idle)');
  total.delete('(idle)');
  folded.delete('(idle)');
  const pct = (n: number): string => `${((100 * n) / busy).toFixed(1).padStart(5)} %`;
  process.stdout.write(
    `${samples} samples, ${((100 * idle) / samples).toFixed(1)} % idle; shares below are of the ${busy} busy samples\n`,
  );
  const print = (title: string, m: Map<string, number>): void => {
    process.stdout.write(`\n${title}\n`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${pct(v)}  ${k}\n`);
  };
  print('self time', self);
  print('total time', total);
  if (values.folded) {
    writeFileSync(values.folded, [...folded].map(([k, v]) => `${k} ${v}`).join('\n') + '\n');
    process.stdout.write(`\nfolded stacks written to ${values.folded}\n`);
  }
}

main();
