/**
 * Merging over-split objects by the depth of the valley between them (the dynamics of the marker,
 * as h-maxima would give): two touching regions stay apart only when the lower of their two peaks
 * rises more than `h` above the highest pass between them. And the converse: splitting an object
 * at a narrow neck of its inscribed-distance map (splitNecks).
 */
import { find, labelAreas, labelComponents } from './label.js';
import { suppressedMaxima } from './seeds.js';
import { watershed } from './watershed.js';

/**
 * Merge adjacent labels of `labels` (1..count) whose valley on `marker` (higher = more inside an
 * object) is shallower than `h`, the most shallow passes first. Rewrites `labels` in place with
 * the surviving labels (not renumbered); returns how many merges were made.
 */
export function mergeShallow(labels: Int32Array, count: number, marker: Float32Array, w: number, h: number, depth: number): number {
  const peak = new Float64Array(count + 1).fill(-Infinity);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i] as number;
    if (l !== 0 && (marker[i] as number) > (peak[l] as number)) peak[l] = marker[i] as number;
  }
  // highest pass between each pair of touching labels (4-neighbours)
  const passes = new Map<number, number>();
  const stride = count + 1;
  const note = (a: number, b: number, v: number): void => {
    const key = a < b ? a * stride + b : b * stride + a;
    const old = passes.get(key);
    if (old === undefined || v > old) passes.set(key, v);
  };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const a = labels[i] as number;
      if (a === 0) continue;
      const m = marker[i] as number;
      if (x + 1 < w) {
        const b = labels[i + 1] as number;
        if (b !== 0 && b !== a) note(a, b, Math.min(m, marker[i + 1] as number));
      }
      if (y + 1 < h) {
        const b = labels[i + w] as number;
        if (b !== 0 && b !== a) note(a, b, Math.min(m, marker[i + w] as number));
      }
    }
  }
  if (passes.size === 0) return 0;
  const list = [...passes.entries()].sort((p, q) => q[1] - p[1]);
  const parent = new Int32Array(count + 1);
  for (let l = 0; l <= count; l++) parent[l] = l;
  let merges = 0;
  for (const [key, pass] of list) {
    const ra = find(parent, Math.floor(key / stride));
    const rb = find(parent, key % stride);
    if (ra === rb) continue;
    const pa = peak[ra] as number;
    const pb = peak[rb] as number;
    if (Math.min(pa, pb) - pass < depth) {
      const keep = pa >= pb ? ra : rb;
      const gone = keep === ra ? rb : ra;
      parent[gone] = keep;
      merges++;
    }
  }
  if (merges) for (let i = 0; i < labels.length; i++) if (labels[i] !== 0) labels[i] = find(parent, labels[i] as number);
  return merges;
}

/** When a piece is cut, by splitNecks and splitNotches. */
export interface SplitRule {
  /** Only pieces whose area exceeds this many times pi r^2 are candidates (r: their largest inscribed radius; a disc: 1). */
  minElongation: number;
  /** splitNecks: a pass narrower than this fraction of the lower of the two widest points is a neck (0..1). */
  neckRatio: number;
  /** splitNotches: a dent of the convex hull deeper than this fraction of r is a notch. */
  notchDepth: number;
  /** splitNotches: a cut between two parts must come within this fraction of r of a notch. */
  notchReach: number;
  /** Smallest area of a part cut off, px (smaller parts join the neighbour they share most border with). */
  minPartArea: number;
  /** Seeds closer than this are one, px. */
  spacing: number;
}

/** Scratch planes of the splits, grown as needed (one call at a time per thread). */
const scratch = { n: 0, mask: new Uint8Array(0), rim: new Uint8Array(0), dist: new Float32Array(0), marker: new Float32Array(0), cost: new Float32Array(0), parts: new Int32Array(0) };

function scratchFor(n: number): typeof scratch {
  if (scratch.n < n) {
    scratch.n = n;
    scratch.mask = new Uint8Array(n);
    scratch.rim = new Uint8Array(n);
    scratch.dist = new Float32Array(n);
    scratch.marker = new Float32Array(n);
    scratch.cost = new Float32Array(n);
    scratch.parts = new Int32Array(n);
  }
  return scratch;
}

