// A display buffer shared through a page directory, as xen-front-pgdir-shbuf.c does it.
// Frontend-allocated: the directory pages and the buffer pages are granted (writable) to the
// backend and the directory lists the buffer's refs. Backend-allocated (be-alloc): only the
// directory pages are granted, linked but empty; after DBUF_CREATE the backend has written its
// own refs into them and the frontend maps those.
import { directoryPageCount, writePageDirectory } from '../../displif/page-directory.js';
import { GREFS_PER_DIR_PAGE, PAGE_SIZE } from '../../displif/constants.js';
import { readU32 } from '../../displif/bytes.js';
import { PAGE_DIR } from '../../displif/wire-layout.js';
import { grantRef } from '../../util/ids.js';
import type { DomainKernel, ForeignMapping, OwnPages } from '../domain-kernel.js';
import { Errno } from '../../util/errno.js';

const { ENXIO } = Errno;

export class PgdirShbuf {
  private backendMap: ForeignMapping | undefined;
  private freed = false;

  private constructor(
    private readonly kernel: DomainKernel,
    private readonly backend: number,
    readonly numPages: number,
    private readonly dir: OwnPages,
    private readonly dirRefs: readonly number[],
    /** Frontend-allocated buffer pages and their refs; undefined for be-alloc. */
    private readonly own: { pages: OwnPages; refs: readonly number[] } | undefined,
  ) {}

  /** Grants a directory (and, unless be-alloc, the buffer pages `pages`). */
  static async alloc(
    kernel: DomainKernel,
    backend: number,
    numPages: number,
    buffer: OwnPages | undefined,
  ): Promise<PgdirShbuf> {
    const nDir = directoryPageCount(numPages);
    const dir = await kernel.allocPages(nDir);
    let refs: number[];
    try {
      refs = await kernel.allocRefs(nDir + (buffer ? numPages : 0));
    } catch (err) {
      dir.unmap();
      kernel.freePages(dir.first, nDir);
      throw err;
    }
    const dirRefs = refs.slice(0, nDir);
    dirRefs.forEach((r, i) => kernel.grantAccess(r, backend, dir.first + i, false));
    const views = dirRefs.map((_, i) => dir.bytes.subarray(i * PAGE_SIZE, (i + 1) * PAGE_SIZE));
    let own: { pages: OwnPages; refs: number[] } | undefined;
    if (buffer) {
      const bufRefs = refs.slice(nDir);
      bufRefs.forEach((r, i) => kernel.grantAccess(r, backend, buffer.first + i, false));
      own = { pages: buffer, refs: bufRefs };
      writePageDirectory(views, dirRefs.map(grantRef), bufRefs.map(grantRef));
    } else {
      writePageDirectory(views, dirRefs.map(grantRef), numPages);
    }
    return new PgdirShbuf(kernel, backend, numPages, dir, dirRefs, own);
  }

  /** The ref of the first directory page (gref_directory). */
  get dirStart(): number {
    return this.dirRefs[0]!;
  }

  /** The buffer's bytes: our pages, or the backend's once mapped. */
  get bytes(): Uint8Array | undefined {
    return this.own ? this.own.pages.bytes : this.backendMap?.bytes;
  }

  /** be-alloc: maps the refs the backend wrote into the directory; a failure is -ENXIO as in Linux. */
  async map(): Promise<number> {
    if (this.own) return 0;
    const refs: number[] = [];
    for (let p = 0; p < this.dirRefs.length; p++) {
      const page = this.dir.bytes.subarray(p * PAGE_SIZE, (p + 1) * PAGE_SIZE);
      const n = Math.min(this.numPages - p * GREFS_PER_DIR_PAGE, GREFS_PER_DIR_PAGE);
      for (let i = 0; i < n; i++) refs.push(readU32(page, PAGE_DIR.gref + 4 * i));
    }
    try {
      this.backendMap = await this.kernel.mapForeign(this.backend, refs, true);
      return 0;
    } catch {
      // Linux's map of the backend's grants reports any failure as -ENXIO.
      return -ENXIO;
    }
  }

  /** be-alloc: unmaps the backend's pages (before DBUF_DESTROY, as the driver does). */
  unmap(): void {
    this.backendMap?.close();
    this.backendMap = undefined;
  }

  /** Ends access to every grant (deferred while the backend still maps it) and frees the pages. Idempotent. */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    this.unmap();
    this.dir.unmap();
    this.kernel.releaseDeferred(this.dir.first, this.dirRefs.length, this.dirRefs);
    if (this.own) {
      this.own.pages.unmap();
      this.kernel.releaseDeferred(this.own.pages.first, this.own.pages.pages, this.own.refs);
    }
  }
}
