import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { MorphoprofError } from '../../src/errors.js';
import { aggregateProfiles, annotateProfiles, treatmentProfiles } from '../../src/profiles/index.js';
import { readProfiles, type ProfileTable } from '../../src/table/index.js';
import { sharedData, skipMessage, tempDir } from '../helpers.js';

/** Four fields: two sites of well B02 and two of C02, same plate. */
function fields(): ProfileTable {
  return {
    metadataColumns: ['Metadata_Plate', 'Metadata_Well', 'Metadata_Site', 'Metadata_Compound', 'Metadata_Concentration'],
    metadata: [
      { Metadata_Plate: 'P1', Metadata_Well: 'B02', Metadata_Site: 1, Metadata_Compound: 'taxol', Metadata_Concentration: 0.3 },
      { Metadata_Plate: 'P1', Metadata_Well: 'B02', Metadata_Site: 2, Metadata_Compound: 'taxol', Metadata_Concentration: 0.3 },
      { Metadata_Plate: 'P1', Metadata_Well: 'C02', Metadata_Site: 1, Metadata_Compound: 'taxol', Metadata_Concentration: 0.3 },
      { Metadata_Plate: 'P1', Metadata_Well: 'C02', Metadata_Site: 2, Metadata_Compound: 'taxol', Metadata_Concentration: 0.3 },
    ],
    featureColumns: ['a', 'b'],
    features: [
      [1, 10],
      [3, Number.NaN],
      [5, 30],
      [100, 50],
    ].map((r) => Float32Array.from(r)),
  };
}

test('aggregate by well: mean ignores NaN, keeps constant metadata, adds Metadata_Count', () => {
  const wells = aggregateProfiles(fields(), { by: ['Metadata_Plate', 'Metadata_Well'], method: 'mean' });
  assert.deepEqual(wells.metadataColumns, ['Metadata_Plate', 'Metadata_Well', 'Metadata_Compound', 'Metadata_Concentration', 'Metadata_Count']);
  assert.deepEqual(wells.metadata, [
    { Metadata_Plate: 'P1', Metadata_Well: 'B02', Metadata_Compound: 'taxol', Metadata_Concentration: 0.3, Metadata_Count: 2 },
    { Metadata_Plate: 'P1', Metadata_Well: 'C02', Metadata_Compound: 'taxol', Metadata_Concentration: 0.3, Metadata_Count: 2 },
  ]);
  assert.deepEqual(wells.features.map((f) => [...f]), [
    [2, 10],
    [52.5, 40],
  ]);
});

test('median and treatment profiles', () => {
  const median = aggregateProfiles(fields(), { by: ['Metadata_Compound'], method: 'median' });
  assert.deepEqual([...median.features[0]!], [4, 30]); // a: 1,3,5,100 -> 4; b: 10,30,50 (NaN dropped) -> 30
  const treatments = treatmentProfiles(fields());
  assert.equal(treatments.features.length, 1);
  assert.deepEqual([...treatments.features[0]!], [27.25, 30]);
  assert.equal(treatments.metadata[0]!.Metadata_Count, 4);
  assert.ok(!treatments.metadataColumns.includes('Metadata_Well'), 'wells differ within the treatment');
});

test('aggregate rejects an unknown method (listing the allowed ones) and a missing column (naming it)', () => {
  assert.throws(() => aggregateProfiles(fields(), { by: ['Metadata_Well'], method: 'mode' as 'mean' }), (e: unknown) => e instanceof MorphoprofError && /mean, median/.test(e.message));
  assert.throws(() => aggregateProfiles(fields(), { by: ['Metadata_Batch'], method: 'mean' }), (e: unknown) => e instanceof MorphoprofError && e.code === 'MISSING_COLUMN' && e.message.includes('Metadata_Batch'));
});

function wellTable(): ProfileTable {
  return {
    metadataColumns: ['Metadata_Plate', 'Metadata_Well'],
    metadata: [
      { Metadata_Plate: 'Week4_27481', Metadata_Well: 'B2' },
      { Metadata_Plate: 'Week4_27481', Metadata_Well: 'C02' },
      { Metadata_Plate: 'Week4_27481', Metadata_Well: 'D02' },
    ],
    featureColumns: ['a'],
    features: [[1], [2], [3]].map((r) => Float32Array.from(r)),
  };
}

