/**
 * pycytominer's `feature_select`: drop features by variance (near-constant), by correlation (one
 * of each highly correlated pair, pycytominer's rule) and by missing values. Each returns the
 * names it drops; `selectFeatures` applies them in the order given.
 */
import { invalidParameter } from '../errors.js';
import type { ProfileTable } from '../table/types.js';

export type FeatureSelection = 'variance' | 'correlation' | 'na';
export const FEATURE_SELECTIONS: readonly FeatureSelection[] = ['variance', 'correlation', 'na'];

export interface FeatureSelectOptions {
  operations: FeatureSelection[];
  /** |Pearson r| above which one feature of a pair is dropped (pycytominer default 0.9). */
  corrThreshold?: number;
  /** variance: drop if (2nd most common / most common value count) < freqCut ... (pycytominer 0.05) */
  freqCut?: number;
  /** ... or if distinct values / rows < uniqueCut (pycytominer 0.01). */
  uniqueCut?: number;
  /** na: drop features whose fraction of missing values exceeds this (default 0: any NaN). */
  naCutoff?: number;
}

export function parseFeatureSelections(list: string | string[]): FeatureSelection[] {
  const items = (Array.isArray(list) ? list : list.split(',')).map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    if (!FEATURE_SELECTIONS.includes(item as FeatureSelection)) throw invalidParameter('feature selection', `a comma-separated list of ${FEATURE_SELECTIONS.join(', ')}`, item);
  }
  return items as FeatureSelection[];
}

/** Features with more than `cutoff` (fraction) NaN values. */
export function naFeatures(table: ProfileTable, cutoff = 0): string[] {
  const n = table.features.length;
  return table.featureColumns.filter((_, j) => {
    let missing = 0;
    for (const f of table.features) if (!Number.isFinite(f[j]!)) missing++;
    return missing > 0 && missing / Math.max(n, 1) > cutoff;
  });
}

/** pycytominer's variance_threshold: low second-to-first frequency ratio or few distinct values. */
export function lowVarianceFeatures(table: ProfileTable, freqCut = 0.05, uniqueCut = 0.01): string[] {
  const n = table.features.length;
  return table.featureColumns.filter((_, j) => {
    const counts = new Map<number, number>();
    for (const f of table.features) counts.set(f[j]!, (counts.get(f[j]!) ?? 0) + 1);
    if (counts.size / n < uniqueCut) return true;
    if (counts.size < 2) return false; // pycytominer: one value -> ratio not computable, left to uniqueCut
    const sorted = [...counts.values()].sort((a, b) => b - a);
    return sorted[1]! / sorted[0]! < freqCut;
  });
}

/**
 * pycytominer's correlation_threshold: for every pair with |r| > threshold, drop the member whose
 * summed |r| with all features is larger (ties: the later column).
 */
export function correlatedFeatures(table: ProfileTable, threshold = 0.9): string[] {
  const p = table.featureColumns.length;
  const n = table.features.length;
  // columns centred and scaled to unit norm, feature-major
  const z = new Float64Array(p * n);
  for (let j = 0; j < p; j++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += table.features[i]![j]! / n;
    let ss = 0;
    for (let i = 0; i < n; i++) {
      const d = table.features[i]![j]! - mean;
      z[j * n + i] = d;
      ss += d * d;
    }
    const s = Math.sqrt(ss);
    for (let i = 0; i < n; i++) z[j * n + i] = s > 0 ? z[j * n + i]! / s : 0;
  }
  const corr = new Float64Array(p * p);
  for (let a = 0; a < p; a++) {
    corr[a * p + a] = 1;
    for (let b = 0; b < a; b++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += z[a * n + i]! * z[b * n + i]!;
      corr[a * p + b] = corr[b * p + a] = Math.abs(s);
    }
  }
  const sums = new Float64Array(p);
  for (let a = 0; a < p; a++) for (let b = 0; b < p; b++) sums[a] += corr[a * p + b]!;
  const order = [...sums.keys()].sort((a, b) => sums[a]! - sums[b]! || a - b);
  const rank = new Int32Array(p);
  order.forEach((j, k) => (rank[j] = k));
  const dropped = new Set<number>();
  for (let a = 0; a < p; a++) for (let b = 0; b < a; b++) if (corr[a * p + b]! > threshold) dropped.add(rank[a]! > rank[b]! ? a : b);
  return [...dropped].sort((a, b) => a - b).map((j) => table.featureColumns[j]!);
}

/** `table` without the feature columns `drop`. */
export function dropFeatures(table: ProfileTable, drop: readonly string[]): ProfileTable {
  if (drop.length === 0) return table;
  const gone = new Set(drop);
  const keep = table.featureColumns.map((c, j) => (gone.has(c) ? -1 : j)).filter((j) => j >= 0);
  return {
    ...table,
    featureColumns: keep.map((j) => table.featureColumns[j]!),
    features: table.features.map((f) => Float32Array.from(keep, (j) => f[j]!)),
  };
}

/** Applies the operations in order; returns the table and what each dropped. */
export function selectFeatures(table: ProfileTable, options: FeatureSelectOptions): { table: ProfileTable; dropped: Record<FeatureSelection, string[]> } {
  const dropped: Record<FeatureSelection, string[]> = { variance: [], correlation: [], na: [] };
  let out = table;
  for (const op of options.operations) {
    const names =
      op === 'na' ? naFeatures(out, options.naCutoff ?? 0) : op === 'variance' ? lowVarianceFeatures(out, options.freqCut, options.uniqueCut) : correlatedFeatures(out, options.corrThreshold ?? 0.9);
    dropped[op].push(...names);
    out = dropFeatures(out, names);
  }
  return { table: out, dropped };
}
