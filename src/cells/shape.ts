/**
 * Where each object's pixels are (`indexObjects`, one counting sort of the label image), and the
 * shape of each object as CellProfiler's MeasureObjectSizeShape measures it (which is
 * scikit-image's `regionprops` plus centrosome's Feret diameters). Portable TypeScript on typed
 * arrays; see docs/classical-features.md for every definition.
 */
import { MorphoprofError } from '../errors.js';
import type { LabelImage } from './types.js';

/**
 * The pixels of every object of a label image, grouped by object: object k (1-based) owns entries
 * `start[k-1] .. start[k]-1` of `pixel` (image index, raster order) and `x` (its column).
 */
export interface ObjectPixels {
  width: number;
  height: number;
  count: number;
  labels: Int32Array;
  start: Int32Array;
  pixel: Int32Array;
  x: Int32Array;
  /**
   * 1 where the pixel is on its object's edge as MeasureObjectIntensity sees it (scikit-image's
   * `find_boundaries(mode='inner')`): a 4-neighbour inside the image carries another label.
   */
  edge: Uint8Array;
  /** Euler number of each object (8-connected objects, 4-connected holes), index k-1. */
  euler: Float64Array;
}

/**
 * indexObjects' two raster passes, e.g. the C kernels of native/kernels.c (integer work, so the
 * same results): `counts` adds each object's pixel count to start[k] and its Euler scores to
 * euler[k-1], returning -1, or the index of the first pixel with a label outside 0..count;
 * `fill` writes object k's pixels, columns and edge flags at start[k-1]++.
 */
export interface IndexKernel {
  counts(labels: Int32Array, width: number, height: number, count: number, start: Int32Array, euler: Float64Array): number;
  fill(labels: Int32Array, width: number, height: number, start: Int32Array, pixel: Int32Array, x: Int32Array, edge: Uint8Array): void;
}

let indexKernel: IndexKernel | null = null;

/** Index label images with `k` instead of TypeScript (null: TypeScript); see src/cells/measure-native.ts. */
export function useIndexKernel(k: IndexKernel | null): void {
  indexKernel = k;
}

function badLabel(img: LabelImage, p: number): MorphoprofError {
  const x = p % img.width;
  return new MorphoprofError(
    'BAD_ARGUMENT',
    `Label image pixel (x ${x}, y ${(p - x) / img.width}) holds ${img.labels[p]}, outside 0..${img.count} (the label image's count)`,
    'number objects 1..count in the label image and set count to the largest label',
  );
}

function indexWithKernel(img: LabelImage, k: IndexKernel): ObjectPixels {
  const { labels, width: w, height: h, count } = img;
  const start = new Int32Array(count + 1);
  const euler = new Float64Array(count);
  const bad = k.counts(labels, w, h, count, start, euler);
  if (bad >= 0) throw badLabel(img, bad);
  for (let j = 1; j <= count; j++) start[j]! += start[j - 1]!;
  const total = start[count]!;
  const pixel = new Int32Array(total);
  const xs = new Int32Array(total);
  const edge = new Uint8Array(total);
  k.fill(labels, w, h, start, pixel, xs, edge);
  for (let j = count; j > 0; j--) start[j] = start[j - 1]!;
  start[0] = 0;
  return { width: w, height: h, count, labels, start, pixel, x: xs, edge, euler };
}

/**
 * Group the pixels of a label image by object and compute what needs a whole-image pass (the
 * Euler number's 2x2 configurations). Two raster passes; throws on a label outside 0..count.
 */
