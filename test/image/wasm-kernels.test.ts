/**
 * The whole-field kernels compiled to WebAssembly (native/wasm.c, the page's reading worker uses
 * them) against their TypeScript twins, bitwise: area downsampling of every pixel type,
 * percentiles, scaling and preprocessing. Skipped, saying so, without a clang that targets
 * wasm32-wasi; CI installs one, and there a missing compiler fails the test.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { scaleTo255Js } from '../../src/embed/scale.js';
import { areaResizeJs } from '../../src/image/resample.js';
import { PREPROCESS_MODES, preprocessInto, preprocessIntoJs, preprocessTransforms } from '../../src/models/preprocess.js';
import { fieldKernels, native, useFieldKernels, type FieldKernels } from '../../src/native.js';
import { valuesAtRanksJs } from '../../src/util/select.js';
import { wasmFieldKernels } from '../../src/wasm-kernels.js';
import { buildKernelsWasm, floatBytes, lcg } from '../helpers.js';

const built = await buildKernelsWasm();
if (!built.file && process.env.CI) throw new Error(`CI installs clang for wasm32-wasi (.ci/run), yet: ${built.why}`);
const skip = built.file ? false : `no WebAssembly build of the kernels: ${built.why}`;

describe('the whole-field kernels in WebAssembly equal their TypeScript twins', { skip }, () => {
  let k: FieldKernels;
  before(async () => {
    k = await wasmFieldKernels(readFileSync(built.file!));
  });

  it('areaResize: 8/16-bit and float images, down and up, small fields after large ones (the module memory grows between calls)', () => {
    const rnd = lcg(7);
    const cases: Array<[number, number, number, number]> = [[37, 23, 5, 3], [1280, 1024, 224, 224], [3, 2, 7, 5], [2560, 2160, 224, 224], [1, 1, 4, 4], [696, 520, 224, 224], [1283, 1021, 299, 299], [9, 3, 2, 1], [17, 5, 40, 9]];
    for (const [sw, sh, w, h] of cases) {
      const u16 = Uint16Array.from({ length: sw * sh }, () => Math.floor(rnd() * 65536));
      for (const data of [u16, Uint8Array.from(u16, (v) => v >> 8), Float32Array.from(u16, (v) => v / 7), Float64Array.from(u16, (v) => v / 3)]) {
        const js = areaResizeJs(data, sw, sh, w, h);
        assert.ok(floatBytes(k.areaResize(data, sw, sh, w, h)).equals(floatBytes(js)), `${data.constructor.name} ${sw}x${sh} -> ${w}x${h}`);
        const out = new Float32Array(w * h);
        assert.equal(k.areaResize(data, sw, sh, w, h, out), out, 'writes into the given array');
        assert.ok(floatBytes(out).equals(floatBytes(js)));
      }
    }
    // a view into a larger buffer (a TIFF's pixels inside its file) is read from its own offset
    const file = new Uint16Array(40 + 64 * 48).map((_, i) => (i * 2654435761) % 65536);
    const view = file.subarray(40);
    assert.ok(floatBytes(k.areaResize(view, 64, 48, 10, 10)).equals(floatBytes(areaResizeJs(view, 64, 48, 10, 10))));
    assert.throws(() => k.areaResize(new Uint16Array(10), 4, 4, 2, 2), /srcWidth\*srcHeight/);
  });

  it('percentiles: the values at the wanted ranks, as sorting gives them (ties, outliers, constant planes)', () => {
    const rnd = lcg(11);
    const planes = [
      Float32Array.from({ length: 50176 }, () => 100 + 4000 * rnd() * rnd()),
      Float32Array.from({ length: 50176 }, () => Math.floor(rnd() * 5)),
      Float32Array.from({ length: 89401 }, (_, i) => (i % 97 === 0 ? 65535 : 300 + rnd())),
      Float32Array.from({ length: 3 }, () => rnd()),
      new Float32Array(500).fill(42),
    ];
    const out = new Float64Array(3);
    for (const p of planes) {
      const n = p.length;
      const ranks = [Math.round(0.001 * (n - 1)), Math.round(0.999 * (n - 1)), n - 1];
      k.percentilesF32!(p, Float64Array.from(ranks), out);
      const sorted = Float64Array.from(p).sort();
      assert.deepEqual([...out], valuesAtRanksJs(p, ranks));
      assert.deepEqual([...out], ranks.map((r) => sorted[r]));
    }
    assert.throws(() => k.percentilesF32!(planes[0]!, new Float64Array(17), new Float64Array(17)), /at most 16 ranks/);
  });

  it('scaling to 0..255 in place, and preprocessing into a batch at an offset, every mode (installed as the kernels in use)', () => {
    const rnd = lcg(5);
    const p = Float32Array.from({ length: 50176 }, () => 100 + 4000 * rnd());
    const a = p.slice();
    k.scaleTo255F32!(a, 300, 3900);
    assert.ok(floatBytes(a).equals(floatBytes(scaleTo255Js(p.slice(), 300, 3900))));
    const rgb: [Float32Array, Float32Array, Float32Array] = [a, p, Float32Array.from(a, (v) => 255 - v)];
    useFieldKernels(k);
    try {
      assert.equal(fieldKernels, k);
      for (const mode of PREPROCESS_MODES) {
        const n = p.length;
        const got = new Float32Array(3 * n + 5);
        const want = new Float32Array(3 * n + 5);
        preprocessInto(got, 5, rgb, mode);
        preprocessIntoJs(want, 5, rgb, preprocessTransforms(mode));
        assert.ok(floatBytes(got).equals(floatBytes(want)), mode);
      }
    } finally {
      useFieldKernels(native);
    }
  });
});
