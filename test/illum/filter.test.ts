import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  encodeNpy, illuminationFunction, medianFilterDisk, readNpy, rescaleRobustMinimum, upsampleBilinear,
} from '../../src/illum/index.js';
import { tempDir } from '../helpers.js';

/** Sorts every disk window (lower median for even counts): the reference the sliding histogram must match. */
function naiveDiskMedian(data: Float32Array, w: number, h: number, r: number): Float32Array {
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v: number[] = [];
      for (let dy = -r; dy <= r; dy++) {
        for (let dx = -r; dx <= r; dx++) {
          const yy = y + dy;
          const xx = x + dx;
          if (dx * dx + dy * dy <= r * r && yy >= 0 && yy < h && xx >= 0 && xx < w) v.push(data[yy * w + xx]!);
        }
      }
      v.sort((a, b) => a - b);
      out[y * w + x] = v[(v.length - 1) >> 1]!;
    }
  }
  return out;
}

function noisyImage(w: number, h: number, seed: number): Float32Array {
  let s = seed;
  const rand = (): number => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  return Float32Array.from({ length: w * h }, (_, i) => 500 + 3 * (i % w) + (rand() < 0.3 ? 3000 * rand() : 40 * rand()));
}

test('disk median (sliding histogram) equals sorting every window, within a quantisation bin, at borders too', () => {
  for (const [w, h, r] of [[37, 23, 0], [37, 23, 1], [37, 23, 5], [29, 31, 12], [20, 9, 30]] as const) {
    const img = noisyImage(w, h, w * 100 + r);
    const fast = medianFilterDisk(img, w, h, r);
    const slow = naiveDiskMedian(img, w, h, r);
    const sorted = Float32Array.from(img).sort();
    const bin = (sorted[Math.ceil(0.999 * (w * h - 1))]! - sorted[Math.floor(0.001 * (w * h - 1))]!) / 4096;
    let worst = 0;
    for (let i = 0; i < w * h; i++) worst = Math.max(worst, Math.abs(fast[i]! - slow[i]!));
    // the median is found in the exact one's quantisation bin and interpolated within it
    assert.ok(worst <= bin * 1.001, `${w}x${h} r=${r}: max difference ${worst} > 1 bin (${bin})`);
  }
});

test('disk median of a constant image is that constant; of a linear ramp, the ramp away from the borders', () => {
  assert.ok(medianFilterDisk(new Float32Array(300).fill(7), 20, 15, 4).every((v) => v === 7));
  const w = 60;
  const ramp = Float32Array.from({ length: w * 40 }, (_, i) => 100 + (i % w));
  const m = medianFilterDisk(ramp, w, 40, 6);
  for (const [x, y] of [[10, 10], [30, 20], [49, 29]] as const) assert.ok(Math.abs(m[y * w + x]! - ramp[y * w + x]!) < 0.05);
});

test('robust minimum: value at the 2% point of the positive pixels; below it clamped; function >= 1', () => {
  const fn = Float32Array.from({ length: 200 }, (_, i) => i); // 0 is not positive: 199 values 1..199
  const m = rescaleRobustMinimum(fn);
  assert.equal(m, 4); // sorted positives [1..199], index floor(199 * 0.02) = 3 -> 4
  assert.equal(fn[0], 1);
  assert.equal(fn[3], 1);
  assert.equal(fn[199], 199 / 4);
  assert.ok(fn.every((v) => v >= 1));
  const black = new Float32Array(10);
  assert.equal(rescaleRobustMinimum(black), 0);
  assert.ok(black.every((v) => v === 1));
});

test('bilinear upsampling keeps constants and linear ramps (pixel-centre aligned)', () => {
  assert.ok(upsampleBilinear(new Float32Array(12).fill(3), 4, 3, 16, 12).every((v) => Math.abs(v - 3) < 1e-6));
  const src = Float32Array.from({ length: 8 * 2 }, (_, i) => i % 8); // x at pixel centres 0..7
  const up = upsampleBilinear(src, 8, 2, 32, 8);
  // output pixel x has centre (x + 0.5) / 4 - 0.5 in source pixels
  for (const x of [2, 10, 17, 29]) assert.ok(Math.abs(up[x]! - ((x + 0.5) / 4 - 0.5)) < 1e-5, `x=${x}`);
});

test('illuminationFunction: both methods give a smooth function >= 1 of a vignetted average; unknown method refused', () => {
  // radius 213 px (53 px at 1/4 scale): the image must be larger than the window to show shape
  const w = 640;
  const h = 512;
  const avg = Float32Array.from({ length: w * h }, (_, i) => {
    const x = i % w;
    const y = Math.floor(i / w);
    return 1000 * (1 - 0.4 * (((x - 200) / w) ** 2 + ((y - 150) / h) ** 2)) + (i % 7 === 0 ? 900 : 0);
  });
  for (const method of ['fast', 'full'] as const) {
    const { fn, robustMinimum } = illuminationFunction(avg, w, h, method);
    assert.ok(robustMinimum > 800 && robustMinimum < 1100, `${method}: robust minimum ${robustMinimum}`);
    assert.ok(fn.every((v) => v >= 1));
    assert.ok(fn[150 * w + 200]! > 1.1 * fn[(h - 1) * w + w - 1]!, `${method}: brighter at the illumination centre`);
  }
  assert.throws(() => illuminationFunction(avg, w, h, 'median' as 'fast'), /method/);
});

test('.npy: 64-byte aligned v1.0 header NumPy reads, round trip, refuses other dtypes', () => {
  const dir = tempDir('illum-npy-');
  const data = Float32Array.from({ length: 6 * 4 }, (_, i) => i / 3);
  const buf = encodeNpy(data, 6, 4);
  assert.equal(buf.subarray(0, 8).toString('latin1'), '\x93NUMPY\x01\x00');
  const headerEnd = 10 + buf.readUInt16LE(8);
  assert.equal(headerEnd % 64, 0);
  assert.match(buf.subarray(10, headerEnd).toString('latin1'), /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(4, 6\), \} *\n$/);
  const file = path.join(dir, 'a.npy');
  writeFileSync(file, buf);
  const back = readNpy(file);
  assert.deepEqual([back.width, back.height], [6, 4]);
  assert.deepEqual(back.data, data);
  writeFileSync(file, Buffer.from(buf.toString('latin1').replace("'<f4'", "'<f8'"), 'latin1'));
  assert.throws(() => readNpy(file), /dtype is not <f4/);
});
