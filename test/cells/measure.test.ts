import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { MorphoprofError } from '../../src/errors.js';
import { measureObjects, measurementColumns } from '../../src/cells/measure.js';
import { grayLevel } from '../../src/cells/texture.js';
import type { LabelImage, ObjectMeasurements, Plane } from '../../src/cells/types.js';
import { readImage } from '../../src/image/index.js';
import { sharedData, skipMessage } from '../helpers.js';

type Mask = (x: number, y: number) => boolean;

/** A label image with object k+1 = the pixels where shapes[k] holds (later shapes win). */
function draw(width: number, height: number, shapes: Mask[], count = shapes.length): LabelImage {
  const labels = new Int32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      shapes.forEach((inside, k) => {
        if (inside(x, y)) labels[y * width + x] = k + 1;
      });
    }
  }
  return { labels, width, height, count };
}

function plane(width: number, height: number, value: (x: number, y: number) => number): Plane {
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) data[y * width + x] = value(x, y);
  return { data, width, height };
}

function get(m: ObjectMeasurements, column: string, object: number): number {
  const j = m.columns.indexOf(column);
  assert.ok(j >= 0, `no column ${column}`);
  return m.values[(object - 1) * m.columns.length + j]!;
}

function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected} (tolerance ${tol})`);
}

function assertFinite(m: ObjectMeasurements): void {
  m.values.forEach((v, i) => assert.ok(Number.isFinite(v), `${m.columns[i % m.columns.length]} of object ${Math.floor(i / m.columns.length) + 1} is ${v}`));
}

/** scikit-image's perimeter(mask, 4), written out on a dense mask: border = mask minus its 4-erosion (outside = 0),
 *  each border pixel weighted by its code 1 + 2 x (4-neighbours on the border) + 10 x (diagonal neighbours on the border). */
function referencePerimeter(mask: (x: number, y: number) => boolean, w: number, h: number): number {
  const m = (x: number, y: number) => x >= 0 && y >= 0 && x < w && y < h && mask(x, y);
  const border = (x: number, y: number) => m(x, y) && !(m(x - 1, y) && m(x + 1, y) && m(x, y - 1) && m(x, y + 1));
  const weight = new Map<number, number>([
    [5, 1], [7, 1], [15, 1], [17, 1], [25, 1], [27, 1], [21, Math.SQRT2], [33, Math.SQRT2], [13, (1 + Math.SQRT2) / 2], [23, (1 + Math.SQRT2) / 2],
  ]);
  let total = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!border(x, y)) continue;
      const four = [border(x - 1, y), border(x + 1, y), border(x, y - 1), border(x, y + 1)].filter(Boolean).length;
      const diag = [border(x - 1, y - 1), border(x + 1, y - 1), border(x - 1, y + 1), border(x + 1, y + 1)].filter(Boolean).length;
      total += weight.get(1 + 2 * four + 10 * diag) ?? 0;
    }
  }
  return total;
}

test('a digital disk: area, perimeter and form factor by scikit-image definition and close to theory', () => {
  const r = 12;
  const disk: Mask = (x, y) => (x - 30) ** 2 + (y - 25) ** 2 <= r * r;
  const m = measureObjects(draw(64, 56, [disk]), {});
  let area = 0;
  for (let y = 0; y < 56; y++) for (let x = 0; x < 64; x++) if (disk(x, y)) area++;
  const perimeter = referencePerimeter(disk, 64, 56);
  assert.equal(get(m, 'AreaShape_Area', 1), area);
  close(get(m, 'AreaShape_Perimeter', 1), perimeter, 1e-9, 'perimeter');
  close(get(m, 'AreaShape_FormFactor', 1), (4 * Math.PI * area) / perimeter ** 2, 1e-12, 'form factor');
  close(get(m, 'AreaShape_Compactness', 1), perimeter ** 2 / (4 * Math.PI * area), 1e-12, 'compactness');
  // theory: pi r^2, 2 pi r, form factor 1 (the digital estimate is a few percent off)
  close(area / (Math.PI * r * r), 1, 0.04, 'area vs pi r^2');
  close(perimeter / (2 * Math.PI * r), 1, 0.06, 'perimeter vs 2 pi r');
  close(get(m, 'AreaShape_FormFactor', 1), 1, 0.1, 'form factor vs 1');
  close(get(m, 'AreaShape_Eccentricity', 1), 0, 1e-12, 'eccentricity of a disk');
  close(get(m, 'AreaShape_MajorAxisLength', 1), 2 * r, 0.5, 'axis of a disk');
  assert.equal(get(m, 'AreaShape_EulerNumber', 1), 1);
  assert.equal(get(m, 'Location_Center_X', 1), 30);
  assert.equal(get(m, 'Location_Center_Y', 1), 25);
  close(get(m, 'AreaShape_EquivalentDiameter', 1), Math.sqrt((4 * area) / Math.PI), 1e-12, 'equivalent diameter');
});

test('an ellipse: major and minor axes and eccentricity from the second moments, orientation', () => {
  const a = 24;
  const b = 10;
  const wide: Mask = (x, y) => ((x - 40) / a) ** 2 + ((y - 20) / b) ** 2 <= 1;
  const tall: Mask = (x, y) => ((x - 20) / b) ** 2 + ((y - 70) / a) ** 2 <= 1;
  const m = measureObjects(draw(80, 100, [wide, tall]), {});
  // moments of the same pixels, by hand
  let n = 0, sx = 0, sy = 0, sxx = 0, syy = 0;
  for (let y = 0; y < 100; y++) for (let x = 0; x < 80; x++) if (wide(x, y)) { n++; sx += x; sy += y; sxx += x * x; syy += y * y; }
  const varX = sxx / n - (sx / n) ** 2;
  const varY = syy / n - (sy / n) ** 2;
  for (const k of [1, 2]) {
    close(get(m, 'AreaShape_MajorAxisLength', k), 4 * Math.sqrt(varX), 1e-9, 'major axis = 4 sqrt(largest eigenvalue)');
    close(get(m, 'AreaShape_MinorAxisLength', k), 4 * Math.sqrt(varY), 1e-9, 'minor axis');
    close(get(m, 'AreaShape_Eccentricity', k), Math.sqrt(1 - varY / varX), 1e-9, 'eccentricity');
    // theory: a continuous ellipse has axes 2a, 2b and eccentricity sqrt(1 - b^2/a^2)
    close(get(m, 'AreaShape_MajorAxisLength', k), 2 * a, 1, 'major axis vs 2a');
    close(get(m, 'AreaShape_MinorAxisLength', k), 2 * b, 1, 'minor axis vs 2b');
    close(get(m, 'AreaShape_Eccentricity', k), Math.sqrt(1 - (b * b) / (a * a)), 0.01, 'eccentricity vs theory');
  }
  // scikit-image's orientation: angle from the row axis to the major axis, in degrees here
  assert.equal(get(m, 'AreaShape_Orientation', 1), 90);
  assert.equal(get(m, 'AreaShape_Orientation', 2), 0);
  assert.ok(get(m, 'AreaShape_Solidity', 1) > 0.9 && get(m, 'AreaShape_Solidity', 1) <= 1);
});

test('a rectangle: extent and solidity 1, bounding box, centroid, Feret diameters; an L-shape is not solid', () => {
  const rect: Mask = (x, y) => x >= 3 && x <= 12 && y >= 5 && y <= 10; // 10 x 6
  const ell: Mask = (x, y) => (x >= 20 && x <= 22 && y >= 2 && y <= 13) || (x >= 20 && x <= 31 && y >= 11 && y <= 13);
  const m = measureObjects(draw(40, 20, [rect, ell]), {});
  assert.equal(get(m, 'AreaShape_Area', 1), 60);
  assert.equal(get(m, 'AreaShape_Extent', 1), 1);
  assert.equal(get(m, 'AreaShape_Solidity', 1), 1);
  assert.equal(get(m, 'AreaShape_ConvexArea', 1), 60);
  assert.equal(get(m, 'AreaShape_BoundingBoxArea', 1), 60);
  // CellProfiler stores regionprops' bbox: minimum inclusive, maximum exclusive
  assert.deepEqual(
    ['Minimum_X', 'Minimum_Y', 'Maximum_X', 'Maximum_Y'].map((c) => get(m, `AreaShape_BoundingBox${c}`, 1)),
    [3, 5, 13, 11],
  );
  assert.equal(get(m, 'AreaShape_Center_X', 1), 7.5);
  assert.equal(get(m, 'AreaShape_Center_Y', 1), 7.5);
  assert.equal(get(m, 'Location_Center_X', 1), 7.5);
  // Feret diameters of the hull of pixel centres: diagonal and short side, centre to centre
  close(get(m, 'AreaShape_MaxFeretDiameter', 1), Math.hypot(9, 5), 1e-12, 'max Feret');
  close(get(m, 'AreaShape_MinFeretDiameter', 1), 5, 1e-12, 'min Feret');
  close(get(m, 'AreaShape_Perimeter', 1), referencePerimeter(rect, 40, 20), 1e-9, 'rectangle perimeter');
  const area = 3 * 12 + 9 * 3;
  assert.equal(get(m, 'AreaShape_Area', 2), area);
  assert.ok(get(m, 'AreaShape_Solidity', 2) < 0.8, `L-shape solidity ${get(m, 'AreaShape_Solidity', 2)}`);
  assert.ok(get(m, 'AreaShape_ConvexArea', 2) > area && get(m, 'AreaShape_ConvexArea', 2) < 12 * 12);
  close(get(m, 'AreaShape_Extent', 2), area / (12 * 12), 1e-12, 'L-shape extent');
});

test('Euler number: a ring has one hole, diagonal neighbours are one object (8-connected)', () => {
  const ring: Mask = (x, y) => {
    const d = (x - 12) ** 2 + (y - 12) ** 2;
    return d <= 64 && d > 16;
  };
  const diagonal: Mask = (x, y) => (x === 30 && y === 5) || (x === 31 && y === 6) || (x === 32 && y === 5);
  const m = measureObjects(draw(40, 25, [ring, diagonal]), {});
  assert.equal(get(m, 'AreaShape_EulerNumber', 1), 0);
  assert.equal(get(m, 'AreaShape_EulerNumber', 2), 1);
});

test('intensity statistics on known values, quartiles and MAD as CellProfiler interpolates them', () => {
  // object 1: ten pixels in a row holding 0.1 .. 1.0 (shuffled); CellProfiler's quantile of n sorted values
  // at fraction f reads position n*f: lower quartile 2.5 -> (0.3+0.4)/2, median 5 -> 0.6, upper 7.5 -> (0.8+0.9)/2
  const order = [7, 2, 9, 0, 4, 1, 8, 3, 6, 5];
  const row: Mask = (x, y) => y === 2 && x >= 1 && x <= 10;
  const img = plane(14, 6, (x, y) => (row(x, y) ? (order[x - 1]! + 1) / 10 : 0.5));
  const m = measureObjects(draw(14, 6, [row]), { DNA: img });
  const v = (name: string) => get(m, `Intensity_${name}_DNA`, 1);
  const f = Math.fround;
  const values = order.map((i) => f((i + 1) / 10));
  const mean = values.reduce((s, x) => s + x, 0) / 10;
  close(v('IntegratedIntensity'), mean * 10, 1e-12, 'integrated');
  close(v('MeanIntensity'), mean, 1e-12, 'mean');
  close(v('StdIntensity'), Math.sqrt(values.reduce((s, x) => s + (x - mean) ** 2, 0) / 10), 1e-12, 'std (population)');
  assert.equal(v('MinIntensity'), f(0.1));
  assert.equal(v('MaxIntensity'), f(1));
  close(v('LowerQuartileIntensity'), (f(0.3) + f(0.4)) / 2, 1e-12, 'lower quartile');
  assert.equal(v('MedianIntensity'), f(0.6));
  close(v('UpperQuartileIntensity'), (f(0.8) + f(0.9)) / 2, 1e-12, 'upper quartile');
  // |v - 0.6| sorted: 0, .1, .1, .2, .2, .3, .3, .4, .4, .5 -> position 5 -> 0.3
  close(v('MADIntensity'), f(0.9) - f(0.6), 1e-12, 'MAD');
  // a one-pixel-high object is all edge
  close(v('MeanIntensityEdge'), mean, 1e-12, 'edge mean');
  // mass displacement: centre of the pixels vs centre of intensity along x
  const cx = 5.5;
  const cxi = values.reduce((s, x, i) => s + x * (i + 1), 0) / (mean * 10);
  close(v('MassDisplacement'), Math.abs(cx - cxi), 1e-9, 'mass displacement');
});

test('edge intensity on a ring of bright pixels around a dim core; the image border is not an edge', () => {
  const square: Mask = (x, y) => x >= 2 && x <= 8 && y >= 2 && y <= 8; // 7 x 7: 24 edge pixels, 25 inside
  const corner: Mask = (x, y) => x <= 2 && y >= 13; // touches the left and bottom image borders
  const edge = (x: number, y: number) => x === 2 || x === 8 || y === 2 || y === 8;
  const img = plane(12, 16, (x, y) => (square(x, y) ? (edge(x, y) ? 0.75 : 0.25) : corner(x, y) ? (x === 2 || y === 13 ? 0.5 : 0.125) : 0));
  const m = measureObjects(draw(12, 16, [square, corner]), { Actin: img });
  const v = (name: string, k: number) => get(m, `Intensity_${name}_Actin`, k);
  assert.equal(v('IntegratedIntensityEdge', 1), 24 * 0.75);
  assert.equal(v('MeanIntensityEdge', 1), 0.75);
  assert.equal(v('StdIntensityEdge', 1), 0);
  assert.equal(v('MinIntensityEdge', 1), 0.75);
  assert.equal(v('MaxIntensityEdge', 1), 0.75);
  close(v('MeanIntensity', 1), (24 * 0.75 + 25 * 0.25) / 49, 1e-12, 'mean');
  // the 3 x 3 corner object: its edge is the 5 pixels next to background, not those on the image border
  assert.equal(v('IntegratedIntensityEdge', 2), 5 * 0.5);
  assert.equal(v('MinIntensityEdge', 2), 0.5);
});

test('Uint16 and Uint8 planes are scaled to 0..1 as CellProfiler loads them', () => {
  const sq: Mask = (x, y) => x < 2 && y < 2;
  const labels = draw(3, 3, [sq]);
  const u16 = { data: Uint16Array.from([65535, 0, 0, 13107, 0, 0, 0, 0, 0]), width: 3, height: 3 };
  const u8 = { data: Uint8Array.from([255, 51, 0, 0, 0, 0, 0, 0, 0]), width: 3, height: 3 };
  const m = measureObjects(labels, { A: u16, B: u8 });
  assert.equal(get(m, 'Intensity_MaxIntensity_A', 1), 1);
  close(get(m, 'Intensity_IntegratedIntensity_A', 1), 1.2, 1e-12, 'uint16 sum');
  close(get(m, 'Intensity_IntegratedIntensity_B', 1), 1.2, 1e-12, 'uint8 sum');
});

/**
 * mahotas' Haralick features of one direction, written out densely from a co-occurrence matrix
 * built by visiting pixel pairs: P = C + C^T without gray level 0, p = P / sum(P), size = max + 1.
 */
function referenceHaralick(gray: number[][], dy: number, dx: number): number[] {
  const h = gray.length;
  const w = gray[0]!.length;
  const size = Math.max(...gray.flat()) + 1;
  const P = Array.from({ length: size }, () => new Array<number>(size).fill(0));
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const y2 = y + dy;
      const x2 = x + dx;
      if (y2 < 0 || y2 >= h || x2 < 0 || x2 >= w) continue;
      const a = gray[y]![x]!;
      const b = gray[y2]![x2]!;
      if (a === 0 || b === 0) continue;
      P[a]![b]! += 1;
      P[b]![a]! += 1;
    }
  }
  const T = P.flat().reduce((s, v) => s + v, 0);
  if (T === 0) return new Array(13).fill(0);
  const p = P.map((row) => row.map((v) => v / T));
  const H = (xs: number[]) => -xs.filter((v) => v > 0).reduce((s, v) => s + v * Math.log2(v), 0);
  const px = p[0]!.map((_, j) => p.reduce((s, row) => s + row[j]!, 0));
  const py = p.map((row) => row.reduce((s, v) => s + v, 0));
  const k = [...Array(size).keys()];
  const ux = px.reduce((s, v, i) => s + i * v, 0);
  const uy = py.reduce((s, v, i) => s + i * v, 0);
  const vx = px.reduce((s, v, i) => s + i * i * v, 0) - ux * ux;
  const vy = py.reduce((s, v, i) => s + i * i * v, 0) - uy * uy;
  const plus = new Array(2 * size).fill(0);
  const minus = new Array(size).fill(0);
  let asm = 0, eij = 0, idm = 0, hxy1 = 0, hxy2 = 0;
  for (const i of k) {
    for (const j of k) {
      const v = p[i]![j]!;
      plus[i + j] += v;
      minus[Math.abs(i - j)] += v;
      asm += v * v;
      eij += i * j * v;
      idm += v / (1 + (i - j) ** 2);
      const q = px[i]! * py[j]!;
      if (q > 0) {
        hxy1 -= v * Math.log2(q);
        hxy2 -= q * Math.log2(q);
      }
    }
  }
  const contrast = minus.reduce((s, v, d) => s + d * d * v, 0);
  const sumAverage = plus.reduce((s, v, i) => s + i * v, 0);
  const sumVariance = plus.reduce((s, v, i) => s + i * i * v, 0) - sumAverage ** 2;
  const mMean = minus.reduce((s, v) => s + v, 0) / size;
  const diffVariance = minus.reduce((s, v) => s + (v - mMean) ** 2, 0) / size;
  const entropy = H(p.flat());
  const hx = H(px);
  const hy = H(py);
  const sx = Math.sqrt(vx);
  const sy = Math.sqrt(vy);
  return [
    asm, contrast, sx === 0 || sy === 0 ? 1 : (eij - ux * uy) / sx / sy, vx, idm, sumAverage, sumVariance, H(plus), entropy,
    diffVariance, H(minus), Math.max(hx, hy) === 0 ? entropy - hxy1 : (entropy - hxy1) / Math.max(hx, hy),
    Math.sqrt(Math.max(0, 1 - Math.exp(-2 * (hxy2 - entropy)))),
  ];
}

const HARALICK = [
  'AngularSecondMoment', 'Contrast', 'Correlation', 'Variance', 'InverseDifferenceMoment', 'SumAverage', 'SumVariance',
  'SumEntropy', 'Entropy', 'DifferenceVariance', 'DifferenceEntropy', 'InfoMeas1', 'InfoMeas2',
];
const DIRECTIONS: Array<[number, number]> = [[0, 1], [1, 1], [1, 0], [1, -1]];

/** A 4 x 4 object at (2, 1) in an 8 x 6 image whose Uint8 pixels are the gray levels themselves. */
function grayObject(gray: number[][], scale: number): ObjectMeasurements {
  const w = 8;
  const h = 6;
  const data = new Uint8Array(w * h).fill(200); // bright background: must not leak into the object
  gray.forEach((row, y) => row.forEach((g, x) => (data[(y + 1) * w + x + 2] = g)));
  const labels = draw(w, h, [(x, y) => x >= 2 && x < 6 && y >= 1 && y < 5]);
  return measureObjects(labels, { DNA: { data, width: w, height: h } }, { textureScales: [scale] });
}

test('Haralick features of a 4x4 object against its co-occurrence matrix worked out by hand', () => {
  // columns alternate 1, 2: horizontal pairs are all {1, 2}, vertical pairs all equal
  const m = grayObject([[1, 2, 1, 2], [1, 2, 1, 2], [1, 2, 1, 2], [1, 2, 1, 2]], 1);
  const t = (f: string, dir: number) => get(m, `Texture_${f}_DNA_1_0${dir}_256`, 1);
  // horizontal: 12 pairs {1,2} -> p(1,2) = p(2,1) = 1/2
  assert.equal(t('AngularSecondMoment', 0), 0.5);
  assert.equal(t('Contrast', 0), 1);
  assert.equal(t('Correlation', 0), -1);
  assert.equal(t('Entropy', 0), 1);
  assert.equal(t('InverseDifferenceMoment', 0), 0.5);
  assert.equal(t('Variance', 0), 0.25);
  assert.equal(t('SumAverage', 0), 3);
  // vertical: 12 pairs, six (1,1) and six (2,2) -> p(1,1) = p(2,2) = 1/2
  assert.equal(t('AngularSecondMoment', 2), 0.5);
  assert.equal(t('Contrast', 2), 0);
  assert.equal(t('Correlation', 2), 1);
  assert.equal(t('Entropy', 2), 1);
  assert.equal(t('InverseDifferenceMoment', 2), 1);
});

test('all 13 Haralick features in 4 directions against a dense co-occurrence matrix, zeros ignored', () => {
  const gray = [[3, 0, 5, 5], [1, 3, 2, 7], [4, 4, 1, 0], [2, 6, 3, 3]];
  for (const scale of [1, 2, 3]) {
    const m = grayObject(gray, scale);
    DIRECTIONS.forEach(([dy, dx], dir) => {
      const expected = referenceHaralick(gray, dy * scale, dx * scale);
      HARALICK.forEach((f, i) => {
        close(get(m, `Texture_${f}_DNA_${scale}_0${dir}_256`, 1), expected[i]!, 1e-9, `${f} scale ${scale} direction ${dir}`);
      });
    });
  }
});

test('gray levels as CellProfiler makes them: round(v x 255), then binned to fewer levels', () => {
  assert.equal(grayLevel(0, 256), 0);
  assert.equal(grayLevel(1, 256), 255);
  assert.equal(grayLevel(0.5 / 255, 256), 0); // a half rounds to even
  assert.equal(grayLevel(1.5 / 255, 256), 2);
  assert.equal(grayLevel(1.2, 256), 255);
  assert.equal(grayLevel(-0.1, 256), 0);
  assert.equal(grayLevel(1, 8), 7);
  assert.equal(grayLevel(128 / 255, 8), 3);
  const labels = draw(6, 6, [(x, y) => x < 5 && y < 5]);
  const img = plane(6, 6, (x, y) => ((x + y) % 4) / 3);
  const m = measureObjects(labels, { DNA: img }, { grayLevels: 8, textureScales: [1] });
  assert.ok(m.columns.includes('Texture_Contrast_DNA_1_00_8'));
  assert.ok(get(m, 'Texture_SumAverage_DNA_1_00_8', 1) <= 2 * 7);
});

test('a constant object, a one-pixel object and an object too small for the offset give no NaN', () => {
  const constant: Mask = (x, y) => x >= 1 && x <= 6 && y >= 1 && y <= 6;
  const dot: Mask = (x, y) => x === 10 && y === 3;
  const pair: Mask = (x, y) => y === 8 && (x === 10 || x === 11);
  const dark: Mask = (x, y) => x >= 1 && x <= 5 && y >= 9 && y <= 12; // rounds to gray level 0
  const img = plane(14, 14, (x, y) => (dark(x, y) ? 0.001 : 0.4));
  const m = measureObjects(draw(14, 14, [constant, dot, pair, dark]), { DNA: img, Actin: img });
  assertFinite(m);
  const t = (f: string, k: number) => get(m, `Texture_${f}_DNA_3_00_256`, k);
  assert.equal(t('AngularSecondMoment', 1), 1);
  assert.equal(t('Contrast', 1), 0);
  assert.equal(t('Correlation', 1), 1);
  assert.equal(t('Entropy', 1), 0);
  assert.equal(get(m, 'Intensity_StdIntensity_DNA', 1), 0);
  assert.equal(get(m, 'Intensity_MADIntensity_DNA', 1), 0);
  for (const k of [2, 3, 4]) for (const f of HARALICK) assert.equal(t(f, k), 0, `${f} of object ${k}`);
  assert.equal(get(m, 'AreaShape_Area', 2), 1);
  assert.equal(get(m, 'AreaShape_Perimeter', 2), 0); // scikit-image's estimator gives an isolated pixel no perimeter
  assert.equal(get(m, 'AreaShape_FormFactor', 2), 0);
  assert.equal(get(m, 'AreaShape_Solidity', 2), 1);
  assert.equal(get(m, 'Intensity_MedianIntensity_DNA', 2), Math.fround(0.4));
});

test('objects are measured independently: adding an object elsewhere changes no value of another', () => {
  const blob: Mask = (x, y) => (x - 10) ** 2 / 36 + (y - 9) ** 2 / 16 <= 1 || (x >= 12 && x <= 16 && y >= 4 && y <= 6);
  const other: Mask = (x, y) => (x - 30) ** 2 + (y - 12) ** 2 <= 30;
  const img = plane(40, 20, (x, y) => ((x * 37 + y * 11) % 23) / 23);
  const tub = plane(40, 20, (x, y) => ((x * 5 + y * y) % 17) / 17);
  const alone = measureObjects(draw(40, 20, [blob]), { DNA: img, Tubulin: tub });
  const both = measureObjects(draw(40, 20, [blob, other]), { DNA: img, Tubulin: tub });
  assert.deepEqual(both.columns, alone.columns);
  assert.deepEqual([...both.values.subarray(0, both.columns.length)], [...alone.values]);
  assertFinite(both);
});

test('an object number without pixels gets a defined row of zeros', () => {
  const m = measureObjects(draw(10, 10, [(x, y) => x < 3 && y < 3, () => false, (x, y) => x > 6 && y > 6]), {
    DNA: plane(10, 10, () => 0.3),
  });
  assert.equal(m.count, 3);
  assertFinite(m);
  for (let j = 0; j < m.columns.length; j++) assert.equal(m.values[m.columns.length + j], 0, m.columns[j]);
  assert.equal(get(m, 'AreaShape_Area', 3), 9);
});

test('columns: CellProfiler names per stain, texture per chosen stain, scale and direction', () => {
  const cols = measurementColumns(['DNA', 'Actin'], { textureStains: ['Actin'], textureScales: [3, 5] });
  assert.equal(cols[0], 'Location_Center_X');
  assert.ok(cols.includes('AreaShape_FormFactor'));
  assert.ok(cols.includes('Intensity_MADIntensity_DNA') && cols.includes('Intensity_MADIntensity_Actin'));
  assert.ok(cols.includes('Texture_InfoMeas2_Actin_5_03_256'));
  assert.ok(!cols.some((c) => c.startsWith('Texture_') && c.includes('_DNA_')));
  assert.equal(cols.filter((c) => c.startsWith('Texture_')).length, 2 * 4 * 13);
  assert.equal(new Set(cols).size, cols.length);
  const m = measureObjects(draw(5, 5, [(x) => x < 2]), { DNA: plane(5, 5, () => 0.2), Actin: plane(5, 5, () => 0.1) }, {
    textureStains: ['Actin'],
    textureScales: [3, 5],
  });
  assert.deepEqual(m.columns, cols);
});

test('bad input is refused with a clear error', () => {
  const labels = draw(6, 6, [(x) => x < 2]);
  const expectError = (f: () => unknown, pattern: RegExp) =>
    assert.throws(f, (e: unknown) => e instanceof MorphoprofError && e.code === 'BAD_ARGUMENT' && pattern.test(e.message));
  expectError(() => measureObjects(labels, { DNA: plane(5, 6, () => 0) }), /stain DNA is 5x6.*label image is 6x6/);
  expectError(() => measureObjects({ ...labels, count: 0 }, {}), /pixel \(x 0, y 0\) holds 1, outside 0\.\.0/);
  expectError(() => measureObjects(labels, { DNA: plane(6, 6, () => 0) }, { textureStains: ['Actin'] }), /Texture stain Actin/);
  expectError(() => measureObjects(labels, {}, { grayLevels: 300 }), /grayLevels/);
  expectError(() => measureObjects(labels, {}, { textureScales: [0] }), /textureScales/);
  expectError(() => measureObjects({ ...labels, labels: new Int32Array(3) }, {}), /Int32Array of 36 labels/);
});

test('real nuclei (DSB 2018 annotations): every object measured, values within their ranges, perimeter by definition', async (t) => {
  const dir = sharedData('nuclei', 'dsb2018-fluorescence');
  if (!dir) {
    t.skip(skipMessage('nuclei/dsb2018-fluorescence'));
    return;
  }
  const rows = (await readFile(path.join(dir, 'INDEX.csv'), 'utf8')).trim().split('\n').slice(1).map((l) => l.split(','));
  let objects = 0;
  for (const [image, labelFile] of rows.filter((_, i) => i % 4 === 0)) {
    const img = await readImage(path.join(dir, image!));
    const lab = await readImage(path.join(dir, labelFile!));
    const labels = Int32Array.from(lab.data);
    const count = labels.reduce((m, v) => Math.max(m, v), 0);
    const m = measureObjects({ labels, width: lab.width, height: lab.height, count }, { DNA: img });
    assertFinite(m);
    const areas = new Map<number, number>();
    for (const l of labels) if (l) areas.set(l, (areas.get(l) ?? 0) + 1);
    for (let k = 1; k <= count; k++) {
      const v = (c: string) => get(m, c, k);
      assert.equal(v('AreaShape_Area'), areas.get(k) ?? 0, `${image} object ${k} area`);
      if (!areas.get(k)) continue;
      objects++;
      const what = `${image} object ${k}`;
      assert.ok(v('AreaShape_Solidity') > 0 && v('AreaShape_Solidity') <= 1, `${what} solidity`);
      assert.ok(v('AreaShape_Extent') > 0 && v('AreaShape_Extent') <= 1, `${what} extent`);
      assert.ok(v('AreaShape_ConvexArea') <= v('AreaShape_BoundingBoxArea'), `${what} convex area`);
      assert.ok(v('AreaShape_MinorAxisLength') <= v('AreaShape_MajorAxisLength'), `${what} axes`);
      assert.ok(v('AreaShape_MinFeretDiameter') <= v('AreaShape_MaxFeretDiameter') + 1e-9, `${what} Feret`);
      assert.ok(v('AreaShape_Eccentricity') >= 0 && v('AreaShape_Eccentricity') < 1, `${what} eccentricity`);
      const q = ['Min', 'LowerQuartile', 'Median', 'UpperQuartile', 'Max'].map((s) => v(`Intensity_${s}Intensity_DNA`));
      assert.deepEqual(q, [...q].sort((a, b) => a - b), `${what} quantiles in order`);
      for (let dir = 0; dir < 4; dir++) {
        const asm = v(`Texture_AngularSecondMoment_DNA_3_0${dir}_256`);
        assert.ok(asm >= 0 && asm <= 1, `${what} ASM`);
      }
      if (k % 5 === 0) {
        const x0 = v('AreaShape_BoundingBoxMinimum_X');
        const y0 = v('AreaShape_BoundingBoxMinimum_Y');
        const w = v('AreaShape_BoundingBoxMaximum_X') - x0;
        const h = v('AreaShape_BoundingBoxMaximum_Y') - y0;
        const mask: Mask = (x, y) => labels[(y + y0) * lab.width + x + x0] === k;
        close(v('AreaShape_Perimeter'), referencePerimeter(mask, w, h), 1e-9, `${what} perimeter`);
      }
    }
  }
  assert.ok(objects > 100, `${objects} nuclei measured`);
});

test('quartiles and MAD of many objects with ties and outliers equal a sort by CellProfiler formula', () => {
  const w = 60;
  const h = 40;
  // 12 objects: vertical stripes of different widths; values from a few levels (ties), some outliers
  const labels = new Int32Array(w * h);
  const data = new Float32Array(w * h);
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const k = Math.floor(x / 5) + 1;
      labels[y * w + x] = y < 3 * k ? k : 0; // object k has 5 x 3k pixels
      data[y * w + x] = k % 3 === 0 ? Math.floor(rand() * 4) / 8 : rand() < 0.05 ? 0.9 + rand() / 10 : rand() * 0.2;
    }
  }
  const m = measureObjects({ labels, width: w, height: h, count: 12 }, { DNA: { data, width: w, height: h } });
  const cp = (v: number[], f: number) => {
    const q = v.length * f;
    const i = Math.floor(q);
    return i >= v.length - 1 || q === i ? v[i]! : v[i]! * (1 - (q - i)) + v[i + 1]! * (q - i);
  };
  for (let k = 1; k <= 12; k++) {
    const v = [...data.filter((_, i) => labels[i] === k)].sort((a, b) => a - b);
    const median = cp(v, 0.5);
    const dev = v.map((x) => Math.abs(x - median)).sort((a, b) => a - b);
    close(get(m, 'Intensity_LowerQuartileIntensity_DNA', k), cp(v, 0.25), 1e-15, `lower quartile of ${k}`);
    close(get(m, 'Intensity_MedianIntensity_DNA', k), median, 1e-15, `median of ${k}`);
    close(get(m, 'Intensity_UpperQuartileIntensity_DNA', k), cp(v, 0.75), 1e-15, `upper quartile of ${k}`);
    close(get(m, 'Intensity_MADIntensity_DNA', k), cp(dev, 0.5), 1e-15, `MAD of ${k}`);
  }
});
