// The node store of the simulated xenstored: path -> node, with per-owner node counts for the
// quota. Nodes are immutable values, so a transaction's copy of the tree is a cheap shallow copy
// and "has this node changed" is an identity or generation comparison.
import type { XsPerm } from '../../xenstore/types.js';

export interface XsNode {
  readonly value: Buffer;
  /** perms[0] is the owner and the access of every domain not listed after it. */
  readonly perms: readonly XsPerm[];
  /** Child base names in creation order (xenstored lists them that way). */
  readonly children: readonly string[];
  /** Unique per modification across the whole daemon; how commits detect conflicts. */
  readonly gen: number;
}

export class Tree {
  private constructor(
    private readonly nodes: Map<string, XsNode>,
    private readonly owned: Map<number, number>,
  ) {}

  /** A tree holding only the root, owned by dom0 and readable by nobody else (as xenstored starts). */
  static fresh(gen: number): Tree {
    const t = new Tree(new Map(), new Map());
    t.put('/', { value: Buffer.alloc(0), perms: [{ domid: 0, access: 'n' }], children: [], gen });
    return t;
  }

  clone(): Tree {
    return new Tree(new Map(this.nodes), new Map(this.owned));
  }

  get(path: string): XsNode | undefined {
    return this.nodes.get(path);
  }

  put(path: string, node: XsNode): void {
    const old = this.nodes.get(path);
    if (old !== undefined) this.count(old.perms[0]!.domid, -1);
    this.nodes.set(path, node);
    this.count(node.perms[0]!.domid, +1);
  }

  delete(path: string): void {
    const old = this.nodes.get(path);
    if (old === undefined) return;
    this.count(old.perms[0]!.domid, -1);
    this.nodes.delete(path);
  }

  /** How many nodes `domid` owns (the per-domain node quota counts these). */
  ownedBy(domid: number): number {
    return this.owned.get(domid) ?? 0;
  }

  get size(): number {
    return this.nodes.size;
  }

  paths(): IterableIterator<string> {
    return this.nodes.keys();
  }

  private count(domid: number, delta: number): void {
    const n = (this.owned.get(domid) ?? 0) + delta;
    if (n === 0) this.owned.delete(domid);
    else this.owned.set(domid, n);
  }
}
