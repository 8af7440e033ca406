import type { BitDepth } from './read.js';

/**
 * The pixels of a plain uncompressed TIFF, read straight from the file's bytes: one sample per
 * pixel, 8 or 16 bits unsigned, BlackIsZero, in strips (what microscopes write: every BBBC021
 * image is such a file). Returns null for anything else (compressed, tiled, multi-sample,
 * WhiteIsZero, truncated...), which libvips then decodes and checks in full.
 *
 * Why not libvips for these too: opening a 2.6 MB field with sharp (header, then pixels, through
 * its thread pool, and the copy out) costs 7-15 ms of CPU, the same as its whole area downsample
 * and a third of the network's time per image on a 2-core machine; the pixels of an uncompressed
 * strip TIFF are already in the file, so here they cost nothing but the read (0.3 ms). A page of
 * a multi-page file (one field, all stains) is found by following the chain of IFDs.
 */
export interface RawTiff {
  width: number;
  height: number;
  bitDepth: BitDepth;
  /** A view over `buf` when the strips are contiguous, little-endian and aligned; a copy otherwise. */
  data: Uint8Array | Uint16Array;
}

const TYPE_SIZE: Record<number, number> = { 1: 1, 3: 2, 4: 4, 16: 8 }; // BYTE, SHORT, LONG, LONG8
/** Bytes per value of every TIFF field type (for where out-of-line values sit). */
const ANY_TYPE_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8 };

interface Ifd {
  /** tag -> integer values (tags of other types are present with no values) */
  tags: Map<number, number[]>;
  /** ASCII tags: tag -> [byte offset, length] */
  ascii: Map<number, [number, number]>;
  /** offset of the next IFD, 0 at the last */
  next: number;
}

/**
 * The integer-valued entries of the IFD at `ifd`, read in place. utif2 (used by `inspect`) would
 * first copy the whole 2.6 MB file and parse every tag of every page.
 */
function readIfd(buf: Uint8Array, ifd: number): Ifd | null {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const le = buf[0] === 0x49;
  if (ifd < 8 || ifd + 2 > buf.length) return null;
  const count = view.getUint16(ifd, le);
  if (ifd + 2 + count * 12 + 4 > buf.length) return null;
  const tags = new Map<number, number[]>();
  const ascii = new Map<number, [number, number]>();
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + i * 12;
    const id = view.getUint16(e, le);
    const type = view.getUint16(e + 2, le);
    const n = view.getUint32(e + 4, le);
    if (type === 2) {
      const at = n <= 4 ? e + 8 : view.getUint32(e + 8, le);
      if (at + n <= buf.length) ascii.set(id, [at, n]);
    }
    const size = TYPE_SIZE[type];
    if (size === undefined || size === 8) {
      tags.set(id, []); // present, but not a value this reader uses
      continue;
    }
    const at = n * size <= 4 ? e + 8 : view.getUint32(e + 8, le);
    if (at + n * size > buf.length) return null;
    const values = new Array<number>(n);
    for (let k = 0; k < n; k++) values[k] = size === 1 ? buf[at + k]! : size === 2 ? view.getUint16(at + 2 * k, le) : view.getUint32(at + 4 * k, le);
    tags.set(id, values);
  }
  return { tags, ascii, next: view.getUint32(ifd + 2 + count * 12, le) };
}

/** Pages a file's IFD chain can hold at most (a guard against a loop in a corrupt chain). */
const MAX_PAGES = 100_000;

/**
 * The IFD of page `page` (0-based) of a classic TIFF, following the chain of IFDs (a few bytes
 * per page: cheap). `pages` is how many pages were seen when the chain ended before `page`.
 */
function ifdOfPage(buf: Uint8Array, page: number): { ifd: Ifd | null; pages: number } {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = view.getUint32(4, buf[0] === 0x49);
  for (let p = 0; p < MAX_PAGES; p++) {
    const ifd = readIfd(buf, at);
    if (!ifd) return { ifd: null, pages: p };
    if (p === page) return { ifd, pages: p + 1 };
    if (ifd.next === 0) return { ifd: null, pages: p + 1 };
    at = ifd.next;
  }
  return { ifd: null, pages: MAX_PAGES };
}

/**
 * How many pages a classic (not Big) TIFF holds, or null when `buf` is not one or its chain of
 * IFDs is broken.
 */
export function tiffPageCount(buf: Uint8Array): number | null {
  if (!classicTiff(buf)) return null;
  const { pages } = ifdOfPage(buf, MAX_PAGES);
  return pages > 0 ? pages : null;
}

/** The ImageDescription (tag 270) of a classic TIFF's first page: where OME-TIFF keeps its OME-XML. */
export function tiffDescription(buf: Uint8Array): string | null {
  if (!classicTiff(buf)) return null;
  const { ifd } = ifdOfPage(buf, 0);
  const loc = ifd?.ascii.get(270);
  if (!loc) return null;
  let end = loc[0] + loc[1];
  while (end > loc[0] && buf[end - 1] === 0) end--;
  return Buffer.from(buf.buffer, buf.byteOffset + loc[0], end - loc[0]).toString('utf8');
}

function one(tags: Map<number, number[]>, id: number, dflt: number | undefined): number | undefined {
  const v = tags.get(id);
  return v === undefined ? dflt : v.length === 1 ? v[0] : undefined;
}

function classicTiff(buf: Uint8Array): boolean {
  return buf.length >= 8 && ((buf[0] === 0x49 && buf[1] === 0x49 && buf[2] === 42 && buf[3] === 0) || (buf[0] === 0x4d && buf[1] === 0x4d && buf[2] === 0 && buf[3] === 42));
}

