/**
 * Seeded region growing on flat arrays: a watershed by flooding (bucket queue over quantized
 * levels, first in first out within a level, so ties go to the seed that got there first) and
 * CellProfiler's propagation (shortest paths, Dijkstra with a bucket queue).
 */

const LEVELS = 1024;

/**
 * Seeded watershed: grows `markers` (0 = unlabelled) over the pixels where `mask` is non-zero, in
 * increasing order of `cost`, 8-connected, without watershed lines (as skimage and CellProfiler).
 * Pixels of `mask` that no seed reaches stay 0. Writes and returns `markers`.
 */
export function watershed(cost: Float32Array, markers: Int32Array, mask: Uint8Array, w: number, h: number): Int32Array {
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
function stepCosts(image: Float32Array, w: number, h: number, lambda: number, quantum: number, state: Uint8Array): Uint16Array {
  const costs = new Uint16Array(4 * w * h);
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
 * CellProfiler's propagation (IdentifySecondaryObjects, method Propagation): each pixel of `mask`
 * joins the seed (`labels`, 0 = none) with the shortest path to it, where a step between
 * 8-neighbours costs sqrt(g^2 + lambda^2) and g is the sum of absolute differences of `image` over
 * the two 3x3 neighbourhoods. lambda large: plain distance; small: boundaries follow intensity
 * edges. Seed pixels keep their labels; pixels no seed reaches stay 0. Writes and returns `labels`.
 *
 * Shortest paths by Dial's algorithm: step costs are rounded to whole units of lambda / 8 (or
 * coarser, so that the largest possible step is at most 65,535 units) and paths are flooded from
 * a circular bucket queue, in exact order of their rounded cost; no heap.
 */
export function propagate(image: Float32Array, labels: Int32Array, mask: Uint8Array, w: number, h: number, lambda: number): Int32Array {
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
  // state: 0 outside the mask, 1 open, 2 done
  const state = new Uint8Array(n);
  for (let i = 0; i < n; i++) state[i] = mask[i] || labels[i] !== 0 ? 1 : 0;
  const costs = stepCosts(image, w, h, lambda, quantum, state);
  const buckets = Math.min(MAX_UNITS, Math.ceil(maxStep / quantum)) + 2;
  const head = new Int32Array(buckets).fill(-1);
  // queue entries: pixel, the label it would take, next entry in the same bucket (a pixel may
  // enter more than once; the entry of its smallest cost comes out first, and later ones find it
  // done). Labels are written when a pixel comes out, so a relaxation writes only the entry.
  let cap = Math.max(1024, n);
  let entPixel: Int32Array = new Int32Array(cap);
  let entLabel: Int32Array = new Int32Array(cap);
  let entNext: Int32Array = new Int32Array(cap);
  let entries = 0;
  let pending = 0;
  const dist = new Int32Array(n);
  const grow = (a: Int32Array): Int32Array => {
    const b = new Int32Array(cap);
    b.set(a);
    return b;
  };
  const push = (j: number, d: number, lab: number): void => {
    if (entries === cap) {
      cap *= 2;
      entPixel = grow(entPixel);
      entLabel = grow(entLabel);
      entNext = grow(entNext);
    }
    const b = d % buckets;
    entPixel[entries] = j;
    entLabel[entries] = lab;
    entNext[entries] = head[b] as number;
    head[b] = entries++;
    pending++;
  };
  for (let i = 0; i < n; i++) {
    if (labels[i] !== 0) push(i, 0, labels[i] as number);
    else dist[i] = 0x7fffffff;
  }
  const relax = (j: number, step: number, d0: number, lab: number): void => {
    if (state[j] !== 1) return;
    const d = d0 + step;
    if (d < (dist[j] as number)) {
      dist[j] = d;
      push(j, d, lab);
    }
  };
  let cur = 0;
  while (pending > 0) {
    const e = head[cur] as number;
    if (e === -1) {
      cur = cur + 1 === buckets ? 0 : cur + 1;
      continue;
    }
    head[cur] = entNext[e] as number;
    pending--;
    const i = entPixel[e] as number;
    if (state[i] !== 1) continue;
    state[i] = 2;
    const di = dist[i] as number;
    const lab = entLabel[e] as number;
    labels[i] = lab;
    const x = i % w;
    const hasW = x > 0;
    const hasE = x < w - 1;
    const c = 4 * i;
    if (hasE) relax(i + 1, costs[c] as number, di, lab);
    if (hasW) relax(i - 1, costs[c - 4] as number, di, lab);
    if (i < n - w) {
      relax(i + w, costs[c + 1] as number, di, lab);
      if (hasE) relax(i + w + 1, costs[c + 2] as number, di, lab);
      if (hasW) relax(i + w - 1, costs[c + 3] as number, di, lab);
    }
    if (i >= w) {
      const u = c - 4 * w;
      relax(i - w, costs[u + 1] as number, di, lab);
      if (hasW) relax(i - w - 1, costs[u - 4 + 2] as number, di, lab);
      if (hasE) relax(i - w + 1, costs[u + 4 + 3] as number, di, lab);
    }
  }
  return labels;
}
