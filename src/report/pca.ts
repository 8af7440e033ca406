/**
 * Principal component analysis of a few profiles (treatments) with many features, for the
 * report's 2-D map. Subspace (block power) iteration on the Gram matrix G = Xc Xc^T of the centred
 * profiles, applied implicitly (G u = Xc (Xc^T u)), so memory stays at one feature vector and the
 * cost at a few passes over the rows per iteration; Rayleigh-Ritz on the small block gives the
 * eigenpairs. NaN feature values count as the column mean (0 after centring).
 */

export interface Pca {
  /** Per row, its scores on the first two principal components (0 where the rank is lower). */
  scores: Array<[number, number]>;
  /** Fraction of the total variance explained by PC1 and PC2. */
  explained: [number, number];
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

/** Eigenpairs of a small symmetric matrix by cyclic Jacobi rotations, sorted by value, largest first. */
export function symmetricEigen(matrix: number[][]): { values: number[]; vectors: number[][] } {
  const k = matrix.length;
  const a = matrix.map((row) => [...row]);
  const v: number[][] = a.map((_, i) => a.map((__, j) => (i === j ? 1 : 0)));
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < k; p++) for (let q = p + 1; q < k; q++) off += a[p]![q]! ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < k; p++) {
      for (let q = p + 1; q < k; q++) {
        const apq = a[p]![q]!;
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q]![q]! - a[p]![p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let r = 0; r < k; r++) {
          const arp = a[r]![p]!;
          const arq = a[r]![q]!;
          a[r]![p] = c * arp - s * arq;
          a[r]![q] = s * arp + c * arq;
        }
        for (let r = 0; r < k; r++) {
          const apr = a[p]![r]!;
          const aqr = a[q]![r]!;
          a[p]![r] = c * apr - s * aqr;
          a[q]![r] = s * apr + c * aqr;
        }
        for (let r = 0; r < k; r++) {
          const vrp = v[r]![p]!;
          const vrq = v[r]![q]!;
          v[r]![p] = c * vrp - s * vrq;
          v[r]![q] = s * vrp + c * vrq;
        }
      }
    }
  }
  const order = a.map((_, i) => i).sort((i, j) => a[j]![j]! - a[i]![i]!);
  return { values: order.map((i) => a[i]![i]!), vectors: order.map((i) => v.map((row) => row[i]!)) };
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

/** The first two principal components of `rows` (all of one length). */
export function pca2(rows: readonly Float32Array[], options: { maxIterations?: number; tolerance?: number } = {}): Pca {
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

  // A block wider than 2 converges faster (rate lambda_5 / lambda_2 instead of lambda_3 / lambda_2).
  const k = Math.min(4, n);
  const w = new Float64Array(d);
  let q = startVectors(n, k);
  orthonormalize(q, 1);
  const maxIterations = options.maxIterations ?? 500;
  const tolerance = options.tolerance ?? 1e-10;
  let eigen = { values: [0], vectors: [[1]] };
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
  // Ritz vectors of the block that gave the last eigenpairs.
  const components = [0, 1].map((c) => {
    const coefficients = eigen.vectors[c];
    const u = new Float64Array(n);
    if (coefficients) q.forEach((qi, p) => {
      for (let i = 0; i < n; i++) u[i] += coefficients[p]! * qi[i]!;
    });
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
