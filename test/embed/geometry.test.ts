/**
 * How the screen's image size is learned: from readable images spread over the whole screen, by
 * vote. A plate of corrupt files at the top of the table does not stop the run, and a few fields
 * of another size at the top do not decide it; either kind is skipped with its reason.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'csv-parse/sync';
import sharp from 'sharp';
import { embedScreen } from '../../src/embed/embed.js';
import { spreadOrder } from '../../src/embed/embedder.js';
import { loadScreen } from '../../src/screen/index.js';
import { fieldPixels, tinyModel } from '../image/fixtures.js';
import { tempDir } from '../helpers.js';

describe('spreadOrder', () => {
  it('visits every index once, spread over the range first', () => {
    for (const n of [0, 1, 2, 7, 100, 1000]) {
      const order = [...spreadOrder(n)];
      assert.equal(order.length, n);
      assert.deepEqual([...order].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
    }
    assert.deepEqual([...spreadOrder(8)], [0, 4, 2, 6, 1, 3, 5, 7]);
    // the first 9 of 1,000 (the geometry sample) reach 0.9 of the way
    assert.deepEqual([...spreadOrder(1000)].slice(0, 9), [0, 512, 256, 768, 128, 384, 640, 896, 64]);
  });
});

describe('the screen image size is learned from readable images wherever they are', () => {
  const dir = tempDir('morphoprof-geometry-');
  const model = tinyModel(path.join(dir, 'tiny.onnx'), 16);
  mkdirSync(path.join(dir, 'img'));

  /** A LoadData table of `bad` fields of plate Broken then `good` of plate Good (64x48) and `odd` of plate Odd (40x40) first. */
  async function screenOf(name: string, bad: number, odd: number, good: number) {
    const rows: string[] = ['Metadata_Plate,Metadata_Well,Metadata_Site,FileName_DNA,PathName_DNA,Metadata_Compound,Metadata_Concentration'];
    let k = 0;
    const add = async (plate: string, pixels: ((file: string) => Promise<void>) | null) => {
      const file = `${name}_${k}.tif`;
      const p = path.join(dir, 'img', file);
      if (pixels) await pixels(p);
      else writeFileSync(p, Buffer.from('II*\0 this is not an image, it was cut short by a full disk'));
      rows.push(`${plate},A${String((k % 24) + 1).padStart(2, '0')},${Math.floor(k / 24) + 1},${file},img,${k % 2 ? 'taxol' : 'DMSO'},${k % 2}`);
      k++;
    };
    const tiff = (w: number, h: number) => (file: string) =>
      sharp(fieldPixels(w, h, k + 1), { raw: { width: w, height: h, channels: 1 } }).toColourspace('grey16').tiff({ compression: 'none' }).toFile(file).then(() => {});
    for (let i = 0; i < odd; i++) await add('Odd', tiff(40, 40));
    for (let i = 0; i < bad; i++) await add('Broken', null);
    for (let i = 0; i < good; i++) await add('Good', tiff(64, 48));
    const metadata = path.join(dir, `${name}.csv`);
    writeFileSync(metadata, `${rows.join('\n')}\n`);
    return (await loadScreen({ metadata, images: dir })).screen;
  }

  const embed = (screen: Awaited<ReturnType<typeof screenOf>>, out: string) =>
    embedScreen({ screen, out: path.join(dir, out), model, inputSize: 16, preprocess: 'caffe', output: 'features', batchSize: 8, progress: false });
  const errorsOf = (out: string) => parse(readFileSync(path.join(dir, out, 'errors.csv')), { columns: true }) as Array<Record<string, string>>;

  it('24 corrupt images at the top of the table: the run goes on, each recorded as skipped', async () => {
    const screen = await screenOf('corrupt', 24, 0, 6);
    const r = await embed(screen, 'out-corrupt');
    assert.equal(r.fieldsEmbedded, 6);
    const errs = errorsOf('out-corrupt');
    assert.equal(errs.length, 24);
    assert.ok(errs.every((e) => e.Metadata_Plate === 'Broken' && e.Stage === 'read' && /Cannot decode image .*corrupt_\d+\.tif/.test(e.Reason!)), JSON.stringify(errs[0]));
  });

  it('a few fields of another size first: the most common size wins, the others are skipped as of another size', async () => {
    const screen = await screenOf('odd', 0, 3, 12);
    const r = await embed(screen, 'out-odd');
    assert.equal(r.fieldsEmbedded, 12);
    const errs = errorsOf('out-odd');
    assert.equal(errs.length, 3);
    assert.ok(errs.every((e) => e.Metadata_Plate === 'Odd' && /image is 40x40 16-bit but the screen's images are 64x48 16-bit/.test(e.Reason!)), errs[0]!.Reason);
  });

  it('no readable image at all: a clear error', async () => {
    const screen = await screenOf('none', 5, 0, 0);
    await assert.rejects(embed(screen, 'out-none'), /Cannot read any of the 5 images of stain DNA to learn the screen's image size/);
  });
});
