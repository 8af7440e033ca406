/**
 * A field's stains as the cells stage sees them (Node host): read at full resolution, scaled to
 * 0..1 by the bit depth as CellProfiler does, and divided by the plate's illumination function.
 */
import { MorphoprofError } from '../errors.js';
import type { IlluminationSet } from '../illum/index.js';
import { withImagePixels, type GreyImage } from '../image/index.js';
import type { Plane } from './types.js';

export interface FieldImages {
  plate: string;
  /** stain -> image file */
  images: Record<string, string>;
}

/** A stain's image that could not be used, with the reason (for errors.csv). */
export class StainError extends Error {
  constructor(readonly channel: string, readonly file: string, reason: string) {
    super(reason);
  }
}

/**
 * Float planes kept between fields by one thread (the cells worker reads and measures its fields
 * one at a time): stain -> plane, reused when the next field has the same size, so that each field
 * does not allocate (and the garbage collector reclaim) three fresh 5 MB planes. Every pixel is
 * overwritten; a caller passing a pool must be done with the previous field's planes.
 */
export type PlanePool = Map<string, Float32Array>;

export async function readPlanes(field: FieldImages, channels: readonly string[], illum: IlluminationSet | null, pool?: PlanePool): Promise<Record<string, Plane>> {
  const planes: Record<string, Plane> = {};
  let size: { width: number; height: number; file: string } | null = null;
  for (const ch of channels) {
    const file = field.images[ch];
    if (!file) throw new StainError(ch, '', `no image file for stain ${ch}`);
    // the pixels are converted as they are read (a view of a mapped or reused buffer, not a copy)
    const convert = (img: GreyImage): Plane => {
      if (size && (img.width !== size.width || img.height !== size.height))
        throw new StainError(ch, file, `image is ${img.width}x${img.height} but ${size.file} of the same field is ${size.width}x${size.height}`);
      size ??= { width: img.width, height: img.height, file };
      const n = img.width * img.height;
      let data = pool?.get(ch);
      if (data?.length !== n) {
        data = new Float32Array(n);
        pool?.set(ch, data);
      }
      const k = 1 / (img.bitDepth === 16 ? 65535 : 255);
      const src = img.data;
      if (illum) {
        if (illum.width !== img.width || illum.height !== img.height)
          throw new StainError(ch, file, `image is ${img.width}x${img.height} but the illumination functions are ${illum.width}x${illum.height}`);
        const fn = illum.full(field.plate, ch);
        for (let i = 0; i < data.length; i++) data[i] = (src[i]! * k) / fn[i]!;
      } else for (let i = 0; i < data.length; i++) data[i] = src[i]! * k;
      return { data, width: img.width, height: img.height };
    };
    try {
      planes[ch] = await withImagePixels(file, convert);
    } catch (err) {
      if (err instanceof StainError) throw err;
      throw new StainError(ch, file, err instanceof MorphoprofError ? err.message : String(err));
    }
  }
  return planes;
}
