import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { averagePrecisionOf, evaluate, evaluateNsc, PER_MOA_COLUMNS, RowScanner } from '../../src/evaluate/index.js';
import { Rng } from '../../src/synth/random.js';
import { readProfiles, readTable, type ProfileTable } from '../../src/table/index.js';
import { tempDir } from '../helpers.js';

type Row = [compound: string, concentration: number, moa: string | null, batch: string, features: number[]];

function table(rows: Row[]): ProfileTable {
  return {
    metadataColumns: ['Metadata_Compound', 'Metadata_Concentration', 'Metadata_MOA', 'Metadata_Batch'],
    metadata: rows.map(([c, k, m, b]) => ({ Metadata_Compound: c, Metadata_Concentration: k, Metadata_MOA: m, Metadata_Batch: b })),
    featureColumns: ['x', 'y', 'z'],
    features: rows.map(([, , , , f]) => Float32Array.from(f)),
  };
}

/**
 * A and B (MOA X) share week W1; C (X) is in W2; D and E (Y) in W1 and W2. A's nearest other
 * compound is B (same week): NSC right via B; NSCB must skip B and D... A's nearest other-week
 * treatment is E (Y): wrong. C's nearest is A (X, other week): right under both.
 */
const toy: Row[] = [
  ['A', 1, 'X', 'W1', [1, 0, 0]],
  ['B', 1, 'X', 'W1', [0.95, 0.1, 0]],
  ['C', 1, 'X', 'W2', [0.5, 0, 0.8]],
  ['D', 1, 'Y', 'W1', [0, 1, 0]],
  ['E', 1, 'Y', 'W2', [0.9, 0.2, 0.1]],
  ['F', 1, 'Z', 'W1', [0, 0, 1]],
];

test('NSCB excludes neighbours of the same batch; eligibility is having a same-MOA treatment of another compound and batch', async () => {
  const r = await evaluateNsc(table(toy), { permutations: 0 });
  const a = r.neighbors[0]!;
  assert.equal(a.neighborCompound, 'B');
  assert.equal(a.correct, true);
  assert.equal(a.nscb?.compound, 'E');
  assert.equal(a.nscb?.correct, false);
  assert.equal(a.nscbEligible, true, 'C is X in W2');
  const f = r.neighbors.find((n) => n.compound === 'F')!;
  assert.equal(f.nscbEligible, false, 'no other Z');
  assert.equal(f.averagePrecision, null);
  const eligible = r.neighbors.filter((n) => n.nscbEligible);
  assert.deepEqual(r.nscb!.eligible, { accuracy: eligible.filter((n) => n.nscb?.correct).length / eligible.length, correct: eligible.filter((n) => n.nscb?.correct).length, total: eligible.length });
  assert.equal(r.nscb!.total, 6);
  assert.ok(r.nscb!.correct <= r.nscb!.eligible.total);
  const noBatch = table(toy);
  noBatch.metadataColumns = noBatch.metadataColumns.filter((c) => c !== 'Metadata_Batch');
  const plain = await evaluateNsc(noBatch, { permutations: 0 });
  assert.equal(plain.nscb, null);
  assert.deepEqual(plain.nsc, r.nsc);
});

test('a treatment spanning batches (W1|W2) has no NSCB neighbour in either', async () => {
  const rows = toy.map((r): Row => (r[0] === 'C' ? [r[0], r[1], r[2], 'W1|W2', r[4]] : r));
  const r = await evaluateNsc(table(rows), { permutations: 0 });
  const c = r.neighbors.find((n) => n.compound === 'C')!;
  assert.equal(c.nscb, null, 'every other treatment is in W1 or W2');
  assert.equal(r.neighbors[0]!.nscbEligible, false, 'C shares W1 with A');
});