export function indexObjects(img: LabelImage): ObjectPixels {
  if (indexKernel) return indexWithKernel(img, indexKernel);
  const { labels, width: w, height: h, count } = img;
  const start = new Int32Array(count + 1);
  const euler = new Float64Array(count);
  // Pass 1: pixel counts, and the Euler number from the 2x2 windows of the zero-padded image
  // (Ohser's coefficients for 8-connectivity as scikit-image's euler_number uses them): with the
  // window's pixels a = (y-1, x-1), b = (y-1, x), c = (y, x-1), d = (y, x), a label scores +1 where
  // it holds only a, -1 where it holds b and c but neither a nor d, -1 where it holds a, b, c but not d.
  for (let y = 0; y <= h; y++) {
    const cur = y < h ? y * w : -1;
    const up = y > 0 ? (y - 1) * w : -1;
    let a = 0;
    let c = 0;
    for (let x = 0; x <= w; x++) {
      const b = up >= 0 && x < w ? labels[up + x]! : 0;
      const d = cur >= 0 && x < w ? labels[cur + x]! : 0;
      if (d !== 0) {
        if (d < 0 || d > count) {
          throw new MorphoprofError(
            'BAD_ARGUMENT',
            `Label image pixel (x ${x}, y ${y}) holds ${d}, outside 0..${count} (the label image's count)`,
            'number objects 1..count in the label image and set count to the largest label',
          );
        }
        start[d]!++;
      }
      if (a !== 0 && d !== a) {
        if (b !== a && c !== a) euler[a - 1]!++;
        else if (b === a && c === a) euler[a - 1]!--;
      }
      if (b !== 0 && b === c && a !== b && d !== b) euler[b - 1]!--;
      a = b;
      c = d;
    }
  }
  for (let k = 1; k <= count; k++) start[k]! += start[k - 1]!;
  const total = start[count]!;
  const pixel = new Int32Array(total);
  const xs = new Int32Array(total);
  const edge = new Uint8Array(total);
  // Pass 2: fill (start[k-1] serves as object k's write position, then is shifted back).
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      const p = row + x;
      const l = labels[p]!;
      if (l === 0) continue;
      const i = start[l - 1]!++;
      pixel[i] = p;
      xs[i] = x;
      if (
        (x > 0 && labels[p - 1] !== l) ||
        (x < w - 1 && labels[p + 1] !== l) ||
        (y > 0 && labels[p - w] !== l) ||
        (y < h - 1 && labels[p + w] !== l)
      ) {
        edge[i] = 1;
      }
    }
  }
  for (let k = count; k > 0; k--) start[k] = start[k - 1]!;
  start[0] = 0;
  return { width: w, height: h, count, labels, start, pixel, x: xs, edge, euler };
}

/** MeasureObjectSizeShape's 2-D features that morphoprof computes, CellProfiler's names. */
export const SHAPE_FEATURES = [
  'Area',
  'BoundingBoxArea',
  'BoundingBoxMaximum_X',
  'BoundingBoxMaximum_Y',
  'BoundingBoxMinimum_X',
  'BoundingBoxMinimum_Y',
  'Center_X',
  'Center_Y',
  'Compactness',
  'ConvexArea',
  'Eccentricity',
  'EquivalentDiameter',
  'EulerNumber',
  'Extent',
  'FormFactor',
  'MajorAxisLength',
  'MaxFeretDiameter',
  'MinFeretDiameter',
  'MinorAxisLength',
  'Orientation',
  'Perimeter',
  'Solidity',
] as const;

/**
 * scikit-image's `perimeter(image, neighborhood=4)` weights (Benkrid & Crookes), indexed by the
 * code 1 + 2 x (4-neighbours on the border) + 10 x (diagonal neighbours on the border) of a
 * border pixel.
 */
const PERIMETER_WEIGHTS = (() => {
  const wts = new Float64Array(50);
  for (const i of [5, 7, 15, 17, 25, 27]) wts[i] = 1;
  for (const i of [21, 33]) wts[i] = Math.SQRT2;
  for (const i of [13, 23]) wts[i] = (1 + Math.SQRT2) / 2;
  return wts;
})();

/** 1 if pixel q is a border pixel of object k. */
function onBorder(labels: Int32Array, border: Uint8Array, q: number, k: number): number {
  return labels[q] === k && border[q] === 1 ? 1 : 0;
}

/** Border flags by pixel, reused between calls (grown as needed). */
let borderScratch = new Uint8Array(0);

/** Scratch for one object's hulls, grown as needed. */
class HullScratch {
  // per level (row of pixel centres, or half-row of the pixel-edge midpoints): min and max x
  lo = new Float64Array(64);
  hi = new Float64Array(64);
  // hull vertices
  hx = new Float64Array(64);
  hy = new Float64Array(64);
  ensure(levels: number): void {
    if (this.lo.length >= levels) return;
    const n = Math.max(levels, this.lo.length * 2);
    this.lo = new Float64Array(n);
    this.hi = new Float64Array(n);
    this.hx = new Float64Array(2 * n + 2);
    this.hy = new Float64Array(2 * n + 2);
  }
}

/**
 * Convex hull (counter-clockwise, no collinear vertices) of the points (lo[i], y0 + i*dy) and
 * (hi[i], y0 + i*dy) for every level i with lo[i] <= hi[i], Andrew's monotone chain: the points are
 * already sorted by (y, x). Returns the vertex count; vertices in s.hx, s.hy.
 */
