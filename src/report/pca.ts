/**
 * Principal component analysis of a few profiles (treatments) with many features, for the
 * report's 2-D map, through the Gram matrix G = Xc Xc^T of the centred profiles (n x n, n =
 * treatments). Up to EXACT_LIMIT rows: G is formed and decomposed exactly (ml-matrix). Beyond:
 * subspace (block power) iteration with G applied implicitly (G u = Xc (Xc^T u)), so memory stays
 * at one feature vector, and Rayleigh-Ritz on the small block. NaN feature values count as the
 * column mean (0 after centring).
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

export interface Pca {
  /** Per row, its scores on the first two principal components (0 where the rank is lower). */
  scores: Array<[number, number]>;
  /** Fraction of the total variance explained by PC1 and PC2. */
  explained: [number, number];
}

export interface PcaOptions {
  /** Rows up to which the decomposition is exact (default EXACT_LIMIT); iterative beyond. */
  exactLimit?: number;
  /** Of the iterative method (default 300). */
  maxIterations?: number;
  /** Of the iterative method: change of the top-2 eigenvalues, relative to the total variance (default 1e-7). */
  tolerance?: number;
}

/** Column means ignoring NaN; NaN for a column with no value. */
export function columnMeans(rows: readonly Float32Array[], d: number): Float64Array {
  const sum = new Float64Array(d);
  const count = new Uint32Array(d);
  for (const row of rows) {
    for (let j = 0; j < d; j++) {
      const v = row[j]!;
      if (v === v) {
        sum[j] += v;
        count[j]++;
      }
    }
  }
  for (let j = 0; j < d; j++) sum[j] = count[j] ? sum[j]! / count[j]! : Number.NaN;
  return sum;
}

/** out = Xc (Xc^T u), NaN entries as 0. */
function gramTimes(rows: readonly Float32Array[], mean: Float64Array, u: Float64Array, w: Float64Array): Float64Array {
  w.fill(0);
  rows.forEach((row, i) => {
    const ui = u[i]!;
    if (ui === 0) return;
    for (let j = 0; j < w.length; j++) {
      const v = row[j]! - mean[j]!;
      if (v === v) w[j] += ui * v;
    }
  });
  return Float64Array.from(rows, (row) => {
    let s = 0;
    for (let j = 0; j < w.length; j++) {
      const v = row[j]! - mean[j]!;
      if (v === v) s += v * w[j]!;
    }
    return s;
  });
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Modified Gram-Schmidt in place; vectors that vanish (rank deficiency) become zero. */
function orthonormalize(vectors: Float64Array[], scale: number): void {
  vectors.forEach((v, c) => {
    for (let p = 0; p < c; p++) {
      const q = vectors[p]!;
      const r = dot(v, q);
      for (let i = 0; i < v.length; i++) v[i] -= r * q[i]!;
    }
    const norm = Math.sqrt(dot(v, v));
    if (norm <= 1e-12 * scale) v.fill(0);
    else for (let i = 0; i < v.length; i++) v[i] /= norm;
  });
}

interface Eigenpairs {
  /** Largest first. */
  values: number[];
  /** vectors[c]: unit eigenvector (length n) of values[c]. */
  vectors: ArrayLike<number>[];
}

/** Eigenpairs of a symmetric matrix, largest eigenvalue first; vectors[c] is the c-th eigenvector. */
function symmetricEigen(matrix: number[][]): Eigenpairs {
  const evd = new EigenvalueDecomposition(new Matrix(matrix), { assumeSymmetric: true });
  const values = evd.realEigenvalues;
  const order = values.map((_, i) => i).sort((i, j) => values[j]! - values[i]!);
  const vectors = evd.eigenvectorMatrix;
  return { values: order.map((i) => values[i]!), vectors: order.map((i) => vectors.getColumn(i)) };
}

/** Rows up to which the Gram matrix is formed and decomposed exactly (about 1.5 s of CPU at 500 x 2,048; iteration is faster beyond). */
export const EXACT_LIMIT = 500;

/** The Gram matrix of the centred rows, NaN as 0. */
function gramMatrix(rows: readonly Float32Array[], mean: Float64Array): number[][] {
  const centred = rows.map((row) => Float64Array.from(row, (v, j) => (v - mean[j]! === v - mean[j]! ? v - mean[j]! : 0)));
  const gram = rows.map(() => new Array<number>(rows.length).fill(0));
  centred.forEach((a, i) => {
    for (let k = 0; k <= i; k++) gram[i]![k] = gram[k]![i] = dot(a, centred[k]!);
  });
  return gram;
}

/** A fixed pseudo-random start (xorshift32), so the map is the same on every run. */
function startVectors(n: number, k: number): Float64Array[] {
  let state = 0x9e3779b9;
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x100000000 - 0.5;
  };
  return Array.from({ length: k }, () => Float64Array.from({ length: n }, next));
}

