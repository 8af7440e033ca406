import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import sharp from 'sharp';
import { scoreAgainstSynth } from '../../src/cells/detect.js';
import { readLabelImage } from '../../src/cells/io.js';
import { segmentImages } from '../../src/cells/loose.js';
import { cellScreen } from '../../src/cells/stage.js';
import { MorphoprofError } from '../../src/errors.js';
import { loadScreen } from '../../src/screen/index.js';
import { synthesizeScreen, type SynthResult } from '../../src/synth/index.js';
import { readProfiles } from '../../src/table/index.js';
import { cliPath, tempDir } from '../helpers.js';

const run = promisify(execFile);

async function tinyScreen(root: string): Promise<SynthResult> {
  return synthesizeScreen({ out: path.join(root, 'screen'), seed: 5, plates: 1, width: 320, height: 256, sites: 1, controls: 2, doses: 1 });
}

async function writeBlank(file: string, width: number, height: number, value: number): Promise<void> {
  await sharp(new Uint16Array(width * height).fill(value), { raw: { width, height, channels: 1 } }).toColourspace('grey16').tiff({ compression: 'none' }).toFile(file);
}

function errorsOf(out: string): Array<Record<string, string>> {
  return parse(readFileSync(path.join(out, 'errors.csv')), { columns: true }) as Array<Record<string, string>>;
}

