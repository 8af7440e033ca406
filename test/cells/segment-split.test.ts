/**
 * Cutting overlapping nuclei after the intensity declump (src/cells/merge.ts splitNecks,
 * splitNotches): two or three nuclei that overlap, whose stain adds up over the overlap (so that
 * the intensity seeds see one bright nucleus), are cut into one object each; one round, elongated
 * or bean-shaped nucleus is not.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { absorbSmall, notchesOf, rowHull, splitNecks, splitNotches, type SplitRule } from '../../src/cells/merge.js';
import { distanceTransform } from '../../src/cells/distance.js';
import { segmentNuclei } from '../../src/cells/segment.js';
import type { LabelImage } from '../../src/cells/types.js';

type Ellipse = { x: number; y: number; a: number; b: number; angle: number };

/** A 16-bit field, background 200 +- 10, each ellipse adding `bright` (overlaps add up, as stain does). */
function additive(w: number, h: number, ellipses: Ellipse[], bright = 1500, seed = 3): Uint16Array {
  const data = new Uint16Array(w * h);
  let s = seed;
  for (let i = 0; i < data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = 200 + ((s >>> 16) % 21) - 10;
  }
  for (const e of ellipses) {
    const c = Math.cos(e.angle);
    const sn = Math.sin(e.angle);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const dx = x + 0.5 - e.x;
        const dy = y + 0.5 - e.y;
        const u = (dx * c + dy * sn) / e.a;
        const v = (-dx * sn + dy * c) / e.b;
        if (u * u + v * v <= 1) data[y * w + x] = data[y * w + x]! + bright;
      }
    }
  }
  return data;
}

/** Lobes of a multinucleate cell as the synthetic screens draw them: n ellipses 0.62 r from the centre, 0.8 r in size, long axis pointing out. */
function lobes(cx: number, cy: number, r: number, n: number, turn = 0.3): Ellipse[] {
  return Array.from({ length: n }, (_, k) => {
    const angle = turn + (2 * Math.PI * k) / n;
    return { x: cx + 0.62 * r * Math.cos(angle), y: cy + 0.62 * r * Math.sin(angle), a: 0.8 * r, b: 0.8 * r * 0.8, angle };
  });
}

const labelAt = (img: LabelImage, x: number, y: number): number => img.labels[Math.round(y) * img.width + Math.round(x)]!;

/** The object under each point: distinct and non-zero. */
function oneEach(img: LabelImage, points: Ellipse[]): void {
  const found = points.map((p) => labelAt(img, p.x, p.y));
  assert.ok(found.every((l) => l > 0), `a lobe centre on background: ${found}`);
  assert.equal(new Set(found).size, points.length, `lobes share objects: ${found}`);
}

const rule = (r: number): SplitRule => ({ minElongation: 1.6, neckRatio: 0.85, notchDepth: 0.3, notchReach: 0.1, minPartArea: 0.3 * Math.PI * r * r, spacing: 0.5 * r });

/** A mask (1 inside) from a predicate, its distance transform and a label image of one piece. */
function piece(w: number, h: number, inside: (x: number, y: number) => boolean): { labels: Int32Array; dist: Float32Array } {
  const mask = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) mask[y * w + x] = inside(x + 0.5, y + 0.5) ? 1 : 0;
  return { labels: Int32Array.from(mask), dist: distanceTransform(mask, w, h) };
}

