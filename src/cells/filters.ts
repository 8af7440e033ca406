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

/** One [1 2 1] / 4 pass along rows (variance 1/2); edges repeat the nearest pixel. */
function binomialRows(src: Float32Array, dst: Float32Array, w: number, h: number): void {
  for (let y = 0; y < h; y++) {
    const b = y * w;
    if (w === 1) {
      dst[b] = src[b] as number;
      continue;
    }
    let left = src[b] as number;
    let mid = left;
    for (let x = 0; x < w - 1; x++) {
      const right = src[b + x + 1] as number;
      dst[b + x] = 0.25 * (left + right) + 0.5 * mid;
      left = mid;
      mid = right;
    }
    dst[b + w - 1] = 0.25 * left + 0.75 * mid;
  }
}

/** One [1 2 1] / 4 pass along columns, a whole row at a time; edges repeat. */
function binomialColumns(src: Float32Array, dst: Float32Array, w: number, h: number): void {
  for (let y = 0; y < h; y++) {
    const b = y * w;
    const up = y > 0 ? b - w : b;
    const down = y < h - 1 ? b + w : b;
    for (let x = 0; x < w; x++) dst[b + x] = 0.25 * ((src[up + x] as number) + (src[down + x] as number)) + 0.5 * (src[b + x] as number);
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
    const b = y * w;
    const first = src[b] as number;
    const last = src[b + w - 1] as number;
    let acc = 0;
    for (let j = -r; j <= r; j++) acc += src[b + (j < 0 ? 0 : j >= w ? w - 1 : j)] as number;
    // edges clamp; between them both ends of the window are inside the row
    const mid0 = Math.min(r, w);
    const mid1 = Math.max(mid0, w - r - 1);
    let x = 0;
    for (; x < mid0; x++) {
      dst[b + x] = acc * inv;
      const add = x + r + 1;
      acc += (add < w ? (src[b + add] as number) : last) - first;
    }
    for (; x < mid1; x++) {
      dst[b + x] = acc * inv;
      acc += (src[b + x + r + 1] as number) - (src[b + x - r] as number);
    }
    for (; x < w; x++) {
      dst[b + x] = acc * inv;
      const sub = x - r;
      acc += last - (sub >= 0 ? (src[b + sub] as number) : first);
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
    const add = row(y + r + 1);
    const sub = row(y - r);
    for (let x = 0; x < w; x++) {
      const a = acc[x] as number;
      dst[out + x] = a * inv;
      acc[x] = a + (src[add + x] as number) - (src[sub + x] as number);
    }
  }
}

/**
 * The blur passes in C (native/kernels.c segBinomialBlur and segBoxBlur, registered by
 * src/cells/segment-native.ts on Node): the same passes as binomialRows/Columns and
 * boxRows/Columns, bitwise-equal results. Null: the TypeScript passes.
 */
export interface BlurKernel {
  binomial(src: Float32Array, out: Float32Array, tmp: Float32Array, width: number, height: number, passes: number): void;
  box(src: Float32Array, out: Float32Array, tmp: Float32Array, width: number, height: number, w0: number, w1: number, w2: number): void;
}

let blurKernel: BlurKernel | null = null;

/** Use `kernel` for the blur passes (null: the TypeScript twin). */
export function useBlurKernel(kernel: BlurKernel | null): void {
  blurKernel = kernel;
}

/** Above this sigma the blur is three box passes (constant cost per pixel), below binomial passes. */
const BOX_SIGMA = 1.5;

/**
 * Gaussian blur of standard deviation `sigma` px, separable, edges nearest; `sigma` <= 0 copies.
 * Up to BOX_SIGMA, round(2 sigma^2) passes of the binomial [1 2 1] / 4 per axis (variance 1/2
 * each: sigma 1 is exact in variance, and the binomial is within 1% of the Gaussian); above,
 * three box passes per axis of the same variance (a cost that does not grow with sigma).
 * Writes into `out` (may be `src`) using `tmp` as scratch.
 */
export function gaussianBlur(src: Float32Array, w: number, h: number, sigma: number, out: Float32Array = new Float32Array(w * h), tmp: Float32Array = new Float32Array(w * h)): Float32Array {
  if (!(sigma > 0)) {
    if (out !== src) out.set(src);
    return out;
  }
  if (sigma <= BOX_SIGMA) {
    const passes = Math.max(1, Math.round(2 * sigma * sigma));
    if (blurKernel) {
      blurKernel.binomial(src, out, tmp, w, h, passes);
      return out;
    }
    let from = src;
    for (let p = 0; p < passes; p++) {
      binomialRows(from, tmp, w, h);
      binomialColumns(tmp, out, w, h);
      from = out;
    }
    return out;
  }
  const widths = boxWidths(sigma);
  if (blurKernel) {
    blurKernel.box(src, out, tmp, w, h, widths[0] as number, widths[1] as number, widths[2] as number);
    return out;
  }
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

/** Replace NaN and infinities by `value` in place (so that no NaN reaches a threshold). */
export function replaceNonFinite(a: Float32Array, value = 0): void {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i] as number)) a[i] = value;
}
