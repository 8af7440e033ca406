/**
 * From a plate's average image of a stain to its illumination function (CellProfiler
 * CorrectIlluminationCalculate as BBBC021 ran it; FIELD.md section 3): median filter, then
 * robust-minimum rescale. Pure functions on Float32/Float64 arrays.
 */
import { invalidParameter } from '../errors.js';
import { areaResize } from '../image/index.js';
import { medianFilterDisk } from './median.js';
import { valuesAtRanks } from '../util/select.js';

export type IlluminationMethod = 'fast' | 'full';
export const ILLUMINATION_METHODS: readonly IlluminationMethod[] = ['fast', 'full'];

/** CellProfiler's filter size (px at full resolution) used for BBBC021. */
export const FILTER_SIZE = 500;
/** CellProfiler turns a filter size into a radius as size / 2.35 (FWHM to sigma): 500 -> 213 px. */
export const FILTER_RADIUS = Math.round(FILTER_SIZE / 2.35);
/** The `fast` method (DeepProfiler) filters at 1/4 of the resolution. */
export const FAST_SCALE = 4;
/** CellProfiler's robust minimum: the value at the 2% point of the sorted positive pixels. */
export const ROBUST_FRACTION = 0.02;

/** Bilinear upsampling to width x height, sample positions at pixel centres, edges clamped. */
export function upsampleBilinear(src: Float32Array, sw: number, sh: number, width: number, height: number): Float32Array {
  const out = new Float32Array(width * height);
  const xs = new Int32Array(width);
  const fx = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const s = Math.min(sw - 1, Math.max(0, ((x + 0.5) * sw) / width - 0.5));
    xs[x] = Math.min(sw - 2, Math.floor(s));
    fx[x] = s - (xs[x] as number);
  }
  for (let y = 0; y < height; y++) {
    const s = Math.min(sh - 1, Math.max(0, ((y + 0.5) * sh) / height - 0.5));
    const y0 = Math.min(sh - 2, Math.floor(s));
    const fy = s - y0;
    const r0 = y0 * sw;
    const r1 = r0 + sw;
    for (let x = 0; x < width; x++) {
      const i = xs[x] as number;
      const f = fx[x] as number;
      const top = (src[r0 + i] as number) * (1 - f) + (src[r0 + i + 1] as number) * f;
      const bottom = (src[r1 + i] as number) * (1 - f) + (src[r1 + i + 1] as number) * f;
      out[y * width + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/**
 * CellProfiler's "robust minimum" rescale, in place: m = the value at index floor(0.02 n) of the
 * sorted positive pixels; values below m are raised to m; everything is divided by m, so the
 * function is >= 1. Returns m (0 when there is no positive pixel: the function is then set to 1).
 */
export function rescaleRobustMinimum(fn: Float32Array): number {
  // (a plain loop: TypedArray.prototype.filter took 0.25 s on 1.3 M pixels)
  let count = 0;
  for (let i = 0; i < fn.length; i++) if ((fn[i] as number) > 0) count++;
  const positive = new Float32Array(count);
  for (let i = 0, k = 0; i < fn.length; i++) if ((fn[i] as number) > 0) positive[k++] = fn[i] as number;
  if (positive.length === 0) {
    fn.fill(1);
    return 0;
  }
  const m = valuesAtRanks(positive, [Math.floor(positive.length * ROBUST_FRACTION)])[0] as number;
  for (let i = 0; i < fn.length; i++) fn[i] = Math.max(fn[i] as number, m) / m;
  return m;
}

/**
 * The illumination function of an average image. `full`: disk median of radius 213 px at full
 * resolution. `fast` (DeepProfiler): the average area-downsampled by 4, the median there with the
 * radius scaled (53 px), upsampled bilinearly. Both then rescaled by the robust minimum.
 * Radii scale with nothing else: cells have the same size in pixels whatever the field's size.
 */
export function illuminationFunction(
  average: ArrayLike<number>,
  width: number,
  height: number,
  method: IlluminationMethod,
): { fn: Float32Array; robustMinimum: number } {
  let fn: Float32Array;
  if (method === 'full') {
    fn = medianFilterDisk(average, width, height, FILTER_RADIUS);
  } else if (method === 'fast') {
    const sw = Math.max(2, Math.round(width / FAST_SCALE));
    const sh = Math.max(2, Math.round(height / FAST_SCALE));
    const small = areaResize(average, width, height, sw, sh);
    const filtered = medianFilterDisk(small, sw, sh, Math.round(FILTER_RADIUS / FAST_SCALE));
    fn = upsampleBilinear(filtered, sw, sh, width, height);
  } else {
    throw invalidParameter('method', `one of ${ILLUMINATION_METHODS.join(', ')}`, method);
  }
  const robustMinimum = rescaleRobustMinimum(fn);
  return { fn, robustMinimum };
}
