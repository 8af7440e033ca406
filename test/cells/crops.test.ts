import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { boxStart, CropWriter, cutBox, objectCentres } from '../../src/cells/crops.js';
import { aggregateRows, cellJobSize, defaultCropBatch } from '../../src/cells/deep.js';
import { readLocations } from '../../src/cells/locations.js';
import type { LabelImage } from '../../src/cells/types.js';
import { MorphoprofError } from '../../src/errors.js';
import type { Screen } from '../../src/screen/types.js';
import { tempDir } from '../helpers.js';

describe('crops', () => {
  test('object centres are the mean pixel positions, in object order, empty objects left out', () => {
    const w = 6;
    const labels = new Int32Array(w * 4);
    // object 1: pixels (1,1),(2,1),(1,2),(2,2) -> centre (1.5, 1.5); object 3: (5,3) alone; object 2 empty
    for (const [x, y] of [[1, 1], [2, 1], [1, 2], [2, 2]]) labels[y! * w + x!] = 1;
    labels[3 * w + 5] = 3;
    const img: LabelImage = { labels, width: w, height: 4, count: 3 };
    assert.deepEqual(objectCentres(img), [{ object: 1, x: 1.5, y: 1.5 }, { object: 3, x: 5, y: 3 }]);
  });

  test('a box around a nucleus: the pixels of the field, 0 outside the image (DeepProfiler\'s extrapolation value)', () => {
    const W = 10;
    const H = 8;
    const field = Float32Array.from({ length: W * H }, (_, i) => i + 1); // no zeros inside
    const box = 4;
    const inside = cutBox(field, W, H, 5, 4, box, new Float32Array(16));
    const x0 = boxStart(5, box);
    const y0 = boxStart(4, box);
    assert.deepEqual([x0, y0], [3, 2]);
    for (let j = 0; j < box; j++) for (let i = 0; i < box; i++) assert.equal(inside[j * box + i], field[(y0 + j) * W + x0 + i]);
    // a nucleus in the top-left corner: the box's first two rows and columns lie outside
    const corner = cutBox(field, W, H, 0.2, 0.4, box, new Float32Array(16).fill(-1));
    for (let j = 0; j < box; j++)
      for (let i = 0; i < box; i++) {
        const [x, y] = [boxStart(0.2, box) + i, boxStart(0.4, box) + j];
        assert.equal(corner[j * box + i], x < 0 || y < 0 ? 0 : field[y * W + x], `(${i}, ${j})`);
      }
    // bottom-right, and a box that sticks out on every side of a small field
    const br = cutBox(field, W, H, 9, 7, box, new Float32Array(16).fill(-1));
    assert.equal(br.filter((v) => v === 0).length, 16 - 9); // columns 7..9 and rows 5..7 inside
    const big = cutBox(field, 3, 2, 1, 1, 6, new Float32Array(36).fill(-1));
    assert.equal(big.filter((v) => v !== 0).length, 6);
    assert.ok(big.every((v) => v >= 0));
  });

  test('crops become network inputs at the box size (untouched), enlarged bilinearly, or shrunk by area', () => {
    const W = 40;
    const field = Float32Array.from({ length: W * W }, (_, i) => (i % W) * 3); // a horizontal ramp
    const native = new CropWriter(8, 8, 'caffe').plane(field, W, W, 20, 20);
    assert.deepEqual([...native.subarray(0, 8)], [48, 51, 54, 57, 60, 63, 66, 69]);
    const up = new CropWriter(8, 20, 'caffe').plane(field, W, W, 20, 20);
    const row = [...up.subarray(40, 60)];
    const steps = row.slice(2, -2).map((v, i) => row[i + 3]! - v);
    for (const s of steps) assert.ok(Math.abs(s - (3 * 8) / 20) < 1e-3, `bilinear step ${s}`);
    const blocky = new CropWriter(8, 20, 'caffe', 'nearest-like').plane(field, W, W, 20, 20);
    const bsteps = [...blocky.subarray(42, 58)].map((v, i) => blocky[43 + i]! - v).slice(0, -1);
    assert.ok(Math.max(...bsteps) - Math.min(...bsteps) > 1, `the area resampler enlarges in uneven steps: ${bsteps.join(' ')}`);
    const down = new CropWriter(8, 4, 'caffe').plane(field, W, W, 20, 20);
    assert.deepEqual([...down.subarray(0, 4)], [49.5, 55.5, 61.5, 67.5]);
    // written as 3 greyscale channels with the network's preprocessing (caffe: BGR mean subtracted)
    const dst = new Float32Array(3 * 64);
    new CropWriter(8, 8, 'caffe').write(dst, 0, field, W, W, 20, 20);
    assert.ok(Math.abs(dst[0]! - (48 - 103.939)) < 1e-4 && Math.abs(dst[64]! - (48 - 116.779)) < 1e-4 && Math.abs(dst[128]! - (48 - 123.68)) < 1e-4);
  });

  test('a field\'s cells aggregate to their mean or median per feature', () => {
    const v = Float32Array.of(1, 10, 2, 30, 9, 20); // 3 cells x 2 features
    assert.deepEqual([...aggregateRows(v, 3, 2, 'mean')], [4, 20]);
    assert.deepEqual([...aggregateRows(v, 3, 2, 'median')], [2, 20]);
    assert.deepEqual([...aggregateRows(v, 2, 2, 'median')], [1.5, 20]);
  });

  test('job size and batch size scale with the work of a field of cells', () => {
    assert.equal(defaultCropBatch(224), 24);
    // smaller inputs: more crops per batch, up to 32 (measured flat from 16 to 128 at 96 px on single-threaded sessions)
    assert.equal(defaultCropBatch(96), 32);
    assert.equal(defaultCropBatch(300), 13);
    const at224 = cellJobSize({ inputSize: 224 });
    const at96 = cellJobSize({ inputSize: 96 });
    assert.ok(at224 >= 1 && at96 > at224, `${at224} at 224, ${at96} at 96`);
    assert.ok(cellJobSize({ inputSize: 96, cellsPerField: 50 }) > cellJobSize({ inputSize: 96, cellsPerField: 150 }));
    // measured rates: 400 crop-stains/s, 100 cells x 3 stains a field, 20 s jobs -> ~27 fields
    assert.equal(cellJobSize({ inputSize: 96, cropStainsPerSecond: 400, minSeconds: 20, imagesPerSecond: 1000 }), 27);
  });
});

