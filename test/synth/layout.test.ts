import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import sharp from 'sharp';
import { IMAGE_TABLE_COLUMNS, MOA_TABLE, synthesizeScreen, type SynthResult } from '../../src/synth/index.js';
import { sharedData, skipMessage, tempDir } from '../helpers.js';

const W = 120;
const H = 96;
let result: SynthResult;
let rows: Array<Record<string, string>>;

function readCsv(file: string): Array<Record<string, string>> {
  return parse(readFileSync(file), { columns: true }) as Array<Record<string, string>>;
}
function header(file: string): string[] {
  return (parse(readFileSync(file, 'utf8').split('\n')[0] as string) as string[][])[0] as string[];
}

before(async () => {
  result = await synthesizeScreen({ out: tempDir('synth-layout-'), seed: 7, plates: 2, width: W, height: H, sites: 2, controls: 5 });
  rows = readCsv(result.imageTable);
});

test('image table header is exactly BBBC021_v1_image.csv\'s', (t) => {
  assert.deepEqual(header(result.imageTable), [...IMAGE_TABLE_COLUMNS]);
  const real = sharedData('bbbc021', 'metadata', 'BBBC021_v1_image.csv');
  if (!real) return t.skip(skipMessage('bbbc021/metadata/BBBC021_v1_image.csv'));
  assert.deepEqual(header(result.imageTable), header(real));
});

test('MOA table has BBBC021_v1_moa.csv\'s columns, every treatment and a DMSO row', (t) => {
  const moa = readCsv(result.moaTable);
  assert.deepEqual(header(result.moaTable), ['compound', 'concentration', 'moa']);
  const real = sharedData('bbbc021', 'metadata', 'BBBC021_v1_moa.csv');
  if (real) assert.deepEqual(header(result.moaTable), header(real));
  else t.diagnostic(skipMessage('bbbc021/metadata/BBBC021_v1_moa.csv'));
  assert.deepEqual(moa.filter((r) => r.compound === 'DMSO'), [{ compound: 'DMSO', concentration: '0.000000', moa: 'DMSO' }]);
  const moas = new Set(moa.map((r) => r.moa));
  assert.ok(moas.size - 1 >= 6, 'at least 6 MOAs besides DMSO');
  assert.ok(new Set(moa.map((r) => r.compound)).size - 1 >= 12, 'at least 12 compounds');
  for (const def of MOA_TABLE) {
    for (const c of def.compounds) {
      const doses = moa.filter((r) => r.compound === c.name).map((r) => Number(r.concentration));
      assert.ok(doses.length >= 2 && new Set(doses).size === doses.length, `${c.name} at 2+ distinct doses`);
    }
  }
  // every imaged treatment is annotated
  const keys = new Set(moa.map((r) => `${r.compound}@${Number(r.concentration)}`));
  for (const r of rows) assert.ok(keys.has(`${r.Image_Metadata_Compound}@${Number(r.Image_Metadata_Concentration)}`));
});

test('every plate is a replicate of all treatments with DMSO wells, one plate per week', () => {
  const moa = readCsv(result.moaTable).filter((r) => r.compound !== 'DMSO');
  const plates = [...new Set(rows.map((r) => r.Image_Metadata_Plate_DAPI as string))];
  assert.equal(plates.length, 2);
  const layouts: string[] = [];
  for (const plate of plates) {
    const mine = rows.filter((r) => r.Image_Metadata_Plate_DAPI === plate);
    const week = (plate as string).split('_')[0] as string;
    assert.match(week, /^Week\d+$/);
    const wells = new Map(mine.map((r) => [r.Image_Metadata_Well_DAPI, `${r.Image_Metadata_Compound}@${Number(r.Image_Metadata_Concentration)}`]));
    assert.equal([...wells.values()].filter((k) => k === 'DMSO@0').length, 5, `${plate}: 5 DMSO wells`);
    const treated = new Set(wells.values());
    for (const m of moa) assert.ok(treated.has(`${m.compound}@${Number(m.concentration)}`), `${plate} has ${m.compound} ${m.concentration}`);
    for (const r of mine) assert.equal(r.Image_PathName_DAPI, `${week}/${plate}`);
    assert.equal(mine.length, wells.size * 2, 'two sites per well');
    layouts.push([...wells].map(([w, k]) => `${w}=${k}`).join());
  }
  assert.notEqual(layouts[0], layouts[1], 'well positions are shuffled per plate');
});

test('file names follow BBBC021 and resolve to 16-bit greyscale TIFFs of the right size', async () => {
  const name = /^(Week\d+)_(\d{6})_([A-H]\d{2})_s(\d)_(w[124])[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\.tif$/;
  for (const [i, r] of rows.entries()) {
    for (const [channel, tag] of [['DAPI', 'w1'], ['Tubulin', 'w2'], ['Actin', 'w4']]) {
      const file = r[`Image_FileName_${channel}`] as string;
      const m = name.exec(file);
      assert.ok(m, `row ${i + 1}: ${file}`);
      assert.equal(m[3], r.Image_Metadata_Well_DAPI);
      assert.equal(m[5], tag);
      assert.ok(existsSync(path.join(result.imagesRoot, r[`Image_PathName_${channel}`] as string, file)), file);
    }
  }
  const first = rows[0] as Record<string, string>;
  for (const channel of ['DAPI', 'Tubulin', 'Actin']) {
    const file = path.join(result.imagesRoot, first[`Image_PathName_${channel}`] as string, first[`Image_FileName_${channel}`] as string);
    const meta = await sharp(file).metadata();
    assert.equal(meta.format, 'tiff');
    assert.equal(meta.width, W);
    assert.equal(meta.height, H);
    assert.equal(meta.channels, 1);
    assert.equal(meta.depth, 'ushort');
    // uncompressed: 2 bytes per pixel plus a small header
    const size = readFileSync(file).length;
    assert.ok(size >= 2 * W * H && size < 2 * W * H + 4096, `${file}: ${size} bytes`);
    const { data } = await sharp(file).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
    const px = new Uint16Array(data.buffer, data.byteOffset, data.length / 2);
    let max = 0;
    for (const v of px) if (v > max) max = v;
    assert.ok(max > 1000, `${channel}: values use the 16-bit range (max ${max})`);
  }
  assert.equal(result.fields, rows.length);
  assert.equal(result.images, 3 * rows.length);
});

test('the manifest records seed, options and the phenotype table', () => {
  const manifest = JSON.parse(readFileSync(result.manifest, 'utf8'));
  assert.equal(manifest.options.seed, 7);
  assert.equal(manifest.options.width, W);
  assert.equal(manifest.moas.length, MOA_TABLE.length);
  assert.equal(Object.keys(manifest.plates[0].optics).join(), 'DAPI,Tubulin,Actin');
});
