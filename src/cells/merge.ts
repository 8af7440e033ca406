import { find } from './label.js';
/**
 * Merging over-split objects by the depth of the valley between them (the dynamics of the marker,
 * as h-maxima would give): two touching regions stay apart only when the lower of their two peaks
 * rises more than `h` above the highest pass between them.
 */


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
