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

/** Horizontal pass of a 1-D kernel; edges repeat the nearest pixel. */
function convolveRows(src: Float32Array, dst: Float32Array, w: number, h: number, k: Float32Array): void {
  const r = (k.length - 1) >> 1;
  for (let y = 0; y < h; y++) {
    const base = y * w;
    for (let x = 0; x < w; x++) {
      let acc = 0;
      if (x >= r && x + r < w) {
        const p = base + x - r;
        for (let j = 0; j < k.length; j++) acc += (k[j] as number) * (src[p + j] as number);
      } else {
        for (let j = -r; j <= r; j++) {
          const q = x + j < 0 ? 0 : x + j >= w ? w - 1 : x + j;
          acc += (k[j + r] as number) * (src[base + q] as number);
        }
      }
      dst[base + x] = acc;
    }
  }
}

/** Vertical pass, one output row at a time from whole input rows (cache-friendly); edges repeat. */
function convolveColumns(src: Float32Array, dst: Float32Array, w: number, h: number, k: Float32Array): void {
  const r = (k.length - 1) >> 1;
  for (let y = 0; y < h; y++) {
    const out = y * w;
    const k0 = k[0] as number;
    const row0 = (y - r < 0 ? 0 : y - r) * w;
    for (let x = 0; x < w; x++) dst[out + x] = k0 * (src[row0 + x] as number);
    for (let j = 1; j < k.length; j++) {
      const yy = y + j - r;
      const row = (yy < 0 ? 0 : yy >= h ? h - 1 : yy) * w;
      const kj = k[j] as number;
      for (let x = 0; x < w; x++) dst[out + x] = (dst[out + x] as number) + kj * (src[row + x] as number);
    }
  }
}

/** Box width sequence (odd widths) whose three passes have variance sigma^2 (Kovesi 2010). */
function boxWidths(sigma: number, passes = 3): number[] {
  const ideal = Math.sqrt((12 * sigma * sigma) / passes + 1);
  let lo = Math.floor(ideal);
  if (lo % 2 === 0) lo--;
  const m = Math.round((12 * sigma * sigma - passes * lo * lo - 4 * passes * lo - 3 * passes) / (-4 * lo - 4));
  return Array.from({ length: passes }, (_, i) => (i < m ? lo : lo + 2));
}

/** Running-sum box filter of odd width along rows; edges repeat the nearest pixel. */
function boxRows(src: Float32Array, dst: Float32Array, w: number, h: number, width: number): void {
  const r = (width - 1) >> 1;
  const inv = 1 / width;
  for (let y = 0; y < h; y++) {
    const base = y * w;
    const at = (x: number): number => src[base + (x < 0 ? 0 : x >= w ? w - 1 : x)] as number;
    let acc = 0;
    for (let j = -r; j <= r; j++) acc += at(j);
    for (let x = 0; x < w; x++) {
      dst[base + x] = acc * inv;
      acc += at(x + r + 1) - at(x - r);
    }
  }
}

/** Running-sum box filter of odd width along columns, a whole row at a time; edges repeat. */
function boxColumns(src: Float32Array, dst: Float32Array, w: number, h: number, width: number, acc: Float64Array): void {
  const r = (width - 1) >> 1;
  const inv = 1 / width;
  const row = (y: number): number => (y < 0 ? 0 : y >= h ? h - 1 : y) * w;
  acc.fill(0);
  for (let j = -r; j <= r; j++) {
    const b = row(j);
    for (let x = 0; x < w; x++) acc[x] = (acc[x] as number) + (src[b + x] as number);
  }
  for (let y = 0; y < h; y++) {
    const out = y * w;
    for (let x = 0; x < w; x++) dst[out + x] = (acc[x] as number) * inv;
    const add = row(y + r + 1);
    const sub = row(y - r);
    for (let x = 0; x < w; x++) acc[x] = (acc[x] as number) + (src[add + x] as number) - (src[sub + x] as number);
  }
}

/** Above this sigma the blur is three box passes (constant cost per pixel), below an exact kernel. */
const BOX_SIGMA = 2;

/**
 * Gaussian blur of standard deviation `sigma` px, separable, edges nearest; `sigma` <= 0 copies.
 * Up to BOX_SIGMA an exact sampled kernel; above, three box passes per axis of the same variance
 * (within a few percent of the Gaussian, at a cost that does not grow with sigma).
 * Writes into `out` (may be `src`) using `tmp` as scratch.
 */
export function gaussianBlur(src: Float32Array, w: number, h: number, sigma: number, out: Float32Array = new Float32Array(w * h), tmp: Float32Array = new Float32Array(w * h)): Float32Array {
  if (!(sigma > 0)) {
    if (out !== src) out.set(src);
    return out;
  }
  if (sigma <= BOX_SIGMA) {
    const k = gaussianKernel(sigma);
    convolveRows(src, tmp, w, h, k);
    convolveColumns(tmp, out, w, h, k);
    return out;
  }
  const widths = boxWidths(sigma);
  const acc = new Float64Array(w);
  // rows: src -> tmp -> out -> tmp; columns: tmp -> out -> tmp -> out
  boxRows(src, tmp, w, h, widths[0] as number);
  boxRows(tmp, out, w, h, widths[1] as number);
  boxRows(out, tmp, w, h, widths[2] as number);
  boxColumns(tmp, out, w, h, widths[0] as number, acc);
  boxColumns(out, tmp, w, h, widths[1] as number, acc);
  boxColumns(tmp, out, w, h, widths[2] as number, acc);
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
