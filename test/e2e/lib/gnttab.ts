// Xen's grant-table dump (`xl debug-keys g`, read back with `xl dmesg`): which of a domain's grants are
// mapped, and how often (the pin counts), as the hypervisor itself counts them.

/** The four 8-bit pin counters of an active grant entry summed: host/device, read/write mappings. */
export function pinTotal(pin: number): number {
  return (pin & 0xff) + ((pin >> 8) & 0xff) + ((pin >> 16) & 0xff) + ((pin >> 24) & 0xff);
}

/**
 * Xen's 'g' key dump: for each domain a header line "grant-table for remote d<N> ..." and then one
 * line per active entry: "(XEN) [0x008]      0 0x2afb3 0x00000200 ..." (ref, mapping domain, mfn, pin). Only domain `domid`'s,
 * and only the refs a frontend grants (8 and up).
 */
export function parsePins(text: string, domid: number): Map<number, number> {
  const pins = new Map<number, number>();
  let inDom = false;
  for (const line of text.split('\n')) {
    const h = /grant-table for remote d(?:omain:\s*)?(\d+)/.exec(line);
    if (h) {
      inDom = Number(h[1]) === domid;
      continue;
    }
    if (!inDom) continue;
    const m = /\[\s*(0x[0-9a-f]+|\d+)\]\s+(\d+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)/i.exec(line);
    // refs 0-7 are the toolstack's (console, xenstore), mapped by xenconsoled and xenstored, not us
    if (m && Number(m[1]) >= 8) pins.set(Number(m[1]), parseInt(m[3]!, 16));
  }
  return pins;
}

/**
 * The maptrack frames (256 entries each) domain `domid` has grown to, and its maximum: Xen grows a
 * mapping domain's table on demand and never shrinks it, so this is the high-water mark.
 */
export function maptrackFrames(text: string, domid: number): { frames: number; max: number } | undefined {
  const re = new RegExp(`grant-table for remote d${domid} \\(v\\d\\)\\s*\\n.*?(\\d+) maptrack frames \\((\\d+) max\\)`);
  const m = re.exec(text);
  return m ? { frames: Number(m[1]), max: Number(m[2]) } : undefined;
}
