import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { MorphoprofError } from '../../src/errors.js';
import { evaluate, evaluateNsc, NEIGHBOR_COLUMNS, writeEvaluation } from '../../src/evaluate/index.js';
import { readTable, type ProfileTable } from '../../src/table/index.js';
import { cliPath, sharedData, skipMessage, tempDir } from '../helpers.js';

type Row = [compound: string, concentration: number, moa: string | null, features: number[]];

function table(rows: Row[]): ProfileTable {
  return {
    metadataColumns: ['Metadata_Compound', 'Metadata_Concentration', 'Metadata_MOA'],
    metadata: rows.map(([c, k, m]) => ({ Metadata_Compound: c, Metadata_Concentration: k, Metadata_MOA: m })),
    featureColumns: ['x', 'y', 'z'],
    features: rows.map(([, , , f]) => Float32Array.from(f)),
  };
}

/**
 * By construction: A@1 and A@2 are each other's nearest (excluded: same compound); next comes C
 * (MOA Y), so both A are wrong. N (no MOA) and DMSO sit exactly on A: were they candidates, they
 * would win. B's nearest other-compound treatment is A@2 (X, right); C's is D (Y, right); D's is C.
 */
const toy: Row[] = [
  ['A', 1, 'X', [1, 0, 0]],
  ['A', 2, 'X', [1, 0, 0.01]],
  ['B', 1, 'X', [0.5, 0, 1]],
  ['C', 1, 'Y', [0.9, 0.3, 0]],
  ['D', 1, 'Y', [0.8, 0.5, 0]],
  ['N', 1, null, [1, 0, 0]],
  ['DMSO', 0, 'DMSO', [1, 0, 0]],
];

test('NSC 1-NN: same-compound neighbours, the control and treatments without MOA are excluded', async () => {
  const r = await evaluateNsc(table(toy));
  assert.deepEqual(
    r.neighbors.map((n) => `${n.compound}@${n.concentration}->${n.neighborCompound}@${n.neighborConcentration}`),
    ['A@1->C@1', 'A@2->C@1', 'B@1->A@2', 'C@1->D@1', 'D@1->C@1'],
  );
  assert.deepEqual(r.nsc, { accuracy: 3 / 5, correct: 3, total: 5 });
  assert.deepEqual(r.excluded, { control: 1, withoutMoa: ['N@1'] });
  assert.deepEqual(r.confusion, { labels: ['X', 'Y'], counts: [[1, 2], [0, 2]] });
  const expected = Math.fround(0.9) / Math.hypot(Math.fround(0.9), Math.fround(0.3));
  assert.ok(Math.abs(r.neighbors[0]!.similarity - expected) < 1e-6);
});

test('the control compound is configurable', async () => {
  const r = await evaluateNsc(table(toy.map(([c, k, m, f]) => [c === 'DMSO' ? 'vehicle' : c, k, m, f])), { controlCompound: 'vehicle' });
  assert.equal(r.excluded.control, 1);
  assert.equal(r.nsc.total, 5);
});

test('NSC refuses duplicate treatments and names a missing MOA column', async () => {
  await assert.rejects(evaluateNsc(table([...toy, toy[0]!])), (e: unknown) => e instanceof MorphoprofError && e.message.includes('A@1'));
  const noMoa = table(toy);
  noMoa.metadataColumns = ['Metadata_Compound', 'Metadata_Concentration'];
  await assert.rejects(evaluateNsc(noMoa), (e: unknown) => e instanceof MorphoprofError && e.code === 'MISSING_COLUMN' && e.message.includes('Metadata_MOA'));
});

