// What this domain's kernel lets the backend do, decided once at start from probes that have no
// side effects, and said in one line. Zero-copy needs both gntdev's dma-buf ioctls
// (CONFIG_XEN_GNTDEV_DMABUF) and an auto-translated domain: gntdev refuses dma-buf export and
// import in an x86 PV domain (use_ptemod), whatever the kernel was built with.
import { readFileSync } from 'node:fs';
import { Errno } from '../../util/errno.js';
import type { PlatformCapabilities } from '../platform.js';

export type GuestType = 'PV' | 'PVH' | 'HVM' | 'unknown';

/** /sys/hypervisor/guest_type (Linux 4.14+): "PV", "PVH" or "HVM". */
export function readGuestType(path = '/sys/hypervisor/guest_type'): GuestType {
  try {
    const t = readFileSync(path, 'utf8').trim();
    return t === 'PV' || t === 'PVH' || t === 'HVM' ? t : 'unknown';
  } catch {
    // No /sys/hypervisor/guest_type (an older kernel, or not under Xen): the summary says unknown.
    return 'unknown';
  }
}

export interface ProbeResults {
  readonly guestType: GuestType;
  /** errno of the dma-buf ioctls called with count 0 (EINVAL: present, ENOTTY: absent). */
  readonly dmabufProbe: { readonly exportErrno: number; readonly importErrno: number };
  /** undefined when /dev/xen/gntalloc opened, else why not (the addon's message). */
  readonly gntallocError: string | undefined;
}

function dmabufReason(errno: number, guestType: GuestType): string | undefined {
  if (errno === Errno.ENOTTY) return 'kernel without CONFIG_XEN_GNTDEV_DMABUF';
  if (errno !== Errno.EINVAL) return `gntdev answered errno ${errno}`;
  if (guestType === 'PV') return 'x86 PV domain (gntdev refuses dma-bufs)';
  return undefined;
}

export function decideCapabilities(p: ProbeResults): PlatformCapabilities {
  const exportWhyNot = dmabufReason(p.dmabufProbe.exportErrno, p.guestType);
  const importWhyNot = dmabufReason(p.dmabufProbe.importErrno, p.guestType);
  const part = (name: string, whyNot: string | undefined): string =>
    whyNot === undefined ? `${name} yes` : `${name} no (${whyNot})`;
  const gntallocWhyNot = p.gntallocError === undefined ? undefined : 'no /dev/xen/gntalloc';
  const copyNote = exportWhyNot === undefined ? '' : '; guest buffers are copied';
  return {
    dmabufExport: exportWhyNot === undefined,
    dmabufImport: importWhyNot === undefined,
    grantAlloc: p.gntallocError === undefined,
    // A domain of unknown type is counted as PV: counting too few entries could fill the table that
    // blkback and netback share; counting too many only halves what guests may map.
    maptrackEntriesPerPage: p.guestType === 'PV' || p.guestType === 'unknown' ? 2 : 1,
    summary:
      `linux ${p.guestType === 'unknown' ? 'domain of unknown type' : `${p.guestType} domain`}: ` +
      `${part('dma-buf export', exportWhyNot)}, ${part('dma-buf import', importWhyNot)}, ${part('gntalloc', gntallocWhyNot)}${copyNote}` +
      (p.guestType === 'PV' || p.guestType === 'unknown' ? '; a mapped page takes 2 maptrack entries' : ''),
  };
}
