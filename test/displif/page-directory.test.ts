// Page directory walks: exactly ceil(n/1023) pages read, refs 0 and early ends refused, loops
// impossible, and the frontend writer and be-alloc filler agreeing with the walker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grantRef, type GrantRef } from '../../src/util/ids.js';
import {
  PageDirectoryError,
  directoryPageCount,
  fillPageDirectory,
  walkPageDirectory,
  walkPageDirectorySync,
  writePageDirectory,
} from '../../src/displif/page-directory.js';
import { readU32, writeU32 } from '../../src/displif/bytes.js';
import { XEN_E2BIG, XEN_EINVAL } from '../../src/displif/constants.js';

/** A toy grant table: ref -> page, with a log of every page read. */
class Pages {
  readonly pages = new Map<number, Uint8Array>();
  readonly reads: number[] = [];
  page(ref: number): Uint8Array {
    let p = this.pages.get(ref);
    if (!p) this.pages.set(ref, (p = new Uint8Array(4096)));
    return p;
  }
  reader = (ref: GrantRef): Uint8Array => {
    this.reads.push(ref);
    const p = this.pages.get(ref);
    if (!p) throw new Error(`unknown grant ref ${ref}`);
    return p;
  };
}

/** A directory for `n` buffer refs (10000 + i) on pages with refs 500, 501, ... */
function build(n: number): { pages: Pages; dirRefs: GrantRef[]; bufferRefs: GrantRef[] } {
  const pages = new Pages();
  const dirRefs = Array.from({ length: directoryPageCount(n) }, (_, i) => grantRef(500 + i));
  const bufferRefs = Array.from({ length: n }, (_, i) => grantRef(10000 + i));
  writePageDirectory(
    dirRefs.map((r) => pages.page(r)),
    dirRefs,
    bufferRefs,
  );
  return { pages, dirRefs, bufferRefs };
}

function expectError(fn: () => unknown, code: string, errno: number = XEN_EINVAL): void {
  assert.throws(fn, (e: unknown) => e instanceof PageDirectoryError && e.code === code && e.errno === errno);
}

void test('directoryPageCount is ceil(n / 1023)', () => {
  assert.deepEqual([1, 1022, 1023, 1024, 2025, 2046, 2047, 65536].map(directoryPageCount), [1, 1, 1, 2, 2, 2, 3, 65]);
});

void test('walks read exactly ceil(n/1023) pages and return the refs in order', async () => {
  for (const n of [1, 1023, 1024, 2025, 3069, 5000]) {
    const { pages, dirRefs, bufferRefs } = build(n);
    assert.deepEqual(Array.from(walkPageDirectorySync(dirRefs[0]!, n, pages.reader)), bufferRefs);
    assert.deepEqual(pages.reads, dirRefs, `n=${n}: each directory page read once, in chain order`);
    pages.reads.length = 0;
    const asyncRefs = await walkPageDirectory(dirRefs[0]!, n, (ref) => Promise.resolve(pages.reader(ref)));
    assert.deepEqual(Array.from(asyncRefs), bufferRefs);
    assert.equal(pages.reads.length, directoryPageCount(n));
  }
});

void test('the 1080p example: 2025 buffer pages on 2 directory pages', () => {
  const n = Math.ceil((1920 * 1080 * 4) / 4096);
  assert.equal(n, 2025);
  const { pages, dirRefs } = build(n);
  assert.equal(walkPageDirectorySync(dirRefs[0]!, n, pages.reader).length, 2025);
  assert.equal(pages.reads.length, 2);
});

void test('links past the last page are never followed, whatever they say', () => {
  const { pages, dirRefs, bufferRefs } = build(1500);
  writeU32(pages.page(dirRefs[1]!), 0, dirRefs[0]!); // the last page links back to the first
  assert.deepEqual(Array.from(walkPageDirectorySync(dirRefs[0]!, 1500, pages.reader)), bufferRefs);
  assert.equal(pages.reads.length, 2);
  // Fewer refs than the chain holds: only the pages needed are read.
  pages.reads.length = 0;
  assert.equal(walkPageDirectorySync(dirRefs[0]!, 1000, pages.reader).length, 1000);
  assert.deepEqual(pages.reads, [dirRefs[0]]);
});

