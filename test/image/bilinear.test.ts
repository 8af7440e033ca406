import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bilinearResize, nearestResize } from '../../src/image/bilinear.js';
import { areaResize } from '../../src/image/resample.js';

test('bilinear enlargement of 2x2 to 4x4: half-pixel centres, edges clamped (as PIL / OpenCV INTER_LINEAR)', () => {
  const src = Float32Array.of(0, 100, 200, 300);
  const out = bilinearResize(src, 2, 2, new Float32Array(16), 4, 4);
  // destination x samples source x' = (x + 0.5) / 2 - 0.5: -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1)
  const w = [0, 0.25, 0.75, 1];
  for (let y = 0; y < 4; y++)
    for (let x = 0; x < 4; x++) {
      const expect = 100 * w[x]! + 200 * w[y]!;
      assert.ok(Math.abs(out[y * 4 + x]! - expect) < 1e-4, `(${x}, ${y}): ${out[y * 4 + x]} vs ${expect}`);
    }
});

test('a linear ramp stays a linear ramp inside (the area resampler repeats pixels instead), 16-bit values are not rounded', () => {
  const sw = 10;
  const ramp = Float32Array.from({ length: sw * 3 }, (_, i) => 40000 + 1001.5 * (i % sw));
  const dw = 23;
  const bi = bilinearResize(ramp, sw, 3, new Float32Array(dw * 3), dw, 3);
  const area = areaResize(ramp, sw, 3, dw, 3, new Float32Array(dw * 3));
  const steps = (a: Float32Array) => Array.from({ length: dw - 1 }, (_, x) => a[dw + x + 1]! - a[dw + x]!);
  // interior steps of bilinear are all equal to 1001.5 * sw / dw; the area resampler's are 0 or a whole pixel's worth
  const inner = steps(bi).slice(2, -2);
  for (const s of inner) assert.ok(Math.abs(s - (1001.5 * sw) / dw) < 0.05, `bilinear step ${s}`);
  const areaSteps = steps(area).slice(2, -2);
  // the area resampler enlarges in uneven steps: flat where a destination pixel lies inside one source pixel
  assert.ok(areaSteps.some((s) => Math.abs(s) < 1e-3) && Math.max(...areaSteps) > 2 * ((1001.5 * sw) / dw), `area steps ${areaSteps.map((s) => s.toFixed(1)).join(' ')}`);
  assert.ok(bi.some((v) => v !== Math.round(v)), 'fractional values kept');
});

test('same size is the identity; a constant image stays constant; 1-pixel sources work', () => {
  const src = Float32Array.from({ length: 35 }, (_, i) => (i * 37) % 11);
  assert.deepEqual(bilinearResize(src, 7, 5, new Float32Array(35), 7, 5), src);
  const flat = bilinearResize(new Float32Array(12).fill(513.25), 4, 3, new Float32Array(90), 10, 9);
  assert.ok(flat.every((v) => v === 513.25));
  assert.ok(bilinearResize(Float32Array.of(9), 1, 1, new Float32Array(9), 3, 3).every((v) => v === 9));
  assert.throws(() => bilinearResize(src, 7, 5, new Float32Array(4), 7, 5), /dst/);
  assert.deepEqual([...nearestResize(Float32Array.of(1, 2), 2, 1, new Float32Array(4), 4, 1)], [1, 1, 2, 2]);
});
