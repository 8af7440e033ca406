/**
 * Per-object measurement figures on real-size 1280x1024 fields: synthetic DMSO fields (src/synth)
 * segmented crudely here (nuclei: Otsu on DNA + connected components; cells: nuclei grown up to
 * 80 px over the actin foreground, actin above 1.25 x its background level (25th percentile);
 * cytoplasm: cells minus nuclei), then measureObjects on the three object kinds x three stains, as
 * the cells stage will call it. Prints CPU ms per field per object kind and per feature group (one
 * thread), and the object pixels measured (time grows with them). `--cells otsu`: cells only over
 * the Otsu foreground of actin (smaller cells, ~28% of the field instead of ~69%).
 *   node dist/bench/measure.js [--fields 4] [--repeats 3] [--cells foreground|otsu]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { measureObjects } from '../src/cells/measure.js';
import { measureNested } from '../src/cells/measure-nested.js';
import { nativeCooccurrence, nativeIntensity } from '../src/cells/measure-native.js';
import { gatherValues, measureIntensity, INTENSITY_FEATURES } from '../src/cells/intensity.js';
import { indexObjects, measureShape, SHAPE_FEATURES } from '../src/cells/shape.js';
import { HARALICK_FEATURES, grayLevelsFor, measureTexture, neighbourMask } from '../src/cells/texture.js';
import type { LabelImage, Plane } from '../src/cells/types.js';
import { DMSO_PHENOTYPE, FieldRenderer, Rng, STAINS, illuminationField, normalTable } from '../src/synth/index.js';

const { values: args } = parseArgs({
  options: { fields: { type: 'string', default: '4' }, repeats: { type: 'string', default: '3' }, cells: { type: 'string', default: 'foreground' } },
});
if (args.cells !== 'foreground' && args.cells !== 'otsu') throw new Error(`--cells foreground|otsu, not ${args.cells}`);
const W = 1280;
const H = 1024;
const FIELDS = Number(args.fields);
const REPEATS = Number(args.repeats);

function otsu(data: Uint16Array): number {
  const hist = new Float64Array(65536);
  for (let i = 0; i < data.length; i++) hist[data[i]!]!++;
  let total = 0;
  let sumAll = 0;
  for (let v = 0; v < 65536; v++) {
    total += hist[v]!;
    sumAll += v * hist[v]!;
  }
  let wB = 0;
  let sumB = 0;
  let best = 0;
  let threshold = 0;
  for (let v = 0; v < 65536; v++) {
    wB += hist[v]!;
    if (wB === 0) continue;
    const wF = total - wB;
    if (wF === 0) break;
    sumB += v * hist[v]!;
    const between = wB * wF * (sumB / wB - (sumAll - sumB) / wF) ** 2;
    if (between > best) {
      best = between;
      threshold = v;
    }
  }
  return threshold;
}

/** 4-connected components of `mask`, numbered in raster order, components under minArea dropped. */
function label(mask: Uint8Array, minArea: number): LabelImage {
  const labels = new Int32Array(W * H);
  const queue = new Int32Array(W * H);
  let count = 0;
  for (let p = 0; p < W * H; p++) {
    if (!mask[p] || labels[p]) continue;
    count++;
    let head = 0;
    let tail = 0;
    queue[tail++] = p;
    labels[p] = count;
    while (head < tail) {
      const q = queue[head++]!;
      const x = q % W;
      for (const n of [x > 0 ? q - 1 : -1, x < W - 1 ? q + 1 : -1, q - W, q + W]) {
        if (n >= 0 && n < W * H && mask[n] && !labels[n]) {
          labels[n] = count;
          queue[tail++] = n;
        }
      }
    }
    if (tail < minArea) {
      for (let i = 0; i < tail; i++) labels[queue[i]!] = -1;
      count--;
    }
  }
  for (let p = 0; p < W * H; p++) if (labels[p]! < 0) labels[p] = 0;
  return { labels, width: W, height: H, count };
}

