/**
 * Exact Euclidean distance transform (Felzenszwalb & Huttenlocher 2012): for every foreground
 * pixel, the distance to the nearest background pixel; pixels outside the image count as
 * background, so objects touching the border are measured as cut there.
 */

const FAR = 1e20;

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

/** Euclidean distance of each non-zero pixel of `mask` to the nearest zero pixel or the image edge. */
export function distanceTransform(mask: Uint8Array, w: number, h: number, out: Float32Array = new Float32Array(w * h)): Float32Array {
  const n = Math.max(w, h) + 2;
  const f = new Float64Array(n);
  const d = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  const tmp = new Float64Array(w * h);
  // columns, padded with background above and below
  for (let x = 0; x < w; x++) {
    f[0] = 0;
    for (let y = 0; y < h; y++) f[y + 1] = mask[y * w + x] ? FAR : 0;
    f[h + 1] = 0;
    edt1d(f, d, h + 2, v, z);
    for (let y = 0; y < h; y++) tmp[y * w + x] = d[y + 1] as number;
  }
  // rows, padded left and right
  for (let y = 0; y < h; y++) {
    const row = y * w;
    f[0] = 0;
    for (let x = 0; x < w; x++) f[x + 1] = tmp[row + x] as number;
    f[w + 1] = 0;
    edt1d(f, d, w + 2, v, z);
    for (let x = 0; x < w; x++) out[row + x] = mask[row + x] ? Math.sqrt(d[x + 1] as number) : 0;
  }
  return out;
}
