/**
 * Seeded region growing on flat arrays: a watershed by flooding (bucket queue over quantized
 * levels, first in first out within a level, so ties go to the seed that got there first) and
 * CellProfiler's propagation (shortest paths, Dijkstra with a bucket queue).
 */
import { native } from '../native.js';

const LEVELS = 1024;

/** The watershed in C (native/kernels.c segWatershed, registered by src/cells/segment-native.ts on Node), bitwise-equal labels. */
export type WatershedKernel = (cost: Float32Array, markers: Int32Array, mask: Uint8Array, width: number, height: number, levels: number) => void;

let watershedKernel: WatershedKernel | null = null;

/** Use `kernel` for `watershed` (null: the TypeScript twin). */
export function useWatershedKernel(kernel: WatershedKernel | null): void {
  watershedKernel = kernel;
}

/**
 * Seeded watershed: grows `markers` (0 = unlabelled) over the pixels where `mask` is non-zero, in
 * increasing order of `cost`, 8-connected, without watershed lines (as skimage and CellProfiler).
 * Pixels of `mask` that no seed reaches stay 0. Writes and returns `markers`.
 */
export function watershed(cost: Float32Array, markers: Int32Array, mask: Uint8Array, w: number, h: number): Int32Array {
  if (watershedKernel) {
    watershedKernel(cost, markers, mask, w, h, LEVELS);
    return markers;
  }
  const n = w * h;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    if (!mask[i]) continue;
    const c = cost[i] as number;
    if (c < lo) lo = c;
    if (c > hi) hi = c;
  }
  if (!(lo <= hi)) return markers;
  const scale = hi > lo ? (LEVELS - 1) / (hi - lo) : 0;
  const head = new Int32Array(LEVELS).fill(-1);
  const tail = new Int32Array(LEVELS).fill(-1);
  const next = new Int32Array(n);
  // queue entries are pixels; each pixel enters once, when it gets its label
  for (let i = 0; i < n; i++) {
    if (markers[i] === 0 || !mask[i]) continue;
    const l = (((cost[i] as number) - lo) * scale) | 0;
    next[i] = -1;
    if (tail[l] === -1) head[l] = i;
    else next[tail[l] as number] = i;
    tail[l] = i;
  }
  const offsets = [-w - 1, -w, -w + 1, -1, 1, w - 1, w, w + 1];
  for (let l = 0; l < LEVELS; l++) {
    while (head[l] !== -1) {
      const i = head[l] as number;
      head[l] = next[i] as number;
      if (head[l] === -1) tail[l] = -1;
      const lab = markers[i] as number;
      const x = i % w;
      const interior = x > 0 && x < w - 1 && i >= w && i < n - w;
      for (let k = 0; k < 8; k++) {
        const j = i + (offsets[k] as number);
        if (!interior) {
          if (j < 0 || j >= n) continue;
          const xj = j % w;
          if (xj - x > 1 || x - xj > 1) continue;
        }
        if (markers[j] !== 0 || !mask[j]) continue;
        markers[j] = lab;
        let lj = (((cost[j] as number) - lo) * scale) | 0;
        if (lj < l) lj = l;
        next[j] = -1;
        if (tail[lj] === -1) head[lj] = j;
        else next[tail[lj] as number] = j;
        tail[lj] = j;
      }
    }
  }
  return markers;
}

/** The four step directions whose costs are stored: east, south, south-east, south-west. */
const DIRECTIONS: ReadonlyArray<readonly [number, number]> = [
  [1, 0],
  [0, 1],
  [1, 1],
  [-1, 1],
];

/**
 * Row r of |image(q) - image(q + d)| (the partner clamped into the image), summed over 3
 * horizontal neighbours (edges repeat), into `dst` (length w).
 */
