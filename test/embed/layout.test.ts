/**
 * How the network runs (one session with intra-op threads, or a session per core taking batches
 * in turn, spinning or not) changes speed only: every feature is bitwise equal, rows in the
 * screen's order. And int8 calibration: made on control fields; when some cannot be read the run
 * says which, calibrates on other fields instead and goes on; the same broken screen gives the
 * same quantized network again (cached). A tiny ONNX model on small synthetic 16-bit fields.
 */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { embedScreen } from '../../src/embed/embed.js';
import { defaultLayout, type InferenceLayout } from '../../src/embed/embedder.js';
import { MorphoprofError } from '../../src/errors.js';
import { loadScreen } from '../../src/screen/index.js';
import { readProfiles } from '../../src/table/index.js';
import { fieldPixels, tinyModel } from '../image/fixtures.js';
import { tempDir } from '../helpers.js';

const dir = tempDir('morphoprof-layout-');
const cacheDir = path.join(dir, 'cache');
const model = tinyModel(path.join(dir, 'tiny.onnx'), 16);
mkdirSync(path.join(dir, 'img'));

/**
 * A screen of `n` fields x 2 stains (64x48 16-bit), every other field a DMSO control; the DNA
 * image of the fields listed in `broken` is not a TIFF.
 */
async function screenOf(name: string, n: number, broken: (k: number, compound: string) => boolean = () => false) {
  const rows = ['Metadata_Plate,Metadata_Well,Metadata_Site,FileName_DNA,PathName_DNA,FileName_Actin,PathName_Actin,Metadata_Compound,Metadata_Concentration'];
  for (let k = 0; k < n; k++) {
    const compound = k % 2 ? 'taxol' : 'DMSO';
    const files = ['DNA', 'Actin'].map((stain) => `${name}_${k}_${stain}.tif`);
    for (const [s, file] of files.entries()) {
      const p = path.join(dir, 'img', file);
      if (s === 0 && broken(k, compound)) writeFileSync(p, Buffer.from('II*\0 cut short'));
      else await sharp(fieldPixels(64, 48, 2 * k + s + 1), { raw: { width: 64, height: 48, channels: 1 } }).toColourspace('grey16').tiff({ compression: 'none' }).toFile(p);
    }
    rows.push(`P${Math.floor(k / 12)},${String.fromCharCode(65 + Math.floor((k % 12) / 3))}0${(k % 3) + 1},1,${files[0]},img,${files[1]},img,${compound},${k % 2}`);
  }
  const metadata = path.join(dir, `${name}.csv`);
  writeFileSync(metadata, `${rows.join('\n')}\n`);
  return (await loadScreen({ metadata, images: dir })).screen;
}

type Screen = Awaited<ReturnType<typeof screenOf>>;

async function embed(screen: Screen, out: string, opts: { precision?: 'fp32' | 'int8'; layout?: Partial<InferenceLayout>; warn?: (m: string) => void } = {}) {
  const r = await embedScreen({ screen, out: path.join(dir, out), model, inputSize: 16, preprocess: 'caffe', output: 'features', batchSize: 2, progress: false, cacheDir, ...opts });
  const table = await readProfiles(r.featuresDir);
  return { r, table };
}

const bytesOf = (rows: ArrayLike<number>[]) => Buffer.concat(rows.map((f) => Buffer.from(Float32Array.from(f).buffer)));

