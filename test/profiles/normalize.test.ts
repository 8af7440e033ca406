import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { MorphoprofError } from '../../src/errors.js';
import { correlatedFeatures, fitSphere, lowVarianceFeatures, naFeatures, normalizeProfiles, parseNormalize, selectFeatures } from '../../src/profiles/index.js';
import type { ProfileTable } from '../../src/table/index.js';
import { Rng } from '../../src/synth/random.js';

type WellRow = [plate: string, compound: string, features: number[]];

function wells(rows: WellRow[], featureColumns = ['a', 'b']): ProfileTable {
  return {
    metadataColumns: ['Metadata_Plate', 'Metadata_Well', 'Metadata_Compound'],
    metadata: rows.map(([plate, compound], i) => ({ Metadata_Plate: plate, Metadata_Well: `B${String(i + 2).padStart(2, '0')}`, Metadata_Compound: compound })),
    featureColumns,
    features: rows.map(([, , f]) => Float32Array.from(f)),
  };
}

/** Plate P1: DMSO a = 1, 3 (mean 2, sd 1); P2: DMSO a = 10, 14 (mean 12, sd 2). */
const plates: WellRow[] = [
  ['P1', 'DMSO', [1, 5]],
  ['P1', 'DMSO', [3, 7]],
  ['P1', 'taxol', [4, 9]],
  ['P2', 'DMSO', [10, 0]],
  ['P2', 'DMSO', [14, 4]],
  ['P2', 'taxol', [18, 6]],
];

test('standardize per plate against the plate\'s control wells', () => {
  const out = normalizeProfiles(wells(plates), { method: 'standardize' });
  assert.deepEqual(out.features.map((f) => [...f]), [
    [-1, -1],
    [1, 1],
    [2, 3],
    [-1, -1],
    [1, 1],
    [3, 2],
  ]);
});

test('robustize = (x - median) / (1.4826 MAD); fit on all wells over the screen', () => {
  const t = wells([
    ['P1', 'DMSO', [1]],
    ['P1', 'x', [2]],
    ['P1', 'x', [4]],
    ['P2', 'x', [10]],
  ], ['a']);
  // median 3, |dev| = 2, 1, 1, 7 -> MAD 1.5
  const out = normalizeProfiles(t, { method: 'mad_robustize', fit: 'all', by: 'screen' });
  const scale = 1.4826 * 1.5;
  assert.deepEqual(out.features.map((f) => f[0]), [(1 - 3) / scale, (2 - 3) / scale, (4 - 3) / scale, (10 - 3) / scale].map(Math.fround));
});

test('a plate without control wells is dropped with a warning naming it; no controls anywhere is an error', () => {
  const warnings: string[] = [];
  const out = normalizeProfiles(wells([...plates, ['P3', 'taxol', [1, 1]]]), { method: 'standardize', warn: (m) => warnings.push(m) });
  assert.equal(out.features.length, 6);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /1 plate\(s\) have no DMSO wells .*: P3$/);
  assert.throws(
    () => normalizeProfiles(wells(plates), { method: 'standardize', controlCompound: 'vehicle' }),
    (e: unknown) => e instanceof MorphoprofError && e.code === 'NOTHING_VALID' && /vehicle/.test(e.message) && /--fit all/.test(e.hint ?? ''),
  );
});

test('a feature with zero control spread on a plate is dropped with a warning naming it', () => {
  const rows = plates.map(([p, c, f], i): WellRow => [p, c, [...f, p === 'P1' && c === 'DMSO' ? 1 : i]]);
  const warnings: string[] = [];
  const out = normalizeProfiles(wells(rows, ['a', 'b', 'count']), { method: 'standardize', warn: (m) => warnings.push(m) });
  assert.deepEqual(out.featureColumns, ['a', 'b']);
  assert.match(warnings.join('\n'), /zero spread .* count$/m);
});

test('normalize rejects an unknown method listing the allowed ones, and per-plate fitting without plates', () => {
  assert.throws(() => normalizeProfiles(wells(plates), { method: 'zscore' as 'standardize' }), (e: unknown) => e instanceof MorphoprofError && /standardize, robustize, mad_robustize, sphere, none/.test(e.message));
  const noPlate = wells(plates);
  noPlate.metadataColumns = ['Metadata_Well', 'Metadata_Compound'];
  assert.throws(() => normalizeProfiles(noPlate, { method: 'standardize' }), (e: unknown) => e instanceof MorphoprofError && e.code === 'MISSING_COLUMN' && e.message.includes('Metadata_Plate'));
});