test('writeEvaluation: metrics.json, confusion_matrix.csv and neighbors.csv', async () => {
  const out = tempDir();
  const r = await evaluateNsc(table(toy));
  const files = await writeEvaluation(out, r);
  const metrics = JSON.parse(readFileSync(files.metrics, 'utf8'));
  assert.deepEqual(metrics.nsc, { accuracy: 0.6, correct: 3, total: 5 });
  assert.deepEqual(metrics.excluded, { control: 1, without_moa: 1, without_moa_treatments: ['N@1'] });
  const confusion = await readTable(files.confusion);
  assert.deepEqual(confusion.columns, ['True_MOA', 'X', 'Y']);
  assert.deepEqual(confusion.rows, [{ True_MOA: 'X', X: 1, Y: 2 }, { True_MOA: 'Y', X: 0, Y: 2 }]);
  const neighbors = await readTable(files.neighbors);
  assert.deepEqual(neighbors.columns.slice(0, 8), ['Metadata_Compound', 'Metadata_Concentration', 'Metadata_MOA', 'Neighbor_Compound', 'Neighbor_Concentration', 'Neighbor_MOA', 'Similarity', 'Correct']);
  assert.deepEqual(neighbors.columns, [...NEIGHBOR_COLUMNS]);
  assert.equal(neighbors.rows.length, 5);
  assert.deepEqual(neighbors.rows.map((n) => String(n.Correct)), r.neighbors.map((n) => String(n.correct)));
});

test('evaluate averages field-level rows into treatments itself', async () => {
  // each treatment of the toy split into two fields symmetric around it: same means, same answer
  const fields: Row[] = toy.flatMap(([c, k, m, f]) => [[c, k, m, f.map((v) => v + 0.25)], [c, k, m, f.map((v) => v - 0.25)]] as Row[]);
  const r = await evaluate({ profiles: table(fields), out: tempDir() });
  assert.deepEqual(r.metrics.nsc, (await evaluateNsc(table(toy))).nsc);
});

test('evaluate without Metadata_Compound asks for --metadata, naming the column', async () => {
  const wells: ProfileTable = { metadataColumns: ['Metadata_Plate', 'Metadata_Well'], metadata: [{ Metadata_Plate: 'P', Metadata_Well: 'B02' }], featureColumns: ['x'], features: [Float32Array.of(1)] };
  await assert.rejects(evaluate({ profiles: wells, out: tempDir() }), (e: unknown) => e instanceof MorphoprofError && e.code === 'MISSING_COLUMN' && e.message.includes('Metadata_Compound') && /--metadata/.test(e.hint ?? ''));
});

/**
 * Independently measured reference (../shared/data/SOURCES.md): cosine NSC 1-NN on the raw per-well
 * means, DMSO excluded, wells averaged per treatment = 51 of 103.
 */
const REFERENCE = { correct: 51, total: 103 };

function realData(): { profiles: string; image: string; moa: string } | null {
  const profiles = sharedData('bbbc021', 'profiles', 'ljosa_jbiomolscreen_2013_per_well_mean.csv.gz');
  const image = sharedData('bbbc021', 'metadata', 'BBBC021_v1_image.csv');
  const moa = sharedData('bbbc021', 'metadata', 'BBBC021_v1_moa.csv');
  return profiles && image && moa ? { profiles, image, moa } : null;
}

test('real BBBC021 per-well CellProfiler means: NSC 51/103 via the library', async (t) => {
  const data = realData();
  if (!data) return t.skip(skipMessage('bbbc021/profiles and bbbc021/metadata'));
  const out = tempDir();
  const r = await evaluate({ profiles: data.profiles, metadata: data.image, moa: data.moa, out });
  assert.equal(r.metrics.nsc.correct, REFERENCE.correct);
  assert.equal(r.metrics.nsc.total, REFERENCE.total);
  assert.deepEqual(JSON.parse(readFileSync(path.join(out, 'metrics.json'), 'utf8')).nsc, r.metrics.nsc);
});

test('real BBBC021 per-well CellProfiler means: NSC 51/103 via the CLI', (t) => {
  const data = realData();
  if (!data) return t.skip(skipMessage('bbbc021/profiles and bbbc021/metadata'));
  const out = tempDir();
  const run = spawnSync(process.execPath, [cliPath, 'evaluate', '--profiles', data.profiles, '--metadata', data.image, '--moa', data.moa, '--out', out], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const { correct, total } = REFERENCE;
  assert.match(run.stdout, new RegExp(`^NSC accuracy: ${(correct / total).toFixed(3)} \\(${correct}/${total}\\)$`, 'm'));
  assert.ok(run.stdout.includes(path.join(out, 'metrics.json')));
  const missing = spawnSync(process.execPath, [cliPath, 'evaluate', '--profiles', data.profiles, '--out', out], { encoding: 'utf8' });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /Metadata_Compound[\s\S]*--metadata/);
});
