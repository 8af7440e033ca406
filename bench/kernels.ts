/**
 * The whole-field kernels beside the network, per image, in each of their three builds: the
 * TypeScript twins (the page without WebAssembly kernels, and the CLI without the addon), the C
 * addon (the CLI), and the same C as WebAssembly SIMD (the page's reading worker). On real-size
 * 1280x1024 16-bit fields (the real BBBC021 TIFFs when ../shared/data has them, else synthetic
 * fields), one core, V8 as in Node (Chromium runs the same engine).
 *   node dist/bench/kernels.js [--rounds 40]
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { percentileRange, scaleTo255 } from '../src/embed/scale.js';
import { readImage } from '../src/image/read.js';
import { areaResize, areaResizeJs } from '../src/image/resample.js';
import { preprocessInto } from '../src/models/preprocess.js';
import { native, useFieldKernels, type FieldKernels } from '../src/native.js';
import { wasmFieldKernels } from '../src/wasm-kernels.js';
import { buildKernelsWasm, sharedData } from '../test/helpers.js';
import { fieldPixels } from '../test/image/fixtures.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '40' } } });
const rounds = Number(values.rounds);
const size = 224;

// fields: the real TIFFs (distinct images, so each read comes from memory as in a run, not from the cache)
const index = sharedData('bbbc021', 'images', 'INDEX.csv');
const fields: Uint16Array[] = [];
let source = 'synthetic 1280x1024 fields';
if (index) {
  const rows = readFileSync(index, 'utf8').trim().split('\n').slice(1);
  for (const row of rows) {
    const file = path.join(path.dirname(index), '..', row.split(',')[0]!);
    try {
      const img = await readImage(file);
      if (img.width === 1280 && img.height === 1024 && img.data instanceof Uint16Array) fields.push(img.data);
    } catch {
      // not an image row
    }
  }
  if (fields.length) source = `${fields.length} real BBBC021 TIFFs`;
}
if (!fields.length) for (let s = 0; s < 7; s++) fields.push(fieldPixels(1280, 1024, s + 1));

const built = await buildKernelsWasm();
const builds: Array<[string, FieldKernels | null]> = [['TypeScript', null]];
if (native?.percentilesF32 && native.scaleTo255F32 && native.preprocessF32) builds.push(['C addon', native]);
if (built.file) builds.push(['WebAssembly SIMD', await wasmFieldKernels(readFileSync(built.file))]);
console.log(`kernels: ${source}, ${rounds} rounds per figure, ms per image (load average ${loadavg()[0]!.toFixed(1)})${built.file ? '' : `; no WebAssembly build: ${built.why}`}`);

/** median ms of `rounds` calls of f(i) */
function time(f: (i: number) => void): number {
  for (let i = 0; i < 5; i++) f(i);
  const ms: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    f(i);
    ms.push(performance.now() - t);
  }
  return ms.sort((a, b) => a - b)[Math.floor(rounds / 2)]!;
}

const planes = fields.map((f) => areaResizeJs(f, 1280, 1024, size, size));
const out = new Float32Array(size * size);
const batch = new Float32Array(3 * size * size);

// each build installed as the kernels in use, timed through the stages' own functions
const rows: string[][] = [];
for (const [name, kernels] of builds) {
  useFieldKernels(kernels);
  const pick = (i: number) => i % fields.length;
  const resize = time((i) => areaResize(fields[pick(i)]!, 1280, 1024, size, size, out));
  const pct = time((i) => percentileRange(planes[pick(i)]!));
  const work = planes.map((p) => p.slice());
  const scale = time((i) => {
    const p = work[pick(i)]!;
    p.set(planes[pick(i)]!);
    scaleTo255(p, 300, 4000);
  });
  const prep = time((i) => {
    const p = work[pick(i)]!;
    preprocessInto(batch, 0, [p, p, p], 'caffe');
  });
  rows.push([name, resize.toFixed(2), pct.toFixed(2), scale.toFixed(3), prep.toFixed(2), (resize + pct + scale + prep).toFixed(2)]);
}
useFieldKernels(native);
const head = ['build', 'downsample', 'percentiles', 'scale', 'preprocess', 'sum'];
const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
for (const r of [head, ...rows]) console.log(r.map((v, c) => v.padStart(widths[c]!)).join('  '));
