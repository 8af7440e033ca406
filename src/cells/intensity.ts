/**
 * Per-object intensity statistics of one stain as CellProfiler's MeasureObjectIntensity computes
 * them: sums, moments, extremes, its interpolated quartiles and MAD, the same on the object's edge
 * pixels, and the mass displacement. Quartiles by selection (quickselect), not by sorting.
 */
import type { Plane } from './types.js';
import type { ObjectPixels } from './shape.js';

/** MeasureObjectIntensity's features, CellProfiler's names and order (the stain is appended). */
export const INTENSITY_FEATURES = [
  'IntegratedIntensity',
  'MeanIntensity',
  'StdIntensity',
  'MinIntensity',
  'MaxIntensity',
  'IntegratedIntensityEdge',
  'MeanIntensityEdge',
  'StdIntensityEdge',
  'MinIntensityEdge',
  'MaxIntensityEdge',
  'MassDisplacement',
  'LowerQuartileIntensity',
  'MedianIntensity',
  'MADIntensity',
  'UpperQuartileIntensity',
] as const;

/** Factor that takes a plane's values to CellProfiler's 0..1 scale: integer data by its type's maximum. */
export function intensityScale(plane: Plane): number {
  if (plane.data instanceof Uint16Array) return 1 / 65535;
  if (plane.data instanceof Uint8Array) return 1 / 255;
  return 1;
}

/** The stain's value at every object pixel, in `index` order (one gather per stain). */
export function gatherValues(index: ObjectPixels, plane: Plane, into?: Float64Array): Float64Array {
  const { pixel } = index;
  const n = pixel.length;
  const out = into && into.length >= n ? into : new Float64Array(n);
  const data = plane.data;
  const scale = intensityScale(plane);
  if (scale === 1) for (let i = 0; i < n; i++) out[i] = data[pixel[i]!]!;
  else for (let i = 0; i < n; i++) out[i] = data[pixel[i]!]! * scale;
  return out;
}

/**
 * Put the order statistics `targets[t0..t1)` (sorted indices into lo..hi) of a[lo..hi] in place:
 * quickselect that recurses only into the parts holding targets (median-of-three pivot, Hoare
 * partition), insertion sort for short parts.
 */
function multiSelect(a: Float64Array, lo: number, hi: number, targets: Int32Array, t0: number, t1: number): void {
  while (t0 < t1) {
    if (hi - lo < 24) {
      for (let i = lo + 1; i <= hi; i++) {
        const v = a[i]!;
        let j = i - 1;
        while (j >= lo && a[j]! > v) {
          a[j + 1] = a[j]!;
          j--;
        }
        a[j + 1] = v;
      }
      return;
    }
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < a[lo]!) swap(a, mid, lo);
    if (a[hi]! < a[lo]!) swap(a, hi, lo);
    if (a[hi]! < a[mid]!) swap(a, hi, mid);
    const pivot = a[mid]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        swap(a, i, j);
        i++;
        j--;
      }
    }
    // targets <= j go left, >= i go right, those between are equal to the pivot: in place
    let tl = t0;
    while (tl < t1 && targets[tl]! <= j) tl++;
    let tr = tl;
    while (tr < t1 && targets[tr]! < i) tr++;
    if (tl - t0 < t1 - tr) {
      multiSelect(a, lo, j, targets, t0, tl);
      lo = i;
      t0 = tr;
    } else {
      multiSelect(a, i, hi, targets, tr, t1);
      hi = j;
      t1 = tl;
    }
  }
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i]!;
  a[i] = a[j]!;
  a[j] = t;
}

/**
 * The order statistics CellProfiler's quantile of n values at `fraction` reads: with
 * q = n x fraction, i = floor(q), f = q - i, it is v[i] if i = n-1 or f = 0, else
 * (1-f) x v[i] + f x v[i+1] (v sorted, 0-based). Adds i (and i+1) to `targets` from `t`.
 */
function quantileTargets(n: number, fraction: number, targets: Int32Array, t: number): number {
  const q = n * fraction;
  const i = Math.floor(q);
  if (t === 0 || targets[t - 1] !== i) targets[t++] = i;
  if (q - i > 0 && i < n - 1) targets[t++] = i + 1;
  return t;
}

