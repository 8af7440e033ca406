import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MorphoprofError } from '../../src/errors.js';
import { distanceTransform } from '../../src/cells/distance.js';
import { fillLabelHoles, fillMaskHoles, labelComponents } from '../../src/cells/label.js';
import { matchObjects } from '../../src/cells/match.js';
import { cytoplasm, defaultNucleiOptions, segmentCells, segmentNuclei } from '../../src/cells/segment.js';
import type { LabelImage, Plane } from '../../src/cells/types.js';
import { propagate } from '../../src/cells/watershed.js';
import { native } from '../../src/native.js';

/** A 16-bit field with background 200 +- noise and bright disks (x, y, radius[, brightness]). */
function field(w: number, h: number, disks: Array<[number, number, number, number?]>, seed = 1): Uint16Array {
  const data = new Uint16Array(w * h);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = 200 + ((s >>> 16) % 21) - 10;
  }
  for (const [cx, cy, r, b = 2000] of disks) {
    for (let y = Math.max(0, Math.floor(cy - r)); y <= Math.min(h - 1, Math.ceil(cy + r)); y++) {
      for (let x = Math.max(0, Math.floor(cx - r)); x <= Math.min(w - 1, Math.ceil(cx + r)); x++) {
        if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) data[y * w + x] = Math.max(data[y * w + x]!, 200 + b);
      }
    }
  }
  return data;
}

const plane = (data: Plane['data'], w: number, h: number): Plane => ({ data, width: w, height: h });
const at = (img: LabelImage, x: number, y: number): number => img.labels[y * img.width + x]!;
function areas(img: LabelImage): number[] {
  const a = new Array<number>(img.count + 1).fill(0);
  for (const l of img.labels) a[l]!++;
  return a.slice(1);
}
const label = (w: number, h: number, objects: Array<[number, number, number, number]>): LabelImage => {
  const labels = new Int32Array(w * h);
  objects.forEach(([x0, y0, x1, y1], k) => {
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) labels[y * w + x] = k + 1;
  });
  return { labels, width: w, height: h, count: objects.length };
};