describe('cutting overlapping nuclei', () => {
  /** A field of four single nuclei (radius ~r, so that the typical radius is measured on them) beside `cluster`. */
  function withSingles(cluster: Ellipse[], r: number): LabelImage {
    const singles = [[160, 40], [160, 100], [220, 40], [220, 100]].map(([x, y]) => ({ x: x!, y: y!, a: r, b: 0.85 * r, angle: 0.2 }));
    const img = segmentNuclei({ data: additive(260, 140, [...cluster, ...singles]), width: 260, height: 140 });
    for (const s of singles) assert.ok(labelAt(img, s.x, s.y) > 0);
    return img;
  }

  it('two overlapping nuclei whose stain adds up over the overlap: one object each', () => {
    for (const r of [12, 16, 20]) {
      for (const turn of [0, 0.4, 1.1]) {
        const l = lobes(60, 60, r, 2, turn);
        const img = withSingles(l, r);
        assert.equal(img.count, 2 + 4, `r ${r}, turn ${turn}`);
        oneEach(img, l);
      }
    }
  });

  it('three overlapping nuclei (a three-lobed outline, brightest in the middle): one object each', () => {
    for (const r of [16, 20]) {
      for (const turn of [0, 0.5, 1.3]) {
        const l = lobes(60, 60, r, 3, turn);
        const img = withSingles(l, r);
        assert.equal(img.count, 3 + 4, `r ${r}, turn ${turn}`);
        oneEach(img, l);
      }
    }
  });

  it('one round, elongated (2.2:1) or bean-shaped nucleus stays one object', () => {
    const round = segmentNuclei({ data: additive(100, 100, [{ x: 50, y: 50, a: 18, b: 17, angle: 0 }]), width: 100, height: 100 });
    assert.equal(round.count, 1);
    const long = segmentNuclei({ data: additive(120, 100, [{ x: 60, y: 50, a: 33, b: 15, angle: 0.5 }]), width: 120, height: 100 });
    assert.equal(long.count, 1);
    // a bean: a disc with a bite out of one side (one notch)
    const w = 100;
    const bean = additive(w, w, [{ x: 50, y: 50, a: 24, b: 16, angle: 0 }]);
    for (let y = 0; y < w; y++) for (let x = 0; x < w; x++) if ((x + 0.5 - 50) ** 2 + (y + 0.5 - 72) ** 2 < 11 ** 2) bean[y * w + x] = 200;
    assert.equal(segmentNuclei({ data: bean, width: w, height: w }).count, 1);
  });

  it('splitNecks cuts a dumbbell at its waist and leaves an ellipse whole', () => {
    const bell = piece(80, 40, (x, y) => (x - 22) ** 2 + (y - 20) ** 2 < 144 || (x - 52) ** 2 + (y - 20) ** 2 < 144 || (Math.abs(y - 20) < 5 && x > 22 && x < 52));
    assert.equal(splitNecks(bell.labels, 1, bell.dist, 80, 40, rule(12)), 2);
    assert.notEqual(bell.labels[20 * 80 + 22], bell.labels[20 * 80 + 52]);
    assert.ok(bell.labels.every((l, k) => (l === 0) === (bell.dist[k] === 0)), 'the cut covers the piece, nothing else');
    const oval = piece(80, 40, (x, y) => ((x - 40) / 30) ** 2 + ((y - 20) / 12) ** 2 < 1);
    assert.equal(splitNecks(oval.labels, 1, oval.dist, 80, 40, rule(12)), 1);
  });

  it('splitNotches cuts a three-leaf clover into its leaves, with cuts running into the notches', () => {
    const leaves = lobes(50, 50, 20, 3);
    const inEllipse = (e: Ellipse, x: number, y: number): boolean => {
      const dx = x - e.x;
      const dy = y - e.y;
      const u = (dx * Math.cos(e.angle) + dy * Math.sin(e.angle)) / e.a;
      const v = (-dx * Math.sin(e.angle) + dy * Math.cos(e.angle)) / e.b;
      return u * u + v * v < 1;
    };
    const clover = piece(100, 100, (x, y) => leaves.some((e) => inEllipse(e, x, y)));
    const before = clover.labels.filter((l) => l).length;
    assert.equal(splitNotches(clover.labels, 1, clover.dist, 100, 100, rule(13)), 3);
    const tips = leaves.map((e) => labelAt({ labels: clover.labels, width: 100, height: 100, count: 3 }, e.x + 0.7 * e.a * Math.cos(e.angle), e.y + 0.7 * e.a * Math.sin(e.angle)));
    assert.deepEqual([...tips].sort(), [1, 2, 3]);
    assert.equal(clover.labels.filter((l) => l).length, before);
    const disc = piece(100, 100, (x, y) => (x - 50) ** 2 + (y - 50) ** 2 < 30 ** 2);
    assert.equal(splitNotches(disc.labels, 1, disc.dist, 100, 100, { ...rule(30), minElongation: 0 }), 1);
  });

  it('notchesOf: a disc has none, a clover three; rowHull of a square is its corners', () => {
    const mask = (inside: (x: number, y: number) => boolean): Uint8Array => {
      const m = new Uint8Array(100 * 100);
      for (let y = 0; y < 100; y++) for (let x = 0; x < 100; x++) m[y * 100 + x] = inside(x + 0.5, y + 0.5) ? 1 : 0;
      return m;
    };
    const disc = mask((x, y) => (x - 50) ** 2 + (y - 50) ** 2 < 900);
    const d = notchesOf(disc, 100, 100, disc.reduce((a, v) => a + v, 0), 3);
    assert.equal(d.notches.length, 0);
    assert.ok(d.solidity > 0.9 && d.solidity <= 1, `solidity ${d.solidity}`);
    const leaves = lobes(50, 50, 20, 3);
    const clover = mask((x, y) => leaves.some((e) => ((x - e.x) * Math.cos(e.angle) + (y - e.y) * Math.sin(e.angle)) ** 2 / e.a ** 2 + (-(x - e.x) * Math.sin(e.angle) + (y - e.y) * Math.cos(e.angle)) ** 2 / e.b ** 2 < 1));
    const c = notchesOf(clover, 100, 100, clover.reduce((a, v) => a + v, 0), 3);
    assert.equal(c.notches.length, 6);
    assert.ok(c.solidity < 0.9, `solidity ${c.solidity}`);
    // a 2x2 square's rows: corners at x 0 and 2 on heights 0, 1, 2; the middle ones are collinear
    const hull = rowHull([0, 0, 0], [2, 2, 2], 3);
    assert.equal(hull.length, 8);
    assert.deepEqual(new Set(hull), new Set([0, 2]));
    // a trapezoid: one pixel, then three, then five (the corners on its slanted sides are collinear)
    assert.equal(rowHull([2, 1, 0, 0], [3, 4, 5, 5], 4).length / 2, 6);
  });

  it('absorbSmall: a part under the minimum joins the neighbour it shares most border with', () => {
    // 6x3: part 1 (3 columns), part 2 (one pixel in column 3, row 1), part 3 (the rest)
    const labels = Int32Array.from([1, 1, 1, 3, 3, 3, 1, 1, 1, 2, 3, 3, 1, 1, 1, 3, 3, 3]);
    absorbSmall(labels, 3, 6, 3, 2);
    assert.equal(labels[9], 3);
    assert.deepEqual([...new Set(labels)].sort(), [1, 3]);
  });
});
