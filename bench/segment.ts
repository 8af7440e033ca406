/**
 * Segmentation figures: ms per real-size 1280x1024 16-bit field for nuclei (segmentNuclei) and
 * cells (segmentCells on the actin stain), one thread, on synthetic `bench`-style fields and on
 * the real BBBC021 DNA images in ../shared/data (if present); then F1 of segment-eval on the DSB
 * 2018 fluorescence folder (if present). The machine may be shared: each figure is the median of
 * `--repeat` runs, and the load average is printed.
 *   node dist/bench/segment.js [--fields 6] [--repeat 3] [--no-eval]
 * The segmentation blurs run in C when the addon is built (src/cells/segment-native.ts), as in the
 * cells worker; MORPHOPROF_NATIVE=0 times the TypeScript path.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { evaluateSegmentation } from '../src/cells/segment-eval.js';
import { cytoplasm, defaultNucleiOptions, segmentCells, segmentNuclei } from '../src/cells/segment.js';
import { nativeBlur } from '../src/cells/segment-native.js';
import type { Plane } from '../src/cells/types.js';
import { readImage } from '../src/image/index.js';
import { DMSO_PHENOTYPE, FieldRenderer, illuminationField, normalTable, Rng, STAINS } from '../src/synth/index.js';
import { sharedData } from '../test/helpers.js';

const { values } = parseArgs({ options: { fields: { type: 'string', default: '6' }, repeat: { type: 'string', default: '3' }, 'no-eval': { type: 'boolean', default: false } } });
const fields = Number(values.fields);
const repeat = Number(values.repeat);
const W = 1280;
const H = 1024;

const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1] as number;

const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/**
 * Median over `repeat` passes of the mean ms per call of `fn` over `items`, as "wall ms (CPU ms)":
 * on a loaded machine the wall time also counts waiting for a core; the process CPU time does not
 * (it includes V8's garbage-collector threads).
 */
function time<T>(items: T[], fn: (item: T) => void): string {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < repeat; r++) {
    const t0 = performance.now();
    const c0 = cpuMs();
    for (const item of items) fn(item);
    wall.push((performance.now() - t0) / items.length);
    cpu.push((cpuMs() - c0) / items.length);
  }
  return `${median(wall).toFixed(1)} (CPU ${median(cpu).toFixed(1)}) ms`;
}

console.log(`segment: one thread, ${W}x${H} 16-bit fields, median of ${repeat} passes (load average ${loadavg()[0]!.toFixed(1)} on a shared machine: figures are noisy); blurs in ${nativeBlur ? 'C' : 'TypeScript'} (MORPHOPROF_NATIVE=0 for the TypeScript path)`);

// synthetic fields, rendered as the `bench` preset renders them (DMSO phenotype)
const renderer = new FieldRenderer(W, H, normalTable(Rng.from(7, 'normals')));
const optics = STAINS.map((_, s) => ({ illumination: illuminationField(W, H, W / 2 + 40 * s, H / 2, 0.3), gain: 1 }));
const synth: Array<{ dna: Plane; actin: Plane }> = [];
for (let f = 0; f < fields; f++) {
  const [dna, , actin] = renderer.render(Rng.from(7, 'field', f), DMSO_PHENOTYPE, optics);
  synth.push({ dna: { data: dna!, width: W, height: H }, actin: { data: actin!, width: W, height: H } });
}
const opts = defaultNucleiOptions();
const nuclei = synth.map((f) => segmentNuclei(f.dna, opts));
const nucleiMs = time(synth, (f) => segmentNuclei(f.dna, opts));
const withNuclei = synth.map((f, k) => ({ ...f, nuclei: nuclei[k]! }));
const cellsMs = time(withNuclei, (f) => segmentCells(f.nuclei, f.actin));
const withCells = withNuclei.map((f) => ({ ...f, cells: segmentCells(f.nuclei, f.actin) }));
const cytoMs = time(withCells, (f) => cytoplasm(f.nuclei, f.cells));
const counts = nuclei.map((n) => n.count);
console.log(`synthetic (${fields} fields, ${Math.min(...counts)}-${Math.max(...counts)} nuclei each): nuclei ${nucleiMs}/field, cells ${cellsMs}/field, cytoplasm ${cytoMs}/field`);

// real BBBC021 DNA fields
const bbbc = sharedData('bbbc021', 'images');
if (bbbc) {
  const rows = readFileSync(path.join(bbbc, 'INDEX.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  const dna = rows.filter((r) => r[4]?.includes('DNA')).map((r) => path.join(bbbc, '..', r[0]!));
  const planes: Plane[] = [];
  for (const file of dna) {
    const img = await readImage(file);
    planes.push({ data: img.data, width: img.width, height: img.height });
  }
  const found = planes.map((p) => segmentNuclei(p, opts));
  const ms = time(planes, (p) => segmentNuclei(p, opts));
  // no DNA and actin image of the same field is present: cells grow from a field's own nuclei over
  // its own DNA stain, which times the propagation on real intensities (not a biological result)
  const pairs = planes.map((p, k) => ({ p, n: found[k]! }));
  const cellMs = time(pairs, ({ p, n }) => segmentCells(n, p));
  console.log(`BBBC021 real DNA (${planes.length} fields, ${found.map((n) => n.count).join(', ')} nuclei): nuclei ${ms}/field; propagation over the same stain ${cellMs}/field (timing only)`);
  // the one real actin image belongs to another field: grow the first DNA field's nuclei over it,
  // for the time propagation takes on a real actin mask (not a biological result)
  const actinRow = rows.find((r) => r[4]?.includes('actin'));
  if (actinRow && found[0]) {
    const img = await readImage(path.join(bbbc, '..', actinRow[0]!));
    const actin: Plane = { data: img.data, width: img.width, height: img.height };
    const cells = segmentCells(found[0], actin);
    let covered = 0;
    for (const l of cells.labels) if (l) covered++;
    const actinMs = time([actin], (p) => segmentCells(found[0]!, p));
    console.log(`BBBC021 real actin (another field's nuclei, ${((100 * covered) / cells.labels.length).toFixed(0)}% of the field in cells): cells ${actinMs}/field (timing only)`);
  }
} else console.log('BBBC021 real DNA: ../shared/data/bbbc021/images not present; skipped');

const dsb = sharedData('nuclei', 'dsb2018-fluorescence');
if (values['no-eval']) console.log('segment-eval: skipped (--no-eval)');
else if (dsb) {
  const r = await evaluateSegmentation(dsb, { diameter: [5, 150] });
  const f = (x: number): string => x.toFixed(3);
  console.log(`segment-eval (DSB 2018 fluorescence, defaults, diameter 5-150): F1 ${f(r.overall.f1)}, mean IoU ${f(r.overall.meanIoU)}; ${r.kinds.map((k) => `${k.kind} F1 ${f(k.f1)} IoU ${f(k.meanIoU)}`).join('; ')}`);
} else console.log('segment-eval: ../shared/data/nuclei/dsb2018-fluorescence not present; skipped');