/** Random profiles with few distinct values, so similarities tie often. */
function randomTreatments(n: number, p: number, seed: number, { levels = 3, moas = 4 } = {}): ProfileTable {
  const rng = new Rng(seed);
  const rows: Row[] = Array.from({ length: n }, (_, i) => {
    const compound = Math.floor(i / 2);
    return [`c${compound}`, i % 2, `m${compound % moas}`, `W${compound % 3}`, Array.from({ length: p }, () => Math.floor(rng.next() * levels) - 1)];
  });
  const t = table(rows);
  t.featureColumns = Array.from({ length: p }, (_, j) => `f${j}`);
  return t;
}

test('NSCB is n/a, with the reason, when every treatment spans all batches (the demo screen\'s layout); not a zero', async () => {
  const spanning = toy.map(([c, k, m, , f]): Row => [c, k, m, 'W2|W1', f]);
  const r = await evaluateNsc(table(spanning), { permutations: 0 });
  assert.ok(r.neighbors.every((nb) => nb.nscb === null));
  assert.deepEqual([r.nscb?.eligible.correct, r.nscb?.eligible.total], [0, 0]);
  assert.equal(r.nscb?.note, 'every treatment spans all 2 batches (W1, W2), so none has a neighbour in another batch');
  // batches that exist but every treatment shares one with every other: a different reason
  const shared = toy.map(([c, k, m, , f], i): Row => [c, k, m, i === 0 ? 'W1' : 'W1|W2', f]);
  assert.match((await evaluateNsc(table(shared), { permutations: 0 })).nscb?.note ?? '', /shares a batch with every other one/);
  // the usual case has no note
  assert.equal((await evaluateNsc(table(toy), { permutations: 0 })).nscb?.note, undefined);
  const out = tempDir();
  await evaluate({ profiles: table(spanning), out, permutations: 0 });
  assert.match(JSON.parse(readFileSync(`${out}/metrics.json`, 'utf8')).nscb.note, /spans all 2 batches/);
});

test('the O(n) bucketed AP equals AP by sorting, ties included', () => {
  const rng = new Rng(11);
  for (const [n, distinct] of [[50, 4], [400, 1000], [300, 1]] as const) {
    const compound = Int32Array.from({ length: n }, (_, i) => i >> 1);
    const moa = Int32Array.from(compound, (c) => c % 5);
    const scanner = new RowScanner({ compound, moa, batch: null, words: 1 });
    for (let i = 0; i < 20; i++) {
      const row = Float32Array.from({ length: n }, () => Math.floor(rng.next() * distinct) / distinct);
      const expected = averagePrecisionOf(row, Array.from(moa, (m) => m === moa[i]), Array.from(compound, (c) => c !== compound[i]));
      const got = scanner.scan(row, i).averagePrecision;
      assert.ok(expected !== null && got !== null && Math.abs(got - expected) < 1e-12, `n=${n} distinct=${distinct} row ${i}: ${got} vs ${expected}`);
    }
  }
});

test('blocked evaluation gives the same answer whatever the block size', async () => {
  // continuous values: with exact ties, float32 sums in another order could break them differently
  const t = randomTreatments(61, 7, 3, { levels: 1 << 20 });
  const strip = (r: Awaited<ReturnType<typeof evaluateNsc>>) => ({ nsc: r.nsc, nscb: r.nscb, map: r.map.meanAveragePrecision, n: r.neighbors.map((x) => [x.neighborCompound, x.nscb?.compound]) });
  const whole = strip(await evaluateNsc(t, { permutations: 0, blockRows: 61 }));
  for (const blockRows of [1, 7, 16]) assert.deepEqual(strip(await evaluateNsc(t, { permutations: 0, blockRows })), whole, `blockRows ${blockRows}`);
});

test('Pearson ignores a constant added to a profile, cosine does not', async () => {
  const t = randomTreatments(40, 6, 9, { levels: 1000 });
  const shifted = { ...t, features: t.features.map((f, i) => (i === 0 ? f.map((v) => v + 50) : f)) };
  const nn = async (x: ProfileTable, similarity: 'cosine' | 'pearson') => (await evaluateNsc(x, { similarity, permutations: 0 })).neighbors[0]!.neighborCompound;
  assert.equal(await nn(shifted, 'pearson'), await nn(t, 'pearson'));
  const sims = (await evaluateNsc(shifted, { permutations: 0 })).neighbors[0]!.similarity;
  assert.notEqual(sims, (await evaluateNsc(t, { permutations: 0 })).neighbors[0]!.similarity);
});