describe('locations table', () => {
  const screen = {
    metadataPath: 'm.csv', imagesRoot: '/', channels: ['DNA'], controlCompound: 'DMSO',
    fields: [{ plate: 'P1', well: 'B02', site: 1, compound: 'DMSO', concentration: 0, moa: null, batch: null, images: { DNA: '/x.tif' }, row: 1 }],
  } as Screen;

  test('rows match fields (wells as B2 or B02), bad rows are recorded with their row number, the rest kept', async () => {
    const dir = tempDir('locs-');
    const file = path.join(dir, 'nuclei.csv');
    writeFileSync(
      file,
      [
        'ImageNumber,Metadata_Plate,Metadata_Well,Metadata_Site,Nuclei_Location_Center_X,Nuclei_Location_Center_Y',
        '1,P1,B2,1,10.5,20',
        '1,P1,B02,1,30,40',
        '2,P1,C03,1,5,5',
        '2,P1,C03,1,6,6',
        '1,P1,B02,1,abc,4',
      ].join('\n'),
    );
    const t = await readLocations(file, screen);
    assert.deepEqual(t.byField.get('P1/B02/s1'), [{ object: 1, x: 10.5, y: 20 }, { object: 2, x: 30, y: 40 }]);
    assert.equal(t.errors.length, 2);
    assert.match(t.errors[0]!.reason, /row 3 of .*nuclei\.csv: field P1\/C03\/s1 is not in the screen's image table \(2 rows name it\)/);
    assert.match(t.errors[1]!.reason, /row 5 .*not a pair of numbers/);
    assert.deepEqual([t.errors[0]!.row, t.errors[1]!.row], [3, 5]);
  });

  test('a table without the centre columns is refused, naming them', async () => {
    const file = path.join(tempDir('locs-'), 'bad.csv');
    writeFileSync(file, 'Metadata_Plate,Metadata_Well,Metadata_Site,X\nP1,B02,1,3\n');
    await assert.rejects(readLocations(file, screen), (e: unknown) => e instanceof MorphoprofError && e.code === 'MISSING_COLUMN' && /Nuclei_Location_Center_X, Nuclei_Location_Center_Y/.test(e.message));
  });
});
