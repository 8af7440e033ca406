import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import sharp, { type Metadata } from 'sharp';
import { MorphoprofError } from '../errors.js';
import { native } from '../native.js';
import { areaResize } from './resample.js';
import { parseOmeXml } from './ome.js';
import { parseImageRef, type ImageRef } from './source.js';
import { fillTiffPage, rawTiffPixels, tiffDescription, tiffPageCount, type FilledPage } from './tiff.js';
import { readZarrPlane } from './zarr.js';

/**
 * Reading microscopy images (8- and 16-bit greyscale TIFF or PNG) with sharp (libvips), bit-exact.
 *
 * sharp's default output colourspace is sRGB, which would turn a 16-bit greyscale field into
 * three 8-bit channels. Every pipeline here therefore ends in `toColourspace('grey16' | 'b-w')`,
 * which keeps the file's integer values unchanged (checked against the pixel statistics of the
 * real BBBC021 TIFFs in the tests).
 *
 * Multi-channel files: an RGB(A) file whose colour channels are identical (a greyscale image saved
 * as RGB) is read as its first channel; any other multi-sample file is an error naming the file.
 * A field's stains may be the pages of one multi-page TIFF or OME-TIFF: every reader here takes an
 * image reference (source.ts), a path alone or a path with the page or channel it means, or a
 * channel of an OME-Zarr field.
 */

export type BitDepth = 8 | 16;

export interface GreyImage {
  width: number;
  height: number;
  bitDepth: BitDepth;
  /** Row-major pixels, one channel, in the file's integer units. */
  data: Uint8Array | Uint16Array;
}

export interface ResizedImage {
  /** width*height row-major pixels, in the same intensity units as the file. */
  data: Float32Array;
  width: number;
  height: number;
  srcWidth: number;
  srcHeight: number;
  bitDepth: BitDepth;
}

/** An image file read into memory and its header, checked to be 8- or 16-bit. */
interface OpenedImage {
  file: string;
  input: string | Buffer;
  /** 0-based page of a multi-page file */
  page: number;
  width: number;
  height: number;
  channels: number;
  bitDepth: BitDepth;
}

// MetaMorph TIFFs (BBBC021) carry a DateTime tag that libtiff warns about; with sharp's default
// failOn 'warning' they would be refused. 'error' still refuses truncated and corrupt files.
const SHARP_INPUT = { failOn: 'error' } as const;

function cleanSharpMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const lines = [...new Set(text.split('\n').map((l) => l.trim()).filter(Boolean))];
  return lines.slice(0, 3).join('; ');
}

export function badImage(file: string, err: unknown): MorphoprofError {
  return new MorphoprofError(
    'BAD_IMAGE',
    `Cannot decode image ${file}: ${cleanSharpMessage(err)}`,
    'The file may be truncated or not a TIFF/PNG: check it opens in Fiji/ImageJ, re-download or re-export it',
    { cause: err },
  );
}

/** Read a file into memory, turning fs errors into a MorphoprofError that names the file. */
export async function readImageFile(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw fileError(file, err);
  }
}

function fileError(file: string, err: unknown): MorphoprofError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new MorphoprofError(
      'FILE_NOT_FOUND',
      `Image file not found: ${file}`,
      'Check the path; for a screen, check --images (the folder the PathName columns are relative to)',
      { cause: err },
    );
  }
  return new MorphoprofError('BAD_IMAGE', `Cannot read image ${file}: ${cleanSharpMessage(err)}`, 'Check the file permissions', {
    cause: err,
  });
}

/**
 * Read the header. `input` is the path (the hot path: libvips reads the file itself, no copy
 * through JS) or the file already in memory.
 */
async function openImage(file: string, input: string | Buffer, page = 0): Promise<OpenedImage> {
  let meta: Metadata;
  try {
    meta = await sharp(input, { ...SHARP_INPUT, page }).metadata();
  } catch (err) {
    if (typeof input === 'string') {
      // sharp's "Input file is missing" does not say why: ask fs, so the message does.
      await stat(input).catch((statErr: unknown) => {
        throw fileError(file, statErr);
      });
    }
    throw badImage(file, err);
  }
  const bitDepth: BitDepth | null = meta.depth === 'uchar' ? 8 : meta.depth === 'ushort' ? 16 : null;
  if (bitDepth === null || meta.width === undefined || meta.height === undefined) {
    throw new MorphoprofError(
      'BAD_IMAGE',
      `Unsupported pixel format in ${file}: ${meta.depth ?? 'unknown'} (morphoprof reads 8- and 16-bit greyscale images)`,
      'Convert it to an 8- or 16-bit greyscale TIFF or PNG (Fiji: Image > Type > 16-bit, then save as TIFF)',
    );
  }
  if (meta.pages !== undefined && page >= meta.pages) {
    throw new MorphoprofError('BAD_IMAGE', `${file} has ${meta.pages} page${meta.pages === 1 ? '' : 's'}; page ${page} (0-based) was asked for`, 'Check the Frame_<Channel> / Metadata_ChannelIndex_<Channel> columns of the image table (pages count from 0)');
  }
  return { file, input, page, width: meta.width, height: meta.height, channels: meta.channels ?? 1, bitDepth };
}

