// Opening a DRM card: a given path, or the first card that can serve guests (KMS resources, dumb
// buffers, a connected connector with modes). Also what the card can do, for `vdispld outputs` and
// the KMS backend's choices.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../../native/addon.js';
import {
  DRM_CAP_ADDFB2_MODIFIERS,
  DRM_CAP_DUMB_BUFFER,
  DRM_CAP_PRIME,
  DRM_CAP_TIMESTAMP_MONOTONIC,
  DRM_CLIENT_CAP_ATOMIC,
  DRM_CLIENT_CAP_UNIVERSAL_PLANES,
  DRM_PRIME_CAP_EXPORT,
  DRM_PRIME_CAP_IMPORT,
} from '../../native/abi.js';
import type { DrmResources, DrmVersion, NativeDrmDevice } from '../../native/drm-device.js';

export interface CardCaps {
  readonly dumbBuffers: boolean;
  readonly primeImport: boolean;
  readonly primeExport: boolean;
  /** DRM_CLIENT_CAP_ATOMIC granted (requested only when wanted). */
  readonly atomic: boolean;
  readonly universalPlanes: boolean;
  readonly addfb2Modifiers: boolean;
  readonly monotonicTimestamps: boolean;
}

export interface CardInfo {
  readonly path: string;
  readonly driver: DrmVersion;
  readonly caps: CardCaps;
  readonly resources: DrmResources;
}

export interface CardDeps {
  readonly open: (path: string) => NativeDrmDevice;
  readonly list: (dir: string) => string[];
  readonly exists: (path: string) => boolean;
}

export const defaultCardDeps = (): CardDeps => ({
  open: (path) => new (native().DrmDevice)(path),
  list: (dir) => readdirSync(dir),
  exists: existsSync,
});

/** Turns on what we use and reads what the card offers. `atomic` false keeps the legacy API. */
export function probeCard(dev: NativeDrmDevice, opts: { atomic: boolean }): CardInfo {
  const universalPlanes = dev.setClientCap(DRM_CLIENT_CAP_UNIVERSAL_PLANES, 1) === 0;
  const atomic = opts.atomic && dev.setClientCap(DRM_CLIENT_CAP_ATOMIC, 1) === 0;
  const prime = dev.getCap(DRM_CAP_PRIME);
  const caps: CardCaps = {
    dumbBuffers: dev.getCap(DRM_CAP_DUMB_BUFFER) > 0,
    primeImport: prime > 0 && (prime & DRM_PRIME_CAP_IMPORT) !== 0,
    primeExport: prime > 0 && (prime & DRM_PRIME_CAP_EXPORT) !== 0,
    atomic,
    universalPlanes,
    addfb2Modifiers: dev.getCap(DRM_CAP_ADDFB2_MODIFIERS) > 0,
    monotonicTimestamps: dev.getCap(DRM_CAP_TIMESTAMP_MONOTONIC) > 0,
  };
  return { path: dev.path, driver: dev.version(), caps, resources: dev.resources() };
}

/** "atomic yes, PRIME import yes, dumb buffers yes, ..." */
export function describeCaps(c: CardCaps): string {
  const yn = (b: boolean): string => (b ? 'yes' : 'no');
  return (
    `atomic ${yn(c.atomic)}, PRIME import ${yn(c.primeImport)}, PRIME export ${yn(c.primeExport)}, ` +
    `dumb buffers ${yn(c.dumbBuffers)}, ADDFB2 modifiers ${yn(c.addfb2Modifiers)}`
  );
}

export function listCards(dir: string, deps: CardDeps): string[] {
  if (!deps.exists(dir)) {
    throw new Error(
      `no ${dir}: this machine has no DRM/KMS device — load the display's KMS driver (e.g. bochs-drm, virtio-gpu, i915), or use --output headless`,
    );
  }
  return deps
    .list(dir)
    .filter((n) => /^card[0-9]+$/.test(n))
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)))
    .map((n) => join(dir, n));
}

export interface OpenedCard {
  readonly dev: NativeDrmDevice;
  readonly info: CardInfo;
}

function whyUnusable(info: CardInfo): string | undefined {
  if (!info.caps.dumbBuffers) return 'no dumb buffers';
  if (!info.resources.connectors.some((c) => c.connection === 'connected' && c.modes.length > 0))
    return 'no connected connector with modes';
  return undefined;
}

/**
 * Opens `spec` (a device path) or, for 'auto', the first card under /dev/dri that can serve. The
 * error for 'auto' lists every card and why it was passed over.
 */
export function openCard(
  spec: string,
  opts: { atomic: boolean; dir?: string },
  deps: CardDeps = defaultCardDeps(),
): OpenedCard {
  const tryOpen = (path: string): OpenedCard => {
    const dev = deps.open(path);
    try {
      return { dev, info: probeCard(dev, opts) };
    } catch (err) {
      dev.close();
      throw err;
    }
  };
  if (spec !== 'auto') return tryOpen(spec);
  const dir = opts.dir ?? '/dev/dri';
  const cards = listCards(dir, deps);
  const passed: string[] = [];
  for (const path of cards) {
    let card: OpenedCard;
    try {
      card = tryOpen(path);
    } catch (err) {
      passed.push(`${path}: ${err instanceof Error ? err.message : String(err)}`);
      continue;
    }
    const why = whyUnusable(card.info);
    if (why === undefined) return card;
    passed.push(`${path} (${card.info.driver.name}): ${why}`);
    card.dev.close();
  }
  throw new Error(
    cards.length === 0
      ? `no DRM card in ${dir}: load the display's KMS driver, or use --output headless`
      : `no DRM card can show guests: ${passed.join('; ')}`,
  );
}
