import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { MorphoprofError } from '../../src/errors.js';
import { aggregateProfiles } from '../../src/profiles/index.js';
import { aggregateTable, readProfiles } from '../../src/table/index.js';
import { tempDir } from '../helpers.js';

/** Fields of two wells on one plate and one well on another; one NaN; a site column that varies. */
const CSV = `Image_Metadata_Plate,Image_Metadata_Well,Metadata_Site,Metadata_Compound,Metadata_Batch,FileName,a,b
P2,B02,1,taxol,W2,p2b1.tif,10,1
P1,C02,1,DMSO,W1,p1c1.tif,5,NaN
P1,B02,1,taxol,W1,p1b1.tif,1,2
P1,B02,2,taxol,W1,p1b2.tif,3,4
P1,B02,3,taxol,W1,p1b3.tif,8,9
P1,C02,2,DMSO,W1,p1c2.tif,7,3
`;

function fieldsFile(text = CSV): string {
  const file = path.join(tempDir(), 'fields.csv');
  writeFileSync(file, text);
  return file;
}

test('aggregateTable (DuckDB GROUP BY) gives per-well means: NaN ignored, constant metadata kept, groups sorted', async () => {
  const wells = await aggregateTable(fieldsFile(), { by: ['Metadata_Plate', 'Metadata_Well'], method: 'mean' });
  assert.deepEqual(wells.metadataColumns, ['Metadata_Plate', 'Metadata_Well', 'Metadata_Compound', 'Metadata_Batch', 'Metadata_Count']);
  assert.deepEqual(wells.featureColumns, ['a', 'b']);
  assert.deepEqual(
    wells.metadata.map((m) => [m.Metadata_Plate, m.Metadata_Well, m.Metadata_Compound, m.Metadata_Count]),
    [
      ['P1', 'B02', 'taxol', 3],
      ['P1', 'C02', 'DMSO', 2],
      ['P2', 'B02', 'taxol', 1],
    ],
  );
  assert.deepEqual(wells.features.map((f) => [...f]), [
    [4, 5],
    [6, 3],
    [10, 1],
  ]);
});

test('aggregateTable agrees with the in-memory aggregateProfiles (mean and median, collect)', async () => {
  const file = fieldsFile();
  const fields = await readProfiles(file);
  for (const method of ['mean', 'median'] as const) {
    const options = { by: ['Metadata_Compound'], method, collect: ['Metadata_Batch'] };
    const sql = await aggregateTable(file, options);
    const js = aggregateProfiles(fields, options);
    const byCompound = (t: typeof js) => Object.fromEntries(t.metadata.map((m, i) => [m.Metadata_Compound, { batch: m.Metadata_Batch, f: [...t.features[i]!] }]));
    assert.deepEqual(byCompound(sql), byCompound(js), method);
    assert.equal(byCompound(sql).taxol!.batch, 'W1|W2');
  }
  // median of taxol a: 1, 3, 8, 10 -> 5.5
  const median = await aggregateTable(file, { by: ['Metadata_Compound'], method: 'median' });
  assert.equal(median.features[median.metadata.findIndex((m) => m.Metadata_Compound === 'taxol')]![0], 5.5);
});

test('aggregateTable names a missing group column and a well holding two treatments', async () => {
  const file = fieldsFile();
  await assert.rejects(
    aggregateTable(file, { by: ['Metadata_Plate', 'Metadata_Row'], method: 'mean' }),
    (e: unknown) => e instanceof MorphoprofError && e.code === 'MISSING_COLUMN' && e.message.includes('Metadata_Row') && e.message.includes(file),
  );
  const mixed = fieldsFile(CSV.replace('P1,B02,2,taxol', 'P1,B02,2,colchicine'));
  await assert.rejects(
    aggregateTable(mixed, { by: ['Metadata_Plate', 'Metadata_Well'], method: 'mean', requireConstant: ['Metadata_Compound'] }),
    (e: unknown) => e instanceof MorphoprofError && /Metadata_Plate=P1, Metadata_Well=B02/.test(e.message) && /colchicine/.test(e.message) && /taxol/.test(e.message),
  );
});

test('aggregateTable rejects a mostly numeric feature column with a bad value, naming value, column and row', async () => {
  const bad = fieldsFile(CSV.replace('P1,B02,2,taxol,W1,p1b2.tif,3,4', 'P1,B02,2,taxol,W1,p1b2.tif,#DIV/0!,4'));
  await assert.rejects(
    aggregateTable(bad, { by: ['Metadata_Plate', 'Metadata_Well'], method: 'mean' }),
    (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_TABLE' && e.message.includes('#DIV/0!') && e.message.includes('column a') && e.message.includes('row 4'),
  );
});
