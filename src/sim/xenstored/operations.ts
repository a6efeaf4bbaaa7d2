// The database operations of the simulated xenstored, on one view of the tree (the live tree, or a
// transaction's copy) for one caller. Pure: no sockets, no watches; each change is reported as a
// ChangeEvent for the caller to fire when it becomes visible.
import type { XsPerm } from '../../xenstore/types.js';
import { baseName, parentOf } from '../../xenstore/paths.js';
import { accessFor, type Access, type Caller } from './access.js';
import { fail } from './failure.js';
import type { Quotas } from './quotas.js';
import type { Tree, XsNode } from './tree.js';

/** A tree plus what a transaction needs to know about it. */
export interface View {
  readonly tree: Tree;
  /** Called before `path` is read or changed, while the tree still holds its old state. */
  touch(path: string): void;
}

export interface ChangeEvent {
  readonly path: string;
  /** A removal: watches below `path` fire too (with their own path, as xenstored reports them). */
  readonly recursive: boolean;
  /** Who may see the event: the node's permissions after the change (before it, for a removal). */
  readonly perms: readonly XsPerm[];
}

export interface OpContext {
  readonly view: View;
  readonly caller: Caller;
  readonly quotas: Quotas;
  readonly nextGen: () => number;
}

type Need = keyof Access;

function lookup(ctx: OpContext, path: string): XsNode | undefined {
  ctx.view.touch(path);
  return ctx.view.tree.get(path);
}

/**
 * The error for a missing node, as xenstored computes it: ENOENT if the caller has `need` on the
 * nearest existing ancestor, else EACCES (so existence is not leaked through unreadable parents).
 */
function missingError(ctx: OpContext, path: string, need: Need): 'ENOENT' | 'EACCES' {
  let p = path;
  while (p !== '/') {
    p = parentOf(p);
    const node = lookup(ctx, p);
    if (node !== undefined) return accessFor(ctx.caller, node.perms)[need] ? 'ENOENT' : 'EACCES';
  }
  return 'ENOENT';
}

/** The node at `path` if the caller has `need` on it; undefined if it is missing but creatable. */
function nodeOrMissing(ctx: OpContext, path: string, need: Need): XsNode | undefined {
  const node = lookup(ctx, path);
  if (node === undefined) {
    const err = missingError(ctx, path, need);
    if (err === 'EACCES') fail('EACCES');
    return undefined;
  }
  if (!accessFor(ctx.caller, node.perms)[need]) fail('EACCES');
  return node;
}

function existing(ctx: OpContext, path: string, need: Need): XsNode {
  return nodeOrMissing(ctx, path, need) ?? fail('ENOENT');
}

function put(ctx: OpContext, path: string, node: XsNode): void {
  ctx.view.touch(path);
  ctx.view.tree.put(path, node);
}

/** Creates `path` and any missing ancestors; each inherits its parent's permissions, owned by the creator. */
function create(ctx: OpContext, path: string, value: Buffer): XsNode {
  const missing: string[] = [];
  let p = path;
  let parent: XsNode | undefined;
  for (;;) {
    missing.push(p);
    p = parentOf(p);
    parent = lookup(ctx, p);
    if (parent !== undefined) break;
  }
  const { caller, quotas } = ctx;
  if (!caller.privileged && ctx.view.tree.ownedBy(caller.domid) + missing.length > quotas.nodesPerDomain) {
    fail('ENOSPC', `domain ${caller.domid} would own more than ${quotas.nodesPerDomain} nodes`);
  }
  let parentPath = p;
  let created: XsNode | undefined;
  for (const q of missing.reverse()) {
    const perms: XsPerm[] = parent.perms.map((x) => ({ ...x }));
    if (!caller.privileged) perms[0] = { domid: caller.domid, access: perms[0]!.access };
    created = { value: q === path ? value : Buffer.alloc(0), perms, children: [], gen: ctx.nextGen() };
    put(ctx, parentPath, { ...parent, children: [...parent.children, baseName(q)], gen: ctx.nextGen() });
    put(ctx, q, created);
    parentPath = q;
    parent = created;
  }
  return created!;
}

export function read(ctx: OpContext, path: string): Buffer {
  return existing(ctx, path, 'read').value;
}

export function write(ctx: OpContext, path: string, value: Buffer): ChangeEvent[] {
  if (!ctx.caller.privileged && value.length > ctx.quotas.maxValueSize) {
    fail('ENOSPC', `value of ${value.length} bytes exceeds ${ctx.quotas.maxValueSize}`);
  }
  const node = nodeOrMissing(ctx, path, 'write');
  if (node === undefined) {
    const created = create(ctx, path, value);
    return [{ path, recursive: false, perms: created.perms }];
  }
  put(ctx, path, { ...node, value, gen: ctx.nextGen() });
  return [{ path, recursive: false, perms: node.perms }];
}

export function mkdir(ctx: OpContext, path: string): ChangeEvent[] {
  if (nodeOrMissing(ctx, path, 'write') !== undefined) return [];
  const created = create(ctx, path, Buffer.alloc(0));
  return [{ path, recursive: false, perms: created.perms }];
}

export function rm(ctx: OpContext, path: string): ChangeEvent[] {
  if (path === '/') fail('EINVAL', 'the root cannot be removed');
  const node = nodeOrMissing(ctx, path, 'write');
  const parentPath = parentOf(path);
  const parent = lookup(ctx, parentPath);
  if (node === undefined) {
    // Absent is fine, as long as its parent exists.
    if (parent === undefined) fail('ENOENT');
    return [];
  }
  const stack = [path];
  while (stack.length > 0) {
    const p = stack.pop()!;
    const n = lookup(ctx, p);
    if (n === undefined) continue;
    for (const c of n.children) stack.push(p === '/' ? `/${c}` : `${p}/${c}`);
    ctx.view.tree.delete(p);
  }
  const name = baseName(path);
  put(ctx, parentPath, { ...parent!, children: parent!.children.filter((c) => c !== name), gen: ctx.nextGen() });
  return [{ path, recursive: true, perms: node.perms }];
}

export function directory(ctx: OpContext, path: string): XsNode {
  return existing(ctx, path, 'read');
}

export function getPerms(ctx: OpContext, path: string): readonly XsPerm[] {
  return existing(ctx, path, 'read').perms;
}

export function setPerms(ctx: OpContext, path: string, perms: readonly XsPerm[]): ChangeEvent[] {
  if (perms.length === 0) fail('EINVAL', 'no permissions given');
  const node = existing(ctx, path, 'owner');
  if (!ctx.caller.privileged && perms[0]!.domid !== node.perms[0]!.domid) {
    fail('EPERM', 'only the toolstack may change the owner of a node');
  }
  put(ctx, path, { ...node, perms: perms.map((p) => ({ ...p })), gen: ctx.nextGen() });
  return [{ path, recursive: false, perms }];
}
