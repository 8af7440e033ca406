/**
 * The C co-occurrence kernel (native/kernels.c cooccurrence) against its TypeScript twin
 * (countPairs): identical count tables, first-count lists and list lengths, alone and nested
 * (nucleus/cytoplasm tables), and identical measurements through measureObjects/measureNested.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { measureObjects } from '../../src/cells/measure.js';
import { measureNested } from '../../src/cells/measure-nested.js';
import { native } from '../../src/native.js';
import { COOCCURRENCE_KEYS, countPairs, neighbourMask, useCooccurrenceKernel, useHaralickKernel, useMaskKernel } from '../../src/cells/texture.js';
import { useGatherKernel, useIntensityKernel } from '../../src/cells/intensity.js';
import { indexObjects, shapePixels, useIndexKernel, useShapeKernel, type ShapeKernel } from '../../src/cells/shape.js';
import { MorphoprofError } from '../../src/errors.js';
import type { LabelImage, Plane } from '../../src/cells/types.js';
import { lcg } from '../helpers.js';

const skip = 'native kernels not built with cooccurrence (npm install builds them with node-gyp); the TypeScript twin is in use';

test('cooccurrence: the same tables as countPairs in TypeScript', (t) => {
  if (!native?.cooccurrence) return t.skip(skip);
  const rnd = lcg(21);
  const w = 50;
  const h = 40;
  for (const [levels, withNucleus] of [[256, false], [256, true], [9, true], [2, false]] as const) {
    const gray = Uint8Array.from({ length: w * h }, () => Math.floor(rnd() * levels));
    const nucleus = Int32Array.from({ length: w * h }, () => (rnd() < 0.4 ? 1 : 0));
    // object = a rectangle; mask bits: partners inside it, as neighbourMask gives them
    const pixel: number[] = [];
    const mask: number[] = [];
    for (let y = 5; y < 35; y++) {
      for (let x = 4; x < 44; x++) {
        pixel.push(y * w + x);
        let bits = 0;
        if (x + 2 < 44) bits |= 1;
        if (y + 2 < 35 && x + 2 < 44) bits |= 2;
        if (y + 2 < 35) bits |= 4;
        if (y + 2 < 35 && x - 2 >= 4) bits |= 8;
        mask.push(rnd() < 0.9 ? bits : 0);
      }
    }
    const shift = Int32Array.of(2, 2 * w + 2, 2 * w, 2 * w - 2);
    const run = (useC: boolean) => {
      const cnt = new Int32Array(12 * COOCCURRENCE_KEYS);
      const tch = new Int32Array(12 * COOCCURRENCE_KEYS);
      const nt = new Int32Array(12);
      useCooccurrenceKernel(useC ? native!.cooccurrence : null);
      try {
        countPairs(Int32Array.from(pixel), 3, pixel.length - 7, Uint8Array.from(mask), gray, withNucleus ? nucleus : null, shift, levels, cnt, tch, nt);
      } finally {
        useCooccurrenceKernel(null);
      }
      return { cnt, tch, nt };
    };
    const js = run(false);
    const c = run(true);
    assert.ok(js.nt[0]! > 0 && (!withNucleus || (js.nt[4]! > 0 && js.nt[8]! > 0)), 'pairs were counted');
    assert.deepEqual(c.nt, js.nt, `list lengths, ${levels} levels`);
    assert.ok(Buffer.from(c.cnt.buffer).equals(Buffer.from(js.cnt.buffer)), `counts, ${levels} levels`);
    // the lists up to their lengths (TypeScript also writes, branch-free, past the end)
    for (let table = 0; table < 12; table++) {
      const at = table * COOCCURRENCE_KEYS;
      assert.deepEqual(c.tch.subarray(at, at + c.nt[table]!), js.tch.subarray(at, at + js.nt[table]!), `first-count list ${table}, ${levels} levels`);
    }
  }
});

test('cooccurrence: refuses a gray level beyond size and offsets outside the image', (t) => {
  if (!native?.cooccurrence) return t.skip(skip);
  const tables = () => [new Int32Array(4 * COOCCURRENCE_KEYS), new Int32Array(4 * COOCCURRENCE_KEYS), new Int32Array(4)] as const;
  const gray = Uint8Array.of(5, 7, 9, 11);
  assert.throws(() => native!.cooccurrence(Int32Array.of(0), 0, 1, Uint8Array.of(1), gray, null, Int32Array.of(1, 0, 0, 0), 7, ...tables()), /out of range/); // level 7 >= size 7
  assert.throws(() => native!.cooccurrence(Int32Array.of(3), 0, 1, Uint8Array.of(1), gray, null, Int32Array.of(1, 0, 0, 0), 16, ...tables()), /out of range/);
  assert.throws(() => native!.cooccurrence(Int32Array.of(0), 0, 2, Uint8Array.of(1), gray, null, Int32Array.of(1, 0, 0, 0), 16, ...tables()), /i0\.\.i1/);
});

test('measureObjects and measureNested give the same values with the C kernels as with TypeScript', (t) => {
  if (!native?.cooccurrence || !native.intensityStats || !native.gatherValues || !native.labelCounts || !native.haralickSums || !native.shapePixels || !native.neighbourMask) return t.skip(skip);
  const rnd = lcg(8);
  const w = 150;
  const h = 105;
  const nuc = new Int32Array(w * h);
  const cel = new Int32Array(w * h);
  // 15 cells of growing size (the largest ~700 px), nuclei inside, one cell of a single pixel
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const k = 1 + Math.floor(x / 30) + 5 * Math.floor(y / 35);
      const cx = (x % 30) - 15;
      const cy = (y % 35) - 17;
      const r2 = 8 + 9 * k;
      if (cx * cx + cy * cy < r2) cel[y * w + x] = k;
      if (cx * cx + cy * cy < r2 / 4) nuc[y * w + x] = k;
    }
  }
  cel[0] = 16;
  const nuclei: LabelImage = { labels: nuc, width: w, height: h, count: 15 };
  const cells: LabelImage = { labels: cel, width: w, height: h, count: 17 }; // 17: a number without pixels
  const images: Record<string, Plane> = {
    DNA: { data: Float32Array.from({ length: w * h }, (_, p) => (nuc[p] ? 0.5 : 0.1) + 0.3 * rnd()), width: w, height: h },
    Actin: { data: Uint16Array.from({ length: w * h }, () => Math.floor(rnd() * 30000)), width: w, height: h },
    Ties: { data: Uint8Array.from({ length: w * h }, () => Math.floor(rnd() * 4)), width: w, height: h }, // many equal values
    Flat: { data: new Float32Array(w * h).fill(0.25), width: w, height: h },
  };
  const measure = (useC: boolean) => {
    useCooccurrenceKernel(useC ? native!.cooccurrence : null);
    useIntensityKernel(useC ? native!.intensityStats : null);
    useGatherKernel(useC ? native!.gatherValues : null);
    useIndexKernel(useC ? { counts: native!.labelCounts, fill: native!.labelFill } : null);
    useHaralickKernel(useC ? native!.haralickSums : null);
    useShapeKernel(useC ? native!.shapePixels! : null);
    useMaskKernel(useC ? native!.neighbourMask! : null);
    try {
      return { alone: measureObjects(cells, images, { textureScales: [1, 2] }), nested: measureNested(nuclei, cells, images) };
    } finally {
      useCooccurrenceKernel(null);
      useIntensityKernel(null);
      useGatherKernel(null);
      useIndexKernel(null);
      useHaralickKernel(null);
      useShapeKernel(null);
      useMaskKernel(null);
    }
  };
  const js = measure(false);
  const c = measure(true);
  const bytes = (a: Float64Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const median = js.alone.columns.indexOf('Intensity_MedianIntensity_Actin');
  assert.ok(js.alone.values[median]! > 0, 'the test measures something');
  assert.ok(bytes(c.alone.values).equals(bytes(js.alone.values)), 'measureObjects');
  for (const kind of ['Nuclei', 'Cells', 'Cytoplasm'] as const) assert.ok(bytes(c.nested[kind].values).equals(bytes(js.nested[kind].values)), `measureNested ${kind}`);
});

test('labelCounts/labelFill: indexObjects gives the same index, and the same error for a bad label', (t) => {
  if (!native?.labelCounts) return t.skip(skip);
  const rnd = lcg(4);
  const w = 37;
  const h = 29;
  // random blobs with holes and touching objects: Euler numbers of every sign
  const labels = Int32Array.from({ length: w * h }, () => (rnd() < 0.3 ? 0 : 1 + Math.floor(rnd() * 5)));
  const img = { labels, width: w, height: h, count: 6 };
  const kernels = { counts: native.labelCounts, fill: native.labelFill };
  const js = indexObjects(img);
  useIndexKernel(kernels);
  try {
    const c = indexObjects(img);
    assert.deepEqual(c, js);
    labels[40] = 7;
    const message = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        assert.ok(e instanceof MorphoprofError);
        return e.message;
      }
      return 'no error';
    };
    const withC = message(() => indexObjects(img));
    useIndexKernel(null);
    assert.equal(withC, message(() => indexObjects(img)));
    assert.match(withC, /\(x 3, y 1\) holds 7/);
  } finally {
    useIndexKernel(null);
  }
});

test('gatherValues: refuses a pixel outside the image', (t) => {
  if (!native?.gatherValues) return t.skip(skip);
  assert.throws(() => native!.gatherValues(new Float32Array(4), Int32Array.of(0, 4), Int32Array.of(0, 2), 1, 1, new Float64Array(2), null, null, null, false), /pixels lie in data/);
});

test('intensityStats: refuses object starts outside the values', (t) => {
  if (!native?.intensityStats) return t.skip(skip);
  const values = new Float64Array(4);
  const i32 = () => new Int32Array(4);
  assert.throws(() => native!.intensityStats(values, Int32Array.of(0, 9), i32(), i32(), new Uint8Array(4), 1, new Float64Array(15), 15, 0, new Float64Array(4)), /start must rise/);
  assert.throws(() => native!.intensityStats(values, Int32Array.of(0, 2), i32(), i32(), new Uint8Array(4), 1, new Float64Array(15), 15, 1, new Float64Array(4)), /offset \+ 15/);
});

test('shapePixels: the same row extremes, border flags, moments and perimeter in C as in TypeScript', (t) => {
  if (!native?.shapePixels) return t.skip(skip);
  const rnd = lcg(5);
  const w = 37;
  const h = 29;
  // ragged random objects: touching the image's edges and each other, with holes and empty rows
  const labels = Int32Array.from({ length: w * h }, (_, p) => {
    const x = p % w;
    const y = Math.floor(p / w);
    if (y === 11 || y === 12) return x < 5 ? 3 : 0; // rows 11-12 empty for objects 1, 2
    return rnd() < 0.15 ? 0 : 1 + ((x >> 3) + (y >> 4)) % 4;
  });
  const index = indexObjects({ labels, width: w, height: h, count: 4 });
  for (let k = 1; k <= 4; k++) {
    const i0 = index.start[k - 1]!;
    const i1 = index.start[k]!;
    assert.ok(i1 - i0 > 20, `object ${k} has pixels`);
    const run = (kernel: ShapeKernel) => {
      const r = { border: new Uint8Array(w * h), lo: new Float64Array(h), hi: new Float64Array(h), sums: new Float64Array(8) };
      kernel(labels, w, h, index.pixel, index.x, index.edge, i0, i1, k, r.border, r.lo, r.hi, r.sums);
      return r;
    };
    const js = run(shapePixels);
    const c = run(native.shapePixels);
    assert.ok(js.sums[7]! > 0 && js.lo[0]! <= js.hi[0]!, 'a perimeter and a first row');
    assert.deepEqual(c.border, js.border, `border flags of object ${k}`);
    assert.deepEqual(c.lo, js.lo, `row starts of object ${k}`);
    assert.deepEqual(c.hi, js.hi, `row ends of object ${k}`);
    assert.ok(Buffer.from(c.sums.buffer).equals(Buffer.from(js.sums.buffer)), `sums of object ${k}`);
  }
  // an index whose columns do not match its pixels is refused
  const bad = Int32Array.from(index.x);
  bad[index.start[0]! + 3]! += 1;
  assert.throws(
    () => native!.shapePixels!(labels, w, h, index.pixel, bad, index.edge, 0, index.start[1]!, 1, new Uint8Array(w * h), new Float64Array(h), new Float64Array(h), new Float64Array(8)),
    /shapePixels/,
  );
});

test('neighbourMask: the same masks in C as in TypeScript', (t) => {
  if (!native?.neighbourMask) return t.skip(skip);
  const rnd = lcg(9);
  const w = 41;
  const h = 23;
  // blocky objects touching the image's edges and each other, with background holes
  const labels = Int32Array.from({ length: w * h }, (_, p) => (rnd() < 0.2 ? 0 : 1 + (((p % w) >> 3) + 2 * (Math.floor(p / w) >> 3)) % 5));
  const index = indexObjects({ labels, width: w, height: h, count: 5 });
  for (const distance of [1, 2, 3, 7]) {
    useMaskKernel(null);
    const js = neighbourMask(index, distance);
    useMaskKernel(native.neighbourMask);
    try {
      const c = neighbourMask(index, distance);
      assert.ok(js.includes(0) && js.some((b) => b !== 0) && (distance > 3 || js.includes(15)), `partners and none at distance ${distance}`);
      assert.deepEqual(c, js, `masks at distance ${distance}`);
    } finally {
      useMaskKernel(null);
    }
  }
});
