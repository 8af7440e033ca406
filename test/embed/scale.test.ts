import assert from 'node:assert/strict';
import { test } from 'node:test';
import { percentileRange, scaleTo255 } from '../../src/embed/scale.js';

test('percentileRange takes nearest-rank percentiles of unsorted data', () => {
  const data = Float32Array.from({ length: 1001 }, (_, i) => (i * 7919) % 1001); // 0..1000 shuffled
  assert.deepEqual(percentileRange(data, { low: 0, high: 100 }), [0, 1000]);
  assert.deepEqual(percentileRange(data, { low: 1, high: 99 }), [10, 990]);
  // the input is not reordered
  assert.equal(data[1], 7919 % 1001);
});

test('scaleTo255 maps [lo, hi] to [0, 255] and clips outside', () => {
  const data = Float32Array.from([100, 200, 300, 50, 1000]);
  scaleTo255(data, 100, 300);
  assert.deepEqual([...data], [0, 127.5, 255, 0, 255]);
});

test('scaleTo255 turns a flat image into zeros instead of dividing by zero', () => {
  const data = Float32Array.from([5, 5, 5]);
  scaleTo255(data, 5, 5);
  assert.deepEqual([...data], [0, 0, 0]);
});

test('percentileRange equals the sorted nearest-rank values on skewed, tied and constant data', () => {
  const rng = (seed: number) => () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const r = rng(3);
  const skewed = Float32Array.from({ length: 50_000 }, () => 300 + (r() < 0.05 ? 16_000 * r() ** 3 : 40 * r()));
  const tied = Float32Array.from({ length: 1000 }, (_, i) => (i < 990 ? 5 : 7 + i));
  for (const data of [skewed, tied, new Float32Array(10).fill(9)]) {
    const sorted = Float32Array.from(data).sort();
    const at = (p: number) => sorted[Math.round((p / 100) * (sorted.length - 1))];
    for (const spec of [{ low: 0.1, high: 99.9 }, { low: 2, high: 98 }, { low: 0, high: 100 }]) {
      assert.deepEqual(percentileRange(data, spec), [at(spec.low), at(spec.high)]);
    }
  }
});
