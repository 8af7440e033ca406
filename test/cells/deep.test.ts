import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import sharp from 'sharp';
import { aggregateRows, cellDeepScreen, cropSessionLayout } from '../../src/cells/deep.js';
import { MorphoprofError } from '../../src/errors.js';
import { runPipeline } from '../../src/pipeline.js';
import { loadScreen } from '../../src/screen/index.js';
import type { Screen } from '../../src/screen/types.js';
import { synthesizeScreen, type SynthResult } from '../../src/synth/index.js';
import { readProfiles, type ProfileTable } from '../../src/table/index.js';
import { cliPath, tempDir } from '../helpers.js';

const run = promisify(execFile);
/** Small boxes fed natively keep the tests quick (the network is converted once at this size and cached). */
const CELLS = { boxSize: 48, cropInput: 'native' as const };

function errorsOf(out: string): Array<Record<string, string>> {
  return parse(readFileSync(path.join(out, 'errors.csv')), { columns: true }) as Array<Record<string, string>>;
}

function byField(t: ProfileTable): Map<string, Float32Array> {
  return new Map(t.metadata.map((m, i) => [`${m.Metadata_Plate}/${m.Metadata_Well}/${m.Metadata_Site}`, t.features[i]!]));
}

function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

describe('single-cell deep profiles', () => {
  let root: string;
  let s: SynthResult;
  let screen: Screen;
  before(async () => {
    root = tempDir('cells-deep-');
    s = await synthesizeScreen({ out: path.join(root, 'screen'), seed: 5, plates: 1, width: 320, height: 256, sites: 1, controls: 2, doses: 1 });
    screen = (await loadScreen({ metadata: s.imageTable, images: s.imagesRoot, moa: s.moaTable })).screen;
  });

  test('run --mode cells: one row per field with its cell count, per-cell rows that aggregate to it, evaluation on top', async () => {
    const out = path.join(root, 'run');
    const r = await runPipeline({ metadata: s.imageTable, images: s.imagesRoot, moa: s.moaTable, out, mode: 'cells', cellDeep: CELLS, keepCells: true, shardSize: 6, progress: false });
    assert.ok(r.metrics.nsc.total > 0);
    assert.ok('crops' in r.embed);
    const fields = await readProfiles(path.join(out, 'features'));
    const cells = await readProfiles(path.join(out, 'cells'));
    assert.equal(fields.features.length + r.embed.errors.length, s.fields);
    assert.equal(fields.featureColumns.length, 3 * 2048);
    assert.match(fields.featureColumns[0]!, /^DAPI_resnet50\.s48\.cells48_0+$/);
    assert.ok(fields.metadataColumns.includes('Metadata_Count_Cells'));
    const total = fields.metadata.reduce((n, m) => n + Number(m.Metadata_Count_Cells), 0);
    assert.equal(total, cells.features.length);
    assert.equal(total, r.embed.crops);
    assert.ok(total > 3 * fields.features.length, `${total} cells in ${fields.features.length} fields`);
    for (const c of ['Metadata_ObjectNumber', 'Metadata_Location_Center_X', 'Metadata_Location_Center_Y']) assert.ok(cells.metadataColumns.includes(c), c);
    for (const m of cells.metadata) assert.ok(Number(m.Metadata_Location_Center_X) >= 0 && Number(m.Metadata_Location_Center_X) < 320);
    // a field's row is the mean of its cells' rows, bit for bit
    const m0 = fields.metadata[0]!;
    const mine = cells.features.filter((_, i) => cells.metadata[i]!.Metadata_Well === m0.Metadata_Well && cells.metadata[i]!.Metadata_Site === m0.Metadata_Site);
    assert.equal(mine.length, Number(m0.Metadata_Count_Cells));
    const flat = new Float32Array(mine.length * 6144);
    mine.forEach((f, k) => flat.set(f, k * 6144));
    assert.ok(sameBits(aggregateRows(flat, mine.length, 6144, 'mean'), fields.features[0]!));
    // features are real embeddings: not constant, stains differ
    const f0 = fields.features[0]!;
    assert.ok(f0.some((v) => v > 0) && f0.subarray(0, 2048).some((v, i) => v !== f0[2048 + i]));
    const runJson = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8'));
    assert.equal(runJson.settings.mode, 'cells');
    assert.equal(runJson.settings.boxSize, 48);
  });

  test('bitwise determinism: a second run and a resumed run give the same features', async () => {
    const a = path.join(root, 'run'); // made by the test above
    const b = path.join(root, 'again');
    const rb = await cellDeepScreen({ screen, out: b, ...CELLS, shardSize: 6, progress: false });
    assert.equal(rb.fieldsResumed, 0);
    const ta = byField(await readProfiles(path.join(a, 'features')));
    const tb = byField(await readProfiles(path.join(b, 'features')));
    assert.equal(ta.size, tb.size);
    for (const [k, v] of ta) assert.ok(sameBits(v, tb.get(k)!), `field ${k} differs`);
    // drop the second shard (as a kill before its commit would) and rerun: only it is redone
    const shard = readdirSync(path.join(b, 'features')).filter((f) => f.endsWith('.parquet')).sort()[1]!;
    rmSync(path.join(b, 'features', shard));
    rmSync(path.join(b, 'features', shard.replace('.parquet', '.json')));
    const rc = await cellDeepScreen({ screen, out: b, ...CELLS, shardSize: 6, progress: false });
    assert.ok(rc.fieldsResumed > 0 && rc.fieldsEmbedded > 0 && rc.fieldsEmbedded < ta.size, `${rc.fieldsResumed} resumed, ${rc.fieldsEmbedded} redone`);
    const tc = byField(await readProfiles(path.join(b, 'features')));
    for (const [k, v] of ta) assert.ok(sameBits(v, tc.get(k)!), `field ${k} differs after resume`);
    // the session layout and the crop batch do not change a bit: 3 sessions fed batches of 7 crop-stains in turn
    const d = path.join(root, 'layout');
    const rd = await cellDeepScreen({ screen, out: d, ...CELLS, sessions: 3, cropBatch: 7, shardSize: 6, progress: false });
    assert.equal(rd.settings.cropBatch, 7);
    const td = byField(await readProfiles(path.join(d, 'features')));
    for (const [k, v] of ta) assert.ok(sameBits(v, td.get(k)!), `field ${k} differs with 3 sessions and batches of 7`);
    // another box size is another recipe: refused in the same folder
    await assert.rejects(cellDeepScreen({ screen, out: b, boxSize: 40, cropInput: 'native', shardSize: 6, progress: false }), /other settings/);
  });

  test('int8: calibrated on control crops, every field row close to its fp32 row', async (t) => {
    const a = byField(await readProfiles(path.join(root, 'run', 'features'))); // fp32, made by the first test
    const r = await cellDeepScreen({ screen, out: path.join(root, 'int8'), ...CELLS, precision: 'int8', shardSize: 6, progress: false });
    assert.equal(r.settings.precision, 'int8');
    const q = byField(await readProfiles(r.featuresDir));
    assert.equal(q.size, a.size);
    const cos = [...a].map(([k, x]) => {
      const y = q.get(k)!;
      let [d, nx, ny] = [0, 0, 0];
      for (let j = 0; j < x.length; j++) [d, nx, ny] = [d + x[j]! * y[j]!, nx + x[j]! ** 2, ny + y[j]! ** 2];
      return d / Math.sqrt(nx * ny);
    });
    const mean = cos.reduce((u, v) => u + v, 0) / cos.length;
    t.diagnostic(`cosine int8 vs fp32 per field: mean ${mean.toFixed(4)}, min ${Math.min(...cos).toFixed(4)}`);
    assert.ok(mean >= 0.98 && Math.min(...cos) >= 0.95, `cosine mean ${mean}, min ${Math.min(...cos)}`);
    assert.ok([...a].some(([k, x]) => !sameBits(x, q.get(k)!)), 'int8 rows differ from fp32 ones');
  });

  test('bad input: a field without nuclei, a locations table naming unknown fields and centres outside the image, a box larger than the field', async () => {
    const out = path.join(root, 'bad');
    // blank the first field's images: no nuclei there
    const first = screen.fields[0]!;
    for (const file of Object.values(first.images))
      await sharp(new Uint16Array(320 * 256).fill(300), { raw: { width: 320, height: 256, channels: 1 } }).toColourspace('grey16').tiff({ compression: 'none' }).toFile(file);
    const r = await cellDeepScreen({ screen, out, ...CELLS, shardSize: 8, progress: false });
    const errs = errorsOf(out);
    const blank = errs.find((e) => e.Metadata_Well === first.well);
    assert.ok(blank && blank.Stage === 'segment' && /no nuclei found on DAPI/.test(blank.Reason!), JSON.stringify(errs));
    assert.equal(r.fieldsEmbedded, screen.fields.length - 1);

    // locations: two cells of field 2 (one outside the image), one row for a field not in the screen, none for the others
    const f2 = screen.fields[1]!;
    const table = path.join(root, 'nuclei.csv');
    writeFileSync(
      table,
      [
        'Metadata_Plate,Metadata_Well,Metadata_Site,Nuclei_Location_Center_X,Nuclei_Location_Center_Y',
        `${f2.plate},${f2.well},${f2.site},100,80`,
        `${f2.plate},${f2.well},${f2.site},400,80`,
        `${f2.plate},H12,9,5,5`,
        `${f2.plate},${f2.well},${f2.site},2,3`,
      ].join('\n'),
    );
    const outL = path.join(root, 'locs');
    const rl = await cellDeepScreen({ screen, out: outL, ...CELLS, locations: table, keepCells: true, progress: false });
    assert.equal(rl.fieldsEmbedded, 1);
    const cells = await readProfiles(path.join(outL, 'cells'));
    assert.deepEqual(cells.metadata.map((m) => [m.Metadata_Location_Center_X, m.Metadata_Location_Center_Y]), [[100, 80], [2, 3]]);
    const le = errorsOf(outL);
    assert.ok(le.some((e) => e.Row === '3' && /field .*\/H12\/s9 is not in the screen/.test(e.Reason!)), JSON.stringify(le));
    assert.ok(le.some((e) => e.Metadata_Well === f2.well && /1 of 3 nucleus centres .* lie outside the 320x256 image/.test(e.Reason!)));
    assert.ok(le.filter((e) => /no nucleus locations for this field/.test(e.Reason!)).length === screen.fields.length - 1);

    // a box larger than the field: every field skipped, saying why, and the run says nothing was valid
    await assert.rejects(
      cellDeepScreen({ screen, out: path.join(root, 'big'), boxSize: 300, cropInput: 224, progress: false }),
      (e: unknown) => e instanceof MorphoprofError && e.code === 'NOTHING_VALID',
    );
    assert.match(errorsOf(path.join(root, 'big'))[0]!.Reason!, /box of 300 px around each cell is larger than the field \(320x256 px\)/);
  });

  test('crop sessions: one single-threaded session per core by default; a bad count is refused', () => {
    assert.deepEqual(cropSessionLayout(undefined, 2), { sessions: 2, threads: 1 });
    assert.deepEqual(cropSessionLayout(1, 2), { sessions: 1, threads: 2 });
    assert.deepEqual(cropSessionLayout(2, 8), { sessions: 2, threads: 4 });
    assert.deepEqual(cropSessionLayout(3, 2), { sessions: 3, threads: 1 });
    for (const bad of [0, 1.5, 65]) assert.throws(() => cropSessionLayout(bad, 2), (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_ARGUMENT' && /sessions/.test(e.message));
  });

  test('CLI: embed --mode cells refuses a locations table without centre columns, and --features classical with it', async () => {
    const table = path.join(root, 'nocentres.csv');
    writeFileSync(table, 'Metadata_Plate,Metadata_Well,Metadata_Site\nP,B02,1\n');
    const args = ['embed', '--metadata', s.imageTable, '--images', s.imagesRoot, '--out', path.join(root, 'cli'), '--mode', 'cells', '--box-size', '48', '--crop-input', 'native'];
    await assert.rejects(run('node', [cliPath, ...args, '--locations', table]), (e: { stderr: string }) => /lacks the column\(s\) Nuclei_Location_Center_X, Nuclei_Location_Center_Y/.test(e.stderr));
    await assert.rejects(run('node', [cliPath, ...args, '--features', 'classical']), (e: { stderr: string }) => /--mode cells .* --features classical/.test(e.stderr));
    await assert.rejects(run('node', [cliPath, ...args, '--crop-input', 'big']), (e: { stderr: string }) => /--crop-input/.test(e.stderr));
  });
});
