/**
 * Finding nuclei and cells, as CellProfiler's IdentifyPrimaryObjects and
 * IdentifySecondaryObjects (propagation) do by default, in portable TypeScript on typed arrays.
 * See docs/segmentation.md for the algorithm, what differs from CellProfiler and its accuracy.
 */
import { MorphoprofError, invalidParameter } from '../errors.js';
import { distanceTransform } from './distance.js';
import { gaussianBlur, replaceNonFinite, toFloat32 } from './filters.js';
import { borderLabels, fillLabelHoles, fillMaskHoles, labelAreas, labelComponents, renumber } from './label.js';
import { mergeShallow } from './merge.js';
import { suppressedMaxima } from './seeds.js';
import { autoThreshold, classMeans, histogram, noiseSigma } from './threshold.js';
import type { CellsOptions, LabelImage, NucleiOptions, Plane } from './types.js';
import { propagate, watershed } from './watershed.js';

/** CellProfiler's default typical diameter range of nuclei, px. */
export const DEFAULT_DIAMETER: [number, number] = [10, 40];

/**
 * Foreground must stand this many noise standard deviations (of the raw pixels) above the
 * background for a threshold to count: pure noise splits into two classes ~1.6 sigma apart.
 */
const MIN_CONTRAST_SIGMAS = 3;

