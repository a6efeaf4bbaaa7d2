// The figures as a Markdown table: readable in a terminal and pasteable into docs/PERFORMANCE.md.
import type { Figure } from './figures.js';
import type { Summary } from './stats.js';

export function num(x: number): string {
  if (!Number.isFinite(x)) return '—';
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a === 0) return '0';
  return x.toFixed(2);
}

function spread(s: Summary | undefined, unit: string): string {
  if (!s || !Number.isFinite(s.median)) return '—';
  const u = unit ? ` ${unit}` : '';
  return s.runs.length > 1 ? `${num(s.median)}${u} (${num(s.min)}–${num(s.max)})` : `${num(s.median)}${u}`;
}

function ratio(f: Figure): string {
  const r = f.ratio;
  if (!r || !Number.isFinite(r.median)) return '—';
  return r.runs.length > 1
    ? `${r.median.toFixed(2)}× (${r.min.toFixed(2)}–${r.max.toFixed(2)})`
    : `${r.median.toFixed(2)}×`;
}

/** `labels`: the two columns' names (vdispld and its floor, or two builds being compared). */
export function table(
  figures: readonly Figure[],
  labels: { a: string; b: string } = { a: 'vdispld', b: 'floor' },
): string {
  const lines: string[] = [];
  let section = '';
  for (const f of figures) {
    if (f.section !== section) {
      section = f.section;
      if (lines.length) lines.push('');
      lines.push(`**${section}**`, '');
      lines.push(`| figure | ${labels.a}: median (min–max) | ${labels.b}: median (min–max) | ratio | target |`);
      lines.push('|---|---|---|---|---|');
    }
    const floor = f.floorName ? `${spread(f.floor, f.unit)} — ${f.floorName}` : '—';
    const target = f.target ? `${f.target.met ? 'met' : '**not met**'}: ${f.target.text}` : '';
    lines.push(`| ${f.what} | ${spread(f.vdispld, f.unit)} | ${floor} | ${ratio(f)} | ${target} |`);
  }
  const notes = figures.filter((f) => f.note).map((f) => `- ${f.what}: ${f.note}`);
  if (notes.length) lines.push('', ...notes);
  return lines.join('\n');
}
