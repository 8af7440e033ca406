/**
 * Per-object intensity statistics of one stain as CellProfiler's MeasureObjectIntensity computes
 * them: sums, moments, extremes, its interpolated quartiles and MAD, the same on the object's edge
 * pixels, and the mass displacement. Quartiles by selection (quickselect), not by sorting.
 */
import type { NativeKernels } from '../native.js';
import type { Plane } from './types.js';
import type { ObjectPixels } from './shape.js';
import { grayOf, type GrayLevels } from './texture.js';

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

/** gatherValues' work (same arguments, spread), e.g. the C kernel of native/kernels.c. */
export type GatherKernel = NativeKernels['gatherValues'];

let gatherKernel: GatherKernel | null = null;

/** Gather with `k` instead of TypeScript (null: TypeScript); see src/cells/measure-native.ts. */
export function useGatherKernel(k: GatherKernel | null): void {
  gatherKernel = k;
}

/**
 * The stain's value at every object pixel, in `index` order (one gather per stain); with `gray`,
 * also the texture's gray levels of those pixels and each object's largest one, in the same pass.
 * `grayFilled`: gray.image already holds this stain's levels at these pixels (made for another
 * kind of objects covering them); only each object's largest level is found.
 */
export function gatherValues(index: ObjectPixels, plane: Plane, into?: Float64Array, gray?: GrayLevels, grayFilled = false): Float64Array {
  const { pixel, start, count } = index;
  const n = pixel.length;
  const out = into && into.length >= n ? into : new Float64Array(n);
  const data = plane.data;
  const scale = intensityScale(plane);
  if (gatherKernel) {
    gatherKernel(data, pixel, start, count, scale, out, gray?.image ?? null, gray?.max ?? null, gray?.lut ?? null, grayFilled);
    return out;
  }
  if (!gray) {
    for (let i = 0; i < n; i++) out[i] = data[pixel[i]!]! * scale;
    return out;
  }
  const { image, max, lut } = gray;
  if (grayFilled) {
    for (let i = 0; i < n; i++) out[i] = data[pixel[i]!]! * scale;
    for (let k = 1; k <= count; k++) {
      let m = 0;
      const i1 = start[k]!;
      for (let i = start[k - 1]!; i < i1; i++) {
        const g = image[pixel[i]!]!;
        if (g > m) m = g;
      }
      max[k - 1] = m;
    }
    return out;
  }
  for (let k = 1; k <= count; k++) {
    let m = 0;
    const i1 = start[k]!;
    for (let i = start[k - 1]!; i < i1; i++) {
      const p = pixel[i]!;
      const v = data[p]! * scale;
      out[i] = v;
      const g = grayOf(v, lut);
      image[p] = g;
      if (g > m) m = g;
    }
    max[k - 1] = m;
  }
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
 * The ranks CellProfiler's quantile of n values at `fraction` reads: with q = n x fraction,
 * i = floor(q), f = q - i, the quantile is v[i] if i = n-1 or f = 0, else (1-f) x v[i] + f x v[i+1]
 * (v sorted, 0-based). Adds i (and i+1) to the sorted `ranks` from `t`; returns the new length.
 */
function quantileRanks(n: number, fraction: number, ranks: Int32Array, t: number): number {
  const q = n * fraction;
  const i = Math.floor(q);
  if (t === 0 || ranks[t - 1] !== i) ranks[t++] = i;
  if (q - i > 0 && i < n - 1) ranks[t++] = i + 1;
  return t;
}

/** The quantile from the order statistics `at` of the ranks quantileRanks listed. */
function quantileOf(ranks: Int32Array, at: Float64Array, t: number, n: number, fraction: number): number {
  const q = n * fraction;
  const i = Math.floor(q);
  const f = q - i;
  let j = 0;
  while (j < t && ranks[j] !== i) j++;
  return f === 0 || i >= n - 1 ? at[j]! : at[j]! * (1 - f) + at[j + 1]! * f;
}

/**
 * Exact order statistics of an object's values without sorting them: one pass counts the values
 * into ~n/4 equal-width buckets between their minimum and maximum, a second copies out only the
 * buckets that hold the wanted ranks, and quickselect finishes inside those few values.
 */
class OrderStatistics {
  /** Bucket counts of the current values (filled by the caller after prepare, or by select). */
  counts = new Int32Array(256);
  /** Index of the last bucket; value v goes to min(last, floor((v - lo) x scale)). */
  last = 0;
  scale = 0;
  private slotOf = new Int32Array(256).fill(-1);
  private scratch = new Float64Array(256);
  private readonly slotBucket = new Int32Array(8);
  private readonly slotStart = new Int32Array(9);
  private readonly slotFill = new Int32Array(8);
  private readonly local = new Int32Array(8);

  /** Zeroed buckets for n values in lo..hi (hi > lo); returns the scale. */
  prepare(n: number, lo: number, hi: number): number {
    const buckets = Math.max(1, n >> 2);
    if (this.counts.length < buckets) {
      this.counts = new Int32Array(Math.max(buckets, 2 * this.counts.length));
      this.slotOf = new Int32Array(this.counts.length).fill(-1);
    }
    this.counts.fill(0, 0, buckets);
    this.last = buckets - 1;
    this.scale = buckets / (hi - lo);
    return this.scale;
  }

  /**
   * `at[j]` = the value of rank `ranks[j]` (sorted ascending, < n) among values[i0 .. i0+n), or among
   * |values - centre| when `deviations`; `lo`/`hi` bound those values. `counted`: the caller has
   * already filled the buckets after prepare(n, lo, hi).
   */
  select(values: Float64Array, i0: number, n: number, deviations: boolean, centre: number, lo: number, hi: number, ranks: Int32Array, t: number, at: Float64Array, counted = false): void {
    if (!(hi > lo)) {
      for (let j = 0; j < t; j++) at[j] = lo;
      return;
    }
    if (!counted) this.prepare(n, lo, hi);
    const { counts, slotOf, slotBucket, slotStart, slotFill, local, scale, last } = this;
    const i1 = i0 + n;
    if (!counted && deviations) {
      for (let i = i0; i < i1; i++) {
        const b = ((Math.abs(values[i]! - centre) - lo) * scale) | 0;
        counts[b > last ? last : b]!++;
      }
    } else if (!counted) {
      for (let i = i0; i < i1; i++) {
        const b = ((values[i]! - lo) * scale) | 0;
        counts[b > last ? last : b]!++;
      }
    }
    // the bucket of each rank, and the distinct buckets ("slots") to copy out
    let slots = 0;
    let cum = 0;
    let b = 0;
    for (let j = 0; j < t; j++) {
      const r = ranks[j]!;
      while (cum + counts[b]! <= r) cum += counts[b++]!;
      if (slots === 0 || slotBucket[slots - 1] !== b) {
        slotBucket[slots] = b;
        slotStart[slots + 1] = slotStart[slots]! + counts[b]!;
        slotFill[slots] = 0;
        slotOf[b] = slots;
        slots++;
      }
      local[j] = slotStart[slots - 1]! + (r - cum);
    }
    const size = slotStart[slots]!;
    if (this.scratch.length < size) this.scratch = new Float64Array(Math.max(size, 2 * this.scratch.length));
    const scratch = this.scratch;
    if (deviations) {
      for (let i = i0; i < i1; i++) {
        const v = Math.abs(values[i]! - centre);
        const k = ((v - lo) * scale) | 0;
        const s = slotOf[k > last ? last : k]!;
        if (s >= 0) scratch[slotStart[s]! + slotFill[s]!++] = v;
      }
    } else {
      for (let i = i0; i < i1; i++) {
        const v = values[i]!;
        const k = ((v - lo) * scale) | 0;
        const s = slotOf[k > last ? last : k]!;
        if (s >= 0) scratch[slotStart[s]! + slotFill[s]!++] = v;
      }
    }
    for (let s = 0; s < slots; s++) {
      slotOf[slotBucket[s]!] = -1;
      let j0 = 0;
      while (local[j0]! < slotStart[s]!) j0++;
      let j1 = j0;
      while (j1 < t && local[j1]! < slotStart[s + 1]!) j1++;
      multiSelect(scratch, slotStart[s]!, slotStart[s + 1]! - 1, local, j0, j1);
    }
    for (let j = 0; j < t; j++) at[j] = scratch[local[j]!]!;
  }
}

/**
 * measureIntensity's statistics without the mass displacement (column 10 left 0), each object's
 * sums of x, p, x v and p v written to moments[4 (k-1) ..] instead: e.g. the C kernel of
 * native/kernels.c, giving bitwise the values of the TypeScript below.
 */
export type IntensityKernel = NativeKernels['intensityStats'];

let kernel: IntensityKernel | null = null;

/** Compute intensity statistics with `k` instead of TypeScript (null: TypeScript); see src/cells/measure-native.ts. */
export function useIntensityKernel(k: IntensityKernel | null): void {
  kernel = k;
}

/**
 * Intensity features of every object for one stain into `out` (row k-1 of `stride` values,
 * columns `offset` .. in INTENSITY_FEATURES order). `values` from gatherValues. An object without
 * pixels gets zeros; one without edge pixels zeros for the edge features.
 */
export function measureIntensity(index: ObjectPixels, values: Float64Array, out: Float64Array, stride: number, offset: number): void {
  const { width: w, count, start, pixel, x: xs, edge } = index;
  if (kernel) {
    const moments = new Float64Array(4 * count);
    kernel(values, start, pixel, xs, edge, count, out, stride, offset, moments);
    for (let k = 1; k <= count; k++) {
      const n = start[k]! - start[k - 1]!;
      const o = (k - 1) * stride + offset;
      const sum = out[o]!;
      const [sx, sp, sxv, spv] = moments.subarray(4 * (k - 1), 4 * k) as unknown as [number, number, number, number];
      // as below: rows from pixel indices
      const sy = (sp - sx) / w;
      const syv = (spv - sxv) / w;
      out[o + 10] = n > 0 && sum > 0 ? Math.hypot(sx / n - sxv / sum, sy / n - syv / sum) : 0;
    }
    return;
  }
  const stats = new OrderStatistics();
  const ranks = new Int32Array(6);
  const at = new Float64Array(6);
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
    let sp = 0;
    let sxv = 0;
    let spv = 0;
    let en = 0;
    let esum = 0;
    let emin = Infinity;
    let emax = -Infinity;
    for (let i = i0; i < i1; i++) {
      const v = values[i]!;
      const x = xs[i]!;
      const p = pixel[i]!;
      sum += v;
      if (v < min) min = v;
      if (v > max) max = v;
      sx += x;
      sp += p;
      sxv += x * v;
      spv += p * v;
      if (edge[i] === 1) {
        en++;
        esum += v;
        if (v < emin) emin = v;
        if (v > emax) emax = v;
      }
    }
    const mean = sum / n;
    const emean = en > 0 ? esum / en : 0;
    // second pass: squared deviations, and the values into the quartile buckets
    let ss = 0;
    let ess = 0;
    const spread = max > min;
    const scale = spread ? stats.prepare(n, min, max) : 0;
    const { counts, last } = stats;
    for (let i = i0; i < i1; i++) {
      const v = values[i]!;
      ss += (v - mean) * (v - mean);
      if (edge[i] === 1) ess += (v - emean) * (v - emean);
      if (spread) {
        const b = ((v - min) * scale) | 0;
        counts[b > last ? last : b]!++;
      }
    }
    // mass displacement: centre of the object vs centre of its intensity (0 when it has none)
    // (rows from pixel indices: y = (p - x) / w, so sums of y are (sums of p - sums of x) / w)
    const sy = (sp - sx) / w;
    const syv = (spv - sxv) / w;
    const displacement = sum > 0 ? Math.hypot(sx / n - sxv / sum, sy / n - syv / sum) : 0;
    let t = quantileRanks(n, 0.25, ranks, 0);
    t = quantileRanks(n, 0.5, ranks, t);
    t = quantileRanks(n, 0.75, ranks, t);
    stats.select(values, i0, n, false, 0, min, max, ranks, t, at, true);
    const lowerQuartile = quantileOf(ranks, at, t, n, 0.25);
    const median = quantileOf(ranks, at, t, n, 0.5);
    const upperQuartile = quantileOf(ranks, at, t, n, 0.75);
    t = quantileRanks(n, 0.5, ranks, 0);
    stats.select(values, i0, n, true, median, 0, Math.max(max - median, median - min), ranks, t, at);
    const mad = quantileOf(ranks, at, t, n, 0.5);
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