function hullOfLevels(s: HullScratch, levels: number, y0: number, dy: number): number {
  const { lo, hi, hx, hy } = s;
  let m = 0;
  const push = (px: number, py: number, floor: number): void => {
    while (m >= floor + 2) {
      const ax = hx[m - 2]!;
      const ay = hy[m - 2]!;
      const cross = (hx[m - 1]! - ax) * (py - ay) - (hy[m - 1]! - ay) * (px - ax);
      if (cross > 0) break;
      m--;
    }
    hx[m] = px;
    hy[m] = py;
    m++;
  };
  // lower chain over points in increasing (y, x), then the upper chain back
  for (let i = 0; i < levels; i++) {
    if (lo[i]! > hi[i]!) continue;
    const y = y0 + i * dy;
    push(lo[i]!, y, 0);
    if (hi[i]! > lo[i]!) push(hi[i]!, y, 0);
  }
  const lower = m;
  if (lower <= 1) return lower;
  for (let i = levels - 1; i >= 0; i--) {
    if (lo[i]! > hi[i]!) continue;
    const y = y0 + i * dy;
    if (hi[i]! > lo[i]!) push(hi[i]!, y, lower - 1);
    push(lo[i]!, y, lower - 1);
  }
  return m - 1; // the last point repeats the first
}

/** Pixel centres (x, y integer) inside or on the convex polygon s.hx/hy of n vertices, rows y0..y1. */
function pixelsInHull(s: HullScratch, n: number, y0: number, y1: number): number {
  const { hx, hy } = s;
  let total = 0;
  for (let y = y0; y <= y1; y++) {
    let xl = Infinity;
    let xr = -Infinity;
    for (let i = 0; i < n; i++) {
      const j = i + 1 === n ? 0 : i + 1;
      const ay = hy[i]!;
      const by = hy[j]!;
      if ((y < ay && y < by) || (y > ay && y > by)) continue;
      if (ay === by) {
        xl = Math.min(xl, hx[i]!, hx[j]!);
        xr = Math.max(xr, hx[i]!, hx[j]!);
      } else {
        const xi = hx[i]! + ((y - ay) * (hx[j]! - hx[i]!)) / (by - ay);
        if (xi < xl) xl = xi;
        if (xi > xr) xr = xi;
      }
    }
    if (xr >= xl) {
      const c = Math.floor(xr + 1e-9) - Math.ceil(xl - 1e-9) + 1;
      if (c > 0) total += c;
    }
  }
  return total;
}

/** Largest and smallest caliper width of a convex polygon (CellProfiler's Feret diameters). */
function feret(s: HullScratch, n: number): [number, number] {
  const { hx, hy } = s;
  if (n <= 1) return [0, 0];
  let max2 = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const dx = hx[i]! - hx[j]!;
      const dy = hy[i]! - hy[j]!;
      const d2 = dx * dx + dy * dy;
      if (d2 > max2) max2 = d2;
    }
  }
  if (n === 2) return [Math.sqrt(max2), 0];
  let min = Infinity;
  for (let i = 0; i < n; i++) {
    const j = i + 1 === n ? 0 : i + 1;
    const ex = hx[j]! - hx[i]!;
    const ey = hy[j]! - hy[i]!;
    const len = Math.hypot(ex, ey);
    let width = 0;
    for (let k = 0; k < n; k++) {
      const d = Math.abs(ex * (hy[k]! - hy[i]!) - ey * (hx[k]! - hx[i]!)) / len;
      if (d > width) width = d;
    }
    if (width < min) min = width;
  }
  return [Math.sqrt(max2), min];
}

/** shapePixels' sums of one object: sx, sy, sxx, syy, sxy (about its first pixel's column and row), xmin, xmax, perimeter. */
const shapeSums = new Float64Array(8);

/**
 * The pixel passes of measureShape for object k (entries i0..i1 of the index, i1 > i0): each
 * row's leftmost and rightmost column into lo/hi (row r at r, from the object's top row; rows
 * without pixels get +/-Infinity), border flags of its pixels into `border`, and into `sums`: the
 * integer moments sx, sy, sxx, syy, sxy about (x of the first pixel, top row), xmin, xmax and the
 * perimeter (Benkrid-Crookes weights summed in pixel order). ShapeKernel is its C twin.
 */