/** Nuclei grown breadth-first over the foreground (up to `reach` px), keeping their numbers. */
function grow(nuclei: LabelImage, foreground: Uint8Array, reach: number): LabelImage {
  const labels = Int32Array.from(nuclei.labels);
  const dist = new Int32Array(W * H);
  const queue = new Int32Array(W * H);
  let tail = 0;
  for (let p = 0; p < W * H; p++) if (labels[p]) queue[tail++] = p;
  let head = 0;
  while (head < tail) {
    const q = queue[head++]!;
    if (dist[q]! >= reach) continue;
    const x = q % W;
    for (const n of [x > 0 ? q - 1 : -1, x < W - 1 ? q + 1 : -1, q - W, q + W]) {
      if (n >= 0 && n < W * H && foreground[n] && !labels[n]) {
        labels[n] = labels[q]!;
        dist[n] = dist[q]! + 1;
        queue[tail++] = n;
      }
    }
  }
  return { labels, width: W, height: H, count: nuclei.count };
}

function field(renderer: FieldRenderer, seed: number): { kinds: Record<string, LabelImage>; images: Record<string, Plane> } {
  const rng = Rng.from(seed, 'bench-measure');
  const optics = STAINS.map(() => ({ gain: 1, illumination: illuminationField(W, H, W / 2, H / 2, 0.3) }));
  const [dna, tub, act] = renderer.render(rng, DMSO_PHENOTYPE, optics) as [Uint16Array, Uint16Array, Uint16Array];
  const tDna = otsu(dna);
  const tAct = args.cells === 'otsu' ? otsu(act) : 1.25 * Uint16Array.from(act).sort()[Math.floor(act.length / 4)]!;
  const nuclei = label(Uint8Array.from(dna, (v) => (v > tDna ? 1 : 0)), 30);
  const cells = grow(nuclei, Uint8Array.from(act, (v, i) => (v > tAct || nuclei.labels[i] ? 1 : 0)), 80);
  const cyto = Int32Array.from(cells.labels, (l, i) => (nuclei.labels[i] ? 0 : l));
  const plane = (d: Uint16Array): Plane => ({ data: Float32Array.from(d, (v) => v / 65535), width: W, height: H });
  return {
    kinds: { Nuclei: nuclei, Cells: cells, Cytoplasm: { labels: cyto, width: W, height: H, count: cells.count } },
    images: { DNA: plane(dna), Tubulin: plane(tub), Actin: plane(act) },
  };
}

/**
 * Best of REPEATS runs, in ms of this process's CPU time (user + system): on a shared machine the
 * wall clock also counts the time other processes hold the cores. Wall time is kept beside it.
 */
function time(f: () => void): number {
  let best = Infinity;
  let bestWall = Infinity;
  for (let r = 0; r < REPEATS; r++) {
    const t = performance.now();
    const c = process.cpuUsage();
    f();
    const used = process.cpuUsage(c);
    best = Math.min(best, (used.user + used.system) / 1000);
    bestWall = Math.min(bestWall, performance.now() - t);
  }
  wallMs += bestWall;
  return best;
}
let wallMs = 0;

