/**
 * Haralick texture features per object, as CellProfiler's MeasureTexture computes them with
 * mahotas: intensities to 8-bit (`img_as_ubyte`: round(v x 255)), optionally binned to fewer gray
 * levels, zero pixels ignored, one symmetric co-occurrence matrix per direction at a given
 * distance inside the object, and mahotas' 13 features of each matrix. The matrices are sparse:
 * one reused count table per direction, cleared entry by entry after each object.
 */
import type { NativeKernels } from '../native.js';
import type { ObjectPixels } from './shape.js';

/** The 13 Haralick features, CellProfiler's names and mahotas' order. */
export const HARALICK_FEATURES = [
  'AngularSecondMoment',
  'Contrast',
  'Correlation',
  'Variance',
  'InverseDifferenceMoment',
  'SumAverage',
  'SumVariance',
  'SumEntropy',
  'Entropy',
  'DifferenceVariance',
  'DifferenceEntropy',
  'InfoMeas1',
  'InfoMeas2',
] as const;

/** mahotas' four 2-D directions (dy, dx): 0 horizontal, 1 diagonal down-right, 2 vertical, 3 diagonal down-left. */
export const TEXTURE_DIRECTIONS: ReadonlyArray<readonly [number, number]> = [
  [0, 1],
  [1, 1],
  [1, 0],
  [1, -1],
];

/**
 * Gray level of a 0..1 intensity as CellProfiler's MeasureTexture makes it: scikit-image's
 * `img_as_ubyte` (round half to even of v x 255, clipped to 0..255), then, for fewer than 256
 * levels, `rescale_intensity` to 0..levels-1 truncated to an integer.
 */
export function grayLevel(v: number, levels: number): number {
  return binned(toUbyte(v), levels);
}

/** scikit-image `rescale_intensity(g, in_range=(0, 255), out_range=(0, levels - 1))` cast to an integer. */
function binned(g: number, levels: number): number {
  return levels === 256 ? g : Math.trunc((g / 255) * (levels - 1));
}

/** numpy.rint(v x 255) clipped to 0..255 (round half to even). */
function toUbyte(v: number): number {
  const t = v * 255;
  if (!(t > 0)) return 0;
  if (t >= 255) return 255;
  const g = (t + 0.5) | 0;
  return g - t === 0.5 && (g & 1) === 1 ? g - 1 : g;
}

const KEYS = 65536; // gray levels <= 256: key = low x size + high < 256 x 256
/** Co-occurrence counts, one table per direction, all zero between objects. */
let counts: Int32Array | undefined;
/** Pairs (a << 8 | b) first counted, per direction (segment d x KEYS). */
let touched: Int32Array | undefined;
/** c x log2(c) for small integer counts. */
let clog2: Float64Array | undefined;

function xlog2x(c: number): number {
  return c < KEYS ? clog2![c]! : c * Math.log2(c);
}

/** Entropy (bits) of counts c_k summing to t: log2 t - sum(c log2 c) / t. */
function entropyOf(sumClogC: number, t: number): number {
  return Math.log2(t) - sumClogC / t;
}

/**
 * Which of the four co-occurrence partners at `distance` lie in the same object, per object pixel
 * (bit d for TEXTURE_DIRECTIONS[d]); depends on the label image only, so it is shared by stains.
 */
export function neighbourMask(index: ObjectPixels, distance: number): Uint8Array {
  const { width: w, height: h, labels, start, pixel, x: xs, count } = index;
  const mask = new Uint8Array(pixel.length);
  if (maskKernel) {
    maskKernel(labels, w, h, start, pixel, xs, count, distance, mask);
    return mask;
  }
  const dw = distance * w;
  const size = w * h;
  for (let k = 1; k <= count; k++) {
    const i1 = start[k]!;
    for (let i = start[k - 1]!; i < i1; i++) {
      const p = pixel[i]!;
      const x = xs[i]!;
      const right = x + distance < w;
      const down = p + dw < size;
      let bits = 0;
      if (right && labels[p + distance] === k) bits |= 1;
      if (down) {
        if (right && labels[p + dw + distance] === k) bits |= 2;
        if (labels[p + dw] === k) bits |= 4;
        if (x - distance >= 0 && labels[p + dw - distance] === k) bits |= 8;
      }
      mask[i] = bits;
    }
  }
  return mask;
}

