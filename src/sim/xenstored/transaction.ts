// One open transaction: a private copy of the tree taken at TRANSACTION_START, and the state each
// touched node had in that copy. Commit fails with EAGAIN when any touched node has changed in the
// live tree since (xenstored's generation check), otherwise it copies the touched nodes over.
import type { ChangeEvent, View } from './operations.js';
import { fail } from './failure.js';
import type { Tree, XsNode } from './tree.js';

export class Transaction implements View {
  readonly tree: Tree;
  /** Path -> node as the snapshot held it at first touch (undefined: absent). */
  private readonly base = new Map<string, XsNode | undefined>();
  /** Events to fire if and when the transaction commits. */
  readonly events: ChangeEvent[] = [];

  constructor(
    readonly id: number,
    live: Tree,
    /** Distinct nodes it may touch; undefined for the privileged. */
    private readonly nodeLimit: number | undefined,
  ) {
    this.tree = live.clone();
  }

  touch(path: string): void {
    if (this.base.has(path)) return;
    if (this.nodeLimit !== undefined && this.base.size >= this.nodeLimit) {
      fail('ENOSPC', `transaction touches more than ${this.nodeLimit} nodes`);
    }
    this.base.set(path, this.tree.get(path));
  }

  get touched(): number {
    return this.base.size;
  }

  /** True when something this transaction read or wrote was changed by someone else meanwhile. */
  conflictsWith(live: Tree): boolean {
    for (const [path, node] of this.base) {
      if (live.get(path)?.gen !== node?.gen) return true;
    }
    return false;
  }

  /** Copies every node this transaction changed into `live`. Call only when conflictsWith is false. */
  applyTo(live: Tree): void {
    for (const [path, before] of this.base) {
      const now = this.tree.get(path);
      if (now === before) continue;
      if (now === undefined) live.delete(path);
      else live.put(path, now);
    }
  }
}
