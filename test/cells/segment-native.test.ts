/**
 * The C segmentation blurs (native/kernels.c segBinomialBlur, segBoxBlur) against their
 * TypeScript twin (gaussianBlur's passes in src/cells/filters.ts): bitwise-equal planes for the
 * binomial and the box range of sigma, odd sizes, a single row or column, in place; the seeded
 * watershed (segWatershed) against `watershed`: identical labels, ties included; the histogram
 * (segHistogram) against `histogram`, NaN and infinities included; and the same
 * nuclei through segmentNuclei either way.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gaussianBlur, useBlurKernel } from '../../src/cells/filters.js';
import { nativeBlur, nativeHistogram, nativeWatershed } from '../../src/cells/segment-native.js';
import { segmentNuclei } from '../../src/cells/segment.js';
import { histogram, useHistogramKernel } from '../../src/cells/threshold.js';
import { useWatershedKernel, watershed } from '../../src/cells/watershed.js';
import { native } from '../../src/native.js';
import { lcg } from '../helpers.js';

const skip = 'native kernels not built with segBinomialBlur/segBoxBlur (npm install builds them with node-gyp); the TypeScript twin is in use';

const kernel = (): Parameters<typeof useBlurKernel>[0] => (native?.segBinomialBlur && native.segBoxBlur ? { binomial: native.segBinomialBlur, box: native.segBoxBlur } : null);

/** Blur with the TypeScript passes and with the C kernel (restoring the registration after). */
function both(src: Float32Array, w: number, h: number, sigma: number, inPlace = false): [Float32Array, Float32Array] {
  const run = (): Float32Array => {
    const a = Float32Array.from(src);
    return gaussianBlur(a, w, h, sigma, inPlace ? a : new Float32Array(w * h));
  };
  try {
    useBlurKernel(null);
    const ts = run();
    useBlurKernel(kernel());
    return [ts, run()];
  } finally {
    useBlurKernel(nativeBlur ? kernel() : null);
  }
}

const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

test('segBinomialBlur and segBoxBlur: bitwise the TypeScript blur', (t) => {
  if (!nativeBlur) return t.skip(skip);
  assert.ok(nativeBlur, 'the registration module registered the kernel');
  const rnd = lcg(5);
  for (const [w, h] of [[67, 41], [1, 30], [30, 1], [5, 5], [128, 96]] as const) {
    // 16-bit-like values with a few spikes (wide exponents stress the running sums)
    const src = Float32Array.from({ length: w * h }, () => (rnd() < 0.02 ? 60000 * rnd() : 100 + 900 * rnd()) + rnd() / 7);
    for (const sigma of [0.5, 1, 1.3, 1.6, 2.9, 4.2, 9]) {
      for (const inPlace of [false, true]) {
        const [ts, c] = both(src, w, h, sigma, inPlace);
        assert.deepEqual(bits(c), bits(ts), `${w}x${h} sigma ${sigma}${inPlace ? ' in place' : ''}`);
        assert.notDeepEqual(bits(ts), bits(src), 'the blur changed the plane');
      }
    }
  }
});

test('segWatershed: the same labels as watershed in TypeScript', (t) => {
  if (!nativeWatershed) return t.skip(skip);
  const rnd = lcg(17);
  for (const [w, h, levels] of [[53, 37, 0], [53, 37, 6], [1, 25, 0], [25, 1, 3], [40, 40, 2]] as const) {
    const n = w * h;
    // quantized costs (levels > 0) make many ties, which first-in-first-out must break alike
    const cost = Float32Array.from({ length: n }, () => (levels ? Math.floor(rnd() * levels) : rnd() * 10 - 5));
    const mask = Uint8Array.from({ length: n }, () => (rnd() < 0.85 ? 1 : 0));
    const seeds = Int32Array.from({ length: n }, () => (rnd() < 0.02 ? 1 + Math.floor(rnd() * 5) : 0));
    seeds[n >> 1] = 1;
    mask[n >> 1] = 1;
    mask[(n >> 1) + 1] = 1;
    const run = (k: Parameters<typeof useWatershedKernel>[0]): Int32Array => {
      useWatershedKernel(k);
      return watershed(cost, Int32Array.from(seeds), mask, w, h);
    };
    try {
      const ts = run(null);
      const c = run(native?.segWatershed ?? null);
      assert.ok(ts.some((v, i) => v !== seeds[i]), 'the seeds grew');
      assert.deepEqual(c, ts, `${w}x${h}, ${levels || 'continuous'} levels`);
    } finally {
      useWatershedKernel(native?.segWatershed ?? null);
    }
  }
  assert.throws(() => native!.segWatershed!(new Float32Array(4), new Int32Array(3), new Uint8Array(4), 2, 2, 16), RangeError);
});