/** One candidate piece in its bounding box (pw x ph): `mask` and `dist` hold its pixels there. */
interface Piece {
  pw: number;
  ph: number;
  /** Largest inscribed radius. */
  r: number;
  area: number;
  mask: Uint8Array;
  dist: Float32Array;
}

/**
 * Cut the pieces of `labels` (1..count, a w x h box) that are not disc-like: for each, `cut`
 * writes parts 1..k into `parts` (a piece-box plane) and returns k, or 0 to leave the piece
 * whole. Parts under minPartArea then join a neighbour; the first part keeps the piece's label,
 * the others get count+1, ...; returns the number of labels used.
 */
function cutPieces(labels: Int32Array, count: number, dist: Float32Array, w: number, h: number, rule: SplitRule, cut: (piece: Piece, parts: Int32Array) => number): number {
  const area = new Int32Array(count + 1);
  const top = new Float32Array(count + 1);
  const size = w * h;
  for (let k = 0; k < size; k++) {
    const l = labels[k] as number;
    if (l === 0) continue;
    area[l]++;
    if ((dist[k] as number) > (top[l] as number)) top[l] = dist[k] as number;
  }
  const candidate = (l: number): boolean => {
    const a = area[l] as number;
    const r = top[l] as number;
    return a >= 2 * rule.minPartArea && a > rule.minElongation * Math.PI * r * r;
  };
  let any = false;
  for (let l = 1; l <= count && !any; l++) any = candidate(l);
  if (!any) return count;
  const x0 = new Int32Array(count + 1).fill(w);
  const x1 = new Int32Array(count + 1).fill(-1);
  const y0 = new Int32Array(count + 1).fill(h);
  const y1 = new Int32Array(count + 1).fill(-1);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const l = labels[y * w + x] as number;
      if (l === 0) continue;
      if (x < (x0[l] as number)) x0[l] = x;
      if (x > (x1[l] as number)) x1[l] = x;
      if (y < (y0[l] as number)) y0[l] = y;
      if (y > (y1[l] as number)) y1[l] = y;
    }
  }
  let next = count;
  for (let l = 1; l <= count; l++) {
    if (!candidate(l)) continue;
    const r = top[l] as number;
    const a = area[l] as number;
    const bx = x0[l] as number;
    const by = y0[l] as number;
    const pw = (x1[l] as number) - bx + 1;
    const ph = (y1[l] as number) - by + 1;
    const box = pw * ph;
    const b = scratchFor(box);
    const piece: Piece = { pw, ph, r, area: a, mask: b.mask.subarray(0, box), dist: b.dist.subarray(0, box) };
    for (let y = 0; y < ph; y++) {
      for (let x = 0; x < pw; x++) {
        const g = (by + y) * w + bx + x;
        const on = labels[g] === l;
        piece.mask[y * pw + x] = on ? 1 : 0;
        piece.dist[y * pw + x] = on ? (dist[g] as number) : 0;
      }
    }
    const parts = b.parts.subarray(0, box);
    const k = cut(piece, parts);
    if (k < 2) continue;
    absorbSmall(parts, k, pw, ph, rule.minPartArea);
    const map = new Int32Array(k + 1);
    let first = true;
    for (let y = 0; y < ph; y++) {
      for (let x = 0; x < pw; x++) {
        const p = parts[y * pw + x] as number;
        if (!piece.mask[y * pw + x] || p === 0) continue;
        if (map[p] === 0) {
          map[p] = first ? l : ++next;
          first = false;
        }
        labels[(by + y) * w + bx + x] = map[p] as number;
      }
    }
  }
  return next;
}

/**
 * Split pieces of `labels` (1..count, in a w x h box) at narrow necks, on `dist` (the inscribed
 * distance of the clump they belong to): a piece that is not disc-like is flooded from the maxima
 * of log(distance) `spacing` apart, and its parts are merged back (mergeShallow on the log
 * distance, so the depth is a ratio) unless the pass between them is narrower than `neckRatio`
 * of the lower of their widest points. Two overlapping or touching round nuclei make such a neck
 * whatever their intensities (where the stain adds up over the overlap, the intensity seeds see
 * one bright nucleus); one round or elongated nucleus does not. Returns the number of labels used
 * (new parts are numbered from count+1).
 */