void test('a chain that ends early, loops, or lists ref 0 is refused', () => {
  const early = build(3000);
  writeU32(early.pages.page(early.dirRefs[1]!), 0, 0);
  expectError(() => walkPageDirectorySync(early.dirRefs[0]!, 3000, early.pages.reader), 'early-end');

  const loop = build(3000);
  writeU32(loop.pages.page(loop.dirRefs[1]!), 0, loop.dirRefs[0]!);
  expectError(() => walkPageDirectorySync(loop.dirRefs[0]!, 3000, loop.pages.reader), 'loop');
  assert.equal(loop.pages.reads.length, 2, 'stopped before reading a page twice');

  const self = build(2000);
  writeU32(self.pages.page(self.dirRefs[0]!), 0, self.dirRefs[0]!);
  expectError(() => walkPageDirectorySync(self.dirRefs[0]!, 2000, self.pages.reader), 'loop');

  for (const at of [0, 1022, 1023, 2999]) {
    const z = build(3000);
    const page = z.pages.page(z.dirRefs[Math.floor(at / 1023)]!);
    writeU32(page, 4 + 4 * (at % 1023), 0);
    expectError(() => walkPageDirectorySync(z.dirRefs[0]!, 3000, z.pages.reader), 'zero-ref');
  }
  const ok = build(10);
  expectError(() => walkPageDirectorySync(grantRef(0), 10, ok.pages.reader), 'zero-ref');
  assert.equal(ok.pages.reads.length, 0);
});

void test('counts out of range are refused before any page is read', () => {
  const { pages, dirRefs } = build(1);
  expectError(() => walkPageDirectorySync(dirRefs[0]!, 0, pages.reader), 'bad-count');
  expectError(() => walkPageDirectorySync(dirRefs[0]!, 65537, pages.reader), 'bad-count', XEN_E2BIG);
  expectError(() => walkPageDirectorySync(dirRefs[0]!, 1.5, pages.reader), 'bad-count');
  assert.equal(pages.reads.length, 0);
});

void test('a reader that returns too few bytes is an error, not an out-of-bounds read', () => {
  expectError(() => walkPageDirectorySync(grantRef(1), 5, () => new Uint8Array(20)), 'short-page', 14);
  // Exactly what is needed is enough: the header plus five refs.
  const page = new Uint8Array(24);
  for (let i = 0; i < 5; i++) writeU32(page, 4 + 4 * i, i + 1);
  assert.deepEqual(Array.from(walkPageDirectorySync(grantRef(1), 5, () => page)), [1, 2, 3, 4, 5]);
});

void test('reader failures pass through unchanged', async () => {
  const boom = new Error('mapping failed');
  await assert.rejects(
    walkPageDirectory(grantRef(1), 5, () => Promise.reject(boom)),
    (e) => e === boom,
  );
});

void test('be-alloc: the backend fills gref[] following the frontend links, and a walk reads them back', async () => {
  const pages = new Pages();
  const dirRefs = [grantRef(70), grantRef(71), grantRef(72)];
  writePageDirectory(
    dirRefs.map((r) => pages.page(r)),
    dirRefs,
    2500,
  );
  assert.equal(readU32(pages.page(70), 4), 0, 'gref[] left for the backend');
  assert.equal(readU32(pages.page(70), 0), 71);
  assert.equal(readU32(pages.page(72), 0), 0, 'last page ends the chain');
  const mine = Array.from({ length: 2500 }, (_, i) => grantRef(900000 + i));
  await fillPageDirectory(dirRefs[0]!, mine, pages.reader);
  assert.deepEqual(Array.from(walkPageDirectorySync(dirRefs[0]!, 2500, pages.reader)), mine);
  // The filler checks links like the walker does.
  writeU32(pages.page(71), 0, 70);
  await assert.rejects(
    fillPageDirectory(dirRefs[0]!, mine, pages.reader),
    (e) => e instanceof PageDirectoryError && e.code === 'loop',
  );
});

void test('the writer zeroes stale bytes and checks its arguments', () => {
  const page = new Uint8Array(4096).fill(0xff);
  writePageDirectory([page], [grantRef(5)], [grantRef(1), grantRef(2)]);
  assert.equal(readU32(page, 0), 0);
  assert.deepEqual([readU32(page, 4), readU32(page, 8), readU32(page, 12)], [1, 2, 0]);
  assert.ok(page.subarray(12).every((x) => x === 0));
  assert.throws(() => writePageDirectory([page], [grantRef(5)], 1024), RangeError);
  assert.throws(() => writePageDirectory([new Uint8Array(100)], [grantRef(5)], 1), RangeError);
});
