/**
 * What the evaluation asks of one query row's similarities to every treatment: the nearest
 * other-compound treatment (NSC), the nearest other-compound-and-other-batch one (NSCB), whether a
 * same-MOA treatment is eligible under NSCB, and the average precision of ranking the
 * other-compound treatments with same-MOA ones as positives. O(n) per row (AP included: a bucket
 * histogram, exact because ties with a positive are resolved against the few negatives sharing
 * its bucket).
 */

/** Integer codes of the evaluated treatments. */
export interface RetrievalCodes {
  compound: Int32Array;
  moa: Int32Array;
  /** Batch bit sets, `words` Uint32 per row (a treatment may span batches); null without batches. */
  batch: Uint32Array | null;
  words: number;
}

export interface RowResult {
  nsc: number;
  nscSimilarity: number;
  /** -1 when no treatment of another compound and batch exists. */
  nscb: number;
  nscbSimilarity: number;
  nscbEligible: boolean;
  /** null when the query has no same-MOA treatment of another compound. */
  averagePrecision: number | null;
}

const BUCKETS = 1 << 16;

export class RowScanner {
  private readonly negatives = new Int32Array(BUCKETS);
  private readonly hasPositive = new Uint8Array(BUCKETS);
  private readonly positives: Float32Array;
  private readonly ties: Float32Array;

  constructor(private readonly codes: RetrievalCodes) {
    this.positives = new Float32Array(codes.compound.length);
    this.ties = new Float32Array(codes.compound.length);
  }

  private sharesBatch(i: number, j: number): boolean {
    const { batch, words } = this.codes;
    if (!batch) return false;
    for (let w = 0; w < words; w++) if ((batch[i * words + w]! & batch[j * words + w]!) !== 0) return true;
    return false;
  }

  scan(row: Float32Array, i: number): RowResult {
    const { compound, moa, batch } = this.codes;
    const n = compound.length;
    const ci = compound[i]!;
    const mi = moa[i]!;
    const single = this.codes.words === 1;
    const bi = batch ? batch[i * this.codes.words]! : 0;
    let nsc = -1;
    let nscSim = -Infinity;
    let nscb = -1;
    let nscbSim = -Infinity;
    let eligible = false;
    let lo = Infinity;
    let hi = -Infinity;
    let np = 0;
    for (let j = 0; j < n; j++) {
      if (compound[j] === ci) continue;
      const s = row[j]!;
      if (s > nscSim || nsc < 0) {
        nscSim = s;
        nsc = j;
      }
      if (batch && (single ? (batch[j]! & bi) === 0 : !this.sharesBatch(i, j))) {
        if (s > nscbSim || nscb < 0) {
          nscbSim = s;
          nscb = j;
        }
        if (moa[j] === mi) eligible = true;
      }
      if (s < lo) lo = s;
      if (s > hi) hi = s;
      if (moa[j] === mi) this.positives[np++] = s;
    }
    const averagePrecision = np === 0 ? null : this.averagePrecision(row, i, np, lo, hi);
    return { nsc, nscSimilarity: nscSim, nscb, nscbSimilarity: nscbSim, nscbEligible: eligible, averagePrecision };
  }

  /**
   * AP = mean over positives (descending) of k / (k + negatives ranked above the k-th positive).
   * A negative with the same similarity as a positive ranks below it.
   */
  private averagePrecision(row: Float32Array, i: number, np: number, lo: number, hi: number): number {
    const { compound, moa } = this.codes;
    const n = compound.length;
    const ci = compound[i]!;
    const mi = moa[i]!;
    const scale = hi > lo ? (BUCKETS - 1) / (hi - lo) : 0;
    const bucket = (s: number): number => Math.floor((s - lo) * scale);
    const positives = this.positives.subarray(0, np).sort(); // ascending
    for (let k = 0; k < np; k++) this.hasPositive[bucket(positives[k]!)] = 1;
    let nt = 0;
    for (let j = 0; j < n; j++) {
      if (compound[j] === ci || moa[j] === mi) continue;
      const s = row[j]!;
      const b = bucket(s);
      this.negatives[b]!++;
      if (this.hasPositive[b]) this.ties[nt++] = s;
    }
    const ties = this.ties.subarray(0, nt).sort(); // ascending
    let sum = 0;
    let b = BUCKETS - 1;
    let negativesAbove = 0; // negatives in buckets above b
    let tiesAboveBucket = 0; // tie-candidates in buckets above b
    let tiesAbove = 0; // tie-candidates with similarity > current positive
    for (let k = 1; k <= np; k++) {
      const p = positives[np - k]!;
      const bp = bucket(p);
      for (; b > bp; b--) negativesAbove += this.negatives[b]!;
      while (tiesAboveBucket < nt && bucket(ties[nt - 1 - tiesAboveBucket]!) > bp) tiesAboveBucket++;
      while (tiesAbove < nt && ties[nt - 1 - tiesAbove]! > p) tiesAbove++;
      sum += k / (k + negativesAbove + tiesAbove - tiesAboveBucket);
    }
    this.negatives.fill(0);
    for (let k = 0; k < np; k++) this.hasPositive[bucket(positives[k]!)] = 0;
    return sum / np;
  }
}

/** The same AP by definition (sort everything), for tests and small permutation runs. */
export function averagePrecisionOf(similarities: ArrayLike<number>, positive: ArrayLike<boolean>, candidate: ArrayLike<boolean>): number | null {
  const items: Array<[number, boolean]> = [];
  for (let j = 0; j < similarities.length; j++) if (candidate[j]) items.push([similarities[j]!, positive[j]!]);
  items.sort((a, b) => b[0] - a[0] || Number(b[1]) - Number(a[1]));
  let hits = 0;
  let sum = 0;
  items.forEach(([, pos], rank) => {
    if (pos) sum += ++hits / (rank + 1);
  });
  return hits === 0 ? null : sum / hits;
}