export function splitNecks(labels: Int32Array, count: number, dist: Float32Array, w: number, h: number, rule: SplitRule): number {
  const depth = -Math.log(rule.neckRatio);
  return cutPieces(labels, count, dist, w, h, rule, ({ pw, ph, mask, dist: d }, parts) => {
    const n = pw * ph;
    const marker = scratch.marker.subarray(0, n);
    const cost = scratch.cost.subarray(0, n);
    for (let k = 0; k < n; k++) {
      const v = mask[k] ? Math.log(Math.max(d[k] as number, 1)) : 0;
      marker[k] = v;
      cost[k] = -v;
    }
    const found = suppressedMaxima(marker, mask, pw, ph, rule.spacing, parts).count;
    if (found < 2) return 0;
    watershed(cost, parts, mask, pw, ph);
    return mergeShallow(parts, found, marker, pw, ph, depth) === found - 1 ? 0 : found;
  });
}

/**
 * Convex hull of a piece's pixel squares, from the extent of each of its rows: `lo[y]` and `hi[y]`
 * (y = 0..levels-1) are the smallest and largest x of a pixel corner at height y (lo > hi: none).
 * The corners come sorted by (y, x), so Andrew's monotone chain needs no sort. Returns the vertices
 * [x0, y0, x1, y1, ...] in one turning direction, no collinear ones.
 */
export function rowHull(lo: ArrayLike<number>, hi: ArrayLike<number>, levels: number): number[] {
  const pts: number[] = [];
  for (let y = 0; y < levels; y++) {
    const a = lo[y] as number;
    const b = hi[y] as number;
    if (a > b) continue;
    pts.push(a, y);
    if (b > a) pts.push(b, y);
  }
  const n = pts.length >> 1;
  const hull: number[] = [];
  const cross = (ox: number, oy: number, ax: number, ay: number, bx: number, by: number): number => (ax - ox) * (by - oy) - (ay - oy) * (bx - ox);
  for (let pass = 0; pass < 2; pass++) {
    const start = hull.length;
    for (let q = 0; q < n; q++) {
      const k = pass === 0 ? q : n - 1 - q;
      const px = pts[2 * k] as number;
      const py = pts[2 * k + 1] as number;
      while (hull.length - start >= 4) {
        const L = hull.length;
        if (cross(hull[L - 4] as number, hull[L - 3] as number, hull[L - 2] as number, hull[L - 1] as number, px, py) > 0) break;
        hull.length = L - 2;
      }
      hull.push(px, py);
    }
    hull.length -= 2;
  }
  return hull;
}

/**
 * The notches of a piece (its mask in a pw x ph box): the dents of the convex hull of its pixel
 * squares deeper than `minDepth` px, each as its deepest point [x0, y0, x1, y1, ...] (pixel
 * centres), and the share of the hull the piece fills (its solidity).
 */