test('annotate from a LoadData-style platemap and an MOA table (concentrations compared as numbers)', async () => {
  const dir = tempDir();
  const platemap = path.join(dir, 'platemap.csv');
  writeFileSync(platemap, 'Metadata_Plate,Metadata_Well,Metadata_Compound,Metadata_Concentration,Metadata_Batch\nWeek4_27481,B02,taxol,0.3,Week4\nWeek4_27481,C02,colchicine,0.03,Week4\n');
  const moa = path.join(dir, 'moa.csv');
  writeFileSync(moa, 'compound,concentration,moa\ntaxol,0.300000,Microtubule stabilizers\n');
  const warnings: string[] = [];
  const t = await annotateProfiles(wellTable(), { metadata: platemap, moa, warn: (m) => warnings.push(m) });
  assert.deepEqual(t.metadataColumns, ['Metadata_Plate', 'Metadata_Well', 'Metadata_Compound', 'Metadata_Concentration', 'Metadata_Batch', 'Metadata_MOA']);
  assert.deepEqual(t.metadata, [
    { Metadata_Plate: 'Week4_27481', Metadata_Well: 'B02', Metadata_Compound: 'taxol', Metadata_Concentration: 0.3, Metadata_Batch: 'Week4', Metadata_MOA: 'Microtubule stabilizers' },
    { Metadata_Plate: 'Week4_27481', Metadata_Well: 'C02', Metadata_Compound: 'colchicine', Metadata_Concentration: 0.03, Metadata_Batch: 'Week4', Metadata_MOA: null },
  ]);
  assert.deepEqual(t.features.map((f) => f[0]), [1, 2]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /^1 of 3 .*Week4_27481\/D02/);
});

test('annotate from BBBC021-style image table: one row per field, batch is the week of the path', async () => {
  const dir = tempDir();
  const image = path.join(dir, 'image.csv');
  const header = 'TableNumber,ImageNumber,Image_FileName_DAPI,Image_PathName_DAPI,Image_Metadata_Plate_DAPI,Image_Metadata_Well_DAPI,Replicate,Image_Metadata_Compound,Image_Metadata_Concentration';
  const rows = ['B02', 'C02', 'D02'].flatMap((w, i) => [1, 2].map((s) => `4,${i * 2 + s},${w}_s${s}_w1.tif,Week4/Week4_27481,Week4_27481,${w},1,${i ? 'taxol' : 'DMSO'},${i ? '0.300000' : '0.0'}`));
  writeFileSync(image, [header, ...rows].join('\n') + '\n');
  const t = await annotateProfiles(wellTable(), { metadata: image, warn: () => assert.fail('no row should be dropped') });
  assert.deepEqual(t.metadata.map((m) => [m.Metadata_Well, m.Metadata_Compound, m.Metadata_Concentration, m.Metadata_Batch]), [
    ['B02', 'DMSO', 0, 'Week4'],
    ['C02', 'taxol', 0.3, 'Week4'],
    ['D02', 'taxol', 0.3, 'Week4'],
  ]);
  assert.ok(!t.metadataColumns.includes('Metadata_MOA'), 'no MOA without an MOA table');
});

test('annotate names the platemap columns it is missing', async () => {
  const file = path.join(tempDir(), 'plates.csv');
  writeFileSync(file, 'Metadata_Plate,Metadata_Well,compound\nP,B02,x\n');
  await assert.rejects(annotateProfiles(wellTable(), { metadata: file }), (e: unknown) => e instanceof MorphoprofError && e.code === 'MISSING_COLUMN' && e.message.includes('Metadata_Compound') && e.message.includes(file));
});

test('real BBBC021 per-well means: every well finds its treatment, batch and MOA', async (t) => {
  const profiles = sharedData('bbbc021', 'profiles', 'ljosa_jbiomolscreen_2013_per_well_mean.csv.gz');
  const image = sharedData('bbbc021', 'metadata', 'BBBC021_v1_image.csv');
  const moa = sharedData('bbbc021', 'metadata', 'BBBC021_v1_moa.csv');
  if (!profiles || !image || !moa) return t.skip(skipMessage('bbbc021/profiles and bbbc021/metadata'));
  const wells = await readProfiles(profiles);
  const warnings: string[] = [];
  const annotated = await annotateProfiles(wells, { metadata: image, moa, warn: (m) => warnings.push(m) });
  assert.deepEqual(warnings, []);
  assert.equal(annotated.features.length, wells.features.length);
  assert.ok(annotated.metadata.every((m) => /^Week\d+$/.test(String(m.Metadata_Batch)) && m.Metadata_MOA !== null));
  const treatments = treatmentProfiles(annotated);
  const moaRows = (await readProfiles(moa)).metadata.length;
  assert.equal(treatments.features.length, moaRows, 'one treatment per MOA-table row (103 + DMSO)');
});
