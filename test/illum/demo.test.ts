import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeIllumination } from '../../src/illum/index.js';
import { readImage } from '../../src/image/index.js';
import { loadScreen } from '../../src/screen/index.js';
import { synthesizeScreen } from '../../src/synth/index.js';
import { tempDir } from '../helpers.js';

/** Coefficient of variation of the 64x64-block means of an image: its large-scale unevenness. */
function blockCv(img: Float32Array, w: number, h: number): number {
  const B = 64;
  const blocks: number[] = [];
  for (let by = 0; by + B <= h; by += B) {
    for (let bx = 0; bx + B <= w; bx += B) {
      let s = 0;
      for (let y = by; y < by + B; y++) for (let x = bx; x < bx + B; x++) s += img[y * w + x]!;
      blocks.push(s / (B * B));
    }
  }
  const mean = blocks.reduce((a, b) => a + b, 0) / blocks.length;
  return Math.sqrt(blocks.reduce((a, b) => a + (b - mean) ** 2, 0) / blocks.length) / mean;
}

/** Per-pixel median over a stack: the background with the nuclei removed. */
function pixelMedian(stack: Float32Array[]): Float32Array {
  const out = new Float32Array(stack[0]!.length);
  const v = new Float32Array(stack.length);
  for (let i = 0; i < out.length; i++) {
    for (let k = 0; k < stack.length; k++) v[k] = stack[k]![i]!;
    v.sort();
    out[i] = (v[(v.length - 1) >> 1]! + v[v.length >> 1]!) / 2;
  }
  return out;
}

test('demo screen: illumination-corrected DMSO DNA images of a plate are far flatter than the raw ones', async (t) => {
  // the demo preset's first plate (plate optics and layout depend on the seed and plate index only)
  const synth = await synthesizeScreen({ out: tempDir('illum-demo-'), preset: 'demo', plates: 1 });
  const { screen } = await loadScreen({ metadata: synth.imageTable, images: synth.imagesRoot });
  const set = await computeIllumination({ screen, out: tempDir('illum-demo-fn-'), channels: ['DAPI'] });
  const plate = set.plates[0]!;
  const fn = set.full(plate, 'DAPI');
  const raw: Float32Array[] = [];
  for (const f of screen.fields.filter((x) => x.compound === screen.controlCompound)) raw.push(Float32Array.from((await readImage(f.images.DAPI!)).data));
  const corrected = raw.map((img) => img.map((v, i) => v / fn[i]!));
  const cvRaw = blockCv(pixelMedian(raw), set.width, set.height);
  const cvCorrected = blockCv(pixelMedian(corrected), set.width, set.height);
  t.diagnostic(`${plate} DNA, ${raw.length} DMSO fields: CV of the 64-px block means of the per-pixel median, raw ${cvRaw.toFixed(4)}, corrected ${cvCorrected.toFixed(4)}`);
  assert.ok(cvCorrected < 0.6 * cvRaw, `corrected ${cvCorrected} vs raw ${cvRaw}`);
});
