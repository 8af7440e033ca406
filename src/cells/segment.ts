/**
 * Finding nuclei and cells, as CellProfiler's IdentifyPrimaryObjects and
 * IdentifySecondaryObjects (propagation) do by default, in portable TypeScript on typed arrays.
 * See docs/segmentation.md for the algorithm, what differs from CellProfiler and its accuracy.
 */
import { MorphoprofError, invalidParameter } from '../errors.js';
import { distanceTransform } from './distance.js';
import { gaussianBlur, replaceNonFinite } from './filters.js';
import { borderLabels, fillMaskHoles, labelAreas, labelComponents, renumber } from './label.js';
import { mergeShallow, splitNecks, splitNotches, type SplitRule } from './merge.js';
import { suppressedMaxima } from './seeds.js';
import { classMeans, imageThreshold, noiseSigma, type Histogram } from './threshold.js';
import type { CellsOptions, LabelImage, NucleiOptions, Plane } from './types.js';
import { propagate, watershed } from './watershed.js';

/**
 * Default typical diameter range of nuclei, px. CellProfiler's default is [10, 40]; BBBC021's
 * nuclei are 29-41 px across (5th-95th percentile) with ~10% over 40 px, and some treatments
 * enlarge them 1.5x (up to ~60 px), while condensed mitotic figures and fragments are 10-15 px:
 * [10, 80] keeps both (docs/segmentation.md, "Default diameter range").
 */
export const DEFAULT_DIAMETER: [number, number] = [10, 80];

/**
 * The nuclei threshold is computed on the smoothed image with values above this quantile
 * clipped to it, so that a few very bright objects (condensed mitotic figures, 5-10x brighter
 * than interphase nuclei) do not pull Otsu's threshold above the dim nuclei of the field.
 */
export const NUCLEI_THRESHOLD_CLIP = 0.98;

/**
 * Foreground must stand this many noise standard deviations (of the raw pixels) above the
 * background for a threshold to count: pure noise splits into two classes ~1.6 sigma apart.
 */
const MIN_CONTRAST_SIGMAS = 3;

export function defaultNucleiOptions(diameter: [number, number] = DEFAULT_DIAMETER): NucleiOptions {
  return {
    diameter: [diameter[0], diameter[1]],
    threshold: 'otsu',
    thresholdCorrection: 0.9,
    smoothing: 1,
    declump: 'intensity',
    fillHoles: true,
    discardBorder: true,
    autoScale: true,
  };
}

export function defaultCellsOptions(): CellsOptions {
  return { threshold: 'li', thresholdCorrection: 1, smoothing: 1, regularization: 0.05, fillHoles: true };
}

function checkPlane(plane: Plane, what: string): void {
  const { width: w, height: h, data } = plane;
  if (!Number.isInteger(w) || !Number.isInteger(h) || w < 1 || h < 1) throw invalidParameter(`${what} width/height`, 'positive integers', [w, h]);
  if (data.length !== w * h) {
    throw new MorphoprofError('BAD_ARGUMENT', `${what}: ${data.length} pixels for ${w}x${h} (expected ${w * h})`, 'Pass row-major data of width*height values');
  }
}

function checkNucleiOptions(o: NucleiOptions): void {
  const [lo, hi] = o.diameter;
  if (!(lo >= 0 && hi >= lo && Number.isFinite(hi))) throw invalidParameter('diameter', '[min, max] with 0 <= min <= max', o.diameter);
  if (o.threshold !== 'li' && o.threshold !== 'otsu') throw invalidParameter('threshold', "'li' or 'otsu'", o.threshold);
  if (!(o.thresholdCorrection > 0 && Number.isFinite(o.thresholdCorrection))) throw invalidParameter('thresholdCorrection', 'a positive number', o.thresholdCorrection);
  if (!(o.smoothing >= 0 && Number.isFinite(o.smoothing))) throw invalidParameter('smoothing', 'a number >= 0 (px)', o.smoothing);
  if (o.declump !== 'intensity' && o.declump !== 'shape' && o.declump !== 'none') throw invalidParameter('declump', "'intensity', 'shape' or 'none'", o.declump);
}

