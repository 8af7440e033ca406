/**
 * Cosine similarity of row r of `a` and row r of `b`, for every row (rows of `dim` values): how
 * close two networks' embeddings of the same images are (int8 vs fp32). Two zero rows count as 1.
 * Portable: used by the CLI's benches and tests and by the browser page's precision choice.
 */
export function rowCosines(a: Float32Array, b: Float32Array, dim: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < a.length / dim; r++) out.push(cosine(a.subarray(r * dim, (r + 1) * dim), b.subarray(r * dim, (r + 1) * dim)));
  return out;
}

/** Cosine similarity of two vectors of the same length; two zero vectors count as 1. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let k = 0; k < a.length; k++) {
    ab += a[k]! * b[k]!;
    aa += a[k]! * a[k]!;
    bb += b[k]! * b[k]!;
  }
  return aa === 0 && bb === 0 ? 1 : ab / Math.sqrt(aa * bb || 1);
}