function greyspace(bitDepth: BitDepth): 'grey16' | 'b-w' {
  return bitDepth === 16 ? 'grey16' : 'b-w';
}

function typedView(buf: Buffer, bitDepth: BitDepth): Uint8Array | Uint16Array {
  if (bitDepth === 8) return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
  // A Uint16Array view needs an even byte offset; copy in the (unusual) case it is not.
  const aligned = buf.byteOffset % 2 === 0 ? buf : Buffer.from(buf);
  return new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.length / 2);
}

/** Decode every channel without colour conversion, check they are identical, return the first. */
async function firstOfIdenticalChannels(img: OpenedImage): Promise<Uint8Array | Uint16Array> {
  let raw: Buffer;
  try {
    raw = await sharp(img.input, { ...SHARP_INPUT, page: img.page })
      .toColourspace(img.bitDepth === 16 ? 'rgb16' : 'srgb')
      .raw({ depth: img.bitDepth === 16 ? 'ushort' : 'uchar' })
      .toBuffer();
  } catch (err) {
    throw badImage(img.file, err);
  }
  const all = typedView(raw, img.bitDepth);
  const n = img.width * img.height;
  const stride = all.length / n;
  const out = img.bitDepth === 16 ? new Uint16Array(n) : new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = all[i * stride];
    // compare the colour channels (the first three); an alpha channel is ignored
    for (let c = 1; c < Math.min(stride, 3); c++) {
      if (all[i * stride + c] !== v) {
        throw new MorphoprofError(
          'BAD_IMAGE',
          `${img.file} has ${img.channels} channels with different values (pixel ${i % img.width},${Math.floor(i / img.width)}); morphoprof reads one greyscale image per stain`,
          'Split the channels into one greyscale file per stain (Fiji: Image > Color > Split Channels) and list each in the metadata table',
        );
      }
    }
    out[i] = v;
  }
  return out;
}

/**
 * Read a single-channel 8- or 16-bit image without losing bits. `ref` is an image reference
 * (source.ts): a file, a page or named channel of a multi-page TIFF, a channel of a Zarr field.
 * Plain uncompressed strip TIFFs (what microscopes write) are taken straight from the file's bytes
 * (see tiff.ts); every other file is decoded by libvips.
 */
export async function readImage(ref: string): Promise<GreyImage> {
  const r = parseImageRef(ref);
  if (r.select.kind === 'file') {
    const buf = await readImageFile(r.file);
    return rawTiffPixels(buf) ?? decodeImage(r.file, buf);
  }
  return withImagePixels(ref, (img) => ({ ...img, data: img.data.slice() }));
}

/**
 * Read an image and hand its pixels to `use`, which must not keep them: for a plain uncompressed
 * TIFF they are a view of a buffer reused by the next read (no copy, no fresh memory: the cheap
 * way to stream a plate's images through a sum). Other files are decoded by libvips.
 */
export async function withImagePixels<T>(ref: string, use: (img: GreyImage) => T): Promise<T> {
  const r = parseImageRef(ref);
  if (r.select.kind === 'zarr') return use(await readZarrPlane(r.file, r.select.channel));
  if (r.select.kind !== 'file') {
    // a page of a multi-page file: only its own bytes are read, when it is a plain strip page
    const filled = fillPageFromFile(r);
    if (filled?.inPlace) {
      const raw = rawTiffPixels(filled.bytes, filled.page);
      if (raw) return use(raw);
    } else if (filled && filled.pages > 0 && filled.page >= filled.pages) throw tooFewPages(r.file, filled.pages, filled.page);
  }
  if (r.select.kind === 'file' && native?.mapFile) {
    // a whole file mapped, not copied out of the page cache (the copy cost more than the downsample)
    const mapped = native.mapFile(r.file);
    if (mapped) {
      try {
        const bytes = Buffer.from(mapped);
        const raw = rawTiffPixels(bytes, 0);
        return await use(raw ?? (await decodeImage(r.file, Buffer.from(bytes), 0)));
      } finally {
        native.unmapFile!(mapped);
      }
    }
  }
  const bytes = readIntoScratch(r.file);
  const page = r.select.kind === 'file' ? 0 : checkedPage(r, bytes);
  const raw = rawTiffPixels(bytes, page);
  // libvips gets its own copy of the bytes already read: the scratch is reused across the await
  return use(raw ?? (await decodeImage(r.file, Buffer.from(bytes), page)));
}