/** Pixels of page `page` (0-based; default the first), or null (see above). */
export function rawTiffPixels(buf: Uint8Array, page = 0): RawTiff | null {
  if (!classicTiff(buf)) return null;
  const ifd = ifdOfPage(buf, page).ifd?.tags;
  if (!ifd) return null;
  const width = one(ifd, 256, undefined);
  const height = one(ifd, 257, undefined);
  const bits = one(ifd, 258, 1);
  const compression = one(ifd, 259, 1);
  const photometric = one(ifd, 262, undefined);
  const samples = one(ifd, 277, 1);
  const sampleFormat = one(ifd, 339, 1);
  const offsets = ifd.get(273);
  const counts = ifd.get(279);
  if (!width || !height || (bits !== 8 && bits !== 16) || compression !== 1 || photometric !== 1 || samples !== 1 || sampleFormat !== 1) return null;
  if (!offsets || !counts || offsets.length !== counts.length || ifd.has(322)) return null;
  const bytesPer = bits / 8;
  const need = width * height * bytesPer;
  let total = 0;
  let contiguous = true;
  for (let i = 0; i < offsets.length; i++) {
    if (offsets[i]! + counts[i]! > buf.length) return null; // truncated: let libvips say so
    if (i > 0 && offsets[i] !== offsets[i - 1]! + counts[i - 1]!) contiguous = false;
    total += counts[i]!;
  }
  if (total < need) return null;
  const littleEndian = buf[0] === 0x49;
  const at = buf.byteOffset + offsets[0]!;
  if (contiguous && (bits === 8 || (littleEndian && at % 2 === 0))) {
    const data = bits === 8 ? new Uint8Array(buf.buffer, at, need) : new Uint16Array(buf.buffer, at, need / 2);
    return { width, height, bitDepth: bits, data };
  }
  const bytes = new Uint8Array(need);
  for (let i = 0, o = 0; i < offsets.length && o < need; i++) {
    const n = Math.min(counts[i]!, need - o);
    bytes.set(buf.subarray(offsets[i]!, offsets[i]! + n), o);
    o += n;
  }
  if (bits === 16 && !littleEndian) for (let i = 0; i < need; i += 2) [bytes[i], bytes[i + 1]] = [bytes[i + 1]!, bytes[i]!];
  return { width, height, bitDepth: bits, data: bits === 8 ? bytes : new Uint16Array(bytes.buffer) };
}

/** Copies `length` bytes of the file at offset `at` into `buf` at the same offset. */
export type PositionalRead = (buf: Uint8Array, at: number, length: number) => void;

export interface FilledPage {
  /** the page (0-based) asked for, once `choosePage` has seen the first page's description */
  page: number;
  /** pages seen: the whole count when the chain ended before `page` */
  pages: number;
  /** the page is there and its strips are in `buf`, ready for rawTiffPixels(buf, page) */
  inPlace: boolean;
}

/**
 * Read of a file only what one page's pixels need: the header, the chain of IFDs up to the page,
 * the first page's and that page's out-of-line values, and that page's strips, each into `buf` (as
 * long as the file) at its own offset, so rawTiffPixels(buf, page) reads it as if the file were
 * whole. A stain of a multi-page file (all stains of a field, or a Z-stack) then costs its own
 * bytes, not the file's. `choosePage` gets the first page's ImageDescription (OME-XML) and says
 * which page. Null when `buf` is not a classic TIFF; `inPlace` false when the page is not one this
 * reader takes in place (compressed...): read the file whole then.
 */
export function fillTiffPage(buf: Uint8Array, read: PositionalRead, choosePage: (description: () => string | null) => number): FilledPage | null {
  if (buf.length < 8) return null;
  read(buf, 0, 8);
  if (!classicTiff(buf)) return null;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const le = buf[0] === 0x49;
  const fillValues = (ifd: number, count: number) => {
    for (let i = 0; i < count; i++) {
      const e = ifd + 2 + i * 12;
      const bytes = view.getUint32(e + 4, le) * (ANY_TYPE_SIZE[view.getUint16(e + 2, le)] ?? 1);
      const at = view.getUint32(e + 8, le);
      if (bytes > 4 && at + bytes <= buf.length) read(buf, at, bytes);
    }
  };
  let page = -1;
  let at = view.getUint32(4, le);
  for (let p = 0; p < MAX_PAGES; p++) {
    if (at < 8 || at + 2 > buf.length) return { page, pages: p, inPlace: false };
    read(buf, at, 2);
    const count = view.getUint16(at, le);
    if (at + 2 + count * 12 + 4 > buf.length) return { page, pages: p, inPlace: false };
    read(buf, at + 2, count * 12 + 4);
    if (p === 0) {
      fillValues(at, count);
      page = choosePage(() => tiffDescription(buf));
    } else if (p === page) fillValues(at, count);
    if (p === page) {
      const tags = readIfd(buf, at)?.tags;
      const offsets = tags?.get(273);
      const counts = tags?.get(279);
      if (!tags || one(tags, 259, 1) !== 1 || !offsets || !counts || offsets.length !== counts.length) return { page, pages: p + 1, inPlace: false };
      for (let k = 0; k < offsets.length; k++) if (offsets[k]! + counts[k]! <= buf.length) read(buf, offsets[k]!, counts[k]!);
      return { page, pages: p + 1, inPlace: true };
    }
    const next = view.getUint32(at + 2 + count * 12, le);
    if (next === 0) return { page, pages: p + 1, inPlace: false };
    at = next;
  }
  return { page, pages: MAX_PAGES, inPlace: false };
}
