/**
 * measureNested (nuclei, cells and cytoplasm in one pass) against measureObjects of each kind
 * alone: every value bitwise equal, on synthetic fields built here (round nuclei, cells grown
 * around them, noisy stains of each pixel type), with several texture options, cells without a
 * nucleus, and label images that are not nested (measured kind by kind).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MorphoprofError } from '../../src/errors.js';
import { measureObjects, type MeasureOptions } from '../../src/cells/measure.js';
import { cytoplasmLabels, measureNested, nucleiInsideCells } from '../../src/cells/measure-nested.js';
import { cellSettings, measureField } from '../../src/cells/field.js';
import type { LabelImage, ObjectMeasurements, Plane } from '../../src/cells/types.js';
import { lcg } from '../helpers.js';

interface Field {
  nuclei: LabelImage;
  cells: LabelImage;
  images: Record<string, Plane>;
}

/**
 * A w x h field: `n` nuclei (discs of radius 3-6) at random centres, cells = every pixel within
 * 14 px of a centre, taking the nearest centre's number (nucleus pixels keep their own number);
 * `extraCells` more cells without a nucleus (numbers after the nuclei). Stains: smooth blobs plus
 * noise, as Float32 (0..1), Uint16 and Uint8.
 */
function makeField(seed: number, w: number, h: number, n: number, extraCells = 0): Field {
  const rnd = lcg(seed);
  const centres = Array.from({ length: n + extraCells }, () => [4 + rnd() * (w - 8), 4 + rnd() * (h - 8), 3 + rnd() * 3] as const);
  const nuc = new Int32Array(w * h);
  const cel = new Int32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let best = 14 * 14;
      centres.forEach(([cx, cy, r], k) => {
        const d2 = (x - cx) ** 2 + (y - cy) ** 2;
        if (k < n && d2 <= r * r && nuc[y * w + x] === 0) nuc[y * w + x] = k + 1;
        if (d2 < best) {
          best = d2;
          cel[y * w + x] = k + 1;
        }
      });
    }
  }
  for (let p = 0; p < w * h; p++) if (nuc[p] !== 0) cel[p] = nuc[p]!;
  const blob = (p: number, k: number) => {
    const x = p % w;
    const y = (p - x) / w;
    return Math.exp(-(((x - w / 3) ** 2 + (y - h / 2) ** 2) / (k * w * w)));
  };
  const f32 = Float32Array.from({ length: w * h }, (_, p) => Math.min(1, 0.1 + 0.6 * blob(p, 0.2) * (nuc[p] ? 1.5 : 1) + 0.2 * rnd()));
  const u16 = Uint16Array.from({ length: w * h }, (_, p) => Math.floor(65535 * Math.min(1, 0.05 + 0.5 * blob(p, 0.05) + 0.4 * rnd() * (cel[p] ? 1 : 0.2))));
  const u8 = Uint8Array.from({ length: w * h }, () => Math.floor(rnd() * 40)); // dim: many zero gray levels
  return {
    nuclei: { labels: nuc, width: w, height: h, count: n },
    cells: { labels: cel, width: w, height: h, count: n + extraCells },
    images: { DNA: { data: f32, width: w, height: h }, Tubulin: { data: u16, width: w, height: h }, Actin: { data: u8, width: w, height: h } },
  };
}

function assertBitwise(actual: ObjectMeasurements, expected: ObjectMeasurements, what: string): void {
  assert.deepEqual(actual.columns, expected.columns, `${what}: columns`);
  assert.equal(actual.count, expected.count, `${what}: count`);
  assert.equal(actual.values.length, expected.values.length);
  for (let i = 0; i < expected.values.length; i++) {
    if (!Object.is(actual.values[i], expected.values[i])) {
      const c = expected.columns.length;
      assert.fail(`${what}: ${expected.columns[i % c]} of object ${Math.floor(i / c) + 1} is ${actual.values[i]}, alone ${expected.values[i]}`);
    }
  }
}

function assertAsAlone(f: Field, opts: MeasureOptions = {}, what = ''): void {
  const nested = measureNested(f.nuclei, f.cells, f.images, opts);
  assertBitwise(nested.Nuclei, measureObjects(f.nuclei, f.images, opts), `Nuclei ${what}`);
  assertBitwise(nested.Cells, measureObjects(f.cells, f.images, opts), `Cells ${what}`);
  assertBitwise(nested.Cytoplasm, measureObjects(cytoplasmLabels(f.nuclei, f.cells), f.images, opts), `Cytoplasm ${what}`);
}

