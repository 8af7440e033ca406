/**
 * Pictures of a field's objects for a person or another program to check (Node host: sharp):
 * label images (16-bit PNG, 0 = background, n = object n; TIFF when the extension says so) and
 * outlines drawn over the stain as RGB PNGs.
 */
import { readFile } from 'node:fs/promises';
import sharp, { type OutputInfo } from 'sharp';
import { MorphoprofError } from '../errors.js';
import { percentileRange, scaleTo255 } from '../embed/scale.js';
import { writeAtomic } from '../illum/manifest.js';
import type { LabelImage, Plane } from './types.js';

/** Write a label image: 16-bit greyscale PNG (or TIFF for `.tif`/`.tiff`). Over 65,535 objects is refused. */
export async function writeLabelImage(file: string, image: LabelImage): Promise<void> {
  if (image.count > 65535)
    throw new MorphoprofError('BAD_ARGUMENT', `${file}: ${image.count} objects do not fit a 16-bit label image`, 'check the segmentation settings (--diameter); so many objects is usually noise');
  const pixels = Uint16Array.from(image.labels);
  const img = sharp(pixels, { raw: { width: image.width, height: image.height, channels: 1 } }).toColourspace('grey16');
  const tiff = /\.tiff?$/i.test(file);
  await writeAtomic(file, await (tiff ? img.tiff({ compression: 'deflate' }) : img.png({ compressionLevel: 6 })).toBuffer());
}

/** Read a label image written by `writeLabelImage` (or any 8/16-bit greyscale label PNG/TIFF). */
export async function readLabelImage(file: string): Promise<LabelImage> {
  let raw: { data: Buffer; info: OutputInfo };
  try {
    const meta = await sharp(await readFile(file)).metadata();
    const sixteen = meta.depth === 'ushort';
    raw = await sharp(file)
      .toColourspace(sixteen ? 'grey16' : 'b-w')
      .raw({ depth: sixteen ? 'ushort' : 'uchar' })
      .toBuffer({ resolveWithObject: true });
    const { width, height } = raw.info;
    const values = sixteen ? new Uint16Array(raw.data.buffer, raw.data.byteOffset, width * height) : raw.data.subarray(0, width * height);
    const labels = Int32Array.from(values);
    let count = 0;
    for (let i = 0; i < labels.length; i++) if (labels[i]! > count) count = labels[i]!;
    return { labels, width, height, count };
  } catch (err) {
    throw new MorphoprofError('BAD_IMAGE', `Cannot read label image ${file}: ${(err as Error).message}`, 'give a greyscale PNG or TIFF, 0 = background, one integer per object', { cause: err });
  }
}

/** Pixels of an object next to another label (4-neighbourhood): its outline. */
export function outlineMask(image: LabelImage): Uint8Array {
  const { labels, width: w, height: h } = image;
  const out = new Uint8Array(labels.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const l = labels[i]!;
      if (!l) continue;
      if (x === 0 || y === 0 || x === w - 1 || y === h - 1 || labels[i - 1] !== l || labels[i + 1] !== l || labels[i - w] !== l || labels[i + w] !== l) out[i] = 1;
    }
  }
  return out;
}

/**
 * The stain (scaled by its 0.1/99.9 percentiles) as grey, nucleus outlines in green and cell
 * outlines in magenta, as an RGB PNG.
 */
export async function writeOverlay(file: string, plane: Plane, nuclei: LabelImage, cells: LabelImage | null = null): Promise<void> {
  const grey = Float32Array.from(plane.data);
  const [lo, hi] = percentileRange(grey);
  scaleTo255(grey, lo, hi);
  const rgb = Buffer.alloc(grey.length * 3);
  for (let i = 0; i < grey.length; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = grey[i]!;
  const paint = (mask: Uint8Array, r: number, g: number, b: number) => {
    for (let i = 0; i < mask.length; i++) if (mask[i]) [rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]] = [r, g, b];
  };
  if (cells) paint(outlineMask(cells), 255, 0, 255);
  paint(outlineMask(nuclei), 0, 255, 0);
  await writeAtomic(file, await sharp(rgb, { raw: { width: plane.width, height: plane.height, channels: 3 } }).png({ compressionLevel: 6 }).toBuffer());
}
