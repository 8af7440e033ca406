import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import sharp from 'sharp';
import { runPipeline } from '../../src/pipeline.js';
import { readProfiles } from '../../src/table/index.js';
import { synthesizeScreen, type SynthResult } from '../../src/synth/index.js';
import { cliPath, sharedData, skipMessage, tempDir } from '../helpers.js';

const quiet = { progress: false, log: () => {} };

function readCsv(file: string): Array<Record<string, string>> {
  return parse(readFileSync(file), { columns: true }) as Array<Record<string, string>>;
}

function runCli(args: string[]) {
  return spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
}

describe('run: the whole pipeline on a tiny synthetic screen', () => {
  let screen: SynthResult;
  let root: string;
  before(async () => {
    root = tempDir();
    // one plate, one site, one dose: 14 compounds + 2 control wells = 16 fields, 48 images
    screen = await synthesizeScreen({ out: path.join(root, 'screen'), seed: 7, plates: 1, width: 192, height: 160, sites: 1, controls: 2, doses: 1 });
  });

  test('embeds every field once, evaluates, and a rerun resumes with identical features', async () => {
    const out = path.join(root, 'run-a');
    const opts = { metadata: screen.imageTable, images: screen.imagesRoot, moa: screen.moaTable, out, ...quiet };
    const first = await runPipeline(opts);
    assert.equal(first.embed.fieldsEmbedded, screen.fields);
    assert.equal(first.embed.errors.length, 0);
    const table = await readProfiles(path.join(out, 'features'));
    assert.equal(table.features.length, screen.fields);
    assert.equal(table.featureColumns.length, 3 * 2048);
    assert.deepEqual(table.metadataColumns.slice(0, 7), [
      'Metadata_Plate', 'Metadata_Well', 'Metadata_Site', 'Metadata_Compound', 'Metadata_Concentration', 'Metadata_MOA', 'Metadata_Batch',
    ]);
    const keys = new Set(table.metadata.map((m) => `${m.Metadata_Plate}/${m.Metadata_Well}/${m.Metadata_Site}`));
    assert.equal(keys.size, screen.fields, 'every field exactly once');
    assert.ok(table.features.every((f) => f.every(Number.isFinite)));

    const metrics = JSON.parse(readFileSync(path.join(out, 'metrics.json'), 'utf8'));
    assert.equal(metrics.nsc.total, screen.treatments, 'every MOA-annotated treatment is evaluated');
    assert.equal(metrics.nsc.correct, Math.round(metrics.nsc.accuracy * metrics.nsc.total));
    assert.ok(existsSync(path.join(out, 'confusion_matrix.csv')));
    assert.equal(readCsv(path.join(out, 'neighbors.csv')).length, metrics.nsc.total);
    assert.equal(readCsv(path.join(out, 'errors.csv')).length, 0);
    const run = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8'));
    assert.equal(run.counts.embedded, screen.fields);
    assert.ok(existsSync(path.join(out, 'report.html')), 'run writes the report');

    // the same command again: nothing is embedded twice
    const again = await runPipeline(opts);
    assert.equal(again.embed.fieldsEmbedded, 0);
    assert.equal(again.embed.fieldsResumed, screen.fields);
    assert.deepEqual(again.metrics.nsc, first.metrics.nsc);

    // lose the plate's shard: it is rebuilt, bitwise identical
    const shardDir = path.join(out, 'features');
    const before = await readProfiles(shardDir);
    for (const name of readdirSync(shardDir)) if (name.endsWith('.parquet')) rmSync(path.join(shardDir, name));
    const rebuilt = await runPipeline(opts);
    assert.equal(rebuilt.embed.fieldsEmbedded, screen.fields);
    const after = await readProfiles(shardDir);
    const byKey = (t: typeof before) => new Map(t.metadata.map((m, i) => [`${m.Metadata_Well}/${m.Metadata_Site}`, t.features[i]!]));
    const a = byKey(before);
    const b = byKey(after);
    for (const [k, v] of a) assert.deepEqual(Buffer.from(b.get(k)!.buffer), Buffer.from(v.buffer), `features of ${k} differ between runs`);
  });

  test('--normalize standardizes well profiles against the plate controls, reusing the embedded features', async () => {
    const out = path.join(root, 'run-normalized');
    cpSync(path.join(root, 'run-a'), out, { recursive: true });
    const r = await runPipeline({ metadata: screen.imageTable, images: screen.imagesRoot, moa: screen.moaTable, out, normalize: 'standardize', ...quiet });
    assert.equal(r.embed.fieldsEmbedded, 0, 'the feature store is reused');
    const wells = await readProfiles(path.join(out, 'well_profiles.parquet'));
    const controls = wells.features.filter((_, i) => wells.metadata[i]!.Metadata_Compound === 'DMSO');
    assert.ok(controls.length >= 2);
    // standardized against the controls: the control wells' mean of every feature is ~0
    for (const j of [0, 100, 5000]) {
      const mean = controls.reduce((s, f) => s + f[j]!, 0) / controls.length;
      assert.ok(Math.abs(mean) < 1e-4, `feature ${j}: control mean ${mean}`);
    }
    assert.equal(JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')).settings.normalize, 'standardize');
  });

  test('broken images are skipped with their reason in errors.csv; a treatment without MOA is left out of the evaluation', async () => {
    const copy = path.join(root, 'broken');
    cpSync(path.join(root, 'screen'), copy, { recursive: true });
    const rows = readCsv(screen.imageTable);
    const file = (i: number, ch: 'DAPI' | 'Tubulin' | 'Actin') =>
      path.join(copy, 'images', rows[i]![`Image_PathName_${ch}`]!, rows[i]![`Image_FileName_${ch}`]!);
    rmSync(file(1, 'DAPI')); // missing
    truncateSync(file(2, 'Tubulin'), 500); // corrupt
    await sharp(Buffer.alloc(64 * 48 * 2, 7), { raw: { width: 64, height: 48, channels: 1 } }) // wrong size
      .toColourspace('grey16')
      .tiff({ compression: 'none' })
      .toFile(file(3, 'Actin') + '.tmp.tif');
    cpSync(file(3, 'Actin') + '.tmp.tif', file(3, 'Actin'));
    // drop one compound from the MOA table
    const moaLines = readFileSync(screen.moaTable, 'utf8').trim().split('\n');
    const dropped = moaLines[1]!.split(',')[0]!;
    writeFileSync(path.join(copy, 'synth_moa.csv'), moaLines.filter((l) => !l.startsWith(`${dropped},`)).join('\n') + '\n');

    const out = path.join(root, 'run-broken');
    const r = runCli(['run', '--metadata', path.join(copy, 'synth_image.csv'), '--images', path.join(copy, 'images'), '--moa', path.join(copy, 'synth_moa.csv'), '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    const errors = readCsv(path.join(out, 'errors.csv'));
    assert.equal(errors.length, 3, JSON.stringify(errors));
    const reasonFor = (i: number) => errors.find((e) => e.Metadata_Well === rows[i]!.Image_Metadata_Well_DAPI)?.Reason ?? '';
    assert.match(reasonFor(1), /missing image file/);
    assert.match(reasonFor(1), new RegExp(path.basename(file(1, 'DAPI')).replace(/[.]/g, '\\.')));
    assert.ok(reasonFor(2).length > 0);
    assert.match(reasonFor(3), /64x48 16-bit but the screen's images are 192x160 16-bit/);
    const table = await readProfiles(path.join(out, 'features'));
    assert.equal(table.features.length, screen.fields - 3);
    const metrics = JSON.parse(readFileSync(path.join(out, 'metrics.json'), 'utf8'));
    assert.ok(metrics.excluded.without_moa >= 1, 'the treatment without MOA is excluded');
    assert.ok(metrics.excluded.without_moa_treatments.some((t: string) => t.includes(dropped)));
  });

  test('a screen with nothing valid exits non-zero and says why', () => {
    const out = path.join(root, 'run-empty');
    const copy = path.join(root, 'empty');
    cpSync(path.join(root, 'screen'), copy, { recursive: true });
    rmSync(path.join(copy, 'images'), { recursive: true });
    const r = runCli(['run', '--metadata', path.join(copy, 'synth_image.csv'), '--images', path.join(copy, 'images'), '--out', out]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /No valid field/);
    const errors = readCsv(path.join(out, 'errors.csv'));
    assert.equal(errors.filter((e) => e.Stage === 'files').length, screen.fields, 'every field is listed');
    assert.ok(errors.some((e) => e.Stage === 'metadata' && /images/i.test(e.Reason ?? '')), 'the missing images folder is named');
  });
});

test('run on the real BBBC021 table with only seven images present says exactly that', (t) => {
  const meta = sharedData('bbbc021', 'metadata');
  const images = sharedData('bbbc021', 'images');
  if (!meta || !images) return t.skip(skipMessage('bbbc021'));
  const out = path.join(tempDir(), 'bbbc021-run');
  const r = runCli(['run', '--metadata', path.join(meta, 'BBBC021_v1_image.csv'), '--moa', path.join(meta, 'BBBC021_v1_moa.csv'), '--images', images, '--out', out]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /13200 fields/);
  assert.match(r.stderr, /7 of the image files are present/);
  assert.match(r.stderr, /no field has a readable image for every channel/);
  assert.equal(readCsv(path.join(out, 'errors.csv')).length, 13200);
});

test('run names the missing column of a bad metadata table', () => {
  const dir = tempDir();
  const csv = path.join(dir, 'screen.csv');
  writeFileSync(csv, 'Metadata_Plate,Metadata_Well,FileName_DNA,PathName_DNA,Metadata_Compound\nP1,A01,a.tif,.,DMSO\n');
  const r = runCli(['run', '--metadata', csv, '--images', dir, '--out', path.join(dir, 'out')]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /screen\.csv/);
  assert.match(r.stderr, /Metadata_Concentration|Metadata_Site/);
});