/**
 * Scratch planes of segmentNuclei, kept between calls on fields of the same size (it is
 * synchronous, so one set per thread suffices; nothing it returns refers to them): allocating
 * ~30 MB per 1280x1024 field showed as garbage collection in CPU profiles.
 */
const scratch = { n: -1, f32: [] as Float32Array[], u8: new Uint8Array(0), i32: new Int32Array(0) };

/** Scratch set for n pixels: float planes 0.. (contents undefined), the byte and int planes. */
function scratchFor(n: number): typeof scratch {
  if (scratch.n !== n) {
    scratch.n = n;
    scratch.f32 = [];
    scratch.u8 = new Uint8Array(n);
    scratch.i32 = new Int32Array(n);
  }
  return scratch;
}

/** Float scratch plane k of the current set (allocated on first use). */
function plane32(k: number): Float32Array {
  return (scratch.f32[k] ??= new Float32Array(scratch.n));
}

const empty = (w: number, h: number): LabelImage => ({ labels: new Int32Array(w * h), width: w, height: h, count: 0 });

/**
 * Global threshold of a smoothed image, or null when the image has no foreground worth the name:
 * constant (blank or saturated), or the two classes less than MIN_CONTRAST_SIGMAS noise standard
 * deviations apart (pure noise).
 */
function foregroundThreshold(smooth: Float32Array, raw: Float32Array, w: number, h: number, method: NucleiOptions['threshold'], correction: number, scale: 'linear' | 'log', clip = 1, fine?: Histogram): { t: number; ok: boolean } {
  const { threshold, histogram: hist, clipped } = imageThreshold(smooth, method, scale, undefined, clip, fine);
  if (hist.step === 0) return { t: hist.lo, ok: false };
  const sigma = noiseSigma(raw, w, h);
  const separated = (hg: typeof hist, t: number): boolean => {
    const [mb, mf] = classMeans(hg, t);
    return Number.isFinite(mb) && Number.isFinite(mf) && mf - mb > MIN_CONTRAST_SIGMAS * sigma;
  };
  const t = threshold * correction;
  // the clipped threshold must itself separate two classes of the clipped histogram: on a sparse
  // field (foreground under 1 - clip of the pixels) the clipped histogram is background only, and
  // the threshold of the whole histogram is used instead
  if (clipped && !separated(clipped, t)) return foregroundThreshold(smooth, raw, w, h, method, correction, scale, 1, hist);
  return { t, ok: separated(hist, t) };
}

/**
 * Nuclei (IdentifyPrimaryObjects): Gaussian smoothing, a global Li or Otsu threshold times the
 * correction factor, holes filled, touching nuclei split by a seeded watershed, objects outside the
 * diameter range (by area: pi d^2 / 4) and, if asked, touching the border dropped; numbered
 * 1..count in raster order. Works on 8-bit, 16-bit and float planes (NaN counts as 0).
 *
 * Degenerate input: a constant (blank or saturated) plane, or one whose threshold does not separate
 * classes by 3 noise standard deviations (pure noise), gives zero objects with `threshold` the
 * value the method found; never NaN.
 */