function boxedDifferenceRow(image: Float32Array, w: number, h: number, r: number, dx: number, dy: number, a: Float32Array, dst: Float32Array): void {
  const row = r * w;
  const row2 = (r + dy >= h ? h - 1 : r + dy) * w;
  // the partner of x is x + dx, except at an edge where it would leave the image (then x itself)
  const from = dx < 0 ? 1 : 0;
  const to = dx > 0 ? w - 1 : w;
  const q = row2 + dx;
  for (let x = from; x < to; x++) {
    const d = (image[row + x] as number) - (image[q + x] as number);
    a[x] = d < 0 ? -d : d;
  }
  if (dx !== 0) {
    const x = dx < 0 ? 0 : w - 1;
    const d = (image[row + x] as number) - (image[row2 + x] as number);
    a[x] = d < 0 ? -d : d;
  }
  if (w === 1) {
    dst[0] = 3 * (a[0] as number);
    return;
  }
  dst[0] = 2 * (a[0] as number) + (a[1] as number);
  for (let x = 1; x < w - 1; x++) dst[x] = (a[x - 1] as number) + (a[x] as number) + (a[x + 1] as number);
  dst[w - 1] = (a[w - 2] as number) + 2 * (a[w - 1] as number);
}

/**
 * Step costs for the four stored directions, in whole units of `quantum`, interleaved per pixel
 * (costs[4 p + k], k as DIRECTIONS): round(sqrt(g^2 + lambda^2) / quantum), where g(p) is the sum
 * over the 3x3 neighbourhood of p of |image(q) - image(q + d)|, the intensity part of a step from
 * p to p + d (and back), for the pixels p whose `state` is not 0 (the others are never left or
 * entered). One sweep down the image, three rows per direction in a ring.
 */
function stepCosts(image: Float32Array, w: number, h: number, lambda: number, quantum: number, state: Uint8Array, out: Uint16Array): Uint16Array {
  const costs = out;
  const a = new Float32Array(w);
  const lambda2 = lambda * lambda;
  const inv = 1 / quantum;
  const K = DIRECTIONS.length;
  // per direction, the boxed difference rows y-1, y, y+1 (edges repeat)
  const ring = DIRECTIONS.map(() => [new Float32Array(w), new Float32Array(w), new Float32Array(w)]);
  for (let k = 0; k < K; k++) {
    const [dx, dy] = DIRECTIONS[k] as readonly [number, number];
    const r = ring[k] as Float32Array[];
    boxedDifferenceRow(image, w, h, 0, dx, dy, a, r[1] as Float32Array);
    (r[0] as Float32Array).set(r[1] as Float32Array);
  }
  for (let y = 0; y < h; y++) {
    for (let k = 0; k < K; k++) {
      const [dx, dy] = DIRECTIONS[k] as readonly [number, number];
      const r = ring[k] as Float32Array[];
      if (y + 1 < h) boxedDifferenceRow(image, w, h, y + 1, dx, dy, a, r[2] as Float32Array);
      else (r[2] as Float32Array).set(r[1] as Float32Array);
      const prev = r[0] as Float32Array;
      const cur = r[1] as Float32Array;
      const next = r[2] as Float32Array;
      let o = 4 * y * w + k;
      const row = y * w;
      for (let x = 0; x < w; x++, o += 4) {
        if (state[row + x] === 0) continue; // a step from outside the mask is never taken
        const g = (prev[x] as number) + (cur[x] as number) + (next[x] as number);
        const c = (Math.sqrt(g * g + lambda2) * inv + 0.5) | 0;
        costs[o] = c > 65535 ? 65535 : c;
      }
      r[0] = cur; // rotate: prev <- cur <- next <- old prev
      r[1] = next;
      r[2] = prev;
    }
  }
  return costs;
}

/**
 * Scratch buffers of the propagation, kept between calls (one field at a time per thread: the
 * cells stage runs fields one by one on each worker), so that a 1280x1024 field does not allocate
 * ~30 MB that the garbage collector then has to reclaim.
 */
const scratch = {
  state: new Uint8Array(0),
  dist: new Int32Array(0),
  costs: new Uint16Array(0),
  /** queue entries, interleaved: pixel, next entry in the same bucket */
  entries: new Int32Array(0),
  head: new Int32Array(0),
};

