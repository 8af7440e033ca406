/**
 * Seeded region growing on flat arrays: a watershed by flooding (bucket queue over quantized
 * levels, first in first out within a level, so ties go to the seed that got there first) and
 * CellProfiler's propagation (shortest paths, Dijkstra on a binary heap).
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

/** Min-heap of (key, pixel) on typed arrays, growing as needed. */
class PixelHeap {
  keys: Float64Array;
  items: Int32Array;
  size = 0;
  constructor(capacity: number) {
    this.keys = new Float64Array(Math.max(16, capacity));
    this.items = new Int32Array(Math.max(16, capacity));
  }
  push(key: number, item: number): void {
    if (this.size === this.keys.length) {
      const k = new Float64Array(this.size * 2);
      k.set(this.keys);
      this.keys = k;
      const it = new Int32Array(this.size * 2);
      it.set(this.items);
      this.items = it;
    }
    const keys = this.keys;
    const items = this.items;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((keys[p] as number) <= key) break;
      keys[i] = keys[p] as number;
      items[i] = items[p] as number;
      i = p;
    }
    keys[i] = key;
    items[i] = item;
  }
  /** Removes the smallest; its key is `topKey` and its item `topItem` before the call. */
  pop(): void {
    const keys = this.keys;
    const items = this.items;
    const n = --this.size;
    if (n === 0) return;
    const key = keys[n] as number;
    const item = items[n] as number;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && (keys[c + 1] as number) < (keys[c] as number)) c++;
      if ((keys[c] as number) >= key) break;
      keys[i] = keys[c] as number;
      items[i] = items[c] as number;
      i = c;
    }
    keys[i] = key;
    items[i] = item;
  }
}

/**
 * For one step direction (dx, dy) with dy >= 0: g(p) = sum over the 3x3 neighbourhood of
 * |image(p + k) - image(p + d + k)|, the intensity part of a step from p to p + d (and back).
 * Neighbourhood pixels outside the image repeat the edge.
 */
function stepDifferences(image: Float32Array, w: number, h: number, dx: number, dy: number, out: Float32Array, tmp: Float32Array): Float32Array {
  // |difference| per pixel, then a 3x3 box sum (rows, then columns)
  for (let y = 0; y < h; y++) {
    const y2 = y + dy >= h ? h - 1 : y + dy;
    for (let x = 0; x < w; x++) {
      const x2 = x + dx < 0 ? 0 : x + dx >= w ? w - 1 : x + dx;
      const d = (image[y * w + x] as number) - (image[y2 * w + x2] as number);
      out[y * w + x] = d < 0 ? -d : d;
    }
  }
  for (let y = 0; y < h; y++) {
    const b = y * w;
    for (let x = 0; x < w; x++) {
      const l = x > 0 ? x - 1 : 0;
      const r = x < w - 1 ? x + 1 : w - 1;
      tmp[b + x] = (out[b + l] as number) + (out[b + x] as number) + (out[b + r] as number);
    }
  }
  for (let y = 0; y < h; y++) {
    const up = (y > 0 ? y - 1 : 0) * w;
    const down = (y < h - 1 ? y + 1 : h - 1) * w;
    const b = y * w;
    for (let x = 0; x < w; x++) out[b + x] = (tmp[up + x] as number) + (tmp[b + x] as number) + (tmp[down + x] as number);
  }
  return out;
}

/**
 * CellProfiler's propagation (IdentifySecondaryObjects, method Propagation): each pixel of `mask`
 * joins the seed (`labels`, 0 = none) with the shortest path to it, where a step between
 * 8-neighbours costs sqrt(g^2 + lambda^2) and g is the sum of absolute differences of `image` over
 * the two 3x3 neighbourhoods. lambda large: plain distance; small: boundaries follow intensity
 * edges. Seed pixels keep their labels; pixels no seed reaches stay 0. Writes and returns `labels`.
 */
export function propagate(image: Float32Array, labels: Int32Array, mask: Uint8Array, w: number, h: number, lambda: number): Int32Array {
  const n = w * h;
  const tmp = new Float32Array(n);
  // step costs per direction: east, south, south-east, south-west
  const east = stepDifferences(image, w, h, 1, 0, new Float32Array(n), tmp);
  const south = stepDifferences(image, w, h, 0, 1, new Float32Array(n), tmp);
  const se = stepDifferences(image, w, h, 1, 1, new Float32Array(n), tmp);
  const sw = stepDifferences(image, w, h, -1, 1, new Float32Array(n), tmp);
  const lambda2 = lambda * lambda;
  const dist = new Float64Array(n).fill(Infinity);
  const done = new Uint8Array(n);
  const heap = new PixelHeap(n >> 2);
  for (let i = 0; i < n; i++) {
    if (labels[i] !== 0) {
      dist[i] = 0;
      heap.push(0, i);
    }
  }
  const relax = (j: number, g: number, d0: number, lab: number): void => {
    if (done[j] || !mask[j]) return;
    const d = d0 + Math.sqrt(g * g + lambda2);
    if (d < (dist[j] as number)) {
      dist[j] = d;
      labels[j] = lab;
      heap.push(d, j);
    }
  };
  while (heap.size > 0) {
    const i = heap.items[0] as number;
    const di = heap.keys[0] as number;
    heap.pop();
    if (done[i]) continue;
    done[i] = 1;
    const lab = labels[i] as number;
    const x = i % w;
    const hasW = x > 0;
    const hasE = x < w - 1;
    const hasN = i >= w;
    const hasS = i < n - w;
    if (hasE) relax(i + 1, east[i] as number, di, lab);
    if (hasW) relax(i - 1, east[i - 1] as number, di, lab);
    if (hasS) {
      relax(i + w, south[i] as number, di, lab);
      if (hasE) relax(i + w + 1, se[i] as number, di, lab);
      if (hasW) relax(i + w - 1, sw[i] as number, di, lab);
    }
    if (hasN) {
      relax(i - w, south[i - w] as number, di, lab);
      if (hasW) relax(i - w - 1, se[i - w - 1] as number, di, lab);
      if (hasE) relax(i - w + 1, sw[i - w + 1] as number, di, lab);
    }
  }
  return labels;
}