/** Top eigenpairs of the Gram matrix by block power iteration and Rayleigh-Ritz. */
function subspaceIteration(rows: readonly Float32Array[], mean: Float64Array, total: number, options: PcaOptions): Eigenpairs {
  // A block wider than 2 converges faster (rate lambda_k+1 / lambda_2 instead of lambda_3 / lambda_2).
  const k = 8;
  const w = new Float64Array(rows[0]!.length);
  let q = startVectors(rows.length, k);
  orthonormalize(q, 1);
  const maxIterations = options.maxIterations ?? 300;
  const tolerance = options.tolerance ?? 1e-7;
  let eigen: Eigenpairs = { values: [0], vectors: [[1]] };
  let previous = [Number.NaN, Number.NaN];
  for (let iteration = 0; iteration < maxIterations; iteration++) {
    const z = q.map((u) => gramTimes(rows, mean, u, w));
    eigen = symmetricEigen(q.map((qi) => z.map((zj) => dot(qi, zj))));
    const top = [eigen.values[0]!, eigen.values[1] ?? 0];
    const converged = top.every((value, c) => Math.abs(value - previous[c]!) <= tolerance * total);
    previous = top;
    if ((converged && iteration > 0) || iteration === maxIterations - 1) break;
    orthonormalize(z, Math.sqrt(total));
    q = z;
  }
  // Ritz vectors: the block that gave the last eigenpairs, rotated by the small eigenvectors.
  const vectors = eigen.vectors.slice(0, 2).map((coefficients) => {
    const u = new Float64Array(rows.length);
    q.forEach((qi, p) => {
      for (let i = 0; i < u.length; i++) u[i] += coefficients[p]! * qi[i]!;
    });
    return u;
  });
  return { values: eigen.values.slice(0, 2), vectors };
}

/** The first two principal components of `rows` (all of one length). */
export function pca2(rows: readonly Float32Array[], options: PcaOptions = {}): Pca {
  const n = rows.length;
  const d = rows[0]?.length ?? 0;
  const zero = (): Pca => ({ scores: rows.map(() => [0, 0]), explained: [0, 0] });
  if (n < 2 || d === 0) return zero();
  const mean = columnMeans(rows, d);
  let total = 0;
  for (const row of rows) {
    for (let j = 0; j < d; j++) {
      const v = row[j]! - mean[j]!;
      if (v === v) total += v * v;
    }
  }
  if (!(total > 0)) return zero();

  const eigen = n <= (options.exactLimit ?? EXACT_LIMIT) ? symmetricEigen(gramMatrix(rows, mean)) : subspaceIteration(rows, mean, total, options);
  const components = [0, 1].map((c) => {
    const u = eigen.vectors[c] ?? new Float64Array(n);
    const lambda = Math.max(0, eigen.values[c] ?? 0);
    const scores = Array.from(u, (x) => x * Math.sqrt(lambda));
    // Sign convention: the largest score (in magnitude) is positive.
    const largest = scores.reduce((best, x) => (Math.abs(x) > Math.abs(best) ? x : best), 0);
    return { scores: largest < 0 ? scores.map((x) => -x) : scores, explained: lambda / total };
  });
  return {
    scores: rows.map((_, i) => [components[0]!.scores[i]! || 0, components[1]!.scores[i]! || 0]),
    explained: [components[0]!.explained, components[1]!.explained],
  };
}
