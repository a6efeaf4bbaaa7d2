// The XenStore seam. The client in this folder implements it over the wire protocol; the backend
// depends on these types only.

/** A XenStore permission entry in Xen's string form: 'n' none, 'r' read, 'w' write, 'b' both. */
export interface XsPerm {
  readonly domid: number;
  readonly access: 'n' | 'r' | 'w' | 'b';
}

/** Xen's error names, as xenstored sends them. */
export type XsErrorName =
  | 'EINVAL'
  | 'EACCES'
  | 'EEXIST'
  | 'EISDIR'
  | 'ENOENT'
  | 'ENOMEM'
  | 'ENOSPC'
  | 'EIO'
  | 'ENOTEMPTY'
  | 'ENOSYS'
  | 'EROFS'
  | 'EBUSY'
  | 'EAGAIN'
  | 'EISCONN'
  | 'E2BIG'
  | 'EPERM'
  | 'EQUOTA';

export class XenStoreError extends Error {
  constructor(
    readonly xsError: XsErrorName | 'ECONNRESET' | 'EPROTO',
    readonly path: string | undefined,
    message?: string,
  ) {
    super(message ?? `xenstore: ${xsError}${path !== undefined ? ` at ${path}` : ''}`);
    this.name = 'XenStoreError';
  }
}

/** Operations valid both outside and inside a transaction. */
export interface XsOps {
  read(path: string): Promise<string>;
  /** undefined where the node does not exist (ENOENT); other errors reject. */
  tryRead(path: string): Promise<string | undefined>;
  write(path: string, value: string): Promise<void>;
  mkdir(path: string): Promise<void>;
  rm(path: string): Promise<void>;
  /** Child names; [] where the node does not exist is NOT implied: ENOENT rejects. */
  directory(path: string): Promise<string[]>;
  getPerms(path: string): Promise<XsPerm[]>;
  setPerms(path: string, perms: readonly XsPerm[]): Promise<void>;
}

export interface XsWatch {
  readonly path: string;
  readonly token: string;
  /** Idempotent; no callback after it resolves. */
  close(): Promise<void>;
}

export interface XenStore extends XsOps {
  /**
   * Watches `path` and its subtree. `onEvent(changedPath)` is called once at registration (as
   * xenstored does), on every change, and once after each reconnect so the caller re-reads state.
   * Calls are delivered in the order xenstored sent them.
   */
  watch(path: string, onEvent: (changedPath: string) => void): Promise<XsWatch>;
  /** Runs `fn` in a transaction; retries it on EAGAIN up to `retries` times (default 16). */
  transaction<T>(fn: (tx: XsOps) => Promise<T>, opts?: { retries?: number }): Promise<T>;
  getDomainPath(domid: number): Promise<string>;
  close(): Promise<void>;
}
