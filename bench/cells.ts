/**
 * The cells stage on real-size fields (1280x1024, 16-bit, 3 stains, made by synth): classical
 * features end to end (read, find nuclei and cells, measure, commit) in fields/s on all cores,
 * the single-thread cost of each step, nucleus detection F1 against where synth drew them, peak
 * RSS, and the projected time for all of BBBC021 (13,200 fields).
 *
 *   node dist/bench/cells.js [--fields 102] [--threads N]
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { scoreAgainstSynth } from '../src/cells/detect.js';
import { cellSettings } from '../src/cells/field.js';
import { measureObjects } from '../src/cells/measure.js';
import { readPlanes, type PlanePool } from '../src/cells/read.js';
import { cellScreen } from '../src/cells/stage.js';
import '../src/cells/measure-native.js';
import '../src/cells/segment-native.js';
import { cytoplasm, segmentCells, segmentNuclei } from '../src/cells/segment.js';
import { loadScreen } from '../src/screen/index.js';
import { synthesizeScreen } from '../src/synth/index.js';
import { tempDir } from '../test/helpers.js';

const { values } = parseArgs({ options: { fields: { type: 'string', default: '102' }, threads: { type: 'string' } } });
const root = tempDir('morphoprof-bench-cells-');
const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'morphoprof.js');
const threads = values.threads ? Number(values.threads) : os.availableParallelism();

const s = await synthesizeScreen({ out: path.join(root, 'screen'), preset: 'bench', plates: 1, sites: 3 });
const { screen } = await loadScreen({ metadata: s.imageTable, images: s.imagesRoot, moa: s.moaTable });
screen.fields = screen.fields.slice(0, Number(values.fields));
console.log(`bench screen: ${screen.fields.length} fields x ${screen.channels.length} stains of 1280x1024 16-bit; ${threads} worker threads on ${os.availableParallelism()} cores`);

// CPU time of this process (all its threads), in ms: the fair measure on a shared machine
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

// 1. single-thread cost of each step, on the first 10 fields (CPU ms: only this thread works here)
const settings = cellSettings(screen.channels);
const steps = { read: 0, nuclei: 0, cells: 0, measure: 0 };
let nuclei = 0;
const pool: PlanePool = new Map(); // planes reused field after field, as each cells worker does
const sample = screen.fields.slice(0, 10);
for (const f of sample) {
  let t = cpu();
  const planes = await readPlanes(f, screen.channels, null, pool);
  steps.read += cpu() - t;
  t = cpu();
  const nucleusLabels = segmentNuclei(planes[settings.nucleiChannel]!, settings.nuclei);
  steps.nuclei += cpu() - t;
  nuclei += nucleusLabels.count;
  t = cpu();
  const cellLabels = segmentCells(nucleusLabels, planes[settings.cellChannel!]!, settings.cells);
  steps.cells += cpu() - t;
  t = cpu();
  const images = Object.fromEntries(settings.measureChannels.map((c) => [c, planes[c]!]));
  measureObjects(nucleusLabels, images);
  measureObjects(cellLabels, images);
  measureObjects(cytoplasm(nucleusLabels, cellLabels), images);
  steps.measure += cpu() - t;
}
const per = (ms: number) => (ms / sample.length).toFixed(0);
console.log(
  `one thread, CPU ms per field (${(nuclei / sample.length).toFixed(0)} nuclei): read 3 stains ${per(steps.read)} ms, nuclei ${per(steps.nuclei)} ms, ` +
    `cells ${per(steps.cells)} ms, measure nuclei+cells+cytoplasm x 3 stains ${per(steps.measure)} ms; ` +
    `all of it ${per(steps.read + steps.nuclei + steps.cells + steps.measure)} ms`,
);

// 2. end to end, as `run --features classical` does it (worker threads, shards committed)
const t0 = performance.now();
const c0 = cpu();
const r = await cellScreen({ screen, out: path.join(root, 'classical'), mode: 'classical', threads, progress: false });
const seconds = (performance.now() - t0) / 1000;
const cpuPerField = (cpu() - c0) / 1000 / r.fieldsEmbedded;
const rate = r.fieldsEmbedded / seconds;
const idleRate = os.availableParallelism() / cpuPerField;
console.log(`classical end to end: ${r.fieldsEmbedded} fields in ${seconds.toFixed(1)} s wall = ${rate.toFixed(2)} fields/s (${r.objects} nuclei, ${r.featureDim} features per field); ${cpuPerField.toFixed(3)} CPU-s per field (all threads) = ${idleRate.toFixed(2)} fields/s on ${os.availableParallelism()} idle cores`);
console.log(`projected for all of BBBC021 (13,200 fields) on this machine: ${(13200 / rate / 60).toFixed(1)} min at the measured wall rate, ${(13200 / idleRate / 60).toFixed(1)} min from CPU time (CellProfiler, per the paper: more than 10 h on a cluster)`);

// 3. segmentation only, and detection F1 against where synth drew the nuclei
const t1 = performance.now();
const seg = await cellScreen({ screen, out: path.join(root, 'segment'), mode: 'segment', threads, progress: false });
const segSeconds = (performance.now() - t1) / 1000;
const score = await scoreAgainstSynth(seg.cellsDir!, s.nucleiTable, { width: 1280, height: 1024 });
console.log(`segment (nuclei and cells) end to end: ${(seg.fieldsEmbedded / segSeconds).toFixed(2)} fields/s; detection F1 ${score.f1.toFixed(3)} (${score.tp} of ${score.truth} drawn nuclei found, ${score.fp} false)`);

// 4. peak memory of the command on a third of the screen and on all of it: bounded by the shard, not the screen
const lines = readFileSync(s.imageTable, 'utf8').trim().split('\n');
for (const n of [Math.ceil(screen.fields.length / 3), screen.fields.length]) {
  const table = path.join(root, `screen-${n}.csv`);
  writeFileSync(table, lines.slice(0, n + 1).join('\n') + '\n');
  const child = spawnSync(process.execPath, [cli, 'embed', '--features', 'classical', '--metadata', table, '--images', s.imagesRoot, '--out', path.join(root, `rss-${n}`), '--json'], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(child.stderr);
  const res = JSON.parse(child.stdout) as { fieldsEmbedded: number; peakRssMB: number };
  console.log(`morphoprof embed --features classical of ${res.fieldsEmbedded} fields: peak RSS ${res.peakRssMB} MB`);
}
