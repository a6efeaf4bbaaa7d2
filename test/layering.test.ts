// The layer order of docs/ARCHITECTURE.md, checked on every import in src/ (static, dynamic and
// type-only alike): a module imports only from its own folder, from a lower layer, or from a peer
// listed as allowed. A new top-level folder must be placed in the table before it can import.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const src = new URL('../src', import.meta.url).pathname;

/** Top to bottom; units in one row are peers and import each other only where PEERS says. */
const LAYERS: readonly (readonly string[])[] = [
  ['main.ts', 'cli.ts'],
  ['commands'],
  ['ops'],
  ['daemon.ts'],
  ['backend', 'sim'],
  ['drm', 'input'],
  ['kbdif'],
  ['displif', 'xen', 'xenstore'],
  ['native', 'util'],
];
/** Peer imports that are allowed, as importer -> imported. */
const PEERS = new Set(['main.ts->cli.ts']);

/** The unit a file belongs to: its top-level folder under src/, or the file itself at the top. */
function unitOf(file: string): string {
  return relative(src, file).split('/')[0]!;
}

function layerOf(unit: string): number {
  return LAYERS.findIndex((row) => row.includes(unit));
}

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;

void test('every folder of src/ has a place in the layer order', () => {
  const units = readdirSync(src).filter((n) => n.endsWith('.ts') || statSync(join(src, n)).isDirectory());
  for (const u of units)
    assert.notEqual(layerOf(u), -1, `src/${u} is not in test/layering.test.ts's LAYERS (nor docs/ARCHITECTURE.md)`);
});

void test('no module imports from a layer above its own, nor from a peer', () => {
  const wrong: string[] = [];
  let imports = 0;
  for (const file of sources(src)) {
    const from = unitOf(file);
    for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      const target = normalize(join(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
      const to = unitOf(target);
      imports++;
      if (to === from) continue;
      const a = layerOf(from);
      const b = layerOf(to);
      if (b > a || (b === a && PEERS.has(`${from}->${to}`))) continue;
      wrong.push(`${relative(src, file)} imports ${m[1]} (${from} -> ${to}: ${b < a ? 'a higher layer' : 'a peer'})`);
    }
  }
  assert.ok(imports > 500, `found ${imports} imports: the pattern must see them`);
  assert.deepEqual(wrong, []);
});
