import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { MorphoprofError } from '../../src/errors.js';
import { readProfiles, readTable, writeProfiles, type ProfileTable } from '../../src/table/index.js';
import { tempDir } from '../helpers.js';

/** Values float32 holds exactly but float64 printing would mangle if any step went through double. */
const featureValues = [Math.fround(0.1), Math.fround(-1e-30), Math.fround(3.3e38), Math.fround(1 / 3), 0, Math.fround(12345.678)];

function tinyTable(rows = 3): ProfileTable {
  const featureColumns = ['Cells_AreaShape_Area', 'Nuclei_Intensity_Mean_DNA', 'DNA_f0'];
  return {
    metadataColumns: ['Metadata_Plate', 'Metadata_Well', 'Metadata_Site', 'Metadata_Concentration', 'Metadata_MOA'],
    metadata: Array.from({ length: rows }, (_, r) => ({
      Metadata_Plate: `Week1_2212${r}`,
      Metadata_Well: `B0${r + 2}`,
      Metadata_Site: r + 1,
      Metadata_Concentration: 0.003 * (r + 1),
      Metadata_MOA: r === 1 ? null : 'Actin disruptors, "quoted"',
    })),
    featureColumns,
    features: Array.from({ length: rows }, (_, r) =>
      Float32Array.from(featureColumns, (_, f) => featureValues[(r * featureColumns.length + f) % featureValues.length]!),
    ),
  };
}

function assertSameTable(actual: ProfileTable, expected: ProfileTable): void {
  assert.deepEqual(actual.metadataColumns, expected.metadataColumns);
  assert.deepEqual(actual.featureColumns, expected.featureColumns);
  assert.deepEqual(actual.metadata, expected.metadata);
  assert.equal(actual.features.length, expected.features.length);
  actual.features.forEach((f, r) => {
    assert.ok(f instanceof Float32Array);
    assert.deepEqual([...f], [...expected.features[r]!], `row ${r}`);
  });
}

for (const ext of ['parquet', 'csv', 'csv.gz', 'tsv']) {
  test(`${ext} round trip keeps column order, metadata and exact float32 values, leaves no temp file`, async () => {
    const dir = tempDir();
    const file = path.join(dir, `profiles.${ext}`);
    const table = tinyTable();
    await writeProfiles(file, table);
    assert.deepEqual(readdirSync(dir), [`profiles.${ext}`]);
    assertSameTable(await readProfiles(file), table);
    // overwriting in place works too
    await writeProfiles(file, tinyTable(2));
    assert.equal((await readProfiles(file)).features.length, 2);
    assert.deepEqual(readdirSync(dir), [`profiles.${ext}`]);
  });
}

test('NaN features survive a Parquet round trip', async () => {
  const file = path.join(tempDir(), 'nan.parquet');
  const table = tinyTable(1);
  table.features[0]![1] = Number.NaN;
  await writeProfiles(file, table);
  const back = await readProfiles(file);
  assert.ok(Number.isNaN(back.features[0]![1]));
  assert.equal(back.features[0]![0], table.features[0]![0]);
});

test('CellProfiler Image_Metadata_* columns become Metadata_*, text columns metadata, numbers features', async () => {
  const file = path.join(tempDir(), 'cp.csv');
  writeFileSync(file, 'Image_Metadata_Plate,Image_Metadata_Well,FileName_DAPI,Cells_Area,Nuclei_Count\nWeek4_27481,B02,a.tif,10.5,3\nWeek4_27481,C02,b.tif,11,4\n');
  const table = await readProfiles(file);
  assert.deepEqual(table.metadataColumns, ['Metadata_Plate', 'Metadata_Well', 'FileName_DAPI']);
  assert.deepEqual(table.featureColumns, ['Cells_Area', 'Nuclei_Count']);
  assert.deepEqual(table.metadata[1], { Metadata_Plate: 'Week4_27481', Metadata_Well: 'C02', FileName_DAPI: 'b.tif' });
  assert.deepEqual([...table.features[1]!], [11, 4]);
});

test('a folder of Parquet files reads as one table, files in name order', async () => {
  const dir = path.join(tempDir(), 'features');
  mkdirSync(dir);
  const all = tinyTable(3);
  const part = (rows: number[]): ProfileTable => ({ ...all, metadata: rows.map((r) => all.metadata[r]!), features: rows.map((r) => all.features[r]!) });
  await writeProfiles(path.join(dir, 'plate-b.parquet'), part([2]));
  await writeProfiles(path.join(dir, 'plate-a.parquet'), part([0, 1]));
  writeFileSync(path.join(dir, 'notes.txt'), 'not a table');
  assertSameTable(await readProfiles(dir), all);
});