describe('segmentNuclei', () => {
  it('finds an isolated disk as one object of about its area', () => {
    const r = segmentNuclei(plane(field(64, 64, [[32, 32, 10]]), 64, 64));
    assert.equal(r.count, 1);
    const [area] = areas(r);
    assert.ok(Math.abs(area! - Math.PI * 100) < 0.12 * Math.PI * 100, `area ${area}`);
    assert.equal(at(r, 32, 32), 1);
    assert.ok(r.threshold > 210 && r.threshold < 2200, `threshold ${r.threshold}`);
  });

  for (const declump of ['intensity', 'shape'] as const) {
    for (const autoScale of [true, false]) {
      it(`splits two touching disks into two (declump ${declump}, autoScale ${autoScale})`, () => {
        const r = segmentNuclei(plane(field(96, 64, [[36, 32, 11], [55, 32, 11]]), 96, 64), { declump, autoScale });
        assert.equal(r.count, 2);
        assert.notEqual(at(r, 36, 32), at(r, 55, 32));
        const [a, b] = areas(r);
        assert.ok(Math.abs(a! - b!) < 0.15 * a!, `areas ${a} ${b}`);
      });
    }
  }

  it('keeps touching disks as one object when declumping is off', () => {
    const r = segmentNuclei(plane(field(96, 64, [[36, 32, 11], [55, 32, 11]]), 96, 64), { declump: 'none' });
    assert.equal(r.count, 1);
  });

  it('fills holes', () => {
    const w = 64;
    const data = field(w, w, [[32, 32, 13]]);
    for (let y = 28; y <= 36; y++) for (let x = 28; x <= 36; x++) if ((x - 32) ** 2 + (y - 32) ** 2 <= 16) data[y * w + x] = 200;
    const filled = segmentNuclei(plane(data, w, w));
    assert.equal(filled.count, 1);
    assert.equal(at(filled, 32, 32), 1);
    const open = segmentNuclei(plane(data, w, w), { fillHoles: false, declump: 'none' });
    assert.equal(at(open, 32, 32), 0);
  });

  it('drops objects outside the diameter range', () => {
    const w = 200;
    const h = 120;
    // diameters 6 (too small), 20 (kept), 90 (too big) against the default 10-80
    const r = segmentNuclei(plane(field(w, h, [[20, 20, 3], [60, 60, 10], [140, 60, 45]]), w, h), { declump: 'none' });
    assert.equal(r.count, 1);
    assert.equal(at(r, 60, 60), 1);
    const wide = segmentNuclei(plane(field(w, h, [[20, 20, 3], [60, 60, 10], [140, 60, 45]]), w, h), { declump: 'none', diameter: [4, 100] });
    assert.equal(wide.count, 3);
  });

  it('drops objects touching the border only when asked', () => {
    const data = field(80, 64, [[4, 32, 10], [50, 32, 10]]);
    assert.equal(segmentNuclei(plane(data, 80, 64)).count, 1);
    const kept = segmentNuclei(plane(data, 80, 64), { discardBorder: false });
    assert.equal(kept.count, 2);
    assert.equal(at(kept, 2, 32), 1);
  });

  it('numbers objects 1..count in raster order of their first pixel', () => {
    const r = segmentNuclei(plane(field(100, 80, [[70, 50, 8], [20, 50, 8], [60, 20, 8]]), 100, 80));
    assert.equal(r.count, 3);
    assert.deepEqual([at(r, 60, 20), at(r, 20, 50), at(r, 70, 50)], [1, 2, 3]);
  });

  it('gives the same objects on 8-bit, 16-bit and float planes', () => {
    const d16 = field(96, 64, [[36, 32, 11], [55, 32, 11], [15, 15, 6]]);
    const d8 = Uint8Array.from(d16, (v) => v / 10);
    const f32 = Float32Array.from(d16, (v) => v / 65535);
    const counts = [d16, d8, f32].map((d) => segmentNuclei(plane(d, 96, 64)).count);
    assert.deepEqual(counts, [3, 3, 3]);
  });

  it('handles blank, saturated, NaN and noise-only planes without NaN or a flood of objects', () => {
    const w = 256;
    const blank = segmentNuclei(plane(new Uint16Array(w * w), w, w));
    const saturated = segmentNuclei(plane(new Uint16Array(w * w).fill(65535), w, w));
    const nan = segmentNuclei(plane(new Float32Array(w * w).fill(NaN), w, w));
    for (const r of [blank, saturated, nan]) {
      assert.equal(r.count, 0);
      assert.ok(Number.isFinite(r.threshold));
    }
    // Gaussian-like noise (sum of 4 uniforms), no objects at all
    const noise = new Uint16Array(w * w);
    let s = 7;
    for (let i = 0; i < noise.length; i++) {
      let v = 0;
      for (let k = 0; k < 4; k++) {
        s = (s * 1664525 + 1013904223) >>> 0;
        v += s / 2 ** 32;
      }
      noise[i] = Math.round(1000 + 200 * (v - 2));
    }
    const r = segmentNuclei(plane(noise, w, w), { discardBorder: false });
    assert.ok(Number.isFinite(r.threshold));
    assert.ok(r.count <= 2, `${r.count} objects in pure noise`);
    // an image with no nuclei but a smooth gradient
    const ramp = Float32Array.from({ length: w * w }, (_, i) => (i % w) / w);
    assert.ok(segmentNuclei(plane(ramp, w, w)).count <= 1);
  });

  it('finds dim nuclei beside a few very bright ones (clipped threshold), and the few bright ones of a sparse field', () => {
    const w = 400;
    const h = 300;
    // 20 dim nuclei (contrast 300) on a grid and 3 tiny condensed figures 60x brighter
    const dim: Array<[number, number, number, number?]> = [];
    for (let k = 0; k < 20; k++) dim.push([30 + (k % 5) * 80, 30 + Math.floor(k / 5) * 75, 12, 300]);
    const bright: Array<[number, number, number, number?]> = [[70, 68, 5, 18000], [230, 68, 5, 18000], [150, 143, 5, 18000]];
    const both = segmentNuclei(plane(field(w, h, [...dim, ...bright]), w, h), { discardBorder: false });
    for (const [x, y] of dim) assert.ok(at(both, x, y) > 0, `dim nucleus at (${x}, ${y}) missed (threshold ${both.threshold})`);
    for (const [x, y] of bright) assert.ok(at(both, x, y) > 0, `bright figure at (${x}, ${y}) missed`);
    assert.equal(both.count, 23);
    // alone (under 2% of the pixels), the bright figures are still found: the clip falls back
    const sparse = segmentNuclei(plane(field(w, h, bright), w, h), { discardBorder: false });
    assert.equal(sparse.count, 3);
  });

  it('refuses a plane whose data does not match its size, and bad options', () => {
    assert.throws(() => segmentNuclei(plane(new Uint16Array(10), 4, 4)), (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_ARGUMENT' && /16/.test(e.message));
    assert.throws(() => segmentNuclei(plane(new Uint16Array(16), 4, 4), { diameter: [20, 10] }), /diameter/);
    assert.throws(() => segmentNuclei(plane(new Uint16Array(16), 4, 4), { threshold: 'mean' as 'li' }), /threshold/);
  });

  it('chooses its defaults from the typical diameter', () => {
    assert.deepEqual(defaultNucleiOptions().diameter, [10, 80]);
    assert.deepEqual(defaultNucleiOptions([20, 80]).diameter, [20, 80]);
  });
});

describe('segmentCells and cytoplasm', () => {
  const w = 120;
  const h = 64;
  // nuclei at x 30, 90 and a third at x 60 whose cell stain is absent
  const dna = field(w, h, [[30, 32, 8], [60, 32, 6], [90, 32, 8]]);
  const actin = field(w, h, [[30, 32, 20, 800], [90, 32, 20, 800]], 3);

  it('grows a cell around each nucleus within the stain, keeping numbers', () => {
    const nuclei = segmentNuclei(plane(dna, w, h));
    assert.equal(nuclei.count, 3);
    const cells = segmentCells(nuclei, plane(actin, w, h));
    assert.equal(cells.count, 3);
    for (let i = 0; i < w * h; i++) if (nuclei.labels[i]) assert.equal(cells.labels[i], nuclei.labels[i], 'cell k contains nucleus k');
    const a = areas(cells);
    const n = areas(nuclei);
    // raster order: the nuclei at x 30 and 90 begin on a higher row than the smaller one at x 60
    assert.deepEqual([at(nuclei, 30, 32), at(nuclei, 90, 32), at(nuclei, 60, 32)], [1, 2, 3]);
    for (const k of [0, 1]) assert.ok(a[k]! > 0.8 * Math.PI * 400 && a[k]! < 1.2 * Math.PI * 400, `cell ${k + 1} area ${a[k]}`);
    // the unstained nucleus: the cell is at least the nucleus and does not take the neighbours' stain
    assert.ok(a[2]! >= n[2]! && a[2]! < 2 * n[2]!, `cell 3 area ${a[2]} vs nucleus ${n[2]}`);
    // cells stay within their stained disk (radius 20; smoothing may add a pixel)
    const centres = [30, 90];
    for (let i = 0; i < w * h; i++) {
      const l = cells.labels[i]!;
      if (l === 0 || nuclei.labels[i]) continue;
      assert.ok(l <= 2, `pixel ${i} joined the unstained cell`);
      assert.ok(Math.hypot((i % w) - centres[l - 1]!, Math.floor(i / w) - 32) <= 21.5, `pixel ${i} of cell ${l} outside its stain`);
    }
  });

  it('cytoplasm is the cell minus its nucleus, same numbers', () => {
    const nuclei = segmentNuclei(plane(dna, w, h));
    const cells = segmentCells(nuclei, plane(actin, w, h));
    const cyto = cytoplasm(nuclei, cells);
    assert.equal(cyto.count, cells.count);
    for (let i = 0; i < w * h; i++) {
      if (nuclei.labels[i]) assert.equal(cyto.labels[i], 0);
      else assert.equal(cyto.labels[i], cells.labels[i]);
    }
    assert.ok(areas(cyto)[0]! > 0);
  });

  it('gives cells equal to the nuclei on a blank cell stain', () => {
    const nuclei = segmentNuclei(plane(dna, w, h));
    const cells = segmentCells(nuclei, plane(new Uint16Array(w * h), w, h));
    assert.deepEqual(Array.from(cells.labels), Array.from(nuclei.labels));
  });

  it('refuses nuclei of another size', () => {
    const nuclei = segmentNuclei(plane(dna, w, h));
    assert.throws(() => segmentCells(nuclei, plane(new Uint16Array(16), 4, 4)), /120x64/);
  });
});

describe('matchObjects', () => {
  it('counts matches at IoU > 0.5, misses and extras', () => {
    const truth = label(20, 10, [[0, 0, 4, 4], [10, 0, 14, 4]]);
    // one exact copy, one shifted by half (IoU 8/24 = 1/3), one extra
    const predicted = label(20, 10, [[0, 0, 4, 4], [12, 0, 16, 4], [0, 6, 3, 9]]);
    const m = matchObjects(truth, predicted);
    assert.deepEqual({ tp: m.tp, fp: m.fp, fn: m.fn, truth: m.truth, predicted: m.predicted }, { tp: 1, fp: 2, fn: 1, truth: 2, predicted: 3 });
    assert.equal(m.f1, 2 / 5);
    assert.equal(m.meanIoU, 1);
    // shifted by one column: IoU 12/20 = 0.6 matches
    const near = matchObjects(truth, label(20, 10, [[0, 0, 4, 4], [11, 0, 15, 4]]));
    assert.equal(near.tp, 2);
    assert.ok(Math.abs(near.meanIoU - (1 + 0.6) / 2) < 1e-12);
    assert.equal(matchObjects(truth, label(20, 10, [])).f1, 0);
    assert.equal(matchObjects(label(20, 10, []), label(20, 10, [])).f1, 1);
  });

  it('refuses label images of different sizes', () => {
    assert.throws(() => matchObjects(label(20, 10, []), label(10, 10, [])), /20x10/);
  });
});

describe('building blocks', () => {
  it('distance transform equals brute force (edges count as background)', () => {
    const w = 37;
    const h = 23;
    const mask = new Uint8Array(w * h);
    let s = 11;
    for (let i = 0; i < mask.length; i++) {
      s = (s * 1103515245 + 12345) >>> 0;
      mask[i] = (s >>> 16) % 7 === 0 ? 0 : 1;
    }
    const d = distanceTransform(mask, w, h);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let best = Math.min(x + 1, y + 1, w - x, h - y) ** 2;
        if (!mask[y * w + x]) best = 0;
        else for (let v = 0; v < h; v++) for (let u = 0; u < w; u++) if (!mask[v * w + u]) best = Math.min(best, (u - x) ** 2 + (v - y) ** 2);
        assert.ok(Math.abs(d[y * w + x]! - Math.sqrt(best)) < 1e-5, `(${x}, ${y}): ${d[y * w + x]} vs ${Math.sqrt(best)}`);
      }
    }
  });

  it('labels 8- or 4-connected components in raster order', () => {
    // two diagonal pixels and a separate bar
    const mask = Uint8Array.from([1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1]);
    const labels = new Int32Array(12);
    assert.equal(labelComponents(mask, 4, 3, labels, 8), 2);
    assert.deepEqual(Array.from(labels), [1, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 2]);
    assert.equal(labelComponents(mask, 4, 3, labels, 4), 3);
    assert.deepEqual(Array.from(labels), [1, 0, 0, 0, 0, 2, 0, 3, 0, 0, 0, 3]);
  });

  it('fills a hole inside one object but not a gap enclosed by two', () => {
    // object 1 is a ring around (2, 2); objects 2 and 3 together enclose (7, 2)
    const w = 10;
    const rows = ['1111122333', '1010122033', '1111122333', '0000000000'];
    const labels = Int32Array.from(rows.join(''), (c) => Number(c));
    fillLabelHoles(labels, w, 4);
    assert.equal(labels[1 * w + 1], 1);
    assert.equal(labels[1 * w + 3], 1);
    assert.equal(labels[1 * w + 7], 0);
  });

  /** A random float image in 0-1, a mask of ~80% of it and a few seeds inside the mask. */
  function propagationCase(w: number, h: number, seed: number): { image: Float32Array; mask: Uint8Array; seeds: Int32Array } {
    let s = seed;
    const rnd = (): number => {
      s = (s * 1103515245 + 12345) >>> 0;
      return (s >>> 8) / 16777216;
    };
    const image = Float32Array.from({ length: w * h }, (_, i) => 0.3 + 0.4 * Math.sin((i % w) / 5) * Math.cos(Math.floor(i / w) / 7) + 0.1 * rnd());
    const mask = Uint8Array.from({ length: w * h }, () => (rnd() < 0.8 ? 1 : 0));
    const seeds = new Int32Array(w * h);
    for (let k = 1; k <= 6; k++) seeds[Math.floor(rnd() * w * h)] = k;
    return { image, mask, seeds };
  }

  it('propagation: same labels from the C kernel and the TypeScript twin, and from reused buffers', (t) => {
    const big = propagationCase(97, 61, 3);
    const small = propagationCase(40, 30, 5);
    for (const lambda of [0.05, 0, 2]) {
      for (const c of [small, big, small]) {
        const [w, h] = c === big ? [97, 61] : [40, 30];
        const ts = propagate(c.image, Int32Array.from(c.seeds), c.mask, w, h, lambda, false);
        assert.equal(propagate(c.image, Int32Array.from(c.seeds), c.mask, w, h, lambda, false).join(), ts.join(), 'TS path changes on a second call');
        // every seed grows: labelled pixels are seeds or mask pixels, and each label is present
        for (let i = 0; i < ts.length; i++) if (ts[i] !== 0) assert.ok(c.seeds[i] !== 0 || c.mask[i], `pixel ${i} outside the mask labelled`);
        for (let k = 1; k <= 6; k++) assert.ok(ts.includes(k), `label ${k} lost`);
        if (native?.segPropagate) assert.equal(propagate(c.image, Int32Array.from(c.seeds), c.mask, w, h, lambda, true).join(), ts.join(), `C and TS differ (lambda ${lambda})`);
      }
    }
    if (!native?.segPropagate) t.skip('C addon not built (or without segPropagate): TS path only');
  });

  it('propagation: a pixel joins the seed of the cheaper path (flat image: the nearer seed)', () => {
    const w = 30;
    const h = 5;
    const seeds = new Int32Array(w * h);
    seeds[2 * w + 3] = 1;
    seeds[2 * w + 20] = 2;
    const mask = new Uint8Array(w * h).fill(1);
    mask[4 * w + 29] = 0;
    for (const useNative of [false, true]) {
      const l = propagate(new Float32Array(w * h).fill(0.5), Int32Array.from(seeds), mask, w, h, 0.05, useNative);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          if (!mask[y * w + x]) assert.equal(l[y * w + x], 0);
          else if (Math.abs(x - 3) < Math.abs(x - 20) - 1) assert.equal(l[y * w + x], 1, `(${x}, ${y})`);
          else if (Math.abs(x - 20) < Math.abs(x - 3) - 1) assert.equal(l[y * w + x], 2, `(${x}, ${y})`);
        }
      }
    }
  });
});