/** neighbourMask's C twin (native/kernels.c `neighbourMask`): fills `mask` with identical bits. */
export type MaskKernel = NonNullable<NativeKernels['neighbourMask']>;

let maskKernel: MaskKernel | null = null;

/** Make neighbour masks with `k` (null: TypeScript); see src/cells/measure-native.ts. */
export function useMaskKernel(k: MaskKernel | null): void {
  maskKernel = k;
}

/**
 * A stain's gray levels at the object pixels of one label image (other pixels are stale and never
 * read: a neighbour is read only after its label was checked), and each object's largest level.
 * Filled by gatherValues (one pass with the intensities).
 */
export interface GrayLevels {
  image: Uint8Array;
  /** Largest gray level of object k at k-1. */
  max: Uint8Array;
  /** 8-bit value -> gray level (identity for 256 levels). */
  lut: Uint8Array;
}

/** Containers for gray levels of an index's objects (reusing `scratch` when it is large enough). */
export function grayLevelsFor(index: ObjectPixels, levels: number, scratch?: GrayLevels): GrayLevels {
  const size = index.width * index.height;
  const image = scratch && scratch.image.length >= size ? scratch.image : new Uint8Array(size);
  const lut = new Uint8Array(256);
  for (let g = 0; g < 256; g++) lut[g] = binned(g, levels);
  return { image, max: new Uint8Array(index.count), lut };
}

/** The gray level of an intensity through a lut of grayLevelsFor (for gatherValues' loop). */
export function grayOf(v: number, lut: Uint8Array): number {
  return lut[toUbyte(v)]!;
}

/**
 * Texture features of every object for one stain and one distance into `out` (row k-1 of
 * `stride` values; for direction d, features at `offset + d x 13` in HARALICK_FEATURES order).
 * `grayLevels` from gatherValues. An object with no pair of nonzero pixels at that distance (too small,
 * or all its pixels round to gray level 0) gets zeros, as CellProfiler records it. `neighbours`
 * (from neighbourMask for this distance) can be passed to share it between stains.
 */
export function measureTexture(
  index: ObjectPixels,
  grayLevels: GrayLevels,
  distance: number,
  out: Float64Array,
  stride: number,
  offset: number,
  neighbours?: Uint8Array,
): void {
  const { width: w, count, start, pixel } = index;
  const { cnt, tch } = cooccurrenceTables();
  const gray = grayLevels.image;
  const mask = neighbours ?? neighbourMask(index, distance);
  const [s0, s1, s2, s3] = TEXTURE_DIRECTIONS.map(([dy, dx]) => distance * (dy * w + dx)) as [number, number, number, number];
  const shifts = Int32Array.of(s0, s1, s2, s3);
  const sizes = new Int32Array(4);
  const outs = [out];
  const offsets = [0];
  const nt = new Int32Array(4);
  const nf = HARALICK_FEATURES.length;
  for (let k = 1; k <= count; k++) {
    const o = (k - 1) * stride + offset;
    const i0 = start[k - 1]!;
    const i1 = start[k]!;
    const maxGray = grayLevels.max[k - 1]!;
    // pair (a, b), a <= b, counted at a x size + b in its direction's table (compact keys keep a
    // small object's tables in cache); the four directions are written out for speed
    const size = maxGray + 1;
    if (kernel) {
      nt.fill(0);
      kernel(pixel, i0, i1, mask, gray, null, shifts, size, cnt, tch, nt);
      sizes.fill(size);
      offsets[0] = o;
      haralickTables(cnt, tch, nt, 4, size, sizes, i1 - i0, outs, offsets);
      continue;
    }
    let n0 = 0;
    let n1 = 0;
    let n2 = 0;
    let n3 = 0;
    for (let i = i0; i < i1; i++) {
      const bits = mask[i]!;
      if (bits === 0) continue;
      const p = pixel[i]!;
      const a = gray[p]!;
      if (a === 0) continue;
      if ((bits & 1) !== 0) {
        const b = gray[p + s0]!;
        if (b !== 0) {
          const lo = Math.min(a, b);
          const key = lo * size + a + b - lo;
          const c = cnt[key]!;
          cnt[key] = c + 1;
          tch[n0] = (lo << 8) | (a + b - lo);
          n0 += (c - 1) >>> 31; // branch-free: advance on a first count
        }
      }
      if ((bits & 2) !== 0) {
        const b = gray[p + s1]!;
        if (b !== 0) {
          const lo = Math.min(a, b);
          const key = KEYS + lo * size + a + b - lo;
          const c = cnt[key]!;
          cnt[key] = c + 1;
          tch[KEYS + n1] = (lo << 8) | (a + b - lo);
          n1 += (c - 1) >>> 31;
        }
      }
      if ((bits & 4) !== 0) {
        const b = gray[p + s2]!;
        if (b !== 0) {
          const lo = Math.min(a, b);
          const key = 2 * KEYS + lo * size + a + b - lo;
          const c = cnt[key]!;
          cnt[key] = c + 1;
          tch[2 * KEYS + n2] = (lo << 8) | (a + b - lo);
          n2 += (c - 1) >>> 31;
        }
      }
      if ((bits & 8) !== 0) {
        const b = gray[p + s3]!;
        if (b !== 0) {
          const lo = Math.min(a, b);
          const key = 3 * KEYS + lo * size + a + b - lo;
          const c = cnt[key]!;
          cnt[key] = c + 1;
          tch[3 * KEYS + n3] = (lo << 8) | (a + b - lo);
          n3 += (c - 1) >>> 31;
        }
      }
    }
    nt[0] = n0;
    nt[1] = n1;
    nt[2] = n2;
    nt[3] = n3;
    // mahotas sizes its matrices by the largest gray level in the object's crop (size above);
    // only the difference variance depends on that size
    for (let dir = 0; dir < 4; dir++) haralick(cnt, tch, dir * KEYS, nt[dir]!, size, size, out, o + dir * nf);
  }
}

