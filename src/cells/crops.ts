/**
 * A box around every cell, as DeepProfiler cuts them: a square of `box` pixels centred on the
 * nucleus centre, in every stain, neighbours left in ("cells in context"). Parts of the box
 * outside the image are 0, as DeepProfiler's `tf.image.crop_and_resize` (extrapolation value 0)
 * gives them; here the crop is cut from the stain already scaled to 0..255, where 0 is the
 * field's dark background (its 0.1th percentile and below), so a border cell sees black beyond
 * the edge, as it would in DeepProfiler. Portable: typed arrays in and out.
 */
import { areaResize } from '../image/resample.js';
import { bilinearResize } from '../image/bilinear.js';
import { preprocessInto, type PreprocessMode } from '../models/preprocess.js';
import type { LabelImage } from './types.js';

/** One cell: its object number and nucleus centre (pixel coordinates, 0-based, x right, y down). */
export interface CellLocation {
  object: number;
  x: number;
  y: number;
}

/**
 * Centres of the objects of a label image (mean x and y of their pixels, CellProfiler's
 * `Location_Center_X/Y`), in object order; objects without pixels are left out.
 */
export function objectCentres(image: LabelImage): CellLocation[] {
  const n = image.count;
  const sx = new Float64Array(n + 1);
  const sy = new Float64Array(n + 1);
  const area = new Float64Array(n + 1);
  const { labels, width, height } = image;
  for (let y = 0, i = 0; y < height; y++)
    for (let x = 0; x < width; x++, i++) {
      const l = labels[i]!;
      if (l <= 0) continue;
      sx[l] += x;
      sy[l] += y;
      area[l]!++;
    }
  const out: CellLocation[] = [];
  for (let k = 1; k <= n; k++) if (area[k]! > 0) out.push({ object: k, x: sx[k]! / area[k]!, y: sy[k]! / area[k]! });
  return out;
}

/** Left (or top) pixel of a box of side `box` centred on `c`: the box's centre is the pixel grid point nearest `c`. */
export function boxStart(c: number, box: number): number {
  return Math.floor(c - box / 2 + 0.5);
}

/**
 * Cut the `box` x `box` square centred on (cx, cy) out of `plane` (width x height) into `out`;
 * pixels outside the image are 0.
 */
export function cutBox(plane: ArrayLike<number>, width: number, height: number, cx: number, cy: number, box: number, out: Float32Array): Float32Array {
  const x0 = boxStart(cx, box);
  const y0 = boxStart(cy, box);
  const xa = Math.max(0, -x0);
  const xb = Math.min(box, width - x0);
  for (let j = 0; j < box; j++) {
    const y = y0 + j;
    const row = j * box;
    if (y < 0 || y >= height || xb <= xa) {
      out.fill(0, row, row + box);
      continue;
    }
    if (xa > 0) out.fill(0, row, row + xa);
    const src = y * width + x0;
    for (let i = xa; i < xb; i++) out[row + i] = plane[src + i]!;
    if (xb < box) out.fill(0, row + Math.max(xb, 0), row + box);
  }
  return out;
}

/** How a crop of `box` px becomes a network input of `size` px. */
export type CropResize = 'bilinear' | 'nearest-like';

/**
 * Writes crops as network inputs: cut, resized to the network's input (bilinear when enlarging,
 * area averaging when shrinking, untouched at the box size), repeated into the three input
 * channels and preprocessed as the network expects. Holds its scratch buffers: one per thread.
 */
export class CropWriter {
  private readonly crop: Float32Array;
  private readonly sized: Float32Array;
  constructor(
    readonly box: number,
    readonly size: number,
    readonly preprocess: PreprocessMode,
    readonly resize: CropResize = 'bilinear',
  ) {
    this.crop = new Float32Array(box * box);
    this.sized = size === box ? this.crop : new Float32Array(size * size);
  }

  /** The crop of one stain (scaled 0..255) around (cx, cy), resized, without preprocessing. */
  plane(plane: ArrayLike<number>, width: number, height: number, cx: number, cy: number): Float32Array {
    cutBox(plane, width, height, cx, cy, this.box, this.crop);
    const { box, size } = this;
    if (size === box) return this.crop;
    if (size < box || this.resize === 'nearest-like') return areaResize(this.crop, box, box, size, size, this.sized);
    return bilinearResize(this.crop, box, box, this.sized, size, size);
  }

  /** Write the network input of one stain's crop at `dst[offset ..]` (3 x size x size values). */
  write(dst: Float32Array, offset: number, plane: ArrayLike<number>, width: number, height: number, cx: number, cy: number): void {
    const p = this.plane(plane, width, height, cx, cy);
    preprocessInto(dst, offset, [p, p, p], this.preprocess);
  }
}