test('the tvn preset is standardize on the screen\'s controls, then sphere with lambda 1; --by is its own; it goes alone', () => {
  const t = randomWells(60, 3, 5);
  // two plates with a shift, which per-plate standardization would remove and the screen-wide one keeps
  t.metadata.forEach((m, i) => {
    m.Metadata_Plate = i < 30 ? 'P1' : 'P2';
    if (i >= 30) t.features[i] = t.features[i]!.map((v) => v + 2);
  });
  const tvn = normalizeProfiles(t, { method: 'tvn', by: 'plate' });
  const byHand = normalizeProfiles(normalizeProfiles(t, { method: 'standardize', by: 'screen' }), { method: 'sphere', sphereLambda: 1 });
  const perPlate = normalizeProfiles(t, { method: ['standardize', 'sphere'], by: 'plate', sphereLambda: 1 });
  tvn.features.forEach((row, i) => row.forEach((v, j) => assert.ok(Math.abs(v - byHand.features[i]![j]!) < 1e-4, `row ${i} feature ${j}: ${v} vs ${byHand.features[i]![j]}`)));
  assert.ok(tvn.features.some((row, i) => row.some((v, j) => Math.abs(v - perPlate.features[i]![j]!) > 0.1)), 'the preset does not fit per plate');
  const lighter = normalizeProfiles(t, { method: 'tvn', sphereLambda: 1e-3 });
  assert.ok(lighter.features.some((row, i) => row.some((v, j) => Math.abs(v - tvn.features[i]![j]!) > 1e-3)), 'an explicit lambda wins over the preset\'s');
  assert.equal(parseNormalize('tvn'), 'tvn');
  assert.deepEqual(parseNormalize('standardize, sphere'), ['standardize', 'sphere']);
  assert.throws(() => parseNormalize('tvn,sphere'), (e: unknown) => e instanceof MorphoprofError && /tvn alone/.test(e.message));
});

function randomWells(n: number, p: number, seed: number): ProfileTable {
  const rng = new Rng(seed);
  // correlated features: x = A z, so whitening has work to do
  const mix = Array.from({ length: p * p }, () => rng.normal());
  return wells(
    Array.from({ length: n }, (_, i): WellRow => {
      const z = Array.from({ length: p }, () => rng.normal());
      return ['P1', i % 2 ? 'DMSO' : 'x', Array.from({ length: p }, (_, a) => z.reduce((s, v, b) => s + mix[a * p + b]! * v, 0) + 3)];
    }),
    Array.from({ length: p }, (_, j) => `f${j}`),
  );
}

function covariance(rows: Float32Array[]): number[][] {
  const p = rows[0]!.length;
  const mean = Array.from({ length: p }, (_, j) => rows.reduce((s, r) => s + r[j]!, 0) / rows.length);
  return Array.from({ length: p }, (_, a) => Array.from({ length: p }, (_, b) => rows.reduce((s, r) => s + (r[a]! - mean[a]!) * (r[b]! - mean[b]!), 0) / (rows.length - 1)));
}

test('sphere: the control wells come out with identity covariance (more wells than features, tiny lambda)', () => {
  const t = randomWells(200, 4, 3);
  const out = normalizeProfiles(t, { method: 'sphere', sphereLambda: 1e-9 });
  const controls = out.features.filter((_, i) => out.metadata[i]!.Metadata_Compound === 'DMSO');
  covariance(controls).forEach((row, a) => row.forEach((v, b) => assert.ok(Math.abs(v - (a === b ? 1 : 0)) < 1e-3, `cov[${a}][${b}] = ${v}`)));
});

test('sphere with fewer control wells than features (Gram path) equals the textbook ZCA matrix', () => {
  const t = randomWells(10, 8, 5);
  const fit = [...t.features.keys()].filter((i) => t.metadata[i]!.Metadata_Compound === 'DMSO');
  const lambda = 0.1;
  const { whiten } = fitSphere(t, fit, lambda);
  const cov = new Matrix(covariance(fit.map((i) => t.features[i]!)));
  const eig = new EigenvalueDecomposition(cov, { assumeSymmetric: true });
  const values = eig.realEigenvalues.map((v) => Math.max(v, 0));
  const eps = (lambda * values.reduce((a, b) => a + b, 0)) / 8;
  const U = eig.eigenvectorMatrix;
  const W = U.mmul(Matrix.diag(values.map((v) => 1 / Math.sqrt(v + eps)))).mmul(U.transpose());
  for (let a = 0; a < 8; a++) for (let b = 0; b < 8; b++) assert.ok(Math.abs(whiten[a * 8 + b]! - W.get(a, b)) < 1e-6 * Math.abs(W.get(a, a)), `W[${a}][${b}]`);
});

test("feature selection: pycytominer's correlation example drops y; near-constant and NaN columns go", () => {
  const cols = { x: [1, 3, 8, 5, 2, 2], y: [1, 2, 8, 5, 2, 1], z: [9, 3, 8, 9, 2, 9], zz: [0, -3, 8, 9, 6, 9] };
  const t: ProfileTable = {
    metadataColumns: [],
    metadata: cols.x.map(() => ({})),
    featureColumns: Object.keys(cols),
    features: cols.x.map((_, i) => Float32Array.from(Object.values(cols), (c) => c[i]!)),
  };
  assert.deepEqual(correlatedFeatures(t, 0.9), ['y']);
  const n = 200;
  const v: ProfileTable = {
    metadataColumns: [],
    metadata: Array.from({ length: n }, () => ({})),
    featureColumns: ['constant', 'rare', 'fine', 'gap'],
    features: Array.from({ length: n }, (_, i) => Float32Array.of(7, i < 3 ? i : 0, i, i === 5 ? Number.NaN : i)),
  };
  assert.deepEqual(lowVarianceFeatures(v), ['constant', 'rare']);
  assert.deepEqual(naFeatures(v), ['gap']);
  const { table, dropped } = selectFeatures(v, { operations: ['na', 'variance'] });
  assert.deepEqual(table.featureColumns, ['fine']);
  assert.deepEqual(dropped, { na: ['gap'], variance: ['constant', 'rare'], correlation: [] });
});