/** Co-occurrence count tables (4 directions x KEYS) and first-count lists, allocated on first use. */
export function cooccurrenceTables(): { cnt: Int32Array; tch: Int32Array } {
  counts ??= new Int32Array(4 * KEYS);
  touched ??= new Int32Array(4 * KEYS);
  if (!clog2) {
    clog2 = new Float64Array(KEYS);
    for (let c = 1; c < KEYS; c++) clog2[c] = c * Math.log2(c);
  }
  return { cnt: counts, tch: touched };
}

export const COOCCURRENCE_KEYS = KEYS;

/**
 * The co-occurrence counting of one object (countPairs' signature), e.g. the C kernel of
 * native/kernels.c; null: countPairs' TypeScript.
 */
export type CooccurrenceKernel = NativeKernels['cooccurrence'];

let kernel: CooccurrenceKernel | null = null;

/**
 * Count pairs with `k` (a twin of countPairs giving identical tables) instead of TypeScript; null
 * goes back to TypeScript. The measurement modules import nothing Node-specific: a Node host
 * registers the C kernel (src/cells/measure-native.ts), a browser host runs the TypeScript.
 */
export function useCooccurrenceKernel(k: CooccurrenceKernel | null): void {
  kernel = k;
}

/** The kernel in use, or null for TypeScript. */
export function cooccurrenceKernel(): CooccurrenceKernel | null {
  return kernel;
}

/**
 * Co-occurrence counts of one object (entries i0..i1 of `pixel`), into count tables of KEYS
 * entries each: for each direction d whose bit is set in mask[i] and whose partner p + shift[d]
 * has a nonzero gray level (as has p), the pair lo = min, hi = max of the two levels is counted
 * in table d at lo x size + hi (size > every level) and listed in `tch` (lo << 8 | hi) on its
 * first count; nt[d] = pairs listed. With `nucleus`, the pair is also counted in table 4 + d when
 * both pixels are in a nucleus (nucleus != 0) and in table 8 + d when neither is (cytoplasm).
 * Pairs are met in raster order, directions in order, so lists keep the order of first counts.
 */
