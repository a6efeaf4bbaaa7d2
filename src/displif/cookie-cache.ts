// Cookies read from requests, kept so a repeated cookie is the same bigint again. A frontend names
// the same few framebuffers flip after flip; making a fresh bigint from the slot's two u32 halves
// every time was a steady share of the request path's garbage. The table is small and fixed, so a
// guest sending endless new cookies only evicts entries: it costs what an uncached read costs.
import type { Cookie } from '../util/ids.js';
import { readU32, u64FromHalves } from './bytes.js';

/** Entries; a power of two. Four guests' worth of framebuffers per connector fit many times over. */
const ENTRIES = 64;

export class CookieCache {
  private readonly lo = new Uint32Array(ENTRIES);
  private readonly hi = new Uint32Array(ENTRIES);
  private readonly values: (Cookie | undefined)[] = new Array<Cookie | undefined>(ENTRIES).fill(undefined);

  /** The little-endian u64 at `b[o]` as a Cookie: exactly readU64's value, cached by its halves. */
  read(b: Uint8Array, o: number): Cookie {
    const lo = readU32(b, o);
    const hi = readU32(b, o + 4);
    // Linux's cookies are kernel addresses of aligned objects: their low bits say little, so the
    // slot mixes in higher ones. Any slot is correct; the mix only spreads collisions.
    const slot = (lo ^ (lo >>> 6) ^ (lo >>> 12) ^ hi) & (ENTRIES - 1);
    const cached = this.values[slot];
    if (cached !== undefined && this.lo[slot] === lo && this.hi[slot] === hi) return cached;
    const value = u64FromHalves(lo, hi) as Cookie;
    this.lo[slot] = lo;
    this.hi[slot] = hi;
    this.values[slot] = value;
    return value;
  }
}
