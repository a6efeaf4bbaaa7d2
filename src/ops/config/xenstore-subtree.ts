// The daemon's settings in XenStore, for a driver domain with no file system of its own: the
// toolstack writes them under the backend domain's home, as it writes the devices themselves.
//
//   /local/domain/<backend domid>/vdispld/<key>              = value     (drm-device, metrics, ...)
//   /local/domain/<backend domid>/vdispld/connectors/<guest>/<uid>   = output name
//   /local/domain/<backend domid>/vdispld/layouts/<output>   = GUEST/UNIQUE_ID@WxH+X+Y[:scaled],...
//   /local/domain/<backend domid>/vdispld/quotas/<name>      = number
//
// Only nodes that no domain but dom0 and the backend domain itself may write are believed: a node
// a guest could write would let that guest reconfigure every other guest's display.
import { foreignWriter } from '../../xenstore/perms.js';
import { XenStoreError, type XsOps } from '../../xenstore/types.js';
import type { RawEntry } from './layer.js';
import { MAP_FAMILIES } from './settings.js';

export const SUBTREE_NAME = 'vdispld';
/** Bounds on what one read walks: the toolstack is trusted, a mistake in it should still be cheap. */
export const MAX_NODES = 128;
const MAX_VALUE = 256;
/** A layout of 16 entries, each a guest, a unique-id and a rectangle, needs more. */
const MAX_LAYOUT_VALUE = 2048;

export interface SubtreeRead {
  readonly entries: RawEntry[];
  /** Nodes ignored, one line each: untrusted permissions, too many, a map family with a value. */
  readonly rejected: string[];
  readonly exists: boolean;
}

export function subtreePath(domainPath: string): string {
  return `${domainPath}/${SUBTREE_NAME}`;
}

async function tryDirectory(tx: XsOps, path: string): Promise<string[] | undefined> {
  try {
    return await tx.directory(path);
  } catch (err) {
    if (err instanceof XenStoreError && err.xsError === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Whether the subtree's root exists, by one plain read. Most hosts have no subtree, and finding
 * that out inside a transaction costs three round trips to xenstored instead of one.
 */
export async function subtreeExists(xs: XsOps, root: string): Promise<boolean> {
  return (await tryDirectory(xs, root)) !== undefined;
}

/** Reads the subtree as entries inside one transaction, so a toolstack halfway through writing it is seen before or after. */
export async function readSubtree(tx: XsOps, root: string, ownDomid: number): Promise<SubtreeRead> {
  const entries: RawEntry[] = [];
  const rejected: string[] = [];
  const top = await tryDirectory(tx, root);
  if (top === undefined) return { entries, rejected, exists: false };
  let budget = MAX_NODES;
  const trusted = async (path: string): Promise<boolean> => {
    const why = foreignWriter(await tx.getPerms(path), ownDomid);
    if (why !== undefined) rejected.push(`${path}: ${why}, ignored`);
    return why === undefined;
  };
  const leaf = async (path: string, key: string): Promise<void> => {
    if (--budget < 0) {
      if (budget === -1) rejected.push(`${root}: more than ${MAX_NODES} nodes, the rest ignored`);
      return;
    }
    const value = await tx.tryRead(path);
    if (value === undefined || !(await trusted(path))) return;
    const max = key.startsWith('layouts.') ? MAX_LAYOUT_VALUE : MAX_VALUE;
    entries.push({ key, value: value.length > max ? value.slice(0, max) : value });
  };
  if (!(await trusted(root))) return { entries: [], rejected, exists: true };
  for (const name of top.sort()) {
    const path = `${root}/${name}`;
    if ((MAP_FAMILIES as readonly string[]).includes(name)) {
      const children = (await tryDirectory(tx, path)) ?? [];
      if (children.length > 0 && !(await trusted(path))) continue;
      for (const child of children.sort()) {
        // connectors/<guest>/<unique-id>: a guest's directory holds its mappings. A value
        // directly under connectors/ names no guest and is reported by the layer.
        const grand = name === 'connectors' ? ((await tryDirectory(tx, `${path}/${child}`)) ?? []) : [];
        if (grand.length === 0) {
          await leaf(`${path}/${child}`, `${name}.${child}`);
          continue;
        }
        if (!(await trusted(`${path}/${child}`))) continue;
        for (const uid of grand.sort()) await leaf(`${path}/${child}/${uid}`, `${name}.${child}/${uid}`);
      }
    } else {
      await leaf(path, name);
    }
  }
  return { entries, rejected, exists: true };
}