export function segmentNuclei(plane: Plane, opts: Partial<NucleiOptions> = {}): LabelImage & { threshold: number } {
  checkPlane(plane, 'segmentNuclei plane');
  const o: NucleiOptions = { ...defaultNucleiOptions(opts.diameter), ...opts };
  checkNucleiOptions(o);
  const { width: w, height: h } = plane;
  const n = w * h;
  scratchFor(n);
  const raw = plane32(0);
  raw.set(plane.data);
  if (plane.data instanceof Float32Array) replaceNonFinite(raw); // integer pixels are finite
  const tmp = plane32(1);
  const smooth = gaussianBlur(raw, w, h, o.smoothing, plane32(2), tmp);
  const { t, ok } = foregroundThreshold(smooth, raw, w, h, o.threshold, o.thresholdCorrection, o.thresholdScale ?? 'linear', NUCLEI_THRESHOLD_CLIP);
  if (!ok) return { ...empty(w, h), threshold: t };
  const mask = scratch.u8;
  for (let i = 0; i < n; i++) mask[i] = (smooth[i] as number) > t ? 1 : 0;
  if (o.fillHoles) fillMaskHoles(mask, w, h);

  const labels = new Int32Array(n);
  let count: number;
  if (o.declump === 'none') count = labelComponents(mask, w, h, labels);
  else count = declump(raw, mask, w, h, o, labels, tmp, t);
  // the objects cover the hole-filled mask (every clump is flooded from its highest point), so
  // they have no holes left to fill
  count = filterObjects(labels, w, h, count, o);
  return { labels, width: w, height: h, count, threshold: t };
}

/**
 * Declumping scale in units of the typical nucleus radius R measured on the image (autoScale),
 * chosen on the 40 annotated DSB 2018 fluorescence images (docs/segmentation.md): the image is
 * smoothed by `sigma` R; seeds are maxima of a mix of that and the inscribed distance, at least
 * `seedSpacing` R apart; two touching pieces are merged when their valley on a second mix is
 * shallower than `mergeDepth`. Then a piece that is not disc-like (area over `splitElongation`
 * pi r^2, r its largest inscribed radius) is cut where its inscribed distance narrows below
 * `neckRatio` of its widest points (splitNecks), and a piece whose outline has two or more notches
 * deeper than `notchDepth` r is cut along lines into them (splitNotches: `notchReach` r is how close
 * a cut must come to a notch), into parts of at least `splitMinPart` pi R^2: nuclei that overlap,
 * where the stain adds up so that the intensity seeds see one bright nucleus.
 */
export const AUTO_SCALE = Object.freeze({
  sigma: 0.2,
  seedSpacing: 0.5,
  /** Weight of intensity (vs inscribed distance) in the marker that seeds and floods. */
  seedIntensityWeight: 0.5,
  /** Weight of intensity (vs inscribed distance) in the marker whose valleys decide merges. */
  mergeIntensityWeight: 0.3,
  mergeDepth: 0.05,
  splitElongation: 1.6,
  neckRatio: 0.85,
  notchDepth: 0.25,
  notchReach: 0.1,
  splitMinPart: 0.3,
});

/**
 * Typical nucleus radius of a thresholded mask: the median over its components of the largest
 * inscribed radius (the maximum of the distance transform). A clump of touching nuclei is about
 * as wide as one nucleus, so clumps barely move it. 0 when there is no component.
 */
export function typicalRadius(dist: Float32Array, comp: Int32Array, count: number): number {
  if (count === 0) return 0;
  const maxR = new Float32Array(count + 1);
  for (let i = 0; i < comp.length; i++) {
    const c = comp[i] as number;
    if (c !== 0 && (dist[i] as number) > (maxR[c] as number)) maxR[c] = dist[i] as number;
  }
  return medianRadius(maxR);
}

/** Median of the inscribed radii maxR[1..] that are at least 2 px (0 when none is). */
function medianRadius(maxR: Float32Array): number {
  const r = Array.from(maxR.subarray(1)).filter((v) => v >= 2).sort((a, b) => a - b);
  return r.length ? (r[r.length >> 1] as number) : 0;
}

/**
 * The mix of inscribed distance (in units of the typical radius R) and smoothed intensity (in
 * units of the foreground's contrast over the threshold) whose maxima seed the watershed and
 * whose valleys decide merges: (1 - beta) dist / R + beta (I - t) / (mean - t), beta being
 * `seedBeta` or `mergeBeta`. Evaluated clump by clump, only at the clump's pixels.
 */