describe('inference layouts give bitwise-equal features', () => {
  const layouts: InferenceLayout[] = [
    { sessions: 1, threads: 2, spinning: true },
    { sessions: 2, threads: 1, spinning: true },
    { sessions: 3, threads: 1, spinning: false },
  ];
  for (const precision of ['fp32', 'int8'] as const) {
    it(`${precision}: one session with 2 threads, 2 and 3 sessions taking batches in turn`, async () => {
      const screen = await screenOf(`l-${precision}`, 14);
      const runs = [];
      for (const [i, layout] of layouts.entries()) runs.push(await embed(screen, `layout-${precision}-${i}`, { precision, layout }));
      const [ref, ...others] = runs;
      assert.equal(ref!.table.features.length, 14);
      // rows in the screen's order: batches finish in turn, not in the order they were posted
      const keys = (t: typeof ref.table) => t.metadata.map((m) => `${m['Metadata_Plate']} ${m['Metadata_Well']}`);
      assert.deepEqual(keys(ref!.table), screen.fields.map((f) => `${f.plate} ${f.well}`));
      for (const o of others) {
        assert.deepEqual(keys(o.table), keys(ref!.table));
        assert.ok(bytesOf(o.table.features).equals(bytesOf(ref!.table.features)), `${precision} features differ between layouts`);
      }
      // fields differ from each other (the comparison above is not between constant rows)
      assert.notDeepEqual(Array.from(ref!.table.features[0]!), Array.from(ref!.table.features[1]!));
    });
  }

  it('by default int8 runs a session per core with one thread each, fp32 one session with a thread per core', () => {
    assert.deepEqual(defaultLayout('int8', 2), { sessions: 2, threads: 1, spinning: true });
    assert.deepEqual(defaultLayout('fp32', 2), { sessions: 1, threads: 2, spinning: true });
    assert.deepEqual(defaultLayout('int8', 1), { sessions: 1, threads: 1, spinning: true });
  });

  it('a layout that is not positive integers is refused, naming it', async () => {
    const screen = await screenOf('l-bad', 2);
    await assert.rejects(embed(screen, 'layout-bad', { layout: { sessions: 0 } }), (e: unknown) => e instanceof MorphoprofError && /layout\.sessions/.test(e.message));
  });
});

describe('int8 calibration with broken control fields', () => {
  it('calibrates on 8 control fields, once per screen and network: a second run finds the quantized file', async () => {
    const screen = await screenOf('c-ok', 24);
    const warnings: string[] = [];
    const a = await embed(screen, 'cal-ok-1', { precision: 'int8', warn: (m) => warnings.push(m) });
    const b = await embed(screen, 'cal-ok-2', { precision: 'int8' });
    assert.deepEqual(warnings, []);
    const c = a.r.calibration!;
    assert.deepEqual([c.fields, c.images, c.broken.length, c.fallback], [8, 16, 0, false]);
    assert.equal(b.r.calibration!.onnxPath, c.onnxPath);
    assert.match(path.basename(c.onnxPath), /-int8-minmax-[0-9a-f]{16}\.onnx$/);
    assert.ok(bytesOf(a.table.features).equals(bytesOf(b.table.features)));
    assert.equal(a.table.features.length, 24);
  });

  it('says which calibration fields are broken, calibrates on other controls instead, and embeds the rest', async () => {
    // controls 0, 2, 4 (the first calibration fields) have a DNA file that is not an image
    const screen = await screenOf('c-some', 24, (k, compound) => compound === 'DMSO' && k < 6);
    const warnings: string[] = [];
    const { r, table } = await embed(screen, 'cal-some', { precision: 'int8', warn: (m) => warnings.push(m) });
    const c = r.calibration!;
    assert.equal(c.broken.length, 3);
    assert.equal(c.fallback, true);
    assert.equal(c.fields, 8);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /int8 calibration: 3 calibration field\(s\) could not be read \(P0 A01 site 1: .*c-some_0_DNA\.tif/);
    assert.match(warnings[0]!, /calibrated instead on 3 other field\(s\) \(3 DMSO control, 0 treated/);
    // the broken fields are skipped as any unreadable field, the others embedded
    assert.equal(table.features.length, 21);
    assert.equal(r.errors.filter((e) => e.stage === 'read').length, 3);
    // the same broken screen calibrates the same way: the same cached quantized network, the same features
    const again = await embed(screen, 'cal-some-2', { precision: 'int8' });
    assert.equal(again.r.calibration!.onnxPath, c.onnxPath);
    assert.ok(bytesOf(again.table.features).equals(bytesOf(table.features)));
  });

  it('with every control broken, calibrates on treated fields and says so; with nothing readable, stops saying why', async () => {
    const screen = await screenOf('c-all', 12, (_k, compound) => compound === 'DMSO');
    const warnings: string[] = [];
    const { r, table } = await embed(screen, 'cal-all', { precision: 'int8', warn: (m) => warnings.push(m) });
    assert.equal(r.calibration!.fallback, true);
    assert.match(warnings[0]!, /calibrated instead on \d+ other field\(s\) \(0 DMSO control, \d+ treated/);
    assert.equal(table.features.length, 6);
    assert.ok(table.metadata.every((m) => m['Metadata_Compound'] === 'taxol'));

    const none = await screenOf('c-none', 4, () => true);
    await assert.rejects(embed(none, 'cal-none', { precision: 'int8' }), (e: unknown) => e instanceof MorphoprofError && /calibration|read/i.test(e.message));
  });
});

