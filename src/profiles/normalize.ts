/**
 * pycytominer's `normalize` on an in-memory profile table (well level: bounded by the number of
 * wells, not fields). Each method is a small fit/transform pair:
 * - `standardize`: (x - mean) / standard deviation (population, as scikit-learn's StandardScaler);
 * - `robustize`: (x - median) / (MAD x 1.4826), i.e. pycytominer's `mad_robustize` (pycytominer's
 *   own `robustize` divides by the IQR instead; `mad_robustize` is accepted as a synonym here);
 * - `sphere`: ZCA whitening (typical variation normalization): centre on the fit rows, rotate to
 *   their principal components, scale each to unit variance, rotate back, with `lambda` x the mean
 *   eigenvalue added to every eigenvalue as regularization.
 * A feature with zero spread in the fit rows of any plate (or of the screen) cannot be scaled
 * there: it is DROPPED with a warning naming it (scikit-learn would keep it unscaled, which leaves
 * it in raw units beside plates where it was divided by a tiny spread).
 * Fit rows are the control wells (`fit: 'controls'`) or all wells; per plate or over the screen.
 *
 * Presets name a recipe that is known to work (docs/baseline.md has the sweeps behind them):
 * - `tvn`: standardize every feature on the control wells of the whole screen, then sphere on the
 *   same wells with lambda 1 (a moderate regularization; lambda is in units of the mean eigenvalue,
 *   which standardization makes 1). On BBBC021's CellProfiler means: 96/103 NSC, 70/92 NSCB.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { invalidParameter, MorphoprofError } from '../errors.js';
import type { ProfileTable } from '../table/types.js';
import { groupRows, requireMetadataColumns } from './aggregate.js';
import { defaultWarn } from './annotate.js';
import { dropFeatures } from './select.js';

export type NormalizeMethod = 'standardize' | 'robustize' | 'sphere' | 'none';
export type NormalizePreset = 'tvn';
export const NORMALIZE_METHODS: readonly string[] = ['standardize', 'robustize', 'mad_robustize', 'sphere', 'none'];

/** A named recipe: its steps and the scope and regularization it fixes. */
export interface NormalizeRecipe {
  steps: NormalizeMethod[];
  by: NormalizeBy;
  sphereLambda: number;
}

export const NORMALIZE_PRESETS: Readonly<Record<NormalizePreset, NormalizeRecipe>> = Object.freeze({
  tvn: { steps: ['standardize', 'sphere'], by: 'screen', sphereLambda: 1 },
});

/** The preset `method` names, or null when it is a method or a list of methods. */
export function normalizePreset(method: unknown): NormalizeRecipe | null {
  const name = Array.isArray(method) && method.length === 1 ? method[0] : method;
  return typeof name === 'string' && Object.hasOwn(NORMALIZE_PRESETS, name) ? NORMALIZE_PRESETS[name as NormalizePreset] : null;
}
export type NormalizeFit = 'controls' | 'all';
export type NormalizeBy = 'plate' | 'screen';

export interface NormalizeOptions {
  /**
   * One method or several applied in order, e.g. `['standardize', 'sphere']`, or a preset (`tvn`),
   * which fixes `by` and the default `sphereLambda` (an explicit `sphereLambda` still wins).
   */
  method: NormalizeMethod | NormalizePreset | 'mad_robustize' | Array<NormalizeMethod | 'mad_robustize'>;
  /** Rows the parameters are fitted on (default `controls`). */
  fit?: NormalizeFit;
  /** Fit per plate (`Metadata_Plate`) or once over the screen (default `plate`; `sphere` always fits over the screen). */
  by?: NormalizeBy;
  /** Control compound (default `DMSO`). */
  controlCompound?: string;
  /** Sphering regularization, as a fraction of the mean eigenvalue (default 0.01). */
  sphereLambda?: number;
  warn?: (message: string) => void;
}

export const DEFAULT_SPHERE_LAMBDA = 0.01;

/** `--normalize` text: a preset name as it is, else the validated list of methods. */
export function parseNormalize(text: string): NormalizeOptions['method'] {
  return normalizePreset(text.trim()) ? (text.trim() as NormalizePreset) : normalizeSteps(text);
}

/** The method list, validated (`mad_robustize` -> `robustize`, `none` dropped, a preset expanded). */
export function normalizeSteps(method: NormalizeOptions['method'] | string): NormalizeMethod[] {
  const preset = normalizePreset(method);
  if (preset) return [...preset.steps];
  const list = Array.isArray(method) ? method : String(method).split(',').map((m) => m.trim());
  return list
    .map((m) => {
      if (Object.hasOwn(NORMALIZE_PRESETS, m)) throw invalidParameter('normalize method', `${m} alone (it is a preset; see --normalize ${m} in the README)`, list.join(','));
      if (!NORMALIZE_METHODS.includes(m)) throw invalidParameter('normalize method', `one of ${[...NORMALIZE_METHODS, ...Object.keys(NORMALIZE_PRESETS)].join(', ')}`, m);
      return (m === 'mad_robustize' ? 'robustize' : m) as NormalizeMethod;
    })
    .filter((m) => m !== 'none');
}