interface MarkerMix {
  blurred: Float32Array;
  dist: Float32Array;
  /** Largest inscribed radius of each clump. */
  maxR: Float32Array;
  R: number;
  t: number;
  /** 1 / (mean of `blurred` over the mask - t), floored at 1e-12. */
  inv: number;
  seedBeta: number;
  mergeBeta: number;
  depth: number;
  /** Cutting pieces at necks and notches after the merge (areas and spacing in px). */
  split: SplitRule;
}

/** 1 / (mean of `blurred` over `mask` - t), the intensity unit of the marker mix. */
function contrastUnit(blurred: Float32Array, mask: Uint8Array, t: number): number {
  const n = mask.length;
  let sum = 0;
  let cnt = 0;
  for (let i = 0; i < n; i++) {
    if (mask[i]) {
      sum += blurred[i] as number;
      cnt++;
    }
  }
  return 1 / Math.max(1e-12, sum / Math.max(1, cnt) - t);
}

/** The clumps (8-connected components) of a mask and their bounding boxes (inclusive). */
interface Clumps {
  labels: Int32Array;
  count: number;
  x0: Int32Array;
  x1: Int32Array;
  y0: Int32Array;
  y1: Int32Array;
  /** Pixels of the largest bounding box. */
  largest: number;
}

function clumpsOf(mask: Uint8Array, w: number, h: number, labels: Int32Array): Clumps {
  const count = labelComponents(mask, w, h, labels);
  const x0 = new Int32Array(count + 1).fill(w);
  const x1 = new Int32Array(count + 1).fill(-1);
  const y0 = new Int32Array(count + 1).fill(h);
  const y1 = new Int32Array(count + 1).fill(-1);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      const c = labels[row + x] as number;
      if (c === 0) continue;
      if (x < (x0[c] as number)) x0[c] = x;
      if (x > (x1[c] as number)) x1[c] = x;
      if (y < (y0[c] as number)) y0[c] = y;
      if (y > (y1[c] as number)) y1[c] = y;
    }
  }
  let largest = 0;
  for (let c = 1; c <= count; c++) largest = Math.max(largest, ((x1[c] as number) - (x0[c] as number) + 1) * ((y1[c] as number) - (y0[c] as number) + 1));
  return { labels, count, x0, x1, y0, y1, largest };
}

/**
 * Euclidean distance transform of the mask computed clump by clump in its bounding box (the
 * nearest pixel outside a clump is background or beyond the box, so this equals the transform of
 * the whole mask, at the cost of the boxes instead of the field), and the largest inscribed
 * radius of each clump (maxR[c]).
 */
function distanceByClump(comp: Clumps, w: number, h: number, out: Float32Array): { dist: Float32Array; maxR: Float32Array } {
  out.fill(0);
  const { labels: cl, count, x0, x1, y0, y1, largest } = comp;
  const maxR = new Float32Array(count + 1);
  const inside = new Uint8Array(largest);
  const local = new Float32Array(largest);
  const scratch = new Float32Array(largest);
  for (let c = 1; c <= count; c++) {
    const bx = x0[c] as number;
    const by = y0[c] as number;
    const bw = (x1[c] as number) - bx + 1;
    const bh = (y1[c] as number) - by + 1;
    const m = inside.subarray(0, bw * bh);
    for (let y = 0; y < bh; y++) {
      const g = (by + y) * w + bx;
      for (let x = 0; x < bw; x++) m[y * bw + x] = cl[g + x] === c ? 1 : 0;
    }
    const d = distanceTransform(m, bw, bh, local.subarray(0, bw * bh), scratch.subarray(0, bw * bh));
    let top = 0;
    for (let y = 0; y < bh; y++) {
      const g = (by + y) * w + bx;
      for (let x = 0; x < bw; x++) {
        if (!m[y * bw + x]) continue;
        const v = d[y * bw + x] as number;
        out[g + x] = v;
        if (v > top) top = v;
      }
    }
    maxR[c] = top;
  }
  return { dist: out, maxR };
}

