/**
 * The C kernels of the stages beside the network (native/kernels.c, issue 12 block) against their
 * TypeScript twins, bitwise: percentiles, scaling to 0..255, preprocessing into a (shared) batch,
 * and a TIFF read through a mapped file against one read into memory. Skipped, saying so, when
 * the addon is not built.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { percentileRange, scaleTo255, scaleTo255Js } from '../../src/embed/scale.js';
import { readImage, withImagePixels } from '../../src/image/read.js';
import { preprocessInto, preprocessIntoJs, preprocessTransforms } from '../../src/models/preprocess.js';
import { PREPROCESS_MODES } from '../../src/models/preprocess.js';
import { native } from '../../src/native.js';
import { valuesAtRanksJs } from '../../src/util/select.js';
import { fieldPixels } from '../image/fixtures.js';
import { floatBytes, tempDir } from '../helpers.js';

const skip = native?.percentilesF32 ? false : 'the C addon (with the issue 12 kernels) is not built; the TypeScript twins run instead';

/** Deterministic test planes: smooth, with ties, constant, tiny, with outliers. */
function planes(): Float32Array[] {
  let s = 12345;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const out: Float32Array[] = [];
  for (const n of [1, 2, 3, 17, 1000, 50176]) {
    out.push(Float32Array.from({ length: n }, () => 100 + 4000 * rnd() * rnd()));
    out.push(Float32Array.from({ length: n }, () => Math.floor(rnd() * 7))); // many ties
    out.push(Float32Array.from({ length: n }, (_, i) => (i % 97 === 0 ? 65535 : 300 + rnd()))); // outliers
  }
  out.push(new Float32Array(500).fill(42));
  return out;
}

describe('C kernels of the whole-field stages equal their TypeScript twins', { skip }, () => {
  it('percentiles: the values at the 0.1th and 99.9th percentile ranks, as sorting gives them', () => {
    for (const p of planes()) {
      const n = p.length;
      const rank = (q: number) => Math.round((q / 100) * (n - 1));
      for (const spec of [{ low: 0.1, high: 99.9 }, { low: 0, high: 100 }, { low: 50, high: 50 }]) {
        const got = percentileRange(p, spec);
        assert.deepEqual(got, valuesAtRanksJs(p, [rank(spec.low), rank(spec.high)]));
        const sorted = Float64Array.from(p).sort();
        assert.deepEqual(got, [sorted[rank(spec.low)], sorted[rank(spec.high)]]);
      }
    }
  });

  it('scaling to 0..255 and preprocessing into a shared batch, every mode', () => {
    for (const p of planes()) {
      const [lo, hi] = percentileRange(p);
      const a = scaleTo255(p.slice(), lo, hi);
      const b = scaleTo255Js(p.slice(), lo, hi);
      assert.ok(floatBytes(a).equals(floatBytes(b)));
      const rgb: [Float32Array, Float32Array, Float32Array] = [a, p, scaleTo255(p.slice(), hi, lo)];
      for (const mode of PREPROCESS_MODES) {
        const n = p.length;
        const shared = new Float32Array(new SharedArrayBuffer((3 * n + 5) * 4));
        const plain = new Float32Array(3 * n + 5);
        preprocessInto(shared, 5, rgb, mode);
        preprocessIntoJs(plain, 5, rgb, preprocessTransforms(mode));
        assert.ok(Buffer.from(new Uint8Array(shared.buffer)).equals(floatBytes(plain)), `${mode}, ${n} values`);
      }
    }
  });

  it('a TIFF read through a mapped file has the pixels of one read into memory; the mapping is gone after', async () => {
    const dir = tempDir('morphoprof-kernels-');
    const file = path.join(dir, 'field.tif');
    await sharp(fieldPixels(130, 70, 3), { raw: { width: 130, height: 70, channels: 1 } }).toColourspace('grey16').tiff({ compression: 'none' }).toFile(file);
    const whole = await readImage(file);
    let seen: Uint16Array | null = null;
    const copy = await withImagePixels(file, (img) => {
      seen = img.data as Uint16Array;
      return { ...img, data: img.data.slice() };
    });
    assert.deepEqual([copy.width, copy.height, copy.bitDepth], [130, 70, 16]);
    assert.deepEqual(Array.from(copy.data), Array.from(whole.data));
    assert.equal(seen!.length, 0, 'the view of the mapped file is detached once read');
    // unmapped at once, not when the garbage collector gets to it (a plate read in a burst would stay mapped)
    for (let i = 0; i < 20; i++) await withImagePixels(file, (img) => img.width);
    if (existsSync('/proc/self/maps')) assert.equal(readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.endsWith('field.tif')).length, 0);
    // a file that is not a TIFF still says so, naming it
    const bad = path.join(dir, 'bad.tif');
    writeFileSync(bad, 'II*\0 cut short');
    await assert.rejects(withImagePixels(bad, () => 0), /bad\.tif/);
    await assert.rejects(withImagePixels(path.join(dir, 'missing.tif'), () => 0), /not found.*missing\.tif/);
  });
});
