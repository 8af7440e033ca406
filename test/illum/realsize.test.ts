import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { applyIllumination, computeIllumination, illuminationFunction } from '../../src/illum/index.js';
import { areaResize, readImage } from '../../src/image/index.js';
import { loadScreen } from '../../src/screen/index.js';
import type { Screen } from '../../src/screen/types.js';
import { synthesizeScreen } from '../../src/synth/index.js';
import { sharedData, skipMessage, tempDir } from '../helpers.js';

function relativeDifference(a: Float32Array, b: Float32Array): { max: number; mean: number } {
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!) / Math.abs(b[i]!);
    sum += d;
    if (d > max) max = d;
  }
  return { max, mean: sum / a.length };
}

function correlation(a: Float32Array, b: Float32Array): number {
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < a.length; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= a.length;
  mb /= b.length;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < a.length; i++) {
    sab += (a[i]! - ma) * (b[i]! - mb);
    saa += (a[i]! - ma) ** 2;
    sbb += (b[i]! - mb) ** 2;
  }
  return sab / Math.sqrt(saa * sbb);
}

describe('real-size 1280x1024 fields (a synthetic plate, DNA stain)', () => {
  let screen: Screen;
  let average: Float64Array;
  before(async () => {
    const r = await synthesizeScreen({ out: tempDir('illum-real-size-'), preset: 'bench', plates: 1, sites: 1, doses: 1, controls: 1 });
    ({ screen } = await loadScreen({ metadata: r.imageTable, images: r.imagesRoot }));
    average = new Float64Array(1280 * 1024);
    for (const f of screen.fields) {
      const { data } = await readImage(f.images.DAPI!);
      for (let i = 0; i < data.length; i++) average[i]! += data[i]! / screen.fields.length;
    }
  });

  test("'fast' (median at 1/4 scale) is close to 'full' (median at full resolution)", (t) => {
    const full = illuminationFunction(average, 1280, 1024, 'full').fn;
    const fast = illuminationFunction(average, 1280, 1024, 'fast').fn;
    const d = relativeDifference(fast, full);
    t.diagnostic(`fast vs full: max relative difference ${(100 * d.max).toFixed(2)}%, mean ${(100 * d.mean).toFixed(3)}%, correlation ${correlation(fast, full).toFixed(5)}`);
    assert.ok(d.mean < 0.005 && d.max < 0.03, `mean ${d.mean}, max ${d.max}`);
  });

  test('correcting at the network input size (resized image / resized function) matches correcting at full resolution then downsampling', async (t) => {
    const set = await computeIllumination({ screen, out: tempDir('illum-real-size-fn-'), channels: ['DAPI'] });
    for (const size of [224, 299]) {
      let worst = { max: 0, mean: 0 };
      let r = 1;
      for (const f of screen.fields.slice(0, 4)) {
        const img = await readImage(f.images.DAPI!);
        const atFull = areaResize(applyIllumination(Float32Array.from(img.data), set.full(f.plate, 'DAPI')), 1280, 1024, size, size);
        const atInput = applyIllumination(areaResize(img.data, 1280, 1024, size, size), set.resized(f.plate, 'DAPI', size, size));
        const d = relativeDifference(atInput, atFull);
        if (d.max > worst.max) worst = d;
        r = Math.min(r, correlation(atInput, atFull));
      }
      t.diagnostic(`${size}x${size}: max relative difference ${(100 * worst.max).toFixed(3)}%, mean ${(100 * worst.mean).toFixed(4)}%, correlation >= ${r.toFixed(6)}`);
      assert.ok(worst.max < 0.01 && r > 0.9999, `${size}: max ${worst.max}, correlation ${r}`);
    }
  });
});

test('real BBBC021 DNA images: read, average, compute and apply at 1280x1024 (smoke test: one image per plate)', async (t) => {
  const root = sharedData('bbbc021', 'images');
  if (!root) return t.skip(skipMessage('bbbc021/images'));
  const index = parse(readFileSync(path.join(root, 'INDEX.csv')), { columns: true }) as Array<Record<string, string>>;
  const dna = index.filter((r) => r.bbbc_channel!.startsWith('w1'));
  if (dna.length === 0) return t.skip(skipMessage('bbbc021/images DNA files'));
  const screen: Screen = {
    metadataPath: path.join(root, 'INDEX.csv'), imagesRoot: root, channels: ['DAPI'], controlCompound: 'DMSO',
    fields: dna.map((r, k) => ({
      plate: r.plate!, well: r.well!, site: Number(r.site), compound: r.compound!, concentration: Number(r.concentration), moa: r.moa || null,
      batch: null, images: { DAPI: path.join(root, '..', r.path!) }, row: k + 1,
    })),
  };
  const warnings: string[] = [];
  const set = await computeIllumination({ screen, out: tempDir('illum-bbbc021-'), warn: (m) => warnings.push(m) });
  assert.deepEqual([set.width, set.height], [1280, 1024]);
  assert.equal(warnings.length, new Set(dna.map((r) => r.plate)).size, 'each plate warned: only 1 image');
  for (const f of screen.fields) {
    const fn = set.full(f.plate, 'DAPI');
    let lo = Infinity;
    let hi = 0;
    for (const v of fn) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    t.diagnostic(`${f.plate}: function ${lo.toFixed(3)}..${hi.toFixed(3)}`);
    assert.ok(lo === 1 && hi > 1 && hi < 3);
    const img = await readImage(f.images.DAPI!);
    const corrected = applyIllumination(Float32Array.from(img.data), fn);
    const mean = corrected.reduce((a, b) => a + b, 0) / corrected.length;
    assert.ok(mean > 0 && mean <= Number(dna.find((r) => r.plate === f.plate)!.mean), 'dividing by a function >= 1 cannot brighten');
  }
});