test('readTable gives every column of a platemap as records', async () => {
  const file = path.join(tempDir(), 'moa.csv');
  writeFileSync(file, '"compound",concentration,"moa"\n"PP-2",3.000000,"Epithelial"\n"DMSO",0.0,"DMSO"\n');
  const t = await readTable(file);
  assert.deepEqual(t.columns, ['compound', 'concentration', 'moa']);
  assert.deepEqual(t.rows, [
    { compound: 'PP-2', concentration: 3, moa: 'Epithelial' },
    { compound: 'DMSO', concentration: 0, moa: 'DMSO' },
  ]);
});

async function rejectsWith(promise: Promise<unknown>, code: string, ...mentions: string[]): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof MorphoprofError, String(err));
    assert.equal(err.code, code);
    for (const m of mentions) assert.ok(err.message.includes(m), `"${err.message}" should mention ${m}`);
    assert.ok(err.hint, 'has a hint');
    return true;
  });
}

test('errors name the file or column: missing file, unknown extension, empty folder, bad feature value', async () => {
  const dir = tempDir();
  const missing = path.join(dir, 'nope.parquet');
  await rejectsWith(readProfiles(missing), 'FILE_NOT_FOUND', missing);
  const xlsx = path.join(dir, 'profiles.xlsx');
  writeFileSync(xlsx, 'x');
  await rejectsWith(readProfiles(xlsx), 'BAD_ARGUMENT', xlsx);
  await rejectsWith(writeProfiles(path.join(dir, 'out.json'), tinyTable()), 'BAD_ARGUMENT', 'out.json');
  const empty = path.join(dir, 'empty');
  mkdirSync(empty);
  await rejectsWith(readProfiles(empty), 'BAD_TABLE', empty);
  const bad = path.join(dir, 'bad.csv');
  writeFileSync(bad, 'Metadata_Well,Cells_Area,Cells_Perimeter\nB02,1.5,2\nB03,2.5,#DIV/0!\nB04,3.5,4\nB05,1,5\n');
  await rejectsWith(readProfiles(bad), 'BAD_TABLE', bad, 'Cells_Perimeter', '#DIV/0!');
});

test('a rejected write leaves neither the file nor a temp file', async () => {
  const dir = tempDir();
  const table = tinyTable();
  table.features[1] = new Float32Array(1);
  await rejectsWith(writeProfiles(path.join(dir, 'out.parquet'), table), 'BAD_ARGUMENT', 'row 2');
  assert.deepEqual(readdirSync(dir), []);
});

test('a write that fails at the rename removes its temp file', async () => {
  const dir = tempDir();
  mkdirSync(path.join(dir, 'taken.parquet', 'inside'), { recursive: true });
  await rejectsWith(writeProfiles(path.join(dir, 'taken.parquet'), tinyTable()), 'BAD_TABLE', 'taken.parquet');
  assert.deepEqual(readdirSync(dir), ['taken.parquet']);
});

test('written Parquet has the metadata columns first and the features as FLOAT (float32)', async () => {
  const file = path.join(tempDir(), 'types.parquet');
  await writeProfiles(file, tinyTable());
  const connection = await (await DuckDBInstance.create(':memory:')).connect();
  const reader = await connection.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file}')`);
  const types = reader.getRowObjects().map((r) => `${String(r.column_name)} ${String(r.column_type)}`);
  connection.closeSync();
  assert.deepEqual(types, [
    'Metadata_Plate VARCHAR',
    'Metadata_Well VARCHAR',
    'Metadata_Site BIGINT',
    'Metadata_Concentration DOUBLE',
    'Metadata_MOA VARCHAR',
    'Cells_AreaShape_Area FLOAT',
    'Nuclei_Intensity_Mean_DNA FLOAT',
    'DNA_f0 FLOAT',
  ]);
});

test('writeProfilesInThread: the same file as writeProfiles, and its errors as MorphoprofErrors naming the file', async () => {
  const { readFileSync } = await import('node:fs');
  const { writeProfilesInThread } = await import('../../src/table/write-thread.js');
  const dir = tempDir();
  const table = tinyTable(5);
  await writeProfiles(path.join(dir, 'here.parquet'), table);
  await Promise.all([writeProfilesInThread(path.join(dir, 'there.parquet'), table), writeProfilesInThread(path.join(dir, 'there.csv'), table)]);
  assert.ok(readFileSync(path.join(dir, 'here.parquet')).equals(readFileSync(path.join(dir, 'there.parquet'))));
  assert.deepEqual(await readProfiles(path.join(dir, 'there.csv')), await readProfiles(path.join(dir, 'here.parquet')));
  const blocked = path.join(dir, 'a-file');
  writeFileSync(blocked, 'x');
  const target = path.join(blocked, 'out.parquet');
  await assert.rejects(writeProfilesInThread(target, table), (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_TABLE' && e.message.includes(target));
  await writeProfilesInThread(path.join(dir, 'after.parquet'), table); // the thread survives an error
});