/** The quantile from a array whose quantileTargets are in place. */
function quantileOf(a: Float64Array, n: number, fraction: number): number {
  const q = n * fraction;
  const i = Math.floor(q);
  const f = q - i;
  return f === 0 || i >= n - 1 ? a[i]! : a[i]! * (1 - f) + a[i + 1]! * f;
}

/**
 * Intensity features of every object for one stain into `out` (row k-1 of `stride` values,
 * columns `offset` .. in INTENSITY_FEATURES order). `values` from gatherValues. An object without
 * pixels gets zeros; one without edge pixels zeros for the edge features.
 */
export function measureIntensity(index: ObjectPixels, values: Float64Array, out: Float64Array, stride: number, offset: number): void {
  const { width: w, count, start, pixel, x: xs, edge } = index;
  let scratch = new Float64Array(64);
  const targets = new Int32Array(6);
  for (let k = 1; k <= count; k++) {
    const o = (k - 1) * stride + offset;
    const i0 = start[k - 1]!;
    const i1 = start[k]!;
    const n = i1 - i0;
    if (n === 0) {
      for (let f = 0; f < INTENSITY_FEATURES.length; f++) out[o + f] = 0;
      continue;
    }
    let sum = 0;
    let min = Infinity;
    let max = -Infinity;
    let sx = 0;
    let sy = 0;
    let sxv = 0;
    let syv = 0;
    let en = 0;
    let esum = 0;
    let emin = Infinity;
    let emax = -Infinity;
    for (let i = i0; i < i1; i++) {
      const v = values[i]!;
      const x = xs[i]!;
      const y = (pixel[i]! - x) / w;
      sum += v;
      if (v < min) min = v;
      if (v > max) max = v;
      sx += x;
      sy += y;
      sxv += x * v;
      syv += y * v;
      if (edge[i] === 1) {
        en++;
        esum += v;
        if (v < emin) emin = v;
        if (v > emax) emax = v;
      }
    }
    const mean = sum / n;
    const emean = en > 0 ? esum / en : 0;
    let ss = 0;
    let ess = 0;
    if (n > scratch.length) scratch = new Float64Array(Math.max(n, 2 * scratch.length));
    for (let i = i0; i < i1; i++) {
      const v = values[i]!;
      ss += (v - mean) * (v - mean);
      if (edge[i] === 1) ess += (v - emean) * (v - emean);
      scratch[i - i0] = v;
    }
    // mass displacement: centre of the object vs centre of its intensity (0 when it has none)
    const displacement = sum > 0 ? Math.hypot(sx / n - sxv / sum, sy / n - syv / sum) : 0;
    let t = quantileTargets(n, 0.25, targets, 0);
    t = quantileTargets(n, 0.5, targets, t);
    t = quantileTargets(n, 0.75, targets, t);
    multiSelect(scratch, 0, n - 1, targets, 0, t);
    const lowerQuartile = quantileOf(scratch, n, 0.25);
    const median = quantileOf(scratch, n, 0.5);
    const upperQuartile = quantileOf(scratch, n, 0.75);
    for (let i = 0; i < n; i++) scratch[i] = Math.abs(values[i0 + i]! - median);
    multiSelect(scratch, 0, n - 1, targets, 0, quantileTargets(n, 0.5, targets, 0));
    const mad = quantileOf(scratch, n, 0.5);
    out[o] = sum;
    out[o + 1] = mean;
    out[o + 2] = Math.sqrt(ss / n);
    out[o + 3] = min;
    out[o + 4] = max;
    out[o + 5] = esum;
    out[o + 6] = emean;
    out[o + 7] = en > 0 ? Math.sqrt(ess / en) : 0;
    out[o + 8] = en > 0 ? emin : 0;
    out[o + 9] = en > 0 ? emax : 0;
    out[o + 10] = displacement;
    out[o + 11] = lowerQuartile;
    out[o + 12] = median;
    out[o + 13] = mad;
    out[o + 14] = upperQuartile;
  }
}
