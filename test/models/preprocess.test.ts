import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MorphoprofError } from '../../src/errors.js';
import { loadImageNetLabels, preprocessInto, PREPROCESS_MODES } from '../../src/models/preprocess.js';

const R = Float32Array.of(0, 10, 255);
const G = Float32Array.of(20, 30, 128);
const B = Float32Array.of(40, 50, 7);

function run(mode: (typeof PREPROCESS_MODES)[number], offset = 0): Float32Array {
  const dst = new Float32Array(offset + 9).fill(Number.NaN);
  preprocessInto(dst, offset, [R, G, B], mode);
  return dst;
}

function assertNear(actual: ArrayLike<number>, expected: number[]): void {
  assert.equal(actual.length, expected.length);
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i]! - e) < 1e-4, `[${i}] ${actual[i]} != ${e}`));
}

test('caffe: BGR order, ImageNet BGR mean subtracted, no scaling', () => {
  const mean = [103.939, 116.779, 123.68];
  assertNear(run('caffe'), [...B].map((v) => v - mean[0]!).concat([...G].map((v) => v - mean[1]!), [...R].map((v) => v - mean[2]!)));
});

test('tf: RGB scaled to [-1, 1]', () => {
  const out = run('tf');
  assertNear(out, [...R, ...G, ...B].map((v) => v / 127.5 - 1));
  assert.equal(out[2], 1);
  assert.equal(out[0], -1);
});

test('torch: RGB in [0, 1], ImageNet mean/std per channel', () => {
  const mean = [0.485, 0.456, 0.406];
  const std = [0.229, 0.224, 0.225];
  assertNear(run('torch'), [R, G, B].flatMap((plane, c) => [...plane].map((v) => (v / 255 - mean[c]!) / std[c]!)));
});

test('writes exactly one image at the offset, and accepts a ModelInfo-like spec', () => {
  const dst = new Float32Array(2 * 9).fill(7);
  preprocessInto(dst, 9, [R, G, B], { preprocessing: 'tf' });
  assert.ok(dst.subarray(0, 9).every((v) => v === 7));
  assertNear(dst.subarray(9), [...run('tf')]);
});

test('bad arguments are rejected with BAD_ARGUMENT', () => {
  const bad = (f: () => void) => assert.throws(f, (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_ARGUMENT');
  bad(() => preprocessInto(new Float32Array(9), 1, [R, G, B], 'caffe'));
  bad(() => preprocessInto(new Float32Array(9), 0, [R, G, Float32Array.of(1)], 'caffe'));
  bad(() => preprocessInto(new Float32Array(9), 0, [R, G, B], 'inception' as 'tf'));
});

test('ImageNet labels: 1000 class names in class-id order', () => {
  const labels = loadImageNetLabels();
  assert.equal(labels.length, 1000);
  // ImageNet repeats two names (crane, maillot) for different classes; all others are distinct.
  assert.ok(new Set(labels).size >= 998 && labels.every((l) => l.length > 0));
  assert.ok(labels.indexOf('tench') === 0 && labels.includes('Egyptian_cat'));
});
