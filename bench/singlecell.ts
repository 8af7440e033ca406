/**
 * Single-cell deep profiles: crops/s, crop-stains/s (network images) and fields/s end to end
 * (read 1280x1024 16-bit fields, find nuclei, crop, embed, aggregate, commit) at fp32 and int8,
 * crops enlarged to 224 px and fed natively at the 96-px box size; raw onnxruntime inference at
 * both sizes on ready tensors, for comparison; the projected time for all of BBBC021 on this
 * machine and per fleet worker; the queue job size that follows. With `--real`, the real BBBC021
 * crops (all 309): leave-one-out 1-NN of the cells path (bilinear and pixel-repeating enlargement,
 * native size) and of whole-crop embedding (`embed`, the crop as a field).
 *
 *   node dist/bench/singlecell.js [--fields 24] [--configs fp32-224,int8-224,fp32-96,int8-96] [--real] [--real-only]
 *     [--real-int8-only] (the int8 rows of --real and the fp32 runs they are compared with)
 */
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cellDeepScreen, cellJobSize, cropSessionLayout, defaultCropBatch, type CellDeepOptions } from '../src/cells/deep.js';
import { embedScreen } from '../src/embed/embed.js';
import type { ModelSession } from '../src/models/session.js';
import { openModelInThread } from '../src/models/thread-session.js';
import { loadScreen } from '../src/screen/index.js';
import { synthesizeScreen } from '../src/synth/index.js';
import { readProfiles, type ProfileTable } from '../src/table/index.js';
import { leaveOneOut, rowCosines, writeCropScreen } from './real-crops.js';
import { tempDir } from '../test/helpers.js';

const { values } = parseArgs({
  options: {
    fields: { type: 'string', default: '24' },
    configs: { type: 'string', default: 'fp32-224,int8-224,fp32-96,int8-96' },
    real: { type: 'boolean', default: false },
    'real-only': { type: 'boolean', default: false },
    'real-int8-only': { type: 'boolean', default: false },
  },
});
const root = tempDir('morphoprof-bench-singlecell-');
const BBBC021_FIELDS = 13200;
const load = () => os.loadavg()[0]!.toFixed(1);

/** CPU seconds of this process (all threads) since `from`. */
const cpuSince = (from: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1e6;
};
const cores = os.availableParallelism();

/**
 * Raw rate on ready tensors in the product's layout (`cropSessionLayout`: single-threaded sessions,
 * one per core, each on its own thread, fed batches in turn), wall and per CPU-second x cores (what
 * the machine would do unloaded, if the work scales to every core).
 */
async function rawRate(size: number, precision: 'fp32' | 'int8'): Promise<{ wall: number; cpu: number }> {
  const n = defaultCropBatch(size);
  const per = 3 * size * size;
  const batch = new Float32Array(new SharedArrayBuffer(n * per * 4));
  // a textured test image (speed does not depend on content; int8 calibrated on it, for speed only)
  for (let i = 0; i < batch.length; i++) batch[i] = 60 * Math.sin(i * 0.013) + 20 * Math.cos(i * 0.0007);
  const layout = cropSessionLayout(undefined);
  const calibration = batch.slice(0, Math.min(n, 16) * per);
  const opts = { inputSize: size === 224 ? undefined : size, precision, intraOpNumThreads: layout.threads, ...(precision === 'int8' ? { calibration, calibrationCount: Math.min(n, 16), int8Outputs: ['avg_pool'] } : {}) };
  const sessions: ModelSession[] = [];
  for (let k = 0; k < layout.sessions; k++) sessions.push(await openModelInThread('resnet50', opts));
  await Promise.all(sessions.map((m) => m.embed(batch, n)));
  const inflight: Array<Promise<unknown> | null> = sessions.map(() => null);
  const t = performance.now();
  const c = process.cpuUsage();
  let images = 0;
  for (let k = 0; performance.now() - t < 6000; k++) {
    await inflight[k % sessions.length];
    inflight[k % sessions.length] = sessions[k % sessions.length]!.embed(batch, n);
    images += n;
  }
  await Promise.all(inflight);
  const rate = { wall: images / ((performance.now() - t) / 1000), cpu: (images / cpuSince(c)) * cores };
  await Promise.all(sessions.map((m) => m.dispose()));
  return rate;
}