export function shapePixels(
  labels: Int32Array,
  w: number,
  h: number,
  pixel: Int32Array,
  xs: Int32Array,
  edge: Uint8Array,
  i0: number,
  i1: number,
  k: number,
  border: Uint8Array,
  lo: Float64Array,
  hi: Float64Array,
  sums: Float64Array,
): void {
  const x0 = xs[i0]!;
  const ymin = (pixel[i0]! - x0) / w;
  const rows = (pixel[i1 - 1]! - xs[i1 - 1]!) / w - ymin + 1;
  for (let r = 0; r < rows; r++) {
    lo[r] = Infinity;
    hi[r] = -Infinity;
  }
  // moments about (x0, ymin), bounding box, row extremes, border pixels (4-connected erosion
  // with the outside of the image as background, as scikit-image's perimeter erodes the crop)
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  let xmin = x0;
  let xmax = x0;
  for (let i = i0; i < i1; i++) {
    const p = pixel[i]!;
    const x = xs[i]!;
    const y = (p - x) / w;
    const dx = x - x0;
    const dy = y - ymin;
    sx += dx;
    sy += dy;
    sxx += dx * dx;
    syy += dy * dy;
    sxy += dx * dy;
    if (x < xmin) xmin = x;
    if (x > xmax) xmax = x;
    if (x < lo[dy]!) lo[dy] = x;
    if (x > hi[dy]!) hi[dy] = x;
    // an edge pixel (another label next to it inside the image) or one on the image's border
    border[p] = edge[i]! | (x === 0 || x === w - 1 || y === 0 || y === h - 1 ? 1 : 0);
  }
  // perimeter: Benkrid-Crookes weights of the border pixels' 8-neighbourhood codes
  let perimeter = 0;
  for (let i = i0; i < i1; i++) {
    const p = pixel[i]!;
    if (border[p] === 0) continue;
    const x = xs[i]!;
    const y = (p - x) / w;
    const l = x > 0;
    const r = x < w - 1;
    const u = y > 0;
    const d = y < h - 1;
    const four =
      (l ? onBorder(labels, border, p - 1, k) : 0) + (r ? onBorder(labels, border, p + 1, k) : 0) +
      (u ? onBorder(labels, border, p - w, k) : 0) + (d ? onBorder(labels, border, p + w, k) : 0);
    const diag =
      (u && l ? onBorder(labels, border, p - w - 1, k) : 0) + (u && r ? onBorder(labels, border, p - w + 1, k) : 0) +
      (d && l ? onBorder(labels, border, p + w - 1, k) : 0) + (d && r ? onBorder(labels, border, p + w + 1, k) : 0);
    perimeter += PERIMETER_WEIGHTS[1 + 2 * four + 10 * diag]!;
  }
  sums[0] = sx;
  sums[1] = sy;
  sums[2] = sxx;
  sums[3] = syy;
  sums[4] = sxy;
  sums[5] = xmin;
  sums[6] = xmax;
  sums[7] = perimeter;
}

/** The C twin of shapePixels (same arguments; bitwise the same results), e.g. native/kernels.c `shapePixels`. */
export type ShapeKernel = typeof shapePixels;

let shapeKernel: ShapeKernel | null = null;

/** Run measureShape's pixel passes with `k` (null: TypeScript); see src/cells/measure-native.ts. */
export function useShapeKernel(k: ShapeKernel | null): void {
  shapeKernel = k;
}

/**
 * Shape features of every object into `out` (row k-1 of `stride` values, columns `offset` ..
 * `offset + SHAPE_FEATURES.length - 1` in SHAPE_FEATURES order) and the centroid into
 * `centre` (x, y per object). An object without pixels gets zeros.
 */
