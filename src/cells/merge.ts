/**
 * Merging over-split objects by the depth of the valley between them (the dynamics of the marker,
 * as h-maxima would give): two touching regions stay apart only when the lower of their two peaks
 * rises more than `h` above the highest pass between them. And the converse: splitting an object
 * at a narrow neck of its inscribed-distance map (splitNecks).
 */
import { find, labelAreas } from './label.js';
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

/** When and where splitNecks cuts (see there). */
export interface NeckRule {
  /** A pass narrower than this fraction of the lower of the two widest points is a neck (0..1). */
  ratio: number;
  /** Only pieces whose area exceeds this many times pi r^2, r their largest inscribed radius (a disc: 1). */
  minElongation: number;
  /** Smallest area of a part cut off, px (smaller parts stay with the neighbour they share most border with). */
  minPartArea: number;
  /** Seeds (maxima of the distance) closer than this are one, px. */
  spacing: number;
}

/** Scratch of splitNecks, grown as needed (one call at a time per thread). */
const neck = { n: 0, mask: new Uint8Array(0), marker: new Float32Array(0), cost: new Float32Array(0), parts: new Int32Array(0) };

function neckScratch(n: number): typeof neck {
  if (neck.n < n) {
    neck.n = n;
    neck.mask = new Uint8Array(n);
    neck.marker = new Float32Array(n);
    neck.cost = new Float32Array(n);
    neck.parts = new Int32Array(n);
  }
  return neck;
}

/**
 * Split pieces of `labels` (1..count, in a w x h box) at narrow necks, on `dist` (the inscribed
 * distance of the clump they belong to): a piece that is not disc-like (area over minElongation
 * pi r^2) is flooded from the maxima of log(distance) `spacing` apart, and its parts are merged
 * back (mergeShallow on the log distance, so the depth is a ratio) unless the pass between them
 * is narrower than `ratio` of the lower of their widest points; parts under `minPartArea` join a
 * neighbour. Two overlapping or touching round nuclei make such a neck whatever their
 * intensities (where the stain adds up over the overlap, the intensity seeds see one bright
 * nucleus); one round or elongated nucleus does not. The first part keeps the piece's label, the
 * others get count+1, ...; returns the number of labels used.
 */
export function splitNecks(labels: Int32Array, count: number, dist: Float32Array, w: number, h: number, rule: NeckRule): number {
  const size = w * h;
  const area = labelAreas(labels.subarray(0, size), count);
  const top = new Float32Array(count + 1);
  for (let k = 0; k < size; k++) {
    const l = labels[k] as number;
    if (l !== 0 && (dist[k] as number) > (top[l] as number)) top[l] = dist[k] as number;
  }
  const depth = -Math.log(rule.ratio);
  const b = neckScratch(size);
  const mask = b.mask.subarray(0, size);
  const marker = b.marker.subarray(0, size);
  const cost = b.cost.subarray(0, size);
  const parts = b.parts.subarray(0, size);
  let next = count;
  for (let l = 1; l <= count; l++) {
    const r = top[l] as number;
    if ((area[l] as number) <= rule.minElongation * Math.PI * r * r) continue;
    for (let k = 0; k < size; k++) {
      const on = labels[k] === l;
      const v = on ? Math.log(Math.max(dist[k] as number, 1)) : 0;
      mask[k] = on ? 1 : 0;
      marker[k] = v;
      cost[k] = -v;
    }
    const found = suppressedMaxima(marker, mask, w, h, rule.spacing, parts).count;
    if (found < 2) continue;
    watershed(cost, parts, mask, w, h);
    if (mergeShallow(parts, found, marker, w, h, depth) === found - 1) continue;
    absorbSmall(parts, found, w, h, rule.minPartArea);
    const map = new Int32Array(found + 1);
    let first = true;
    for (let k = 0; k < size; k++) {
      const p = parts[k] as number;
      if (!mask[k] || p === 0) continue;
      if (map[p] === 0) {
        map[p] = first ? l : ++next;
        first = false;
      }
      labels[k] = map[p] as number;
    }
  }
  return next;
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