if (!values['real-only'] && !values['real-int8-only']) {
  const s = await synthesizeScreen({ out: path.join(root, 'screen'), preset: 'bench', plates: 1, sites: 1, minorityMoa: true });
  const { screen } = await loadScreen({ metadata: s.imageTable, images: s.imagesRoot, moa: s.moaTable });
  screen.fields = screen.fields.slice(0, Number(values.fields));
  console.log(`bench screen: ${screen.fields.length} fields x ${screen.channels.length} stains of 1280x1024 16-bit, ${os.availableParallelism()} cores, load average ${load()} at start`);
  console.log('Rates are wall-clock, and in brackets per CPU-second x cores: on a shared machine the wall figures measure the load; the CPU figures what an unloaded machine would do if the work used every core.');
  const layout = cropSessionLayout(undefined);
  console.log(`Network: ${layout.sessions} session(s) x ${layout.threads} onnxruntime thread(s), fed batches in turn (the default).`);
  console.log('| config | crop batch | cells/field | crops/s | crop-stains/s | fields/s | raw inference (images/s) | pipeline / raw | BBBC021 on this machine | fields/hour per fleet worker like this | job size (fields) |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const config of values.configs.split(',')) {
    const [precision, size] = config.split('-') as ['fp32' | 'int8', string];
    const native = Number(size) === 96;
    const opts: CellDeepOptions = { boxSize: 96, cropInput: native ? 'native' : 'network' };
    // the network is opened (and int8 calibrated) in a first run on one field; the measured run reuses the converted files
    await cellDeepScreen({ screen: { ...screen, fields: screen.fields.slice(0, 1) }, out: path.join(root, `warm-${config}`), precision, ...opts, progress: false });
    const c = process.cpuUsage();
    const r = await cellDeepScreen({ screen, out: path.join(root, `run-${config}`), precision, ...opts, progress: false });
    const cpu = cpuSince(c);
    const seconds = r.seconds - r.openSeconds;
    const cpuSeconds = (cpu * (seconds / r.seconds)) / cores; // network opening excluded, pro rata
    const cellsPerField = r.crops / r.fieldsEmbedded;
    const cropStains = r.images / seconds;
    const raw = await rawRate(Number(size), precision);
    const cropStainsCpu = r.images / cpuSeconds;
    const hours = (BBBC021_FIELDS * cpuSeconds) / r.fieldsEmbedded / 3600;
    const job = cellJobSize({ inputSize: Number(size), cellsPerField, cropStainsPerSecond: cropStainsCpu });
    const both = (wall: number, cpuRate: number, d = 1) => `${wall.toFixed(d)} (${cpuRate.toFixed(d)})`;
    console.log(
      `| ${config} | ${r.settings.cropBatch} | ${cellsPerField.toFixed(0)} | ${both(r.crops / seconds, r.crops / cpuSeconds)} | ${both(cropStains, cropStainsCpu)} | ${both(r.fieldsEmbedded / seconds, r.fieldsEmbedded / cpuSeconds, 3)} | ${both(raw.wall, raw.cpu)} | ${(cropStainsCpu / raw.cpu).toFixed(2)} | ${hours.toFixed(1)} h (CPU-based) | ${((r.fieldsEmbedded / cpuSeconds) * 3600).toFixed(0)} | ${job} |`,
    );
  }
  console.log(`load average ${load()} at the end. "BBBC021 on this machine": 13,200 fields at this screen's cells per field (CPU-based); a fleet of N such workers (${cores} cores each) divides it by N, e.g. 10 workers: a tenth.`);
  console.log('Target: native 96 px int8 >= 400 crop-stains/s on 2 cores.');
}

if (values.real || values['real-only'] || values['real-int8-only']) {
  const crops = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'data', 'bbbc021', 'single-cell-crops');
  const cs = await writeCropScreen(crops, path.join(root, 'crops'));
  const { screen } = await loadScreen({ metadata: cs.metadata, images: cs.images });
  console.log(`\nreal BBBC021 crops: ${cs.counts.DMSO} DMSO, ${cs.counts.Protein_synthesis} cycloheximide, ${cs.size}x${cs.size}; leave-one-out 1-NN (cosine), ResNet-50 fp32`);
  const variants: Array<[string, CellDeepOptions & { precision?: 'int8' }, string?]> = [
    ['cells path, 68-px box enlarged bilinearly to 224', {}],
    ['cells path, enlarged by the area resampler (pixel repetition)', { resize: 'nearest-like' }],
    ['cells path, native 68 px', { cropInput: 'native' }],
    ['cells path, enlarged bilinearly to 112', { cropInput: 112 }],
    // int8 calibrated on DMSO crops; cosine of each crop's int8 embedding to its fp32 one
    ['cells path, 224 bilinear, int8', { precision: 'int8' }, 'cells path, 68-px box enlarged bilinearly to 224'],
    ['cells path, native 68 px, int8', { cropInput: 'native', precision: 'int8' }, 'cells path, native 68 px'],
  ];
  const tables = new Map<string, ProfileTable>();
  for (const [label, o, fp32] of variants) {
    if (values['real-int8-only'] && !o.precision && !variants.some((v) => v[2] === label)) continue;
    const t = performance.now();
    const r = await cellDeepScreen({ screen, out: path.join(root, `real-${label.replace(/\W+/g, '-')}`), locations: cs.locations, boxSize: cs.size, progress: false, ...o });
    const table = await readProfiles(r.featuresDir);
    tables.set(label, table);
    let cosines = '';
    if (fp32) {
      const c = rowCosines(tables.get(fp32)!, table);
      cosines = `; cosine to fp32 per crop: mean ${(c.reduce((x, y) => x + y, 0) / c.length).toFixed(4)}, min ${Math.min(...c).toFixed(4)}`;
    }
    console.log(`${label}: ${leaveOneOut(table, 'Metadata_Compound').toFixed(4)}${cosines} (${((performance.now() - t) / 1000).toFixed(0)} s)`);
  }
  if (values['real-int8-only']) process.exit(0);
  const e = await embedScreen({ screen, out: path.join(root, 'real-embed'), progress: false });
  console.log(`whole-crop embedding (embed, each crop a field, area resampling): ${leaveOneOut(await readProfiles(e.featuresDir), 'Metadata_Compound').toFixed(4)}`);
}
