// The entry point the daemon loads lazily (src/daemon.ts: `openKmsBackend`), so a build or machine
// without DRM never touches libdrm.
import type { Logger } from '../../util/log.js';
import type { OutputBackend } from '../output.js';
import { KmsBackend, type KmsBackendOptions } from './kms-backend.js';

export { KmsBackend } from './kms-backend.js';

export function openKmsBackend(
  opts: { card?: string; log: Logger } & Omit<KmsBackendOptions, 'card' | 'log'>,
): Promise<OutputBackend> {
  try {
    return Promise.resolve(KmsBackend.open(opts));
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}
