// Mapped guest memory is not the JavaScript heap's: holding many large mappings must not make V8
// collect garbage over and over (it counts an external ArrayBuffer's length as memory it keeps
// alive, and each new mapping past its limit would cost a full mark-compact that frees nothing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { native, type NativeMapping } from '../../src/native/addon.js';

const PAGE = 4096;
const PAGES = 2025; // a 1920x1080 XRGB8888 buffer
const LIVE = 128; // 64 connectors, double-buffered: ~1 GiB of guest buffers

void test('a thousand MiB of live mappings cause no full garbage collection', async () => {
  const path = join(tmpdir(), `vdispld-mapping-gc-${process.pid}`);
  const fd = openSync(path, 'w+');
  const majors: number[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)
        majors.push(e.startTime);
    }
  });
  const live: NativeMapping[] = [];
  try {
    ftruncateSync(fd, PAGES * PAGE); // sparse: the pages are never touched, nothing is allocated
    const offsets = Uint32Array.from({ length: PAGES }, (_, i) => i);
    obs.observe({ entryTypes: ['gc'] });
    for (let i = 0; i < LIVE; i++) {
      live.push(native().mapFdPages(fd, offsets, false));
      // Let V8 act on its external-memory count between mappings, as between requests.
      await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setTimeout(r, 50)); // gc entries are delivered asynchronously
    assert.equal(majors.length, 0, `${majors.length} full collections while ${LIVE} mappings were live`);
  } finally {
    obs.disconnect();
    for (const m of live) m.unmap();
    closeSync(fd);
    rmSync(path, { force: true });
  }
  assert.equal(native().memoryStats().mappings, 0);
});