/** Per feature: finite values of `rows`. */
function columnValues(table: ProfileTable, rows: number[], j: number, into: Float64Array): Float64Array {
  let k = 0;
  for (const r of rows) {
    const v = table.features[r]![j]!;
    if (!Number.isNaN(v)) into[k++] = v;
  }
  return into.subarray(0, k);
}

function median(sorted: Float64Array): number {
  const k = sorted.length;
  if (k === 0) return Number.NaN;
  return k % 2 ? sorted[(k - 1) / 2]! : (sorted[k / 2 - 1]! + sorted[k / 2]!) / 2;
}

/** Centre and scale of each feature over `fit` rows. */
function fitScaler(table: ProfileTable, fit: number[], method: 'standardize' | 'robustize'): { center: Float64Array; scale: Float64Array } {
  const p = table.featureColumns.length;
  const center = new Float64Array(p);
  const scale = new Float64Array(p);
  const buffer = new Float64Array(fit.length);
  const deviations = new Float64Array(fit.length);
  for (let j = 0; j < p; j++) {
    const v = columnValues(table, fit, j, buffer);
    let c: number;
    let s: number;
    if (method === 'standardize') {
      c = v.reduce((a, b) => a + b, 0) / v.length;
      s = Math.sqrt(v.reduce((a, b) => a + (b - c) * (b - c), 0) / v.length);
    } else {
      v.sort();
      c = median(v);
      for (let i = 0; i < v.length; i++) deviations[i] = Math.abs(v[i]! - c);
      s = 1.4826 * median(deviations.subarray(0, v.length).sort());
    }
    center[j] = c;
    scale[j] = s > 0 && Number.isFinite(s) ? s : 0;
  }
  return { center, scale };
}

/**
 * ZCA whitening matrix W (p x p, row-major) and centre, fitted on `fit` rows. Eigenvalues come from
 * the p x p covariance, or from the n x n Gram matrix when there are fewer fit rows than features
 * (the same non-zero spectrum; the remaining directions get the regularized scale 1/sqrt(eps)).
 */
export function fitSphere(table: ProfileTable, fit: number[], lambda: number): { center: Float64Array; whiten: Float64Array } {
  const p = table.featureColumns.length;
  const n = fit.length;
  if (n < 2) throw new MorphoprofError('NOTHING_VALID', `Sphering needs at least 2 fit rows; found ${n}`, 'fit on more wells (--fit all) or give a control compound present in the table');
  const center = new Float64Array(p);
  for (const r of fit) for (let j = 0; j < p; j++) center[j] += table.features[r]![j]! / n;
  const X = new Matrix(n, p);
  fit.forEach((r, i) => {
    for (let j = 0; j < p; j++) X.set(i, j, table.features[r]![j]! - center[j]!);
  });
  let values: number[];
  let vectors: Matrix; // p x k, orthonormal columns
  if (n <= p) {
    const gram = X.mmul(X.transpose()).div(n - 1);
    const eig = new EigenvalueDecomposition(gram, { assumeSymmetric: true });
    const keep = eig.realEigenvalues.map((v, i) => [v, i] as const).filter(([v]) => v > 1e-9 * Math.max(1e-300, ...eig.realEigenvalues));
    values = keep.map(([v]) => v);
    const V = eig.eigenvectorMatrix;
    vectors = new Matrix(p, keep.length);
    keep.forEach(([v, i], k) => {
      const u = X.transpose().mmul(V.getColumnVector(i)).div(Math.sqrt((n - 1) * v));
      vectors.setColumn(k, u.getColumn(0));
    });
  } else {
    const cov = X.transpose().mmul(X).div(n - 1);
    const eig = new EigenvalueDecomposition(cov, { assumeSymmetric: true });
    values = eig.realEigenvalues.map((v) => Math.max(v, 0));
    vectors = eig.eigenvectorMatrix;
  }
  const trace = values.reduce((a, b) => a + b, 0);
  const eps = Math.max(lambda * (trace / p), 1e-12);
  // W = I/sqrt(eps) + U diag(1/sqrt(v+eps) - 1/sqrt(eps)) U^T  (U spans the fitted directions)
  const whiten = new Float64Array(p * p);
  for (let j = 0; j < p; j++) whiten[j * p + j] = 1 / Math.sqrt(eps);
  values.forEach((v, k) => {
    const w = 1 / Math.sqrt(v + eps) - 1 / Math.sqrt(eps);
    const u = vectors.getColumn(k);
    for (let a = 0; a < p; a++) {
      const ua = u[a]! * w;
      if (ua === 0) continue;
      for (let b = 0; b < p; b++) whiten[a * p + b] += ua * u[b]!;
    }
  });
  return { center, whiten };
}