/**
 * Seeded watershed of each clump (connected component) on its own, in its bounding box: seeds are
 * the maxima of the marker at least `spacing` apart (every clump has at least its highest point),
 * flooded in decreasing marker. The marker is `marker` or, with `mix`, the seed mix evaluated at
 * the clump's pixels; with `mix` the pieces of a clump are then merged by the valleys of the
 * merge mix (mergeShallow; pieces of different clumps never touch, so merging clump by clump is
 * merging the field) and cut at necks and notches of their outline (splitNecks, splitNotches). Working clump by clump keeps the pixels in cache and skips the background.
 * Writes labels 1..k (not yet renumbered) and returns k.
 */
function watershedByClump(marker: Float32Array | null, mix: MarkerMix | null, comp: Clumps, w: number, h: number, spacing: number, labels: Int32Array): number {
  const { labels: cl, count, x0, x1, y0, y1, largest } = comp;
  const lMarker = new Float32Array(largest);
  const lCost = new Float32Array(largest);
  const lMask = new Uint8Array(largest);
  const lLabels = new Int32Array(largest);
  let next = 0;
  for (let c = 1; c <= count; c++) {
    const bx = x0[c] as number;
    const by = y0[c] as number;
    const bw = (x1[c] as number) - bx + 1;
    const bh = (y1[c] as number) - by + 1;
    const size = bw * bh;
    const m = lMarker.subarray(0, size);
    const cost = lCost.subarray(0, size);
    const inside = lMask.subarray(0, size);
    const seeds = lLabels.subarray(0, size);
    if (mix) evaluateMix(mix, mix.seedBeta, cl, c, bx, by, bw, bh, w, m, inside);
    let area = 0;
    for (let y = 0; y < bh; y++) {
      const g = (by + y) * w + bx;
      for (let x = 0; x < bw; x++) {
        const k = y * bw + x;
        if (!mix) {
          m[k] = (marker as Float32Array)[g + x] as number;
          inside[k] = cl[g + x] === c ? 1 : 0;
        }
        area += inside[k] as number;
        cost[k] = -(m[k] as number);
      }
    }
    const found = suppressedMaxima(m, inside, bw, bh, spacing, seeds).count;
    watershed(cost, seeds, inside, bw, bh);
    let used = found;
    if (mix) {
      if (found > 1) {
        evaluateMix(mix, mix.mergeBeta, cl, c, bx, by, bw, bh, w, m, inside);
        mergeShallow(seeds, found, m, bw, bh, mix.depth);
      }
      // a clump left whole that is disc-like has nothing to cut (the usual case: skip the work)
      const r = mix.maxR[c] as number;
      if (found > 1 || area > mix.split.minElongation * Math.PI * r * r) {
        for (let y = 0; y < bh; y++) m.set(mix.dist.subarray((by + y) * w + bx, (by + y) * w + bx + bw), y * bw);
        used = splitNecks(seeds, found, m, bw, bh, mix.split);
        used = splitNotches(seeds, used, m, bw, bh, mix.split);
      }
    }
    for (let y = 0; y < bh; y++) {
      const g = (by + y) * w + bx;
      for (let x = 0; x < bw; x++) if (inside[y * bw + x]) labels[g + x] = next + (seeds[y * bw + x] as number);
    }
    next += used;
  }
  return next;
}

