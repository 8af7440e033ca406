import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pca2 } from '../../src/report/index.js';

/** Rows = mean + a_i u + b_i v with u, v orthonormal and a, b centred and uncorrelated: PC1 = a, PC2 = b. */
function planted(d: number) {
  const u = new Array<number>(d).fill(0);
  const v = new Array<number>(d).fill(0);
  u[1] = 0.6;
  u[3] = 0.8;
  v[0] = Math.SQRT1_2;
  v[d - 1] = -Math.SQRT1_2;
  const a = [3, -3, 3, -3, 0, 0];
  const b = [1, 1, -1, -1, 2, -2];
  const mean = Array.from({ length: d }, (_, j) => 10 + j);
  const rows = a.map((ai, i) => Float32Array.from(mean, (m, j) => m + ai * u[j]! + b[i]! * v[j]!));
  return { rows, a, b };
}

test('pca2 finds planted components: scores up to sign, explained variance', () => {
  const { rows, a, b } = planted(40);
  const { scores, explained } = pca2(rows);
  const close = (x: number, y: number) => Math.abs(x - y) < 1e-3;
  for (const [c, truth] of [a, b].entries()) {
    const got = scores.map((s) => s[c]!);
    const sign = Math.sign(got[0]!) === Math.sign(truth[0]!) || truth[0] === 0 ? 1 : -1;
    assert.ok(got.every((g, i) => close(g, sign * truth[i]!)), `PC${c + 1}: ${got.map((g) => g.toFixed(3))} vs ${truth}`);
  }
  const va = a.reduce((s, x) => s + x * x, 0);
  const vb = b.reduce((s, x) => s + x * x, 0);
  assert.ok(close(explained[0], va / (va + vb)) && close(explained[1], vb / (va + vb)), `explained ${explained}`);
});

test('pca2: NaN values count as the column mean; degenerate inputs give zeros, not NaN', () => {
  const { rows } = planted(40);
  const withNan = rows.map((r) => Float32Array.from(r));
  withNan.forEach((r) => (r[20] = Number.NaN)); // a column with no value at all
  const base = pca2(rows);
  const same = pca2(withNan);
  assert.ok(same.scores.every((s, i) => Math.abs(s[0] - base.scores[i]![0]) < 1e-3 && Math.abs(s[1] - base.scores[i]![1]) < 1e-3));

  assert.deepEqual(pca2([Float32Array.of(1, 2)]).scores, [[0, 0]]);
  assert.deepEqual(pca2([Float32Array.of(1, 2), Float32Array.of(1, 2)]).scores, [[0, 0], [0, 0]]);
  const two = pca2([Float32Array.of(0, 0), Float32Array.of(3, 4)]);
  assert.ok(Math.abs(Math.abs(two.scores[0]![0] - two.scores[1]![0]) - 5) < 1e-6, 'two points: PC1 spans their distance');
  assert.ok(two.scores.every((s) => s[1] === 0) && Math.abs(two.explained[0] - 1) < 1e-9);
});

test('pca2: the iterative method (many treatments) agrees with the exact one', () => {
  const { rows } = planted(40);
  // More rows along the same two axes, plus small noise in every feature.
  const many = Array.from({ length: 60 }, (_, i) => Float32Array.from(rows[i % rows.length]!, (x, j) => x * (1 + (i % 7) / 10) + 0.01 * Math.sin(i * 31 + j * 7)));
  const exact = pca2(many);
  const iterative = pca2(many, { exactLimit: 10 });
  for (const c of [0, 1]) {
    assert.ok(Math.abs(exact.explained[c]! - iterative.explained[c]!) < 1e-6, `explained PC${c + 1}`);
    assert.ok(exact.scores.every((s, i) => Math.abs(s[c]! - iterative.scores[i]![c]!) < 1e-3), `scores PC${c + 1}`);
  }
});