const renderer = new FieldRenderer(W, H, normalTable(Rng.from(1, 'normals')));
console.log(
  `measure: ${FIELDS} synthetic DMSO fields of ${W}x${H} (cells over the ${args.cells} of actin), 3 object kinds x 3 stains (DNA, Tubulin, Actin), ` +
    `texture at scale 3 with 256 gray levels (C kernels of src/cells/measure-native.ts: ${nativeCooccurrence && nativeIntensity ? "in use" : "off, TypeScript"}); best of ${REPEATS} runs per field; one thread; CPU ms of this process (wall clock beside); load average ${loadavg()[0]!.toFixed(1)}`,
);
const kindsMs: Record<string, number[]> = { Nuclei: [], Cells: [], Cytoplasm: [] };
let kindsWall = 0;
const groupMs: Record<string, number> = { index: 0, shape: 0, gather: 0, intensity: 0, texture: 0 };
let objects = 0;
const pixelsByKind: Record<string, number> = {};
let columns = 0;
const nestedMs: number[] = [];
let nestedWall = 0;
let mismatches = 0;
for (let f = 0; f < FIELDS; f++) {
  const { kinds, images } = field(renderer, 1000 + f);
  // the three kinds in one call, as the cells stage measures them (measureField)
  if (f === 0) for (let r = 0; r < 3; r++) measureNested(kinds.Nuclei!, kinds.Cells!, images);
  const before = wallMs;
  nestedMs.push(time(() => measureNested(kinds.Nuclei!, kinds.Cells!, images)));
  nestedWall += wallMs - before;
  const nested = measureNested(kinds.Nuclei!, kinds.Cells!, images);
  for (const [kind, m] of Object.entries(nested)) {
    const alone = measureObjects(kinds[kind]!, images).values;
    for (let i = 0; i < alone.length; i++) if (!Object.is(alone[i], m.values[i])) mismatches++;
  }
  // warm the JIT up on the first field before timing (the stage measures thousands of fields)
  if (f === 0) for (let r = 0; r < 3; r++) for (const labels of Object.values(kinds)) measureObjects(labels, images);
  for (const [kind, labels] of Object.entries(kinds)) {
    const before = wallMs;
    kindsMs[kind]!.push(time(() => measureObjects(labels, images)));
    kindsWall += wallMs - before;
    columns = measureObjects(labels, images).columns.length;
    objects += labels.count;
    // the same work group by group
    const index = indexObjects(labels);
    pixelsByKind[kind] = (pixelsByKind[kind] ?? 0) + index.pixel.length;
    groupMs.index! += time(() => indexObjects(labels));
    const stride = 2 + SHAPE_FEATURES.length + 3 * INTENSITY_FEATURES.length + 3 * 4 * HARALICK_FEATURES.length;
    const out = new Float64Array(labels.count * stride);
    groupMs.shape! += time(() => measureShape(index, out, stride, 2, new Float64Array(2 * labels.count)));
    const grays = Object.values(images).map(() => grayLevelsFor(index, 256));
    const vals = Object.values(images).map((p, s) => gatherValues(index, p, undefined, grays[s]));
    groupMs.gather! += time(() => Object.values(images).forEach((p, s) => gatherValues(index, p, vals[s], grays[s])));
    groupMs.intensity! += time(() => {
      for (const v of vals) measureIntensity(index, v, out, stride, 30);
    });
    groupMs.texture! += time(() => {
      const mask = neighbourMask(index, 3);
      for (const g of grays) measureTexture(index, g, 3, out, stride, 80, mask);
    });
  }
}
const mean = (a: number[]): number => a.reduce((s, v) => s + v, 0) / a.length;
let total = 0;
for (const [kind, ms] of Object.entries(kindsMs)) {
  total += mean(ms);
  console.log(`  ${kind.padEnd(9)} ${mean(ms).toFixed(1).padStart(6)} CPU ms/field  (fields: ${ms.map((v) => v.toFixed(1)).join(', ')})`);
}
console.log(
  `  all three ${total.toFixed(1).padStart(6)} CPU ms/field = ${(1000 / total).toFixed(1)} fields/s on one thread ` +
    `(wall ${(kindsWall / FIELDS).toFixed(1)} ms/field at this load); ${columns} columns per object kind`,
);
const nestedMean = mean(nestedMs);
console.log(
  `  measureNested (the three kinds in one call, as measureField) ${nestedMean.toFixed(1).padStart(6)} CPU ms/field = ${(1000 / nestedMean).toFixed(1)} fields/s ` +
    `(wall ${(nestedWall / FIELDS).toFixed(1)} ms/field; fields: ${nestedMs.map((v) => v.toFixed(1)).join(', ')}); ` +
    `values differing from measureObjects: ${mismatches}`,
);
console.log(
  `  ${(objects / FIELDS / 3).toFixed(0)} objects per kind per field; object pixels per field: ` +
    Object.entries(pixelsByKind).map(([k, n]) => `${k} ${(n / FIELDS / 1000).toFixed(0)}k`).join(', ') +
    ` (of ${(W * H / 1000).toFixed(0)}k)`,
);
console.log(
  `  by group, CPU ms/field over the three kinds: index ${(groupMs.index! / FIELDS).toFixed(1)}, shape ${(groupMs.shape! / FIELDS).toFixed(1)}, ` +
    `gather values and gray levels x3 stains ${(groupMs.gather! / FIELDS).toFixed(1)}, intensity x3 stains ${(groupMs.intensity! / FIELDS).toFixed(1)}, texture x3 stains ${(groupMs.texture! / FIELDS).toFixed(1)}`,
);