export function notchesOf(mask: Uint8Array, pw: number, ph: number, area: number, minDepth: number): { notches: number[]; solidity: number } {
  // the corners of each row's first and last pixel, gathered per height (0..ph)
  const lo = new Int32Array(ph + 1).fill(pw + 1);
  const hi = new Int32Array(ph + 1).fill(-1);
  for (let y = 0; y < ph; y++) {
    let first = -1;
    let last = -1;
    for (let x = 0; x < pw; x++) {
      if (mask[y * pw + x]) {
        if (first < 0) first = x;
        last = x;
      }
    }
    if (first < 0) continue;
    for (const yy of [y, y + 1]) {
      if (first < (lo[yy] as number)) lo[yy] = first;
      if (last + 1 > (hi[yy] as number)) hi[yy] = last + 1;
    }
  }
  const hull = rowHull(lo, hi, ph + 1);
  const m = hull.length >> 1;
  let hullArea = 0;
  for (let e = 0; e < m; e++) hullArea += (hull[2 * e] as number) * (hull[(2 * e + 3) % (2 * m)] as number) - (hull[(2 * e + 2) % (2 * m)] as number) * (hull[2 * e + 1] as number);
  const solidity = area / Math.max(Math.abs(hullArea) / 2, 1);
  if (m < 3) return { notches: [], solidity };
  // each edge as a unit inward normal and offset: the depth of a point inside the hull is its
  // smallest distance to an edge line
  const nx = new Float64Array(m);
  const ny = new Float64Array(m);
  const c0 = new Float64Array(m);
  // the normals point inward when the signed area is positive (y down); flip them otherwise
  const turn = hullArea > 0 ? 1 : -1;
  for (let e = 0; e < m; e++) {
    const ax = hull[2 * e] as number;
    const ay = hull[2 * e + 1] as number;
    const dx = (hull[(2 * e + 2) % (2 * m)] as number) - ax;
    const dy = (hull[(2 * e + 3) % (2 * m)] as number) - ay;
    const len = Math.sqrt(dx * dx + dy * dy);
    nx[e] = (-turn * dy) / len;
    ny[e] = (turn * dx) / len;
    c0[e] = (nx[e] as number) * ax + (ny[e] as number) * ay;
  }
  const n = pw * ph;
  scratchFor(n);
  const dent = scratch.rim.subarray(0, n);
  const depth = scratch.marker.subarray(0, n);
  for (let y = 0; y < ph; y++) {
    for (let x = 0; x < pw; x++) {
      const k = y * pw + x;
      dent[k] = 0;
      if (mask[k]) continue;
      let d = Infinity;
      for (let e = 0; e < m && d > 0; e++) d = Math.min(d, (nx[e] as number) * (x + 0.5) + (ny[e] as number) * (y + 0.5) - (c0[e] as number));
      if (d > 0) {
        dent[k] = 1;
        depth[k] = d;
      }
    }
  }
  const comp = scratch.parts.subarray(0, n);
  const dents = labelComponents(dent, pw, ph, comp, 8);
  const deepest = new Float64Array(dents + 1);
  const at = new Int32Array(dents + 1);
  for (let k = 0; k < n; k++) {
    const c = comp[k] as number;
    if (c !== 0 && (depth[k] as number) > (deepest[c] as number)) {
      deepest[c] = depth[k] as number;
      at[c] = k;
    }
  }
  const notches: number[] = [];
  for (let c = 1; c <= dents; c++) if ((deepest[c] as number) >= minDepth) notches.push(((at[c] as number) % pw) + 0.5, Math.floor((at[c] as number) / pw) + 0.5);
  return { notches, solidity };
}

/**
 * Split pieces of `labels` (1..count, in a w x h box) at the notches of their outline (on `dist`,
 * the inscribed distance of their clump): the dents of a piece's convex hull deeper than
 * `notchDepth` x its largest inscribed radius r are its notches; with two or more, the piece is
 * flooded from the maxima, along its outline, of the distance to the nearest notch (the far ends
 * of its lobes; an inner maximum, the middle of three lobes, is no lobe), and two parts whose
 * common border keeps farther than `notchReach` r from every notch are merged back (a cut runs
 * into a notch). Three overlapping nuclei make a three-lobed outline with no neck between lobe
 * and middle; one round, elongated or bean-shaped nucleus has at most one notch. Returns the
 * number of labels used (new parts are numbered from count+1).
 */