/** The page a page or OME-channel reference asks for; `description` gives the file's OME-XML. */
function choosePage(r: ImageRef, description: () => string | null): number {
  if (r.select.kind === 'page') return r.select.page;
  if (r.select.kind !== 'ome-channel') return 0;
  const name = r.select.channel;
  const xml = description();
  const ome = xml ? parseOmeXml(xml) : null;
  if (!ome) {
    throw new MorphoprofError(
      'BAD_IMAGE',
      `${r.file} has no OME-XML channel names, so stain ${name} cannot be found in it by name`,
      `Say which page holds each stain: add a Frame_${name} column (0-based page) to the image table`,
    );
  }
  let c = ome.names.indexOf(name);
  if (c < 0) c = ome.names.findIndex((n) => n.toLowerCase() === name.toLowerCase());
  if (c < 0) {
    throw new MorphoprofError(
      'BAD_IMAGE',
      `OME-TIFF ${r.file} has no channel named '${name}' (its channels: ${ome.names.join(', ')})`,
      `Name the stain columns of the image table as the file names its channels, or add a Frame_${name} column (0-based page)`,
    );
  }
  return ome.pageOf(c);
}

function tooFewPages(file: string, pages: number, page: number): MorphoprofError {
  return new MorphoprofError(
    'BAD_IMAGE',
    `${file} has ${pages} page${pages === 1 ? '' : 's'}; page ${page} (0-based) was asked for`,
    'Check the Frame_<Channel> / Metadata_ChannelIndex_<Channel> columns of the image table (pages count from 0) and that the file holds every stain',
  );
}

/** The page of a whole file in memory, checked against the pages it has. */
function checkedPage(r: ImageRef, bytes: Uint8Array): number {
  const page = choosePage(r, () => tiffDescription(bytes));
  const pages = tiffPageCount(bytes);
  if (pages !== null && page >= pages) throw tooFewPages(r.file, pages, page);
  return page;
}

/** Only what one page needs, read into the reused scratch at the file's offsets (tiff.ts fillTiffPage). */
function fillPageFromFile(r: ImageRef): (FilledPage & { bytes: Buffer }) | null {
  let fd: number;
  try {
    fd = openSync(r.file, 'r');
  } catch (err) {
    throw fileError(r.file, err);
  }
  try {
    const size = fstatSync(fd).size;
    if (fileScratch.length < size) fileScratch = Buffer.allocUnsafeSlow(Math.ceil(size * 1.25));
    const bytes = fileScratch.subarray(0, size);
    const read = (buf: Uint8Array, at: number, length: number): void => {
      for (let got = 0; got < length; ) {
        const n = readSync(fd, buf, at + got, length - got, at + got);
        if (n === 0) break;
        got += n;
      }
    };
    const filled = fillTiffPage(bytes, read, (description) => choosePage(r, description));
    return filled && { ...filled, bytes };
  } catch (err) {
    throw err instanceof MorphoprofError ? err : fileError(r.file, err);
  } finally {
    closeSync(fd);
  }
}

/** The file's bytes in a buffer reused between calls (valid until the next call). */
let fileScratch = Buffer.alloc(0);
function readIntoScratch(file: string): Buffer {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw fileError(file, err);
  }
  try {
    const size = fstatSync(fd).size;
    if (fileScratch.length < size) fileScratch = Buffer.allocUnsafeSlow(Math.ceil(size * 1.25));
    let got = 0;
    while (got < size) {
      const n = readSync(fd, fileScratch, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    return fileScratch.subarray(0, got);
  } catch (err) {
    throw fileError(file, err);
  } finally {
    closeSync(fd);
  }
}

/** `readImage` on a path or on a file already in memory (`file` names it in errors); `page` of a multi-page file. */
export async function decodeImage(file: string, input: string | Buffer, page = 0): Promise<GreyImage> {
  const img = await openImage(file, input, page);
  if (img.channels > 1) {
    return { width: img.width, height: img.height, bitDepth: img.bitDepth, data: await firstOfIdenticalChannels(img) };
  }
  let raw: Buffer;
  try {
    raw = await sharp(img.input, { ...SHARP_INPUT, page: img.page })
      .toColourspace(greyspace(img.bitDepth))
      .raw({ depth: img.bitDepth === 16 ? 'ushort' : 'uchar' })
      .toBuffer();
  } catch (err) {
    throw badImage(file, err);
  }
  return { width: img.width, height: img.height, bitDepth: img.bitDepth, data: typedView(raw, img.bitDepth) };
}

/**
 * The whole field squashed to width x height (aspect ratio not kept, as in Pawlowski et al.:
 * the full field becomes the network input), in the file's intensity units. sharp decodes the
 * file bit-exactly; the downsampling is an exact area average in float64 (see resample.ts for
 * why not sharp's resize). `out` (width*height values) is written and returned as `data`.
 */
export async function readImageResized(ref: string, width: number, height: number, out?: Float32Array): Promise<ResizedImage> {
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new MorphoprofError('BAD_ARGUMENT', `Expected a positive integer for ${name} but received ${JSON.stringify(v)}`);
    }
  }
  // the pixels are downsampled as soon as they are read, so they can stay in the reused buffer
  return withImagePixels(ref, (img) => ({
    data: areaResize(img.data, img.width, img.height, width, height, out),
    width,
    height,
    srcWidth: img.width,
    srcHeight: img.height,
    bitDepth: img.bitDepth,
  }));
}