/**
 * CellProfiler's propagation (IdentifySecondaryObjects, method Propagation): each pixel of `mask`
 * joins the seed (`labels`, 0 = none) with the shortest path to it, where a step between
 * 8-neighbours costs sqrt(g^2 + lambda^2) and g is the sum of absolute differences of `image` over
 * the two 3x3 neighbourhoods. lambda large: plain distance; small: boundaries follow intensity
 * edges. Seed pixels keep their labels; pixels no seed reaches stay 0. Writes and returns `labels`.
 *
 * Shortest paths by Dial's algorithm: step costs are rounded to whole units of lambda / 8 (or
 * coarser, so that the largest possible step is at most 65,535 units) and paths are flooded from
 * a circular bucket queue, in exact order of their rounded cost (last in, first out within a
 * cost); no heap. A pixel's label is written each time its path cost improves (the last write is
 * that of its shortest path); queue entries hold only the pixel, and a pixel leaves the queue once
 * (later, stale entries find it done).
 *
 * Runs in C (native/kernels.c `segPropagate`, bitwise-equal labels) when the addon is built, else
 * in TypeScript; `useNative: false` forces the TypeScript path.
 */
export function propagate(image: Float32Array, labels: Int32Array, mask: Uint8Array, w: number, h: number, lambda: number, useNative = true): Int32Array {
  const n = w * h;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = image[i] as number;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const maxStep = Math.sqrt((9 * (hi - lo)) ** 2 + lambda * lambda); // largest possible step
  const MAX_UNITS = 65535;
  let quantum = lambda > 0 ? lambda / 8 : maxStep / 1024;
  if (!(quantum > 0)) quantum = 1;
  if (maxStep / quantum > MAX_UNITS) quantum = maxStep / MAX_UNITS;
  const buckets = Math.min(MAX_UNITS, Math.ceil(maxStep / quantum)) + 2;
  if (useNative && native?.segPropagate && image.length === n && labels.length === n && mask.length === n) {
    native.segPropagate(image, labels, mask, w, h, lambda * lambda, 1 / quantum, buckets);
    return labels;
  }
  if (scratch.state.length < n) {
    scratch.state = new Uint8Array(n);
    scratch.dist = new Int32Array(n);
    scratch.costs = new Uint16Array(4 * n);
  }
  // state: 0 outside the mask, 1 open, 2 done
  const state = scratch.state;
  // dist: the best path cost found so far; -1 outside the mask so that no step improves it (a done
  // pixel's cost is at most that of any path still being extended, so no step improves it either)
  const dist = scratch.dist;
  let seeds = 0;
  for (let i = 0; i < n; i++) {
    const l = labels[i] as number;
    if (l !== 0) {
      state[i] = 1;
      dist[i] = 0;
      seeds++;
    } else if (mask[i]) {
      state[i] = 1;
      dist[i] = 0x7fffffff;
    } else {
      state[i] = 0;
      dist[i] = -1;
    }
  }
  const costs = stepCosts(image, w, h, lambda, quantum, state, scratch.costs);
  if (scratch.head.length < buckets) scratch.head = new Int32Array(buckets);
  const head = scratch.head;
  head.fill(-1, 0, buckets);
  let cap = scratch.entries.length >> 1;
  if (cap < Math.max(1024, n + seeds)) {
    cap = Math.max(1024, 2 * n);
    scratch.entries = new Int32Array(2 * cap);
  }
  let ent = scratch.entries;
  let entries = 0;
  for (let i = 0; i < n; i++) {
    if (labels[i] !== 0) {
      ent[2 * entries] = i;
      ent[2 * entries + 1] = head[0] as number;
      head[0] = entries++;
    }
  }
  let pending = entries;
  let cur = 0;
  const last = n - w;
  const invW = 1 / w;
  while (pending > 0) {
    const e = head[cur] as number;
    if (e === -1) {
      cur = cur + 1 === buckets ? 0 : cur + 1;
      continue;
    }
    head[cur] = ent[2 * e + 1] as number;
    pending--;
    const i = ent[2 * e] as number;
    const di = dist[i] as number;
    if (di < 0) continue; // done (or a stale entry of a pixel since reached more cheaply)
    dist[i] = -1;
    if (entries + 8 > cap) {
      cap *= 2;
      const bigger = new Int32Array(2 * cap);
      bigger.set(ent);
      scratch.entries = ent = bigger;
    }
    const lab = labels[i] as number;
    const x = i - Math.floor((i + 0.5) * invW) * w;
    const hasW = x > 0;
    const hasE = x < w - 1;
    const c = 4 * i;
    // each neighbour j reached by a step of cost s: if di + s improves dist[j], record it, label
    // j and queue it in bucket (di + s) mod buckets. Written out eight times (no closure).
    let j: number;
    let s: number;
    let d: number;
    let b: number;
    if (hasE) {
      j = i + 1;
      s = costs[c] as number;
      d = di + s;
      if (d < (dist[j] as number)) {
        dist[j] = d;
        labels[j] = lab;
        b = cur + s;
        if (b >= buckets) b -= buckets;
        ent[2 * entries] = j;
        ent[2 * entries + 1] = head[b] as number;
        head[b] = entries++;
        pending++;
      }
    }
    if (hasW) {
      j = i - 1;
      s = costs[c - 4] as number;
      d = di + s;
      if (d < (dist[j] as number)) {
        dist[j] = d;
        labels[j] = lab;
        b = cur + s;
        if (b >= buckets) b -= buckets;
        ent[2 * entries] = j;
        ent[2 * entries + 1] = head[b] as number;
        head[b] = entries++;
        pending++;
      }
    }
    if (i < last) {
      j = i + w;
      s = costs[c + 1] as number;
      d = di + s;
      if (d < (dist[j] as number)) {
        dist[j] = d;
        labels[j] = lab;
        b = cur + s;
        if (b >= buckets) b -= buckets;
        ent[2 * entries] = j;
        ent[2 * entries + 1] = head[b] as number;
        head[b] = entries++;
        pending++;
      }
      if (hasE) {
        j = i + w + 1;
        s = costs[c + 2] as number;
      d = di + s;
        if (d < (dist[j] as number)) {
          dist[j] = d;
          labels[j] = lab;
          b = cur + s;
        if (b >= buckets) b -= buckets;
          ent[2 * entries] = j;
          ent[2 * entries + 1] = head[b] as number;
          head[b] = entries++;
          pending++;
        }
      }
      if (hasW) {
        j = i + w - 1;
        s = costs[c + 3] as number;
      d = di + s;
        if (d < (dist[j] as number)) {
          dist[j] = d;
          labels[j] = lab;
          b = cur + s;
        if (b >= buckets) b -= buckets;
          ent[2 * entries] = j;
          ent[2 * entries + 1] = head[b] as number;
          head[b] = entries++;
          pending++;
        }
      }
    }
    if (i >= w) {
      const u = c - 4 * w;
      j = i - w;
      s = costs[u + 1] as number;
      d = di + s;
      if (d < (dist[j] as number)) {
        dist[j] = d;
        labels[j] = lab;
        b = cur + s;
        if (b >= buckets) b -= buckets;
        ent[2 * entries] = j;
        ent[2 * entries + 1] = head[b] as number;
        head[b] = entries++;
        pending++;
      }
      if (hasW) {
        j = i - w - 1;
        s = costs[u - 4 + 2] as number;
      d = di + s;
        if (d < (dist[j] as number)) {
          dist[j] = d;
          labels[j] = lab;
          b = cur + s;
        if (b >= buckets) b -= buckets;
          ent[2 * entries] = j;
          ent[2 * entries + 1] = head[b] as number;
          head[b] = entries++;
          pending++;
        }
      }
      if (hasE) {
        j = i - w + 1;
        s = costs[u + 4 + 3] as number;
      d = di + s;
        if (d < (dist[j] as number)) {
          dist[j] = d;
          labels[j] = lab;
          b = cur + s;
        if (b >= buckets) b -= buckets;
          ent[2 * entries] = j;
          ent[2 * entries + 1] = head[b] as number;
          head[b] = entries++;
          pending++;
        }
      }
    }
  }
  return labels;
}
