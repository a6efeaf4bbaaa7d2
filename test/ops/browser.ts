// Headless Chromium for the viewer tests: Debian's chromium driven by playwright-core (which
// downloads nothing). `browserMissing()` says why a machine cannot run them.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env['VDISPLD_CHROMIUM'] ?? '/usr/bin/chromium';

export function browserMissing(): string | undefined {
  return existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not installed (apt-get install chromium)`;
}

export function launch(): Promise<Browser> {
  // --no-sandbox: tests run as root, where Chromium refuses its sandbox.
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'], timeout: 30_000 });
}