export function countPairs(
  pixel: Int32Array,
  i0: number,
  i1: number,
  mask: Uint8Array,
  gray: Uint8Array,
  nucleus: Int32Array | null,
  shift: Int32Array,
  size: number,
  cnt: Int32Array,
  tch: Int32Array,
  nt: Int32Array,
): void {
  if (kernel) return kernel(pixel, i0, i1, mask, gray, nucleus, shift, size, cnt, tch, nt);
  if (nucleus === null) return countAlone(pixel, i0, i1, mask, gray, shift, size, cnt, tch, nt);
  // the four directions written out (as in measureTexture), the cell's lists in locals
  const s0 = shift[0]!;
  const s1 = shift[1]!;
  const s2 = shift[2]!;
  const s3 = shift[3]!;
  let n0 = nt[0]!;
  let n1 = nt[1]!;
  let n2 = nt[2]!;
  let n3 = nt[3]!;
  for (let i = i0; i < i1; i++) {
    const bits = mask[i]!;
    if (bits === 0) continue;
    const p = pixel[i]!;
    const a = gray[p]!;
    if (a === 0) continue;
    const an = nucleus[p] !== 0;
      if ((bits & 1) !== 0) {
        const q = p + s0;
        const b = gray[q]!;
        if (b !== 0) {
          const lo = a < b ? a : b;
          const off = lo * size + a + b - lo;
          const ab = (lo << 8) | (a + b - lo);
          const c = cnt[0 * KEYS + off]!;
          cnt[0 * KEYS + off] = c + 1;
          tch[0 * KEYS + n0] = ab;
          n0 += (c - 1) >>> 31;
          if (an === (nucleus[q] !== 0)) bump(cnt, tch, nt, (an ? 4 : 8) + 0, off, ab);
        }
      }
      if ((bits & 2) !== 0) {
        const q = p + s1;
        const b = gray[q]!;
        if (b !== 0) {
          const lo = a < b ? a : b;
          const off = lo * size + a + b - lo;
          const ab = (lo << 8) | (a + b - lo);
          const c = cnt[1 * KEYS + off]!;
          cnt[1 * KEYS + off] = c + 1;
          tch[1 * KEYS + n1] = ab;
          n1 += (c - 1) >>> 31;
          if (an === (nucleus[q] !== 0)) bump(cnt, tch, nt, (an ? 4 : 8) + 1, off, ab);
        }
      }
      if ((bits & 4) !== 0) {
        const q = p + s2;
        const b = gray[q]!;
        if (b !== 0) {
          const lo = a < b ? a : b;
          const off = lo * size + a + b - lo;
          const ab = (lo << 8) | (a + b - lo);
          const c = cnt[2 * KEYS + off]!;
          cnt[2 * KEYS + off] = c + 1;
          tch[2 * KEYS + n2] = ab;
          n2 += (c - 1) >>> 31;
          if (an === (nucleus[q] !== 0)) bump(cnt, tch, nt, (an ? 4 : 8) + 2, off, ab);
        }
      }
      if ((bits & 8) !== 0) {
        const q = p + s3;
        const b = gray[q]!;
        if (b !== 0) {
          const lo = a < b ? a : b;
          const off = lo * size + a + b - lo;
          const ab = (lo << 8) | (a + b - lo);
          const c = cnt[3 * KEYS + off]!;
          cnt[3 * KEYS + off] = c + 1;
          tch[3 * KEYS + n3] = ab;
          n3 += (c - 1) >>> 31;
          if (an === (nucleus[q] !== 0)) bump(cnt, tch, nt, (an ? 4 : 8) + 3, off, ab);
        }
      }
  }
  nt[0] = n0;
  nt[1] = n1;
  nt[2] = n2;
  nt[3] = n3;
}

/** countPairs without nucleus: the cell's tables only. */
function countAlone(pixel: Int32Array, i0: number, i1: number, mask: Uint8Array, gray: Uint8Array, shift: Int32Array, size: number, cnt: Int32Array, tch: Int32Array, nt: Int32Array): void {
  for (let i = i0; i < i1; i++) {
    const bits = mask[i]!;
    if (bits === 0) continue;
    const p = pixel[i]!;
    const a = gray[p]!;
    if (a === 0) continue;
    for (let d = 0; d < 4; d++) {
      if (((bits >> d) & 1) === 0) continue;
      const b = gray[p + shift[d]!]!;
      if (b === 0) continue;
      const lo = a < b ? a : b;
      bump(cnt, tch, nt, d, lo * size + a + b - lo, (lo << 8) | (a + b - lo));
    }
  }
}

/** Count pair `ab` (key `off`) in table t, listing it on its first count. */
function bump(cnt: Int32Array, tch: Int32Array, nt: Int32Array, t: number, off: number, ab: number): void {
  const base = t * KEYS;
  const c = cnt[base + off]!;
  cnt[base + off] = c + 1;
  const m = nt[t]!;
  tch[base + m] = ab;
  nt[t] = m + ((c - 1) >>> 31);
}