test('measureNested: every value bitwise equal to measuring nuclei, cells and cytoplasm alone', () => {
  const f = makeField(3, 120, 96, 14);
  assert.ok(nucleiInsideCells(f.nuclei, f.cells));
  const nested = measureNested(f.nuclei, f.cells, f.images);
  // the field is what the test means: textured objects with crossing pairs, some texture nonzero
  const tcol = nested.Cells.columns.indexOf('Texture_Contrast_DNA_3_00_256');
  assert.ok(nested.Cells.values[tcol]! > 0, 'cell 1 has DNA texture');
  assertAsAlone(f, {}, 'defaults');
  assertAsAlone(f, { textureScales: [1, 3], grayLevels: 8 }, 'scales 1 and 3, 8 levels');
  assertAsAlone(f, { textureStains: ['Actin'] }, 'texture of Actin only');
  assertAsAlone(f, { textureStains: [] }, 'no texture');
});

test('measureNested: cells without a nucleus, a nucleus number without pixels, an empty field', () => {
  const f = makeField(5, 80, 64, 6, 3);
  // nucleus 2 erased: its cell keeps its number, its row of Nuclei is zeros
  for (let p = 0; p < f.nuclei.labels.length; p++) if (f.nuclei.labels[p] === 2) f.nuclei.labels[p] = 0;
  assertAsAlone(f, {}, 'gaps');
  const nested = measureNested(f.nuclei, f.cells, f.images);
  assert.equal(nested.Nuclei.count, 6);
  assert.equal(nested.Cells.count, 9);
  assert.equal(nested.Nuclei.values[nested.Nuclei.columns.length + nested.Nuclei.columns.indexOf('AreaShape_Area')], 0);
  const empty = makeField(1, 8, 8, 0);
  assertAsAlone(empty, {}, 'empty');
});

test('measureNested: label images that are not nested are measured kind by kind, equally', () => {
  const f = makeField(9, 80, 64, 8);
  // a nucleus pixel given to another cell
  const p = f.nuclei.labels.findIndex((l) => l === 3);
  f.cells.labels[p] = 4;
  assert.equal(nucleiInsideCells(f.nuclei, f.cells), false);
  assertAsAlone(f, {}, 'not nested');
});

test('measureNested: images of another size are refused, naming both sizes', () => {
  const f = makeField(2, 40, 30, 3);
  const small: LabelImage = { labels: new Int32Array(20 * 30), width: 20, height: 30, count: 0 };
  assert.throws(() => measureNested(small, f.cells, f.images), (e: unknown) => e instanceof MorphoprofError && /20x30 but cells 40x30/.test(e.message));
});

test('measureField measures the three kinds as measureObjects does', () => {
  // a field whose DNA shows the nuclei and whose Actin the cells, segmented by the stage itself
  const f = makeField(11, 128, 96, 8);
  const rnd = lcg(12);
  const w = 128;
  const h = 96;
  const dna = Float32Array.from(f.nuclei.labels, (l) => (l ? 0.6 : 0.02) + 0.05 * rnd());
  const actin = Float32Array.from(f.cells.labels, (l) => (l ? 0.3 : 0.01) + 0.05 * rnd());
  const planes = { DNA: { data: dna, width: w, height: h }, Actin: { data: actin, width: w, height: h } };
  const m = measureField(planes, cellSettings(['DNA', 'Actin'], { diameter: [4, 16] }));
  assert.ok(m.objects.cells && m.objects.nuclei.count > 0, `nuclei found: ${m.objects.nuclei.count}`);
  assertBitwise(m.measured.Nuclei!, measureObjects(m.objects.nuclei, planes), 'Nuclei of measureField');
  assertBitwise(m.measured.Cells!, measureObjects(m.objects.cells, planes), 'Cells of measureField');
  assertBitwise(m.measured.Cytoplasm!, measureObjects(cytoplasmLabels(m.objects.nuclei, m.objects.cells), planes), 'Cytoplasm of measureField');
});