export function measureShape(index: ObjectPixels, out: Float64Array, stride: number, offset: number, centre: Float64Array): void {
  const { width: w, height: h, count, labels, start, pixel, x: xs, edge, euler } = index;
  // stale values from earlier calls are harmless: a neighbour's flag is read only when it carries
  // label k, and then this call has written it
  if (borderScratch.length < w * h) borderScratch = new Uint8Array(w * h);
  const border = borderScratch;
  const s = new HullScratch();
  for (let k = 1; k <= count; k++) {
    const o = (k - 1) * stride + offset;
    const i0 = start[k - 1]!;
    const i1 = start[k]!;
    const n = i1 - i0;
    if (n === 0) {
      for (let f = 0; f < SHAPE_FEATURES.length; f++) out[o + f] = 0;
      centre[2 * (k - 1)] = 0;
      centre[2 * (k - 1) + 1] = 0;
      continue;
    }
    const p0 = pixel[i0]!;
    const x0 = xs[i0]!;
    const ymin = (p0 - x0) / w;
    const ymax = (pixel[i1 - 1]! - xs[i1 - 1]!) / w;
    const rows = ymax - ymin + 1;
    s.ensure(2 * rows + 1);
    const { lo, hi } = s;
    if (shapeKernel) shapeKernel(labels, w, h, pixel, xs, edge, i0, i1, k, border, lo, hi, shapeSums);
    else shapePixels(labels, w, h, pixel, xs, edge, i0, i1, k, border, lo, hi, shapeSums);
    const sx = shapeSums[0]!;
    const sy = shapeSums[1]!;
    const sxx = shapeSums[2]!;
    const syy = shapeSums[3]!;
    const sxy = shapeSums[4]!;
    const xmin = shapeSums[5]!;
    const xmax = shapeSums[6]!;
    const perimeter = shapeSums[7]!;
    // second central moments -> regionprops' inertia tensor [[a, b], [b, c]] = [[A, -B], [-B, C]] / n^2,
    // from integer sums (exact ties: a symmetric object has eccentricity 0, not 1e-8)
    const cx = sx / n;
    const cy = sy / n;
    const A = n * sxx - sx * sx; // n^2 x column variance
    const C = n * syy - sy * sy; // n^2 x row variance
    const B = n * sxy - sx * sy; // n^2 x covariance
    const n2 = n * n;
    const half = (A + C) / 2 / n2;
    const root = Math.sqrt((A - C) * (A - C) / 4 + B * B) / n2;
    const l1 = Math.max(0, half + root);
    const l2 = Math.max(0, half - root);
    let orientation: number;
    if (A === C) orientation = B > 0 ? Math.PI / 4 : -Math.PI / 4;
    else orientation = 0.5 * Math.atan2(2 * B, C - A);
    // hull of pixel centres (Feret) and of pixel-edge midpoints (convex area, as scikit-image)
    const nCentres = hullOfLevels(s, rows, ymin, 1);
    const [maxFeret, minFeret] = feret(s, nCentres);
    const levels = 2 * rows + 1; // half-rows ymin - 0.5 .. ymax + 0.5
    for (let r = rows - 1; r >= 0; r--) {
      // move row r (centres) to level 2r+1 and widen it by half a pixel
      lo[2 * r + 1] = lo[r]! - 0.5;
      hi[2 * r + 1] = hi[r]! + 0.5;
    }
    for (let v = 0; v < levels; v += 2) {
      // the half-row between rows v/2 - 1 and v/2: midpoints of the horizontal edges of both rows
      const above = v / 2 - 1;
      const below = v / 2;
      let l = Infinity;
      let r = -Infinity;
      if (above >= 0 && lo[2 * above + 1]! <= hi[2 * above + 1]!) {
        l = Math.min(l, lo[2 * above + 1]! + 0.5);
        r = Math.max(r, hi[2 * above + 1]! - 0.5);
      }
      if (below < rows && lo[2 * below + 1]! <= hi[2 * below + 1]!) {
        l = Math.min(l, lo[2 * below + 1]! + 0.5);
        r = Math.max(r, hi[2 * below + 1]! - 0.5);
      }
      lo[v] = l;
      hi[v] = r;
    }
    const nEdges = hullOfLevels(s, levels, ymin - 0.5, 0.5);
    const convexArea = pixelsInHull(s, nEdges, ymin, ymax);
    const bboxArea = (xmax - xmin + 1) * rows;
    const centreX = x0 + cx;
    const centreY = ymin + cy;
    const values = [
      n,
      bboxArea,
      xmax + 1,
      ymax + 1,
      xmin,
      ymin,
      centreX,
      centreY,
      (perimeter * perimeter) / Math.max(4 * Math.PI * n, 1),
      convexArea,
      l1 === 0 ? 0 : Math.sqrt(1 - l2 / l1),
      Math.sqrt((4 * n) / Math.PI),
      euler[k - 1]!,
      n / bboxArea,
      perimeter === 0 ? 0 : (4 * Math.PI * n) / (perimeter * perimeter),
      4 * Math.sqrt(l1),
      maxFeret,
      minFeret,
      4 * Math.sqrt(l2),
      (orientation * 180) / Math.PI,
      perimeter,
      convexArea === 0 ? 0 : n / convexArea,
    ];
    for (let f = 0; f < values.length; f++) out[o + f] = values[f]!;
    centre[2 * (k - 1)] = centreX;
    centre[2 * (k - 1) + 1] = centreY;
  }
}
