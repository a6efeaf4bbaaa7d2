// Page directories (struct xendispl_page_directory): the chain of pages listing a buffer's grant
// refs, 1023 per page, linked by gref_dir_next_page. The walk is bounded by the buffer size alone:
// exactly ceil(n / 1023) pages are read whatever the links say, a link of 0 before the last page,
// a page visited twice, or a listed ref of 0 ends the walk with an error. Nothing here maps pages;
// the caller supplies a reader, so the same walk runs over grant mappings and simulated memory.
// The refs are collected straight into the GrantRefs the platform seam takes.
import { ErrnoError } from '../util/errno.js';
import { grantRefs, type GrantRef, type GrantRefs } from '../util/ids.js';
import { readU32, writeU32 } from './bytes.js';
import { GNTDEV_MAX_REFS, GREFS_PER_DIR_PAGE, PAGE_SIZE, XEN_E2BIG, XEN_EFAULT, XEN_EINVAL } from './constants.js';
import { PAGE_DIR } from './wire-layout.js';

export type PageDirectoryErrorCode = 'bad-count' | 'zero-ref' | 'early-end' | 'loop' | 'short-page';

/** A directory the walk refused; `errno` (positive, a Xen errno) is what the request is answered with. */
export class PageDirectoryError extends ErrnoError {
  constructor(
    message: string,
    errno: number,
    readonly code: PageDirectoryErrorCode,
  ) {
    super(message, errno);
  }
}

/** Directory pages needed for `nRefs` buffer pages: ceil(nRefs / 1023). */
export function directoryPageCount(nRefs: number): number {
  return Math.ceil(nRefs / GREFS_PER_DIR_PAGE);
}

/** Reads one directory page by grant ref: a mapping's bytes, or a copy. At least 4 KiB is not required, only the used part. */
export type DirectoryPageReader = (ref: GrantRef) => Promise<Uint8Array> | Uint8Array;

/**
 * Position in a directory walk. It knows which page to read next and, given that page's bytes,
 * where the walk goes on; every link is checked before it is followed.
 */
class DirectoryCursor {
  readonly pages: number;
  private index = 0;
  private nextRef: number;
  private readonly seen = new Set<number>();

  constructor(
    firstRef: number,
    readonly nRefs: number,
  ) {
    if (!Number.isInteger(nRefs) || nRefs <= 0)
      throw new PageDirectoryError(`page directory for ${nRefs} refs`, XEN_EINVAL, 'bad-count');
    if (nRefs > GNTDEV_MAX_REFS) {
      throw new PageDirectoryError(
        `page directory for ${nRefs} refs, more than ${GNTDEV_MAX_REFS}`,
        XEN_E2BIG,
        'bad-count',
      );
    }
    if (firstRef === 0) throw new PageDirectoryError('first directory page has grant ref 0', XEN_EINVAL, 'zero-ref');
    this.pages = directoryPageCount(nRefs);
    this.nextRef = firstRef;
  }

  /** The ref of the page to read next, or undefined when all pages were read. */
  get current(): GrantRef | undefined {
    return this.index < this.pages ? (this.nextRef as GrantRef) : undefined;
  }

  get pageIndex(): number {
    return this.index;
  }

  /** Buffer refs listed on the current page. */
  get refsOnPage(): number {
    return Math.min(this.nRefs - this.index * GREFS_PER_DIR_PAGE, GREFS_PER_DIR_PAGE);
  }

  /** Checks the page is long enough for what will be read from it. */
  checkLength(page: Uint8Array): void {
    const need = PAGE_DIR.gref + 4 * this.refsOnPage;
    if (page.length < need) {
      throw new PageDirectoryError(
        `directory page ${this.index} is ${page.length} bytes, need ${need}`,
        XEN_EFAULT,
        'short-page',
      );
    }
  }

  /** Moves past the current page, whose bytes are `page`; reads its link only if another page follows. */
  advance(page: Uint8Array): void {
    this.seen.add(this.nextRef);
    this.index++;
    if (this.index >= this.pages) return;
    const next = readU32(page, PAGE_DIR.gref_dir_next_page);
    if (next === 0) {
      throw new PageDirectoryError(
        `directory ends after ${this.index} of ${this.pages} pages`,
        XEN_EINVAL,
        'early-end',
      );
    }
    if (this.seen.has(next)) {
      throw new PageDirectoryError(`directory page ${this.index} links back to grant ref ${next}`, XEN_EINVAL, 'loop');
    }
    this.nextRef = next;
  }
}