const px = new Float64Array(256);
const plus = new Float64Array(512);
const minus = new Float64Array(256);

/** Sums haralickSums leaves per table, in this order. */
const SUMS = 14; // pairs, asm, contrast, sij, idm, hsum, ux, exx, hxsum, hmsum, mDev, sa, sss, hpsum
const sumsScratch = new Float64Array(12 * SUMS);

/**
 * The sums of tables 0..tables-1 at once (each table t: nt[t] pairs listed at tch[t x KEYS ..],
 * counts at cnt[t x KEYS + a x keySize + b], cleared; its object's size at sizes[t]) into
 * sums[t x 14 ..], as haralickSums does them: e.g. the C kernel of native/kernels.c, which
 * needs every count and marginal below KEYS (xlog2x from the `clog2` table).
 */
export type HaralickKernel = NativeKernels['haralickSums'];

let sumsKernel: HaralickKernel | null = null;

/** Sum co-occurrence tables with `k` instead of TypeScript (null: TypeScript); see src/cells/measure-native.ts. */
export function useHaralickKernel(k: HaralickKernel | null): void {
  sumsKernel = k;
}

/**
 * Haralick features of tables 0..tables-1 of one object (as `haralick` for each): table t's
 * features go to outs[t >> 2] at offsets[t >> 2] + (t & 3) x 13 (the tables of one kind are its
 * four directions); an output of null takes a kind whose tables are empty. `pairsBound`: no table
 * holds more pairs than this (the object's pixel count), so the C kernel is used when every
 * count and marginal (<= 2 x pairs) is below KEYS.
 */
export function haralickTables(
  cnt: Int32Array,
  tch: Int32Array,
  nt: Int32Array,
  tables: number,
  keySize: number,
  sizes: Int32Array,
  pairsBound: number,
  outs: ReadonlyArray<Float64Array | null>,
  offsets: ArrayLike<number>,
): void {
  const nf = HARALICK_FEATURES.length;
  if (sumsKernel && 2 * pairsBound < KEYS) {
    sumsKernel(cnt, tch, nt, tables, keySize, sizes, clog2!, sumsScratch);
    for (let t = 0; t < tables; t++) {
      const out = outs[t >> 2];
      if (!out) continue;
      const od = offsets[t >> 2]! + (t & 3) * nf;
      if (nt[t] === 0) for (let f = 0; f < nf; f++) out[od + f] = 0;
      else haralickFinish(sumsScratch, t * SUMS, sizes[t]!, out, od);
    }
    return;
  }
  for (let t = 0; t < tables; t++) {
    const out = outs[t >> 2];
    if (out) haralick(cnt, tch, t * KEYS, nt[t]!, keySize, sizes[t]!, out, offsets[t >> 2]! + (t & 3) * nf);
  }
}

/**
 * mahotas' 13 Haralick features of one direction's co-occurrence counts into out[od ..]: the `m`
 * pairs (a << 8 | b, a <= b) first counted in `tch[base ..]`, their counts at
 * `cnt[base + a x keySize + b]` (cleared here); `size` = the object's largest gray level + 1.
 * Zeros when m = 0.
 */
export function haralick(cnt: Int32Array, tch: Int32Array, base: number, m: number, keySize: number, size: number, out: Float64Array, od: number): void {
  if (m === 0) {
    for (let f = 0; f < HARALICK_FEATURES.length; f++) out[od + f] = 0;
    return;
  }
  haralickSums(cnt, tch, base, m, keySize, size, sumsScratch, 0);
  haralickFinish(sumsScratch, 0, size, out, od);
}