/** The marker mix with weight `beta` at the pixels of clump c in its box (0 elsewhere), and the clump's mask. */
function evaluateMix(mix: MarkerMix, beta: number, cl: Int32Array, c: number, bx: number, by: number, bw: number, bh: number, w: number, m: Float32Array, inside: Uint8Array): void {
  const { blurred, dist, t, inv } = mix;
  const a = (1 - beta) / mix.R;
  for (let y = 0; y < bh; y++) {
    const g = (by + y) * w + bx;
    for (let x = 0; x < bw; x++) {
      const k = y * bw + x;
      if (cl[g + x] === c) {
        inside[k] = 1;
        m[k] = a * (dist[g + x] as number) + beta * ((blurred[g + x] as number) - t) * inv;
      } else {
        inside[k] = 0;
        m[k] = 0;
      }
    }
  }
}

/**
 * Split clumps by a seeded watershed; returns the number of labels used (not yet renumbered).
 *
 * Without autoScale, as CellProfiler: seeds are the maxima of the image smoothed by
 * sigma = min diameter / 3.5 ('intensity') or of the distance transform ('shape'), suppressed
 * within min diameter / 1.5, and the watershed floods the negated marker. With autoScale the scale
 * comes from the typical radius R of this image's nuclei (clamped to the diameter range), the
 * 'intensity' marker mixes intensity and inscribed distance, seeds are denser, and over-split
 * pieces are merged back by the depth of the valley between them (see AUTO_SCALE).
 */
function declump(raw: Float32Array, mask: Uint8Array, w: number, h: number, o: NucleiOptions, labels: Int32Array, tmp: Float32Array, t: number): number {
  const minD = Math.max(o.diameter[0], 1);
  const comp = clumpsOf(mask, w, h, scratch.i32);
  const { dist, maxR } = distanceByClump(comp, w, h, plane32(3));
  let R = 0;
  if (o.autoScale && comp.count > 0) {
    R = medianRadius(maxR);
    if (R > 0) R = Math.min(Math.max(R, o.diameter[0] / 2), Math.max(o.diameter[1] / 2, 1));
  }
  const intensity = o.declump === 'intensity';
  if (R > 0) {
    const blurred = intensity ? gaussianBlur(raw, w, h, AUTO_SCALE.sigma * R, plane32(4), tmp) : raw;
    const mix: MarkerMix = {
      blurred,
      dist,
      maxR,
      R,
      t,
      inv: contrastUnit(blurred, mask, t),
      seedBeta: intensity ? AUTO_SCALE.seedIntensityWeight : 0,
      mergeBeta: intensity ? AUTO_SCALE.mergeIntensityWeight : 0,
      depth: AUTO_SCALE.mergeDepth,
      split: {
        minElongation: AUTO_SCALE.splitElongation,
        neckRatio: AUTO_SCALE.neckRatio,
        notchDepth: AUTO_SCALE.notchDepth,
        notchReach: AUTO_SCALE.notchReach,
        minPartArea: AUTO_SCALE.splitMinPart * Math.PI * R * R,
        spacing: AUTO_SCALE.seedSpacing * R,
      },
    };
    return watershedByClump(null, mix, comp, w, h, AUTO_SCALE.seedSpacing * R, labels);
  }
  const marker = intensity ? gaussianBlur(raw, w, h, minD / 3.5, plane32(4), tmp) : dist;
  return watershedByClump(marker, null, comp, w, h, minD / 1.5, labels);
}

/** Drop objects outside the diameter range and (if asked) on the border; renumber in raster order. */
function filterObjects(labels: Int32Array, w: number, h: number, count: number, o: NucleiOptions): number {
  const areas = labelAreas(labels, count);
  const minArea = (Math.PI * o.diameter[0] * o.diameter[0]) / 4;
  const maxArea = (Math.PI * o.diameter[1] * o.diameter[1]) / 4;
  const border = o.discardBorder ? borderLabels(labels, w, h, count) : null;
  return renumber(labels, count, (l) => {
    const a = areas[l] as number;
    return a >= minArea && a <= maxArea && !(border && border[l]);
  });
}

