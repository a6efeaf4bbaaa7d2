// `npm run fuzz`: coverage-guided fuzzing of the displif and kbdif code a guest drives. For each target it replays the
// checked-in corpus (fuzz/corpus/<target>/), then mutates for --seconds, adding every input that
// reached new code to the corpus. A finding is written to fuzz/crashes/ and the exit status is 1.
// `--short` (what npm test runs): a few seconds per target, corpus not written.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { armCoverage, fuzz, inputName } from './engine.js';
import { instrumentDisplif } from './instrument.js';
import { loadModules, TARGETS } from './targets.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** Protocol numbers worth trying: op codes, limits, page and ring sizes, FourCCs, XenbusStates. */
const DICTIONARY = [
  0, 1, 2, 3, 4, 5, 6, 7, 8, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 31, 32, 33, 63, 64, 1023, 1024, 2047, 4095, 4096,
  32768, 65536, 0x34325258, 0x36314752, 0x56595559, 0x7fffffff, 0xffffffff,
];

export interface TargetFigures {
  readonly target: string;
  readonly execs: number;
  readonly execsPerSecond: number;
  readonly corpusBefore: number;
  readonly corpusAfter: number;
  readonly armsReached: number;
  readonly armsTotal: number;
  readonly finding?: string;
}

export async function fuzzTargets(opts: {
  seconds: number;
  save: boolean;
  seed: number;
  only?: string;
}): Promise<TargetFigures[]> {
  const code = instrumentDisplif();
  const out: TargetFigures[] = [];
  try {
    const m = await loadModules(code);
    for (const [name, target] of Object.entries(TARGETS)) {
      if (opts.only && opts.only !== name) continue;
      const dir = join(HERE, 'corpus', name);
      mkdirSync(dir, { recursive: true });
      const corpus = readdirSync(dir)
        .sort()
        .map((f) => new Uint8Array(readFileSync(join(dir, f))));
      const before = corpus.length;
      const seen = new Set<number>();
      const t0 = Date.now();
      const r = fuzz(
        (input) => target(input, m),
        () => code.counters(),
        corpus,
        seen,
        { seconds: opts.seconds, seed: opts.seed, maxLen: 4200, dictionary: DICTIONARY },
      );
      const secs = Math.max(0.001, (Date.now() - t0) / 1000);
      if (opts.save) for (const input of r.added) writeFileSync(join(dir, inputName(input)), input);
      let finding: string | undefined;
      if (r.finding) {
        const crashDir = join(HERE, 'crashes');
        mkdirSync(crashDir, { recursive: true });
        const file = join(crashDir, `${name}-${inputName(r.finding.input)}`);
        writeFileSync(file, r.finding.input);
        finding = `${file}: ${r.finding.error}`;
      }
      const cov = armCoverage(seen, code.counters());
      out.push({
        target: name,
        execs: r.execs,
        execsPerSecond: Math.round(r.execs / secs),
        corpusBefore: before,
        corpusAfter: before + (opts.save ? r.added.length : 0),
        armsReached: cov.reached,
        armsTotal: cov.total,
        ...(finding ? { finding } : {}),
      });
    }
  } finally {
    code.close();
  }
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '60' },
      short: { type: 'boolean', default: false },
      target: { type: 'string' },
      seed: { type: 'string', default: '1' },
    },
  });
  const seconds = values.short ? 2 : Number(values.seconds);
  const figures = await fuzzTargets({
    seconds,
    save: !values.short,
    seed: Number(values.seed),
    ...(values.target ? { only: values.target } : {}),
  });
  for (const f of figures) {
    console.log(
      `${f.target.padEnd(16)} ${String(f.execs).padStart(9)} execs ${String(f.execsPerSecond).padStart(7)}/s  corpus ${f.corpusBefore} -> ${f.corpusAfter}  branch arms reached ${f.armsReached} (of ${f.armsTotal} in src/displif and src/kbdif)${f.finding ? `\n  FINDING ${f.finding}` : ''}`,
    );
  }
  process.exit(figures.some((f) => f.finding) ? 1 : 0);
}
