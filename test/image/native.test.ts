/**
 * The C kernels (native/kernels.c) against their TypeScript twins: bitwise-equal results, so a
 * screen's features do not depend on whether `npm install` could build the addon.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { areaResizeJs } from '../../src/image/resample.js';
import { native } from '../../src/native.js';
import { valuesAtRanksJs } from '../../src/util/select.js';
import { floatBytes, lcg } from '../helpers.js';

describe('C kernels', () => {
  it('areaResize: bitwise equal to TypeScript for down- and upsampling of 8/16-bit and float images', (t) => {
    if (!native) return t.skip('native kernels not built (npm install builds them with node-gyp); the TypeScript ones are in use');
    const rnd = lcg(7);
    const cases: Array<[number, number, number, number]> = [[1280, 1024, 224, 224], [1280, 1024, 299, 299], [696, 520, 224, 224], [37, 23, 5, 3], [3, 2, 7, 5], [1, 1, 4, 4], [640, 512, 640, 512], [1283, 1021, 224, 224], [9, 3, 2, 1], [17, 5, 40, 9]];
    for (const [sw, sh, w, h] of cases) {
      const u16 = Uint16Array.from({ length: sw * sh }, () => Math.floor(rnd() * 65536));
      const inputs = [u16, Uint8Array.from(u16, (v) => v >> 8), Float32Array.from(u16, (v) => v / 7), Float64Array.from(u16, (v) => v / 3)];
      for (const data of inputs) {
        const js = areaResizeJs(data, sw, sh, w, h);
        const c = native.areaResize(data, sw, sh, w, h);
        assert.ok(floatBytes(js).equals(floatBytes(c)), `${data.constructor.name} ${sw}x${sh} -> ${w}x${h}`);
        const out = new Float32Array(w * h);
        assert.equal(native.areaResize(data, sw, sh, w, h, out), out, 'writes into the given array');
        assert.ok(floatBytes(out).equals(floatBytes(js)));
      }
    }
    assert.throws(() => native!.areaResize(new Uint16Array(10), 4, 4, 2, 2), /srcWidth\*srcHeight/);
    assert.throws(() => native!.areaResize(new Uint16Array(16), 4, 4, 2, 2, new Float32Array(3)), /width\*height/);
  });

  it('valuesAtRanks: the same order statistics as TypeScript (and as sorting)', (t) => {
    if (!native) return t.skip('native kernels not built (npm install builds them with node-gyp); the TypeScript ones are in use');
    const rnd = lcg(11);
    const sets = [
      Float32Array.from({ length: 50176 }, () => rnd() * 1000),
      Float32Array.from({ length: 50176 }, () => Math.floor(rnd() * 5)), // many ties
      Uint16Array.from({ length: 100000 }, () => Math.floor(rnd() ** 4 * 65535)), // skewed, as microscopy
      new Float64Array([3, 1, 2]),
      new Float32Array([5, 5, 5]),
    ];
    for (const data of sets) {
      const n = data.length;
      const ranks = [0, 1, Math.round(0.001 * (n - 1)), Math.round(0.5 * (n - 1)), Math.round(0.999 * (n - 1)), n - 1, -5, n + 5];
      const sorted = Array.from(data).sort((a, b) => a - b);
      const c = native.valuesAtRanks(data, ranks);
      assert.deepEqual(c, valuesAtRanksJs(data, ranks), data.constructor.name);
      assert.deepEqual(c, ranks.map((r) => sorted[Math.min(n - 1, Math.max(0, r))]));
    }
    assert.ok(Number.isNaN(native.valuesAtRanks(new Float32Array(0), [0])[0]!));
  });
});

describe('accumulate', () => {
  it('adds images of any pixel type into a float64 sum (C and TypeScript alike)', async () => {
    const { accumulate } = await import('../../src/native.js');
    const sum = new Float64Array(4);
    accumulate(sum, new Uint16Array([1, 65535, 0, 7]));
    accumulate(sum, new Uint8Array([1, 255, 0, 7]));
    accumulate(sum, new Float32Array([0.5, 0, 0, 1]));
    assert.deepEqual(Array.from(sum), [2.5, 65790, 0, 15]);
    assert.throws(() => accumulate(sum, new Uint16Array(3)), /3 values into a sum of 4/);
  });
});