test('mAP permutation p-value: tiny when profiles carry the MOA, not when they do not; seeded', async () => {
  const rng = new Rng(5);
  const signal = randomTreatments(48, 10, 1, { levels: 1000 });
  signal.features = signal.features.map((f, i) => f.map((_, j) => (Number(String(signal.metadata[i]!.Metadata_MOA).slice(1)) === j % 4 ? 3 : 0) + rng.next()));
  const strong = await evaluateNsc(signal, { permutations: 200, seed: 3 });
  assert.equal(strong.map.pValue, 1 / 201);
  assert.equal(strong.map.permutations, 200);
  const noise = randomTreatments(48, 10, 2, { levels: 1000 });
  const weak = await evaluateNsc(noise, { permutations: 200, seed: 3 });
  assert.ok(weak.map.pValue! > 0.05, `p = ${weak.map.pValue}`);
  assert.deepEqual((await evaluateNsc(noise, { permutations: 200, seed: 3 })).map, weak.map);
  const skipped = await evaluateNsc(noise, { permutations: 200, permutationBudget: 10 });
  assert.equal(skipped.map.pValue, null);
  assert.match(skipped.map.note ?? '', /exceeds the budget/);
});

test('evaluate writes metrics.json (report keys), per_moa.csv, neighbors.csv NSCB columns and treatment_profiles.parquet', async () => {
  const out = tempDir();
  const warnings: string[] = [];
  const fields = table(toy.flatMap((r): Row[] => [r, [r[0], r[1], r[2], r[3], r[4].map((v) => v + 0.5)]]));
  fields.featureColumns.push('broken');
  fields.features = fields.features.map((f, i) => Float32Array.of(...f, i === 3 ? Number.NaN : 1));
  const r = await evaluate({ profiles: fields, out, permutations: 10, warn: (m) => warnings.push(m) });
  assert.deepEqual(warnings, ['1 feature(s) have missing or non-finite values and were dropped before evaluation: broken']);
  const metrics = JSON.parse(readFileSync(r.files.metrics, 'utf8'));
  assert.deepEqual(Object.keys(metrics), ['nsc', 'nscb', 'map', 'per_moa', 'similarity', 'control_compound', 'excluded']);
  assert.deepEqual(Object.keys(metrics.nscb), ['accuracy', 'correct', 'total', 'eligible']);
  assert.deepEqual(Object.keys(metrics.map).slice(0, 3), ['mean_average_precision', 'p_value', 'permutations']);
  assert.deepEqual(Object.keys(metrics.per_moa[0]), ['moa', 'correct', 'total', 'accuracy']);
  const perMoa = await readTable(r.files.perMoa);
  assert.deepEqual(perMoa.columns, [...PER_MOA_COLUMNS]);
  assert.equal(perMoa.rows.reduce((s, row) => s + Number(row.Total), 0), 6);
  const neighbors = await readTable(r.files.neighbors);
  for (const c of ['Neighbor_Batch', 'NSCB_Neighbor_Compound', 'NSCB_Neighbor_MOA', 'NSCB_Correct']) assert.ok(neighbors.columns.includes(c), c);
  assert.equal(neighbors.rows[0]!.NSCB_Neighbor_Compound, r.result.neighbors[0]!.nscb?.compound);
  const treatments = await readProfiles(r.files.treatmentProfiles!);
  assert.equal(treatments.features.length, 6);
  assert.ok(treatments.metadataColumns.every((c) => c.startsWith('Metadata_')));
  assert.deepEqual(treatments.featureColumns, ['x', 'y', 'z']);
});