function applySphere(table: ProfileTable, rows: number[], center: Float64Array, whiten: Float64Array): void {
  const p = center.length;
  const x = new Float64Array(p);
  for (const r of rows) {
    const f = table.features[r]!;
    for (let j = 0; j < p; j++) x[j] = f[j]! - center[j]!;
    for (let a = 0; a < p; a++) {
      let s = 0;
      const base = a * p;
      for (let b = 0; b < p; b++) s += whiten[base + b]! * x[b]!;
      f[a] = s;
    }
  }
}

/** Rows of `table` that are control wells. */
function controlRows(table: ProfileTable, rows: number[], controlCompound: string): number[] {
  return rows.filter((r) => String(table.metadata[r]!.Metadata_Compound ?? '') === controlCompound);
}

/**
 * Normalizes a (well-level) profile table, returning a new table. Control-based fitting needs
 * `Metadata_Compound`; per-plate fitting needs `Metadata_Plate`. A plate without control wells
 * cannot be normalized against its controls: its wells are DROPPED with a warning naming the plate
 * (an error when no plate has controls).
 */
export function normalizeProfiles(table: ProfileTable, options: NormalizeOptions): ProfileTable {
  const steps = normalizeSteps(options.method);
  const preset = normalizePreset(options.method);
  const fitMode = options.fit ?? 'controls';
  if (fitMode !== 'controls' && fitMode !== 'all') throw invalidParameter('fit', 'controls or all', fitMode);
  const by = preset?.by ?? options.by ?? 'plate';
  if (by !== 'plate' && by !== 'screen') throw invalidParameter('by', 'plate or screen', by);
  const lambda = options.sphereLambda ?? preset?.sphereLambda ?? DEFAULT_SPHERE_LAMBDA;
  if (!(lambda >= 0)) throw invalidParameter('sphere lambda', 'a number >= 0', lambda);
  const controlCompound = options.controlCompound ?? 'DMSO';
  const warn = options.warn ?? defaultWarn;
  if (steps.length === 0) return table;
  if (fitMode === 'controls') requireMetadataColumns(table, ['Metadata_Compound'], 'The profile table', `fitting on controls needs each row's compound: annotate with --metadata, or use --fit all`);
  const perPlate = by === 'plate' && steps.some((s) => s !== 'sphere');
  if (perPlate) requireMetadataColumns(table, ['Metadata_Plate'], 'The profile table', 'use --by screen, or add the plate of each row');

  // Plates without controls are dropped up front, so every step sees the same rows.
  let rows = table.metadata.map((_, i) => i);
  if (fitMode === 'controls') {
    const plates = perPlate ? groupRows(table, ['Metadata_Plate']) : [rows];
    const without = plates.filter((g) => controlRows(table, g, controlCompound).length === 0);
    if (without.length === plates.length) {
      throw new MorphoprofError(
        'NOTHING_VALID',
        `No ${controlCompound} wells ${perPlate ? 'on any plate' : 'in the table'} to fit the normalization on`,
        `name the control compound with --controls, or fit on all wells with --fit all`,
      );
    }
    if (without.length > 0) {
      const names = without.map((g) => String(table.metadata[g[0]!]!.Metadata_Plate));
      warn(`${without.length} plate(s) have no ${controlCompound} wells and were dropped (cannot normalize against their controls): ${names.join(', ')}`);
      const dropped = new Set(without.flat());
      rows = rows.filter((r) => !dropped.has(r));
    }
  }
  let out: ProfileTable = {
    metadataColumns: [...table.metadataColumns],
    metadata: rows.map((r) => ({ ...table.metadata[r]! })),
    featureColumns: [...table.featureColumns],
    features: rows.map((r) => Float32Array.from(table.features[r]!)),
  };
  const all = out.metadata.map((_, i) => i);
  const fitOf = (g: number[]): number[] => (fitMode === 'controls' ? controlRows(out, g, controlCompound) : g);
  for (const step of steps) {
    if (step === 'sphere') {
      const { center, whiten } = fitSphere(out, fitOf(all), lambda);
      applySphere(out, all, center, whiten);
      continue;
    }
    const unscalable = new Set<number>();
    for (const group of perPlate ? groupRows(out, ['Metadata_Plate']) : [all]) {
      const { center, scale } = fitScaler(out, fitOf(group), step as 'standardize' | 'robustize');
      scale.forEach((s, j) => s === 0 && unscalable.add(j));
      for (const r of group) {
        const f = out.features[r]!;
        for (let j = 0; j < f.length; j++) f[j] = (f[j]! - center[j]!) / (scale[j] || 1);
      }
    }
    if (unscalable.size > 0) {
      const names = [...unscalable].sort((a, b) => a - b).map((j) => out.featureColumns[j]!);
      const where = perPlate ? 'on at least one plate' : 'over the screen';
      warn(`${names.length} feature(s) have zero spread in the ${fitMode === 'controls' ? `${controlCompound} wells` : 'wells'} ${where} and were dropped (${step} cannot scale them): ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', ...' : ''}`);
      out = dropFeatures(out, names);
    }
  }
  return out;
}