describe('cells stage', () => {
  test('segment: one row per nucleus, label images and overlays that agree with it, nuclei where synth drew them, and a rerun resumes', async () => {
    const root = tempDir('cells-seg-');
    const s = await tinyScreen(root);
    const { screen } = await loadScreen({ metadata: s.imageTable, images: s.imagesRoot, moa: s.moaTable });
    const out = path.join(root, 'seg');
    const r = await cellScreen({ screen, out, mode: 'segment', labels: true, overlays: true, progress: false, shardSize: 16 });
    assert.equal(r.fieldsEmbedded + r.errors.length, s.fields);
    assert.ok(r.objects > 5 * s.fields, `${r.objects} nuclei in ${s.fields} fields`);
    const t = await readProfiles(r.cellsDir!);
    assert.equal(t.features.length, r.objects);
    for (const c of ['Metadata_Plate', 'Metadata_Well', 'Metadata_Site', 'Metadata_ObjectNumber']) assert.ok(t.metadataColumns.includes(c), c);
    for (const c of ['Nuclei_Location_Center_X', 'Nuclei_Location_Center_Y', 'Nuclei_AreaShape_Area', 'Nuclei_AreaShape_BoundingBoxMinimum_X', 'Cells_AreaShape_Area'])
      assert.ok(t.featureColumns.includes(c), c);
    const cx = t.featureColumns.indexOf('Nuclei_Location_Center_X');
    const area = t.featureColumns.indexOf('Nuclei_AreaShape_Area');
    const cellArea = t.featureColumns.indexOf('Cells_AreaShape_Area');
    for (const f of t.features) {
      assert.ok(f[cx]! >= 0 && f[cx]! < 320);
      assert.ok(f[area]! > 0 && f[cellArea]! >= f[area]!, 'a cell holds its nucleus');
    }
    // the label image of a field has exactly its rows' objects, numbered 1..n, with their areas
    const m0 = t.metadata[0]!;
    const stem = `${m0.Metadata_Plate}_${m0.Metadata_Well}_s${m0.Metadata_Site}`;
    const labels = await readLabelImage(path.join(out, 'labels', `${stem}_nuclei.png`));
    const rows = t.metadata.map((m, i) => [m, i] as const).filter(([m]) => m.Metadata_Well === m0.Metadata_Well && m.Metadata_Site === m0.Metadata_Site);
    assert.equal(labels.count, rows.length);
    assert.deepEqual(rows.map(([m]) => m.Metadata_ObjectNumber), rows.map((_, k) => k + 1));
    const counted = new Float64Array(labels.count + 1);
    for (const l of labels.labels) counted[l]!++;
    for (const [m, i] of rows) assert.equal(counted[Number(m.Metadata_ObjectNumber)], t.features[i]![area]);
    assert.ok(existsSync(path.join(out, 'overlays', `${stem}_overlay.png`)));
    const meta = await sharp(path.join(out, 'overlays', `${stem}_overlay.png`)).metadata();
    assert.deepEqual([meta.width, meta.height, meta.channels], [320, 256, 3]);

    const score = await scoreAgainstSynth(r.cellsDir!, s.nucleiTable, { width: 320, height: 256 });
    assert.equal(score.fields, r.fieldsEmbedded);
    assert.ok(score.f1 > 0.7, `detection F1 ${score.f1.toFixed(3)}`);

    const again = await cellScreen({ screen, out, mode: 'segment', progress: false, shardSize: 16 });
    assert.equal(again.fieldsEmbedded, 0);
    assert.equal(again.fieldsResumed, r.fieldsEmbedded);
    assert.equal((await readProfiles(r.cellsDir!)).features.length, r.objects);
  });

  test('classical: one row per field in the feature store, the mean (or median) of its objects, counts, no NaN; blank and unreadable fields recorded, the rest go on', async () => {
    const root = tempDir('cells-cls-');
    const s = await tinyScreen(root);
    const { screen } = await loadScreen({ metadata: s.imageTable, images: s.imagesRoot, moa: s.moaTable });
    const [blank, broken] = [screen.fields[0]!, screen.fields[1]!];
    await writeBlank(blank.images.DAPI!, 320, 256, 400);
    writeFileSync(broken.images.Actin!, 'not a tiff');
    const out = path.join(root, 'cls');
    const r = await cellScreen({ screen, out, mode: 'classical', keepCells: true, labels: true, labelFormat: 'tiff', progress: false });
    const errors = errorsOf(out);
    assert.equal(r.fieldsEmbedded + errors.length, s.fields);
    assert.ok(errors.length <= 3, JSON.stringify(errors)); // the blank, the broken, and at most one field whose few nuclei all touch the border
    const e0 = errors.find((e) => e.Metadata_Well === blank.well)!;
    assert.equal(e0.Stage, 'segment');
    assert.match(e0.Reason, /no nuclei found on DAPI/);
    const e1 = errors.find((e) => e.Metadata_Well === broken.well)!;
    assert.equal(e1.Stage, 'read');
    assert.equal(e1.Channel, 'Actin');
    assert.equal(e1.File, broken.images.Actin);

    const fields = await readProfiles(r.featuresDir!);
    assert.equal(fields.features.length, r.fieldsEmbedded);
    assert.ok(fields.metadataColumns.includes('Metadata_Count_Nuclei'));
    for (const c of ['Image_Count_Nuclei', 'Nuclei_AreaShape_Area', 'Cells_AreaShape_Area', 'Cytoplasm_AreaShape_Area', 'Nuclei_Intensity_MeanIntensity_DAPI', 'Cells_Intensity_MeanIntensity_Actin'])
      assert.ok(fields.featureColumns.includes(c), c);
    assert.ok(!fields.featureColumns.some((c) => /Location_|BoundingBox/.test(c)), 'positions are not profile features');
    for (const f of fields.features) for (const v of f) assert.ok(Number.isFinite(v));

    // each field row = the mean of its objects in cells/ (and its TIFF label image has them all)
    let labelCount: Promise<void> | null = null;
    const cells = await readProfiles(r.cellsDir!);
    const key = (m: Record<string, unknown>) => `${m.Metadata_Well}/${m.Metadata_Site}`;
    const k = fields.featureColumns.indexOf('Cells_Intensity_MeanIntensity_Actin');
    const kc = cells.featureColumns.indexOf('Cells_Intensity_MeanIntensity_Actin');
    fields.metadata.forEach((m, i) => {
      const mine = cells.features.filter((_, j) => key(cells.metadata[j]!) === key(m));
      assert.equal(mine.length, m.Metadata_Count_Nuclei);
      if (i === 0) labelCount = readLabelImage(path.join(out, 'labels', `${m.Metadata_Plate}_${m.Metadata_Well}_s${m.Metadata_Site}_cells.tiff`)).then((l) => assert.equal(l.count, mine.length));
      assert.equal(fields.features[i]![0], mine.length);
      const mean = mine.reduce((a, f) => a + f[kc]!, 0) / mine.length;
      assert.ok(Math.abs(fields.features[i]![k]! - mean) <= 1e-6 * Math.max(1, Math.abs(mean)), `${key(m)}: ${fields.features[i]![k]} vs ${mean}`);
    });

    assert.ok(labelCount);
    await labelCount;
    const med = await cellScreen({ screen, out: path.join(root, 'median'), mode: 'classical', settings: { aggregate: 'median' }, progress: false });
    const medRows = await readProfiles(med.featuresDir!);
    const first = medRows.metadata.findIndex((m) => key(m) === key(fields.metadata[0]!));
    const values = cells.features.filter((_, j) => key(cells.metadata[j]!) === key(fields.metadata[0]!)).map((f) => f[kc]!).sort((a, b) => a - b);
    const n = values.length;
    const median = n % 2 ? values[(n - 1) / 2]! : (values[n / 2 - 1]! + values[n / 2]!) / 2;
    assert.ok(Math.abs(medRows.features[first]![k]! - median) <= 1e-6 * Math.max(1, Math.abs(median)));
  });

  test('bad settings and screens without nuclei say what is wrong', async () => {
    const root = tempDir('cells-bad-');
    const s = await synthesizeScreen({ out: path.join(root, 'screen'), seed: 6, plates: 1, width: 160, height: 128, sites: 1, controls: 1, doses: 1 });
    const { screen } = await loadScreen({ metadata: s.imageTable, images: s.imagesRoot });
    await assert.rejects(
      cellScreen({ screen, out: path.join(root, 'a'), mode: 'segment', settings: { nucleiChannel: 'Hoechst' }, progress: false }),
      (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_ARGUMENT' && /--nuclei-channel Hoechst/.test(e.message) && /DAPI, Tubulin, Actin/.test(e.message),
    );
    await assert.rejects(
      cellScreen({ screen, out: path.join(root, 'b'), mode: 'segment', settings: { diameter: [40, 10] }, progress: false }),
      (e: unknown) => e instanceof MorphoprofError && /--diameter 40,10/.test(e.message),
    );
    for (const f of screen.fields) await writeBlank(f.images.DAPI!, 160, 128, 65535);
    await assert.rejects(
      cellScreen({ screen, out: path.join(root, 'c'), mode: 'classical', progress: false }),
      (e: unknown) => e instanceof MorphoprofError && e.code === 'NOTHING_VALID' && /--diameter/.test(e.hint ?? ''),
    );
    assert.equal(errorsOf(path.join(root, 'c')).filter((e) => e.Stage === 'segment').length, s.fields);
  });

  test('segment CLI on loose images: labels per image, objects.csv, an unreadable file reported and skipped', async () => {
    const root = tempDir('cells-loose-');
    const s = await synthesizeScreen({ out: path.join(root, 'screen'), seed: 7, plates: 1, width: 320, height: 256, sites: 1, controls: 1, doses: 1 });
    const { screen } = await loadScreen({ metadata: s.imageTable, images: s.imagesRoot });
    const good = screen.fields.slice(0, 2).map((f) => f.images.DAPI!);
    const bad = path.join(root, 'broken.tif');
    writeFileSync(bad, 'nope');
    const out = path.join(root, 'loose');
    const { stdout } = await run(process.execPath, [cliPath, 'segment', ...good, bad, '--out', out, '--overlays']);
    assert.match(stdout, /broken\.tif: skipped: /);
    const results = await segmentImages({ files: good, out: path.join(root, 'lib') });
    const table = parse(readFileSync(path.join(out, 'objects.csv')), { columns: true }) as Array<Record<string, string>>;
    for (const [i, file] of good.entries()) {
      const stem = path.basename(file, '.tif');
      const labels = await readLabelImage(path.join(out, `${stem}_labels.png`));
      assert.equal(labels.count, results[i]!.nuclei);
      assert.equal(table.filter((r) => r.Image === file).length, labels.count);
      assert.ok(existsSync(path.join(out, `${stem}_overlay.png`)));
    }
    assert.ok(!readdirSync(out).some((n) => n.startsWith('broken')));
  });
});