export function defaultNucleiOptions(diameter: [number, number] = DEFAULT_DIAMETER): NucleiOptions {
  return {
    diameter: [diameter[0], diameter[1]],
    threshold: 'li',
    thresholdCorrection: 1,
    smoothing: 1,
    declump: 'intensity',
    fillHoles: true,
    discardBorder: true,
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

const empty = (w: number, h: number): LabelImage => ({ labels: new Int32Array(w * h), width: w, height: h, count: 0 });

/**
 * Global threshold of a smoothed image, or null when the image has no foreground worth the name:
 * constant (blank or saturated), or the two classes less than MIN_CONTRAST_SIGMAS noise standard
 * deviations apart (pure noise).
 */
function foregroundThreshold(smooth: Float32Array, raw: Float32Array, w: number, h: number, method: NucleiOptions['threshold'], correction: number): { t: number; ok: boolean } {
  const hist = histogram(smooth);
  if (hist.step === 0) return { t: hist.lo, ok: false };
  const t = autoThreshold(hist, method) * correction;
  const [mb, mf] = classMeans(hist, t);
  const ok = Number.isFinite(mb) && Number.isFinite(mf) && mf - mb > MIN_CONTRAST_SIGMAS * noiseSigma(raw, w, h);
  return { t, ok };
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
  const raw = toFloat32(plane);
  replaceNonFinite(raw);
  const tmp = new Float32Array(n);
  const smooth = gaussianBlur(raw, w, h, o.smoothing, new Float32Array(n), tmp);
  const { t, ok } = foregroundThreshold(smooth, raw, w, h, o.threshold, o.thresholdCorrection);
  if (!ok) return { ...empty(w, h), threshold: t };
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = (smooth[i] as number) > t ? 1 : 0;
  if (o.fillHoles) fillMaskHoles(mask, w, h);

  const labels = new Int32Array(n);
  let count: number;
  if (o.declump === 'none') count = labelComponents(mask, w, h, labels);
  else count = declump(raw, mask, w, h, o, labels, tmp, t);
  if (TUNE.second) count = dimNuclei(smooth, raw, mask, w, h, o, t, labels, count);
  if (o.fillHoles) fillLabelHoles(labels, w, h);
  count = filterObjects(labels, w, h, count, o);
  return { labels, width: w, height: h, count, threshold: t };
}

/** Experimental knobs (read from MORPHOPROF_SEG_TUNE while the defaults are being chosen). */
export const TUNE: Record<string, number> = { seedSigma: 0.5, suppress: 1.0, beta: 0.5, depth: 0, mergeSigma: 0.15, second: 0, gap: 2, dimArea: 30, fillRatio: 0.5 };
const envTune = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.MORPHOPROF_SEG_TUNE;
if (envTune) Object.assign(TUNE, JSON.parse(envTune));

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
  const r = Array.from(maxR.subarray(1)).filter((v) => v >= 2).sort((a, b) => a - b);
  return r.length ? (r[r.length >> 1] as number) : 0;
}

/** Split clumps by a seeded watershed; returns the number of labels used (not yet renumbered). */
function declump(raw: Float32Array, mask: Uint8Array, w: number, h: number, o: NucleiOptions, labels: Int32Array, tmp: Float32Array, t: number): number {
  const n = w * h;
  const minD = Math.max(o.diameter[0], 1);
  const dist = distanceTransform(mask, w, h);
  let seedSigma = minD / 3.5;
  let suppress = minD / 1.5;
  let R = 0;
  if (o.autoScale) {
    const comp = new Int32Array(n);
    const k = labelComponents(mask, w, h, comp);
    R = typicalRadius(dist, comp, k);
    if (R > 0) {
      seedSigma = TUNE.seedSigma! * R;
      suppress = TUNE.suppress! * R;
    }
  }
  let marker: Float32Array;
  if (o.declump === 'intensity') {
    marker = gaussianBlur(raw, w, h, seedSigma, new Float32Array(n), tmp);
  } else {
    marker = new Float32Array(dist);
  }
  let { count } = suppressedMaxima(marker, mask, w, h, suppress, labels);
  for (let i = 0; i < n; i++) marker[i] = -(marker[i] as number);
  watershed(marker, labels, mask, w, h);
  // clumps without a seed (their maximum suppressed by a neighbour's) become objects of their own
  const rest = new Uint8Array(n);
  let any = false;
  for (let i = 0; i < n; i++) {
    if (mask[i] && labels[i] === 0) {
      rest[i] = 1;
      any = true;
    }
  }
  if (any) {
    const extra = new Int32Array(n);
    const k = labelComponents(rest, w, h, extra);
    for (let i = 0; i < n; i++) if (extra[i] !== 0) labels[i] = count + (extra[i] as number);
    count += k;
  }
  if (R > 0 && TUNE.depth! > 0) {
    // combined marker: inscribed distance in units of R and intensity in units of the foreground contrast
    const si = gaussianBlur(raw, w, h, TUNE.mergeSigma! * R, new Float32Array(n), tmp);
    let sum = 0;
    let cnt = 0;
    for (let i = 0; i < n; i++) if (mask[i]) { sum += si[i] as number; cnt++; }
    const contrast = Math.max(1e-9, sum / cnt - t);
    const beta = TUNE.beta!;
    const m = new Float32Array(n);
    for (let i = 0; i < n; i++) m[i] = mask[i] ? (1 - beta) * ((dist[i] as number) / R) + beta * (((si[i] as number) - t) / contrast) : 0;
    mergeShallow(labels, count, m, w, h, TUNE.depth!);
  }
  return count;
}

/**
 * Second pass for dim nuclei: the same method thresholds the pixels left below the first
 * threshold; components of that second foreground that keep clear of the first one
 * (TUNE.gap px) become objects of their own.
 */
function dimNuclei(smooth: Float32Array, raw: Float32Array, mask: Uint8Array, w: number, h: number, o: NucleiOptions, t: number, labels: Int32Array, count: number): number {
  const n = w * h;
  const below = new Uint8Array(n);
  for (let i = 0; i < n; i++) below[i] = mask[i] ? 0 : 1;
  const hist = histogram(smooth, below);
  if (hist.step === 0) return count;
  const t2 = autoThreshold(hist, o.threshold) * o.thresholdCorrection;
  const [mb, mf] = classMeans(hist, t2);
  if (!(mf - mb > MIN_CONTRAST_SIGMAS * noiseSigma(raw, w, h)) || !(t2 < t)) return count;
  const away = distanceTransform(below, w, h);
  const cand = new Uint8Array(n);
  for (let i = 0; i < n; i++) cand[i] = (smooth[i] as number) > t2 && (away[i] as number) > TUNE.gap! ? 1 : 0;
  const extra = new Int32Array(n);
  const k = labelComponents(cand, w, h, extra);
  if (k === 0) return count;
  const areas = labelAreas(extra, k);
  // bounding boxes: a halo around brighter nuclei is a ring that fills little of its box
  const x0 = new Int32Array(k + 1).fill(w);
  const x1 = new Int32Array(k + 1).fill(-1);
  const y0 = new Int32Array(k + 1).fill(h);
  const y1 = new Int32Array(k + 1).fill(-1);
  for (let i = 0; i < n; i++) {
    const e = extra[i] as number;
    if (e === 0) continue;
    const x = i % w;
    const y = (i / w) | 0;
    if (x < (x0[e] as number)) x0[e] = x;
    if (x > (x1[e] as number)) x1[e] = x;
    if (y < (y0[e] as number)) y0[e] = y;
    if (y > (y1[e] as number)) y1[e] = y;
  }
  const minArea = TUNE.dimArea!;
  for (let i = 0; i < n; i++) {
    const e = extra[i] as number;
    if (e === 0) continue;
    const box = ((x1[e] as number) - (x0[e] as number) + 1) * ((y1[e] as number) - (y0[e] as number) + 1);
    if ((areas[e] as number) >= minArea && (areas[e] as number) >= TUNE.fillRatio! * box) labels[i] = count + e;
  }
  return count + k;
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
  const labels = Int32Array.from(nuclei.labels);
  const raw = toFloat32(plane);
  replaceNonFinite(raw);
  const scale = unitScale(plane, raw);
  for (let i = 0; i < n; i++) raw[i] = (raw[i] as number) * scale;
  const smooth = gaussianBlur(raw, w, h, o.smoothing);
  const { t, ok } = foregroundThreshold(smooth, raw, w, h, o.threshold, o.thresholdCorrection);
  const mask = new Uint8Array(n);
  for (let i = 0; i < n; i++) mask[i] = labels[i] !== 0 || (ok && (smooth[i] as number) > t) ? 1 : 0;
  if (o.fillHoles) fillMaskHoles(mask, w, h);
  propagate(raw, labels, mask, w, h, o.regularization);
  if (o.fillHoles) fillLabelHoles(labels, w, h);
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
