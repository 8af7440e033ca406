/**
 * Global thresholds on an integer histogram of the image (4,096 bins between its minimum and
 * maximum): Otsu and Li's minimum cross-entropy (skimage's iterative form, as CellProfiler
 * uses through scikit-image), plus a sanity check that tells objects from noise.
 */
import type { ThresholdMethod } from './types.js';

export const HISTOGRAM_BINS = 4096;

export interface Histogram {
  counts: Float64Array;
  lo: number;
  /** Width of one bin (0 for a constant image). */
  step: number;
  total: number;
}

/**
 * `histogram` without a mask in C (native/kernels.c segHistogram, registered by
 * src/cells/segment-native.ts on Node): the same counts, writes range = [lo, hi].
 */
export type HistogramKernel = (values: Float32Array, counts: Float64Array, range: Float64Array) => void;

let histogramKernel: HistogramKernel | null = null;

/** Use `kernel` for histograms without a mask (null: the TypeScript twin). */
export function useHistogramKernel(kernel: HistogramKernel | null): void {
  histogramKernel = kernel;
}

/** Histogram of the pixels where `mask` (if given) is non-zero. */
export function histogram(a: Float32Array, mask?: Uint8Array, bins = HISTOGRAM_BINS): Histogram {
  if (histogramKernel && !mask) {
    const counts = new Float64Array(bins);
    const range = new Float64Array(2);
    histogramKernel(a, counts, range);
    const [lo, hi] = range as unknown as [number, number];
    if (!(lo <= hi)) return { counts, lo: 0, step: 0, total: 0 };
    return { counts, lo, step: (hi - lo) / bins, total: a.length };
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    if (mask && !mask[i]) continue;
    const v = a[i] as number;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const counts = new Float64Array(bins);
  if (!(lo <= hi)) return { counts, lo: 0, step: 0, total: 0 };
  const step = (hi - lo) / bins;
  const scale = step > 0 ? 1 / step : 0;
  let total = 0;
  for (let i = 0; i < a.length; i++) {
    if (mask && !mask[i]) continue;
    let b = (((a[i] as number) - lo) * scale) | 0;
    if (b >= bins) b = bins - 1;
    counts[b] = (counts[b] as number) + 1;
    total++;
  }
  return { counts, lo, step, total };
}

/** Centre value of bin b. */
const centre = (h: Histogram, b: number): number => h.lo + (b + 0.5) * h.step;

/** Otsu's threshold: the bin edge maximizing the between-class variance. */
export function otsu(h: Histogram): number {
  const n = h.counts.length;
  let sumAll = 0;
  for (let b = 0; b < n; b++) sumAll += (h.counts[b] as number) * b;
  let w0 = 0;
  let sum0 = 0;
  let best = -1;
  let bestB = 0;
  for (let b = 0; b < n - 1; b++) {
    const c = h.counts[b] as number;
    w0 += c;
    sum0 += c * b;
    const w1 = h.total - w0;
    if (w0 === 0 || w1 === 0) continue;
    const d = sum0 / w0 - (sumAll - sum0) / w1;
    const between = w0 * w1 * d * d;
    if (between > best) {
      best = between;
      bestB = b;
    }
  }
  return h.lo + (bestB + 1) * h.step;
}

/**
 * Li's minimum cross-entropy threshold, iterated as skimage.filters.threshold_li does
 * (values shifted to start at 0; start at the mean; t <- (mb - mf) / (ln mb - ln mf)).
 */
export function li(h: Histogram): number {
  const n = h.counts.length;
  if (h.step === 0 || h.total === 0) return h.lo;
  // work in bin units shifted so the lowest bin centre is 0.5 (positive, as the log needs)
  let sum = 0;
  for (let b = 0; b < n; b++) sum += (h.counts[b] as number) * (b + 0.5);
  let t = sum / h.total;
  for (let iter = 0; iter < 1000; iter++) {
    const cut = Math.floor(t - 0.5); // bins with centre <= t are background
    let wb = 0;
    let sb = 0;
    for (let b = 0; b <= cut && b < n; b++) {
      wb += h.counts[b] as number;
      sb += (h.counts[b] as number) * (b + 0.5);
    }
    const wf = h.total - wb;
    if (wb === 0 || wf === 0) break;
    const mb = sb / wb;
    const mf = (sum - sb) / wf;
    const next = (mb - mf) / (Math.log(mb) - Math.log(mf));
    if (!Number.isFinite(next)) break;
    const done = Math.abs(next - t) < 0.5;
    t = next;
    if (done) break;
  }
  return h.lo + t * h.step;
}

export function autoThreshold(h: Histogram, method: ThresholdMethod): number {
  return method === 'otsu' ? otsu(h) : li(h);
}

/** Fine histogram bins, regrouped into HISTOGRAM_BINS bins on the linear or the log scale. */
const FINE_BINS = 65536;

/**
 * The automatic threshold of an image, in its own units. On the `log` scale the histogram of
 * ln(value - min + one fine bin) is thresholded (as CellProfiler's "log transform" option):
 * a few very bright objects then no longer pull the threshold above the dim ones. On the linear
 * scale, `clip` < 1 does that differently: values above the `clip` quantile count as that
 * quantile (the histogram spans min..quantile, the values above fall in its top bin; returned as
 * `clipped`). `fine` is the FINE_BINS histogram of the same values (returned as `histogram`) when
 * the caller has it already.
 */
export function imageThreshold(a: Float32Array, method: ThresholdMethod, scale: 'linear' | 'log', mask?: Uint8Array, clip = 1, fine: Histogram = histogram(a, mask, FINE_BINS)): { threshold: number; histogram: Histogram; clipped?: Histogram } {
  if (fine.step === 0) return { threshold: fine.lo, histogram: fine };
  const coarse = new Float64Array(HISTOGRAM_BINS);
  if (scale === 'linear') {
    // values above the `clip` quantile count as that quantile (fine bins 0..top)
    let top = FINE_BINS - 1;
    if (clip < 1) {
      const limit = clip * fine.total;
      let cum = 0;
      for (let b = 0; b < FINE_BINS; b++) {
        cum += fine.counts[b] as number;
        if (cum >= limit) {
          top = b;
          break;
        }
      }
    }
    const group = (top + 1) / HISTOGRAM_BINS;
    for (let b = 0; b < FINE_BINS; b++) coarse[b > top ? HISTOGRAM_BINS - 1 : (b / group) | 0] += fine.counts[b] as number;
    const h: Histogram = { counts: coarse, lo: fine.lo, step: fine.step * group, total: fine.total };
    return { threshold: autoThreshold(h, method), histogram: fine, ...(top < FINE_BINS - 1 ? { clipped: h } : {}) };
  }
  const off = fine.lo - fine.step;
  const lo = Math.log(0.5 * fine.step + fine.step);
  const hi = Math.log((FINE_BINS + 0.5) * fine.step + fine.step);
  const step = (hi - lo) / HISTOGRAM_BINS;
  for (let b = 0; b < FINE_BINS; b++) {
    const c = fine.counts[b] as number;
    if (c === 0) continue;
    let k = ((Math.log((b + 1.5) * fine.step) - lo) / step) | 0;
    if (k >= HISTOGRAM_BINS) k = HISTOGRAM_BINS - 1;
    coarse[k] += c;
  }
  const t = autoThreshold({ counts: coarse, lo, step, total: fine.total }, method);
  return { threshold: Math.exp(t) + off, histogram: fine };
}

/**
 * Robust noise level of an image: 1.4826 x median |difference of horizontal neighbours| / sqrt 2,
 * on ~16k pairs sampled evenly. Structure (edges) is a small fraction of pairs, so this measures
 * the pixel noise, not the contrast. 0 for a flat or quantized-flat background.
 */
export function noiseSigma(a: Float32Array, w: number, h: number): number {
  const pairs = (w - 1) * h;
  if (pairs <= 0) return 0;
  const stride = Math.max(1, Math.floor(pairs / 16384));
  const sample = new Float32Array(Math.ceil(pairs / stride));
  let k = 0;
  for (let p = 0; p < pairs; p += stride) {
    const y = (p / (w - 1)) | 0;
    const i = y * w + (p - y * (w - 1));
    sample[k++] = Math.abs((a[i + 1] as number) - (a[i] as number));
  }
  const s = sample.subarray(0, k).sort();
  return (1.4826 * (s[k >> 1] as number)) / Math.SQRT2;
}

/**
 * Means of the two classes a threshold makes: [background mean, foreground mean]
 * (NaN for an empty class).
 */
export function classMeans(h: Histogram, t: number): [number, number] {
  let wb = 0;
  let sb = 0;
  let wf = 0;
  let sf = 0;
  for (let b = 0; b < h.counts.length; b++) {
    const c = h.counts[b] as number;
    const v = centre(h, b);
    if (v <= t) {
      wb += c;
      sb += c * v;
    } else {
      wf += c;
      sf += c * v;
    }
  }
  return [wb ? sb / wb : NaN, wf ? sf / wf : NaN];
}
