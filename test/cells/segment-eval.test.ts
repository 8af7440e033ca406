import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { evaluateSegmentation } from '../../src/cells/segment-eval.js';
import { MorphoprofError } from '../../src/errors.js';
import { sharedData, skipMessage, tempDir } from '../helpers.js';

/** Measured with the default options: F1 0.8542, mean IoU 0.8486 (docs/segmentation.md); pinned a little below. */
const DSB_F1 = 0.85;

/** An 8-bit image of disks and its 16-bit label image. */
async function writePair(dir: string, name: string, w: number, h: number, disks: Array<[number, number, number]>): Promise<void> {
  const img = new Uint8Array(w * h).fill(10);
  const lab = new Uint16Array(w * h);
  disks.forEach(([cx, cy, r], k) => {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) {
          img[y * w + x] = 200;
          lab[y * w + x] = 10 * (k + 1); // label values need not be consecutive
        }
      }
    }
  });
  await sharp(img, { raw: { width: w, height: h, channels: 1 } }).png().toFile(path.join(dir, `${name}.png`));
  await sharp(lab, { raw: { width: w, height: h, channels: 1 } }).toColourspace('grey16').png().toFile(path.join(dir, `${name}_labels.png`));
}

describe('evaluateSegmentation', () => {
  it('scores a folder per image size and overall', async () => {
    const dir = tempDir('morphoprof-segeval-');
    await writePair(dir, 'a', 64, 64, [[20, 20, 8], [44, 44, 8]]);
    await writePair(dir, 'b', 64, 64, [[32, 32, 9]]);
    // the truth here has a nucleus the image does not show: one miss
    await writePair(dir, 'c', 80, 48, [[20, 24, 8]]);
    const c = path.join(dir, 'c_labels.png');
    const lab = new Uint16Array(80 * 48);
    for (let y = 0; y < 48; y++) for (let x = 0; x < 80; x++) {
      if ((x - 20) ** 2 + (y - 24) ** 2 <= 64) lab[y * 80 + x] = 1;
      if ((x - 60) ** 2 + (y - 24) ** 2 <= 64) lab[y * 80 + x] = 2;
    }
    await sharp(lab, { raw: { width: 80, height: 48, channels: 1 } }).toColourspace('grey16').png().toFile(c);
    writeFileSync(path.join(dir, 'INDEX.csv'), 'image,labels,width\na.png,a_labels.png,64\nb.png,b_labels.png,64\nc.png,c_labels.png,80\n');
    const r = await evaluateSegmentation(dir);
    assert.deepEqual(r.kinds.map((k) => [k.kind, k.images, k.truth, k.predicted, k.tp]), [
      ['64x64', 2, 3, 3, 3],
      ['80x48', 1, 2, 1, 1],
    ]);
    assert.equal(r.overall.truth, 5);
    assert.equal(r.overall.tp, 4);
    assert.equal(r.overall.f1, (2 * 4) / (5 + 4));
    assert.ok(r.overall.meanIoU > 0.8 && r.overall.meanIoU <= 1);
    assert.equal(r.images.length, 3);
  });

  it('says what is missing when the folder has no INDEX.csv or lacks a column', async () => {
    const dir = tempDir('morphoprof-segeval-');
    await assert.rejects(evaluateSegmentation(dir), (e: unknown) => e instanceof MorphoprofError && e.code === 'FILE_NOT_FOUND' && e.message.includes('INDEX.csv'));
    writeFileSync(path.join(dir, 'INDEX.csv'), 'image,mask\na.png,a_labels.png\n');
    await assert.rejects(evaluateSegmentation(dir), /lacks column labels/);
  });

  const dsb = sharedData('nuclei', 'dsb2018-fluorescence');
  it(`reaches F1 >= ${DSB_F1} on the 40 DSB 2018 fluorescence images with the defaults`, { skip: dsb ? false : skipMessage('nuclei/dsb2018-fluorescence') }, async () => {
    const r = await evaluateSegmentation(dsb!);
    assert.equal(r.overall.images, 40);
    assert.equal(r.overall.truth, 2396);
    assert.ok(r.overall.f1 >= DSB_F1, `F1 ${r.overall.f1.toFixed(3)}`);
    assert.ok(r.overall.meanIoU >= 0.84, `mean IoU ${r.overall.meanIoU.toFixed(3)}`);
    assert.deepEqual(r.kinds.map((k) => k.kind), ['256x256', '360x360', '696x520']);
  });
});