/** The sums of one table (m > 0) behind its Haralick features, into sums[s ..] (SUMS values). */
function haralickSums(cnt: Int32Array, tch: Int32Array, base: number, m: number, keySize: number, size: number, sums: Float64Array, s: number): void {
  // the symmetric matrix P = C + C^T: (a, b) and (b, a) each hold c for a != b, (a, a) holds 2c
  let pairs = 0;
  let asm = 0;
  let contrast = 0;
  let sij = 0;
  let idm = 0;
  let hsum = 0;
  for (let j = 0; j < m; j++) {
    const ab = tch[base + j]!;
    const a = ab >> 8;
    const b = ab & 255;
    const key = base + a * keySize + b;
    const c = cnt[key]!;
    cnt[key] = 0;
    pairs += c;
    if (a === b) {
      const c2 = 2 * c;
      asm += c2 * c2;
      sij += c2 * a * a;
      idm += c2;
      px[a]! += c2;
      plus[2 * a]! += c2;
      minus[0]! += c2;
      hsum += xlog2x(c2);
    } else {
      const diff = b - a;
      asm += 2 * c * c;
      contrast += 2 * c * diff * diff;
      sij += 2 * c * a * b;
      idm += (2 * c) / (1 + diff * diff);
      px[a]! += c;
      px[b]! += c;
      plus[a + b]! += 2 * c;
      minus[diff]! += 2 * c;
      hsum += 2 * xlog2x(c);
    }
  }
  const t = 2 * pairs;
  let ux = 0;
  let exx = 0;
  let hxsum = 0;
  let hmsum = 0;
  // numpy's var() of the difference distribution as a vector of `size` entries (mean 1/size)
  const mMean = 1 / size;
  let mDev = 0;
  for (let g = 0; g < size; g++) {
    const c = px[g]!;
    if (c !== 0) {
      ux += g * c;
      exx += g * g * c;
      hxsum += xlog2x(c);
      px[g] = 0;
    }
    const e = minus[g]!;
    mDev += (e / t - mMean) * (e / t - mMean);
    if (e !== 0) {
      hmsum += xlog2x(e);
      minus[g] = 0;
    }
  }
  let sa = 0;
  let sss = 0;
  let hpsum = 0;
  for (let g = 0; g < 2 * size; g++) {
    const c = plus[g]!;
    if (c === 0) continue;
    sa += g * c;
    sss += g * g * c;
    hpsum += xlog2x(c);
    plus[g] = 0;
  }
  sums[s] = pairs;
  sums[s + 1] = asm;
  sums[s + 2] = contrast;
  sums[s + 3] = sij;
  sums[s + 4] = idm;
  sums[s + 5] = hsum;
  sums[s + 6] = ux;
  sums[s + 7] = exx;
  sums[s + 8] = hxsum;
  sums[s + 9] = hmsum;
  sums[s + 10] = mDev;
  sums[s + 11] = sa;
  sums[s + 12] = sss;
  sums[s + 13] = hpsum;
}

/** The 13 features from a table's sums (haralickSums or its C twin). */
function haralickFinish(sums: Float64Array, s: number, size: number, out: Float64Array, od: number): void {
  const t = 2 * sums[s]!;
  const asm = sums[s + 1]!;
  const contrast = sums[s + 2]!;
  const sij = sums[s + 3]!;
  const idm = sums[s + 4]!;
  const hsum = sums[s + 5]!;
  const ux = sums[s + 6]! / t;
  const exx = sums[s + 7]!;
  const hxsum = sums[s + 8]!;
  const hmsum = sums[s + 9]!;
  const mDev = sums[s + 10]!;
  const sa = sums[s + 11]!;
  const sss = sums[s + 12]!;
  const hpsum = sums[s + 13]!;
  const vx = exx / t - ux * ux;
  const sx = Math.sqrt(Math.max(0, vx));
  const entropy = entropyOf(hsum, t);
  const hx = entropyOf(hxsum, t);
  const sumAverage = sa / t;
  // HXY1 = HXY2 = HX + HY = 2 HX for a symmetric matrix (px = py)
  const hxy = 2 * hx;
  out[od] = asm / (t * t);
  out[od + 1] = contrast / t;
  out[od + 2] = sx === 0 ? 1 : (sij / t - ux * ux) / (sx * sx);
  out[od + 3] = vx;
  out[od + 4] = idm / t;
  out[od + 5] = sumAverage;
  out[od + 6] = sss / t - sumAverage * sumAverage;
  out[od + 7] = entropyOf(hpsum, t);
  out[od + 8] = entropy;
  out[od + 9] = mDev / size;
  out[od + 10] = entropyOf(hmsum, t);
  out[od + 11] = hx === 0 ? entropy - hxy : (entropy - hxy) / hx;
  out[od + 12] = Math.sqrt(Math.max(0, 1 - Math.exp(-2 * (hxy - entropy))));
}
