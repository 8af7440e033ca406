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
  const level = (i: number): number => (((cost[i] as number) - lo) * scale) | 0;
  const head = new Int32Array(LEVELS).fill(-1);
  const tail = new Int32Array(LEVELS).fill(-1);
  const next = new Int32Array(n);
  const push = (i: number, l: number): void => {
    next[i] = -1;
    if (tail[l] === -1) head[l] = i;
    else next[tail[l] as number] = i;
    tail[l] = i;
  };
  for (let i = 0; i < n; i++) if (markers[i] !== 0 && mask[i]) push(i, level(i));
  for (let l = 0; l < LEVELS; l++) {
    while (head[l] !== -1) {
      const i = head[l] as number;
      head[l] = next[i] as number;
      if (head[l] === -1) tail[l] = -1;
      const lab = markers[i] as number;
      const x = i % w;
      const y0 = i >= w ? -1 : 0;
      const y1 = i < n - w ? 1 : 0;
      const x0 = x > 0 ? -1 : 0;
      const x1 = x < w - 1 ? 1 : 0;
      for (let dy = y0; dy <= y1; dy++) {
        for (let dx = x0; dx <= x1; dx++) {
          const j = i + dy * w + dx;
          if (markers[j] !== 0 || !mask[j]) continue;
          markers[j] = lab;
          const lj = level(j);
          push(j, lj > l ? lj : l);
        }
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
 * CellProfiler's propagation (IdentifySecondaryObjects, method Propagation): each pixel of `mask`
 * joins the seed (`labels`, 0 = none) with the shortest path to it, where a step between
 * neighbours costs sqrt(g^2 + lambda^2) and g is the sum of absolute differences of `image` over
 * the two 3x3 neighbourhoods. lambda large: plain distance; small: boundaries follow intensity
 * edges. Seed pixels keep their labels; pixels no seed reaches stay 0. Writes and returns `labels`.
 */
export function propagate(image: Float32Array, labels: Int32Array, mask: Uint8Array, w: number, h: number, lambda: number): Int32Array {
  const n = w * h;
  const dist = new Float64Array(n).fill(Infinity);
  const done = new Uint8Array(n);
  const heap = new PixelHeap(n >> 2);
  const lambda2 = lambda * lambda;
  for (let i = 0; i < n; i++) {
    if (labels[i] !== 0) {
      dist[i] = 0;
      heap.push(0, i);
    }
  }
  // 3x3 neighbourhood difference between pixels i and j (clamped at the edges)
  const diff = (i: number, j: number, x: number, y: number, xj: number, yj: number): number => {
    let g = 0;
    for (let dy = -1; dy <= 1; dy++) {
      const ya = y + dy < 0 ? 0 : y + dy >= h ? h - 1 : y + dy;
      const yb = yj + dy < 0 ? 0 : yj + dy >= h ? h - 1 : yj + dy;
      for (let dx = -1; dx <= 1; dx++) {
        const xa = x + dx < 0 ? 0 : x + dx >= w ? w - 1 : x + dx;
        const xb = xj + dx < 0 ? 0 : xj + dx >= w ? w - 1 : xj + dx;
        const d = (image[ya * w + xa] as number) - (image[yb * w + xb] as number);
        g += d < 0 ? -d : d;
      }
    }
    void i;
    void j;
    return g;
  };
  while (heap.size > 0) {
    const i = heap.items[0] as number;
    const di = heap.keys[0] as number;
    heap.pop();
    if (done[i]) continue;
    done[i] = 1;
    const lab = labels[i] as number;
    const x = i % w;
    const y = (i / w) | 0;
    for (let dy = -1; dy <= 1; dy++) {
      const yj = y + dy;
      if (yj < 0 || yj >= h) continue;
      for (let dx = -1; dx <= 1; dx++) {
        const xj = x + dx;
        if ((dx === 0 && dy === 0) || xj < 0 || xj >= w) continue;
        const j = yj * w + xj;
        if (done[j] || !mask[j]) continue;
        const g = diff(i, j, x, y, xj, yj);
        const d = di + Math.sqrt(g * g + lambda2);
        if (d < (dist[j] as number)) {
          dist[j] = d;
          labels[j] = lab;
          heap.push(d, j);
        }
      }
    }
  }
  return labels;
}
