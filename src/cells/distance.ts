/**
 * Exact Euclidean distance transform (Felzenszwalb & Huttenlocher 2012): for every foreground
 * pixel, the distance to the nearest background pixel; pixels outside the image count as
 * background, so objects touching the border are measured as cut there.
 */

/** 1-D squared-distance transform of f (length n) into d, with scratch v (Int32) and z (Float64). */
function edt1d(f: Float64Array, d: Float64Array, n: number, v: Int32Array, z: Float64Array): void {
  let k = 0;
  v[0] = 0;
  z[0] = -Infinity;
  z[1] = Infinity;
  for (let q = 1; q < n; q++) {
    const fq = (f[q] as number) + q * q;
    let p = v[k] as number;
    let s = (fq - ((f[p] as number) + p * p)) / (2 * (q - p));
    while (s <= (z[k] as number)) {
      k--;
      p = v[k] as number;
      s = (fq - ((f[p] as number) + p * p)) / (2 * (q - p));
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Infinity;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while ((z[k + 1] as number) < q) k++;
    const p = v[k] as number;
    d[q] = (q - p) * (q - p) + (f[p] as number);
  }
}

/**
 * Euclidean distance of each non-zero pixel of `mask` to the nearest zero pixel or the image edge.
 * First the distance along columns (two row-by-row sweeps), then the exact transform along rows
 * (rows without foreground skipped). `col` (w * h values) is scratch.
 */
export function distanceTransform(mask: Uint8Array, w: number, h: number, out: Float32Array = new Float32Array(w * h), col: Float32Array = new Float32Array(w * h)): Float32Array {
  // down: 1 + distance above (the edge counts as background), then up
  for (let x = 0; x < w; x++) col[x] = mask[x] ? 1 : 0;
  for (let y = 1; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) col[row + x] = mask[row + x] ? (col[row - w + x] as number) + 1 : 0;
  }
  const last = (h - 1) * w;
  for (let x = 0; x < w; x++) if ((col[last + x] as number) > 1) col[last + x] = 1;
  for (let y = h - 2; y >= 0; y--) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      const below = (col[row + w + x] as number) + 1;
      if ((col[row + x] as number) > below) col[row + x] = below;
    }
  }
  const n = w + 2;
  const f = new Float64Array(n);
  const d = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  out.fill(0);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    let any = false;
    f[0] = 0;
    for (let x = 0; x < w; x++) {
      const c = col[row + x] as number;
      if (c > 0) any = true;
      f[x + 1] = c * c;
    }
    if (!any) continue;
    f[w + 1] = 0;
    edt1d(f, d, w + 2, v, z);
    for (let x = 0; x < w; x++) if (mask[row + x]) out[row + x] = Math.sqrt(d[x + 1] as number);
  }
  return out;
}
