import path from 'node:path';
import sharp from 'sharp';
import UTIF from 'utif2';
import { MorphoprofError } from '../errors.js';
import { badImage, decodeImage, readImageFile, type BitDepth } from './read.js';

export interface ImageInspection {
  width: number;
  height: number;
  bitDepth: BitDepth;
  /** TIFF compression (tag 259): none, packbits, lzw, deflate, ...; `png` for a PNG. */
  compression: string;
  min: number;
  max: number;
  mean: number;
}

/** TIFF tag 259 values (TIFF 6.0 and the libtiff registry) -> short names. */
const TIFF_COMPRESSION: Readonly<Record<number, string>> = Object.freeze({
  1: 'none',
  2: 'ccitt-rle',
  3: 'ccitt-fax3',
  4: 'ccitt-fax4',
  5: 'lzw',
  6: 'ojpeg',
  7: 'jpeg',
  8: 'deflate',
  32773: 'packbits',
  32946: 'deflate',
  34712: 'jpeg2000',
  34887: 'lerc',
  34925: 'lzma',
  50000: 'zstd',
  50001: 'webp',
});

function isTiff(buf: Buffer): boolean {
  const magic = buf.subarray(0, 4).toString('latin1');
  return magic === 'II*\0' || magic === 'MM\0*' || magic === 'II+\0' || magic === 'MM\0+';
}

/**
 * Compression of the first image of a TIFF, from tag 259 of its first IFD (parsed by utif2:
 * sharp's metadata does not report TIFF compression). An absent tag means none (TIFF 6.0).
 */
export function tiffCompression(file: string, buf: Buffer): string {
  let ifds: UTIF.IFD[];
  try {
    ifds = UTIF.decode(buf);
  } catch (err) {
    throw badImage(file, err);
  }
  const tag = ifds[0]?.['t259'];
  const code = Array.isArray(tag) ? Number(tag[0]) : typeof tag === 'number' ? tag : 1;
  return TIFF_COMPRESSION[code] ?? `tiff-${code}`;
}

/** Size, bit depth, compression and pixel statistics of one image file. */
export async function inspectImage(file: string): Promise<ImageInspection> {
  const buf = await readImageFile(file);
  let compression: string;
  if (isTiff(buf)) {
    compression = tiffCompression(file, buf);
  } else {
    let format: string | undefined;
    try {
      format = (await sharp(buf, { failOn: 'error' }).metadata()).format;
    } catch (err) {
      throw badImage(file, err);
    }
    if (format !== 'png') {
      throw new MorphoprofError(
        'BAD_IMAGE',
        `${file} is ${format ? `a ${format} image` : 'not an image'}; morphoprof reads TIFF and PNG (${path.extname(file) || 'no extension'})`,
        'Save the image as 8- or 16-bit greyscale TIFF or PNG (lossy formats change intensities)',
      );
    }
    compression = 'png';
  }
  const img = await decodeImage(file, buf);
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of img.data) {
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  return { width: img.width, height: img.height, bitDepth: img.bitDepth, compression, min, max, mean: sum / img.data.length };
}
