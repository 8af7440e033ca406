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
