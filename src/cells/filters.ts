/**
 * Pixel filters for segmentation, on flat typed arrays (portable: no fs, no native code).
 */
import type { Plane } from './types.js';

/** The plane's values as a new Float32Array (any of the three pixel types). */
export function toFloat32(plane: Plane): Float32Array {
  const out = new Float32Array(plane.width * plane.height);
  out.set(plane.data);
  return out;
}

/** Normalized 1-D Gaussian kernel of radius ceil(3 sigma). */
function gaussianKernel(sigma: number): Float32Array {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) {
    const v = Math.exp((-i * i) / (2 * sigma * sigma));
    k[i + r] = v;
    sum += v;
  }
  for (let i = 0; i < k.length; i++) k[i] = (k[i] as number) / sum;
  return k;
}

/** One pass of a 1-D kernel along rows (step 1) or columns (step = width); edges repeat the nearest pixel. */
function convolve1d(src: Float32Array, dst: Float32Array, w: number, h: number, k: Float32Array, alongRows: boolean): void {
  const r = (k.length - 1) >> 1;
  const n = alongRows ? w : h; // length of one line
  const lines = alongRows ? h : w;
  const step = alongRows ? 1 : w;
  const lineStep = alongRows ? w : 1;
  for (let l = 0; l < lines; l++) {
    const base = l * lineStep;
    for (let i = 0; i < n; i++) {
      let acc = 0;
      if (i >= r && i + r < n) {
        let p = base + (i - r) * step;
        for (let j = 0; j < k.length; j++, p += step) acc += (k[j] as number) * (src[p] as number);
      } else {
        for (let j = -r; j <= r; j++) {
          const q = i + j < 0 ? 0 : i + j >= n ? n - 1 : i + j;
          acc += (k[j + r] as number) * (src[base + q * step] as number);
        }
      }
      dst[base + i * step] = acc;
    }
  }
}

/**
 * Gaussian blur of standard deviation `sigma` px (separable, edges nearest). `sigma` <= 0 copies.
 * Writes into `out` (may be `src`) using `tmp` as scratch when given.
 */
export function gaussianBlur(src: Float32Array, w: number, h: number, sigma: number, out: Float32Array = new Float32Array(w * h), tmp: Float32Array = new Float32Array(w * h)): Float32Array {
  if (!(sigma > 0)) {
    if (out !== src) out.set(src);
    return out;
  }
  const k = gaussianKernel(sigma);
  convolve1d(src, tmp, w, h, k, true);
  convolve1d(tmp, out, w, h, k, false);
  return out;
}

/** Smallest and largest finite value (NaN skipped); [0, 0] when there is none. */
export function finiteRange(a: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    const v = a[i] as number;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi && Number.isFinite(lo) && Number.isFinite(hi) ? [lo, hi] : [0, 0];
}

/** Replace NaN and infinities by `value` in place (so that no NaN reaches a threshold). */
export function replaceNonFinite(a: Float32Array, value = 0): void {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i] as number)) a[i] = value;
}