export function splitNotches(labels: Int32Array, count: number, dist: Float32Array, w: number, h: number, rule: SplitRule): number {
  return cutPieces(labels, count, dist, w, h, rule, ({ pw, ph, r, area, mask }, parts) => {
    const { notches } = notchesOf(mask, pw, ph, area, rule.notchDepth * r);
    if (notches.length < 4) return 0;
    const n = pw * ph;
    const f = scratch.marker.subarray(0, n);
    const cost = scratch.cost.subarray(0, n);
    const rim = scratch.rim.subarray(0, n);
    for (let y = 0; y < ph; y++) {
      for (let x = 0; x < pw; x++) {
        const k = y * pw + x;
        let v = 0;
        if (mask[k]) {
          v = Infinity;
          for (let q = 0; q < notches.length; q += 2) {
            const dx = x + 0.5 - (notches[q] as number);
            const dy = y + 0.5 - (notches[q + 1] as number);
            v = Math.min(v, Math.sqrt(dx * dx + dy * dy));
          }
        }
        f[k] = v;
        cost[k] = -v;
      }
    }
    for (let y = 0; y < ph; y++) {
      for (let x = 0; x < pw; x++) {
        const k = y * pw + x;
        rim[k] = mask[k] && (x === 0 || x === pw - 1 || y === 0 || y === ph - 1 || !mask[k - 1] || !mask[k + 1] || !mask[k - pw] || !mask[k + pw]) ? 1 : 0;
      }
    }
    const found = suppressedMaxima(f, rim, pw, ph, rule.spacing, parts).count;
    if (found < 2) return 0;
    watershed(cost, parts, mask, pw, ph);
    return mergeAwayFromNotches(parts, found, f, pw, ph, rule.notchReach * r) === found - 1 ? 0 : found;
  });
}

/**
 * Merge touching parts (labels 1..count of a w x h box) whose common border keeps farther than
 * `reach` from every notch (`f`: distance to the nearest notch). Returns the number of merges.
 */
function mergeAwayFromNotches(labels: Int32Array, count: number, f: Float32Array, w: number, h: number, reach: number): number {
  const stride = count + 1;
  const low = new Map<number, number>();
  const note = (a: number, b: number, v: number): void => {
    const key = a < b ? a * stride + b : b * stride + a;
    const old = low.get(key);
    if (old === undefined || v < old) low.set(key, v);
  };
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const a = labels[i] as number;
      if (a === 0) continue;
      if (x + 1 < w) {
        const b = labels[i + 1] as number;
        if (b !== 0 && b !== a) note(a, b, Math.min(f[i] as number, f[i + 1] as number));
      }
      if (y + 1 < h) {
        const b = labels[i + w] as number;
        if (b !== 0 && b !== a) note(a, b, Math.min(f[i] as number, f[i + w] as number));
      }
    }
  }
  const parent = new Int32Array(count + 1);
  for (let l = 0; l <= count; l++) parent[l] = l;
  let merges = 0;
  for (const [key, v] of low) {
    if (v <= reach) continue;
    const ra = find(parent, Math.floor(key / stride));
    const rb = find(parent, key % stride);
    if (ra === rb) continue;
    parent[rb] = ra;
    merges++;
  }
  if (merges) for (let i = 0; i < w * h; i++) if (labels[i] !== 0) labels[i] = find(parent, labels[i] as number);
  return merges;
}

/**
 * Parts (labels 1..count of a w x h box) smaller than `minArea` join the neighbour they share most
 * (4-connected) border with, smallest first, until none is left or one part remains.
 */
export function absorbSmall(labels: Int32Array, count: number, w: number, h: number, minArea: number): void {
  const size = w * h;
  const area = labelAreas(labels.subarray(0, size), count);
  const shared = new Int32Array(count + 1);
  for (;;) {
    let small = 0;
    let parts = 0;
    for (let l = 1; l <= count; l++) {
      const a = area[l] as number;
      if (a === 0) continue;
      parts++;
      if (a < minArea && (small === 0 || a < (area[small] as number))) small = l;
    }
    if (small === 0 || parts < 2) return;
    shared.fill(0);
    for (let k = 0; k < size; k++) {
      if (labels[k] !== small) continue;
      const x = k % w;
      if (x > 0) shared[labels[k - 1] as number]++;
      if (x + 1 < w) shared[labels[k + 1] as number]++;
      if (k >= w) shared[labels[k - w] as number]++;
      if (k + w < size) shared[labels[k + w] as number]++;
    }
    shared[0] = 0;
    shared[small] = 0;
    let best = 0;
    for (let l = 1; l <= count; l++) if ((shared[l] as number) > (shared[best] as number)) best = l;
    if (best === 0) return;
    for (let k = 0; k < size; k++) if (labels[k] === small) labels[k] = best;
    area[best] = (area[best] as number) + (area[small] as number);
    area[small] = 0;
  }
}