describe('fillMaskHoles', () => {
  /** Reference: flood the background 4-connected from the border; what it does not reach is a hole. */
  function floodFill(mask: Uint8Array, w: number, h: number): Uint8Array {
    const out = Uint8Array.from(mask, (v) => (v ? 1 : 0));
    const seen = new Uint8Array(w * h);
    const stack: number[] = [];
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if ((x === 0 || y === 0 || x === w - 1 || y === h - 1) && !mask[y * w + x]) stack.push(y * w + x);
    for (const i of stack) seen[i] = 1;
    while (stack.length) {
      const i = stack.pop() as number;
      const x = i % w;
      for (const j of [x > 0 ? i - 1 : -1, x < w - 1 ? i + 1 : -1, i - w, i + w]) {
        if (j < 0 || j >= w * h || seen[j] || mask[j]) continue;
        seen[j] = 1;
        stack.push(j);
      }
    }
    for (let i = 0; i < w * h; i++) if (!mask[i] && !seen[i]) out[i] = 1;
    return out;
  }

  it('fills exactly the background that does not reach the border (4-connected), on random masks', () => {
    let s = 11;
    const rnd = (): number => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
    let filled = 0;
    for (const [w, h, p] of [[40, 30, 0.55], [40, 30, 0.7], [1, 9, 0.5], [9, 1, 0.5], [64, 64, 0.62]] as const) {
      const mask = Uint8Array.from({ length: w * h }, () => (rnd() < p ? 1 : 0));
      const want = floodFill(mask, w, h);
      for (let i = 0; i < w * h; i++) if (want[i] && !mask[i]) filled++;
      fillMaskHoles(mask, w, h);
      assert.deepEqual(mask, want, `${w}x${h} at density ${p}`);
    }
    assert.ok(filled > 10, `the masks had holes (${filled} pixels filled)`);
  });

  it('fills a hole that touches the background outside only diagonally (the background is 4-connected)', () => {
    // an 8-connected ring around a hole whose pixel (1, 1) is diagonal to the background corner (0, 0)
    const w = 5;
    const mask = Uint8Array.from([0, 1, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 0]);
    fillMaskHoles(mask, w, 5);
    assert.equal(mask[6], 1, 'the pixel at (1, 1) touches the corner (0, 0) only diagonally');
    assert.equal(mask[7], 1);
    assert.equal(mask[12], 1);
    assert.equal(mask[0], 0, 'a corner stays background');
  });
});