/** The wire is little-endian; so is every host Xen runs on, but a big-endian one still reads right. */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function readRefs(cursor: DirectoryCursor, page: Uint8Array, out: Uint32Array): void {
  cursor.checkLength(page);
  const n = cursor.refsOnPage;
  const base = cursor.pageIndex * GREFS_PER_DIR_PAGE;
  // The refs are copied once into `out`, and what is checked there is what is kept.
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer, out.byteOffset + 4 * base, 4 * n).set(
      page.subarray(PAGE_DIR.gref, PAGE_DIR.gref + 4 * n),
    );
  } else {
    for (let i = 0; i < n; i++) out[base + i] = readU32(page, PAGE_DIR.gref + 4 * i);
  }
  for (let i = base; i < base + n; i++) {
    if (out[i] === 0) throw new PageDirectoryError(`buffer page ${i} has grant ref 0`, XEN_EINVAL, 'zero-ref');
  }
}

/**
 * Collects the `nRefs` buffer refs listed by the directory starting at `firstRef`, reading exactly
 * directoryPageCount(nRefs) pages. Throws PageDirectoryError for a bad directory; errors from
 * `readPage` (a failed mapping) pass through unchanged.
 */
export async function walkPageDirectory(
  firstRef: GrantRef,
  nRefs: number,
  readPage: DirectoryPageReader,
): Promise<GrantRefs> {
  const cursor = new DirectoryCursor(firstRef, nRefs);
  const refs = new Uint32Array(nRefs);
  for (let ref = cursor.current; ref !== undefined; ref = cursor.current) {
    const page = await readPage(ref);
    readRefs(cursor, page, refs);
    cursor.advance(page);
  }
  return grantRefs(refs);
}

/** walkPageDirectory for a reader that answers at once (simulated memory, tests). */
export function walkPageDirectorySync(
  firstRef: GrantRef,
  nRefs: number,
  readPage: (ref: GrantRef) => Uint8Array,
): GrantRefs {
  const cursor = new DirectoryCursor(firstRef, nRefs);
  const refs = new Uint32Array(nRefs);
  for (let ref = cursor.current; ref !== undefined; ref = cursor.current) {
    const page = readPage(ref);
    readRefs(cursor, page, refs);
    cursor.advance(page);
  }
  return grantRefs(refs);
}

/**
 * be-alloc: the frontend made and linked the directory pages; the backend writes the refs of the
 * pages it granted into gref[] of each, following the links with the same checks as a walk.
 * `accessPage` must return a writable view of the directory page.
 */
export async function fillPageDirectory(
  firstRef: GrantRef,
  bufferRefs: ArrayLike<number>,
  accessPage: DirectoryPageReader,
): Promise<void> {
  const cursor = new DirectoryCursor(firstRef, bufferRefs.length);
  for (let ref = cursor.current; ref !== undefined; ref = cursor.current) {
    const page = await accessPage(ref);
    cursor.checkLength(page);
    const base = cursor.pageIndex * GREFS_PER_DIR_PAGE;
    const n = cursor.refsOnPage;
    for (let i = 0; i < n; i++) writeU32(page, PAGE_DIR.gref + 4 * i, bufferRefs[base + i]!);
    cursor.advance(page);
  }
}

/**
 * Frontend side: lays out a directory for `bufferRefs` in `pages` (whose grant refs are `pageRefs`,
 * in chain order): each page zeroed, linked to the next, the last linked to 0. A number instead of
 * refs links the pages for that many buffer pages and leaves gref[] zero: be-alloc, where the
 * backend fills them in.
 */
export function writePageDirectory(
  pages: readonly Uint8Array[],
  pageRefs: readonly GrantRef[],
  bufferRefs: ArrayLike<number> | number,
): void {
  const total = typeof bufferRefs === 'number' ? bufferRefs : bufferRefs.length;
  const n = directoryPageCount(total);
  if (pages.length !== n || pageRefs.length !== n) {
    throw new RangeError(
      `writePageDirectory: ${total} refs need ${n} directory pages, got ${pages.length} pages and ${pageRefs.length} refs`,
    );
  }
  for (let p = 0; p < n; p++) {
    const page = pages[p]!;
    if (page.length < PAGE_SIZE) throw new RangeError(`writePageDirectory: page ${p} shorter than ${PAGE_SIZE} bytes`);
    page.fill(0, 0, PAGE_SIZE);
    writeU32(page, PAGE_DIR.gref_dir_next_page, p + 1 < n ? pageRefs[p + 1]! : 0);
    if (typeof bufferRefs === 'number') continue;
    const base = p * GREFS_PER_DIR_PAGE;
    const count = Math.min(total - base, GREFS_PER_DIR_PAGE);
    for (let i = 0; i < count; i++) writeU32(page, PAGE_DIR.gref + 4 * i, bufferRefs[base + i]!);
  }
}
