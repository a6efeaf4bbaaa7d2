// What a platform has handed out and not had back yet. Every platform keeps the same ledger, so
// resources() (what the tear-down tests check is zero) means the same on each of them.
import type { EventChannel, ExportedDmaBuf, GrantMapping, GrantedBuffer, PlatformResources } from './platform.js';

export class PlatformHoldings {
  readonly mappings = new Set<GrantMapping>();
  readonly exports = new Set<ExportedDmaBuf>();
  readonly granted = new Set<GrantedBuffer>();
  readonly channels = new Set<EventChannel>();
  mappedPages = 0;

  resources(): PlatformResources {
    return {
      grantMappings: this.mappings.size,
      mappedPages: this.mappedPages,
      exportedDmaBufs: this.exports.size,
      grantedBuffers: this.granted.size,
      eventChannels: this.channels.size,
    };
  }
}
