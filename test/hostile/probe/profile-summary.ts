// Summarizes a V8 .cpuprofile (from `--probe DIR`): self time per function and per source file,
// and inclusive time of every function whose name matches a pattern (the request handlers), so
// "where did the daemon's CPU go under the campaign" is a table, not a flame graph.
//   node --import tsx test/hostile/probe/profile-summary.ts FILE.cpuprofile [--top N] [--match REGEX]
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

export interface ProfileTable {
  readonly totalMs: number;
  readonly bySelf: readonly (readonly [string, number])[];
  readonly byFile: readonly (readonly [string, number])[];
  readonly inclusive: readonly (readonly [string, number])[];
}

function label(n: ProfileNode): string {
  const f = n.callFrame;
  return `${f.functionName || '(anonymous)'} ${f.url ? basename(f.url) : ''}:${f.lineNumber + 1}`;
}

export function summarize(p: Profile, match: RegExp): ProfileTable {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++)
    selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const self = new Map<string, number>();
  const file = new Map<string, number>();
  const incl = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const l = label(n);
    self.set(l, (self.get(l) ?? 0) + us);
    const fl = n.callFrame.url ? basename(n.callFrame.url) : `(${n.callFrame.functionName || 'native'})`;
    file.set(fl, (file.get(fl) ?? 0) + us);
    // Inclusive: once per matching frame on the sample's stack (recursion counted once).
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const c = byId.get(cur)!;
      if (!match.test(c.callFrame.functionName)) continue;
      const cl = label(c);
      if (seen.has(cl)) continue;
      seen.add(cl);
      incl.set(cl, (incl.get(cl) ?? 0) + us);
    }
  }
  const ms = (m: Map<string, number>): [string, number][] =>
    [...m].map(([k, v]): [string, number] => [k, Math.round(v / 100) / 10]).sort((a, b) => b[1] - a[1]);
  return {
    totalMs: Math.round((p.endTime - p.startTime) / 1000),
    bySelf: ms(self),
    byFile: ms(file),
    inclusive: ms(incl),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      top: { type: 'string', default: '25' },
      match: {
        type: 'string',
        default:
          '^(handle|service|dispatch|pgFlip|fbAttach|fbDetach|dbufCreate|dbufDestroy|setConfig|getEdid|readDirectory|writeDirectory|allocateForFrontend|mapFromFrontend|allocGranted|mapGrants|respond|flipDone|decodeRequest)$',
      },
    },
  });
  const top = Number(values.top);
  for (const f of positionals) {
    const t = summarize(JSON.parse(readFileSync(f, 'utf8')) as Profile, new RegExp(values.match));
    const busy = t.bySelf.filter(([k]) => !k.startsWith('(idle)')).reduce((a, [, v]) => a + v, 0);
    console.log(`${f}: ${t.totalMs} ms profiled, ${Math.round(busy)} ms busy`);
    console.log('  self time by function:');
    for (const [k, v] of t.bySelf.slice(0, top)) console.log(`    ${String(v).padStart(9)} ms  ${k}`);
    console.log('  self time by file:');
    for (const [k, v] of t.byFile.slice(0, top)) console.log(`    ${String(v).padStart(9)} ms  ${k}`);
    console.log('  inclusive time of request-path functions:');
    for (const [k, v] of t.inclusive.slice(0, top)) console.log(`    ${String(v).padStart(9)} ms  ${k}`);
  }
}