/** Pixel scale CellProfiler would give the plane (it reads images as 0-1 by their bit depth). */
function unitScale(plane: Plane, raw: Float32Array): number {
  if (plane.data instanceof Uint16Array) return 1 / 65535;
  if (plane.data instanceof Uint8Array) return 1 / 255;
  let hi = 0;
  for (let i = 0; i < raw.length; i++) if ((raw[i] as number) > hi) hi = raw[i] as number;
  return hi > 1 ? 1 / hi : 1;
}

/**
 * Cells (IdentifySecondaryObjects, propagation): the cell stain is thresholded like nuclei
 * (smoothing, Li or Otsu times the correction), every nucleus is added to that mask, and each
 * nucleus grows over it along the shortest path of propagation cost (intensity differences and
 * `regularization` x distance, pixel values scaled 0-1 by bit depth as CellProfiler reads them).
 * Cell k contains nucleus k; a nucleus on stain below threshold gets a cell equal to itself.
 * A constant or noise-only cell stain (no foreground) gives cells equal to the nuclei.
 */
export function segmentCells(nuclei: LabelImage, plane: Plane, opts: Partial<CellsOptions> = {}): LabelImage {
  checkPlane(plane, 'segmentCells plane');
  const o: CellsOptions = { ...defaultCellsOptions(), ...opts };
  if (nuclei.width !== plane.width || nuclei.height !== plane.height) {
    throw new MorphoprofError('BAD_ARGUMENT', `segmentCells: nuclei are ${nuclei.width}x${nuclei.height} but the cell stain ${plane.width}x${plane.height}`, 'Give the nuclei of the same field');
  }
  if (!(o.regularization >= 0 && Number.isFinite(o.regularization))) throw invalidParameter('regularization', 'a number >= 0', o.regularization);
  if (!(o.thresholdCorrection > 0 && Number.isFinite(o.thresholdCorrection))) throw invalidParameter('thresholdCorrection', 'a positive number', o.thresholdCorrection);
  if (!(o.smoothing >= 0 && Number.isFinite(o.smoothing))) throw invalidParameter('smoothing', 'a number >= 0 (px)', o.smoothing);
  const { width: w, height: h } = plane;
  const n = w * h;
  const labels = nuclei.labels.slice();
  // segmentNuclei's scratch planes (every pixel written before it is read; none is returned)
  scratchFor(n);
  const raw = plane32(0);
  raw.set(plane.data);
  replaceNonFinite(raw);
  const scale = unitScale(plane, raw);
  for (let i = 0; i < n; i++) raw[i] = (raw[i] as number) * scale;
  const smooth = gaussianBlur(raw, w, h, o.smoothing, plane32(2), plane32(1));
  const { t, ok } = foregroundThreshold(smooth, raw, w, h, o.threshold, o.thresholdCorrection, 'linear');
  const mask = scratch.u8;
  for (let i = 0; i < n; i++) mask[i] = labels[i] !== 0 || (ok && (smooth[i] as number) > t) ? 1 : 0;
  if (o.fillHoles) fillMaskHoles(mask, w, h);
  // the mask's holes are filled, so every pixel a cell encloses is reached: no second fill needed
  propagate(raw, labels, mask, w, h, o.regularization);
  return { labels, width: w, height: h, count: nuclei.count };
}

/** Cytoplasm: each cell minus its nucleus, same numbers. */
export function cytoplasm(nuclei: LabelImage, cells: LabelImage): LabelImage {
  if (nuclei.width !== cells.width || nuclei.height !== cells.height) {
    throw new MorphoprofError('BAD_ARGUMENT', `cytoplasm: nuclei are ${nuclei.width}x${nuclei.height} but cells ${cells.width}x${cells.height}`, 'Give the nuclei and cells of the same field');
  }
  const labels = new Int32Array(cells.labels.length);
  for (let i = 0; i < labels.length; i++) labels[i] = nuclei.labels[i] !== 0 ? 0 : (cells.labels[i] as number);
  return { labels, width: cells.width, height: cells.height, count: cells.count };
}
