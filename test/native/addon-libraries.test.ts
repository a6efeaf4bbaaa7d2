// What the built modules need from the system at run time. The main addon is loaded by every
// vdispld; if it named libwayland-client, a dom0 without that library (the e2e images, an embedded
// dom0 with KMS only) could not start at all. Only vdispl_wayland.node may need it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

function needed(file: string): string[] {
  const out = execFileSync('readelf', ['-d', file], { encoding: 'utf8' });
  return [...out.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]!);
}

const release = join(process.cwd(), 'build', 'Release');

void test('the main addon needs libdrm and the C/C++ runtime only, never libwayland-client', () => {
  const libs = needed(join(release, 'vdispl_native.node'));
  assert.ok(libs.includes('libdrm.so.2'), `libdrm in ${libs.join(', ')}`);
  const allowed = /^(libdrm\.so\.2|libstdc\+\+\.so\.6|libm\.so\.6|libgcc_s\.so\.1|libc\.so\.6|ld-linux.*)$/;
  assert.deepEqual(
    libs.filter((l) => !allowed.test(l)),
    [],
    'no other run-time library',
  );
});

void test('the Wayland module, where built, carries libwayland-client itself', (t) => {
  const file = join(release, 'vdispl_wayland.node');
  if (!existsSync(file)) return t.skip('built without the Wayland packages');
  assert.ok(needed(file).includes('libwayland-client.so.0'));
});