test('segHistogram: the same histogram as histogram() in TypeScript', (t) => {
  if (!nativeHistogram) return t.skip(skip);
  const rnd = lcg(3);
  const cases: Array<[string, Float32Array]> = [
    ['16-bit-like', Float32Array.from({ length: 5000 }, () => Math.round(65535 * rnd() * rnd()))],
    ['floats with a NaN', Float32Array.from({ length: 999 }, (_, i) => (i === 7 ? NaN : rnd() * 3 - 1))],
    ['an infinity', Float32Array.from({ length: 300 }, (_, i) => (i === 5 ? Infinity : rnd()))],
    ['constant', new Float32Array(100).fill(4)],
    ['all NaN', new Float32Array(10).fill(NaN)],
    ['empty', new Float32Array(0)],
  ];
  try {
    for (const [what, a] of cases) {
      for (const bins of [7, 4096, 65536]) {
        useHistogramKernel(null);
        const ts = histogram(a, undefined, bins);
        useHistogramKernel(native?.segHistogram ?? null);
        const c = histogram(a, undefined, bins);
        assert.deepEqual(c, ts, `${what}, ${bins} bins`);
      }
    }
  } finally {
    useHistogramKernel(native?.segHistogram ?? null);
  }
  assert.throws(() => native!.segHistogram!(new Float32Array(3), new Float64Array(4), new Float64Array(1)), RangeError);
});

test('segBoxBlur: bad arguments throw instead of writing out of bounds', (t) => {
  if (!native?.segBoxBlur || !native.segBinomialBlur) return t.skip(skip);
  const a = new Float32Array(12);
  assert.throws(() => native!.segBoxBlur!(a, new Float32Array(11), a, 4, 3, 3, 3, 3), RangeError);
  assert.throws(() => native!.segBoxBlur!(a, a, a, 4, 3, 3, 4, 3), RangeError);
  assert.throws(() => native!.segBinomialBlur!(a, a, new Float64Array(12) as unknown as Float32Array, 4, 3, 1), TypeError);
});

test('segmentNuclei: the same labels with the C blurs and with the TypeScript blurs', (t) => {
  if (!nativeBlur) return t.skip(skip);
  // a field of blurred discs, some touching, on a noisy background
  const w = 160;
  const h = 120;
  const rnd = lcg(9);
  const data = new Uint16Array(w * h);
  const discs = [[30, 30, 10], [48, 34, 9], [100, 60, 12], [120, 70, 11], [60, 90, 8], [135, 25, 7]] as const;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let v = 300 + 40 * rnd();
      for (const [cx, cy, r] of discs) {
        const d = Math.hypot(x - cx, y - cy);
        if (d < r + 2) v += 2000 / (1 + Math.exp((d - r) * 1.5));
      }
      data[y * w + x] = Math.round(v);
    }
  }
  try {
    useBlurKernel(null);
    useWatershedKernel(null);
    useHistogramKernel(null);
    const ts = segmentNuclei({ data, width: w, height: h }, { diameter: [8, 40] });
    useBlurKernel(kernel());
    useWatershedKernel(native?.segWatershed ?? null);
    useHistogramKernel(native?.segHistogram ?? null);
    const c = segmentNuclei({ data, width: w, height: h }, { diameter: [8, 40] });
    assert.ok(ts.count >= 5, `found ${ts.count} nuclei`);
    assert.equal(c.count, ts.count);
    assert.equal(c.threshold, ts.threshold);
    assert.deepEqual(c.labels, ts.labels);
  } finally {
    useBlurKernel(nativeBlur ? kernel() : null);
    useWatershedKernel(nativeWatershed ? (native?.segWatershed ?? null) : null);
    useHistogramKernel(nativeHistogram ? (native?.segHistogram ?? null) : null);
  }
});
