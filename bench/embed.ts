/**
 * End-to-end embedding rate vs raw inference rate, measured side by side in one process on a
 * benchmark screen of real-size fields (1280x1024, 16-bit, 3 stains, made by synth).
 *
 *   node dist/bench/embed.js [--fields N] [--batch 8]
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { embedScreen } from '../src/embed/embed.js';
import { openModel } from '../src/models/session.js';
import { loadScreen } from '../src/screen/index.js';
import { synthesizeScreen } from '../src/synth/index.js';

const { values } = parseArgs({ options: { fields: { type: 'string', default: '96' }, batch: { type: 'string', default: '8' }, keep: { type: 'string' } } });
const nFields = Number(values.fields);
const batch = Number(values.batch);
const root = values.keep ?? mkdtempSync(path.join(tmpdir(), 'morphoprof-bench-'));
const screenDir = path.join(root, 'screen');

const t0 = performance.now();
const s = existsSync(path.join(screenDir, 'synth_image.csv'))
  ? { imageTable: path.join(screenDir, 'synth_image.csv'), imagesRoot: path.join(screenDir, 'images'), moaTable: path.join(screenDir, 'synth_moa.csv') }
  : await synthesizeScreen({ out: screenDir, preset: 'bench', plates: 1, sites: 3 });
const synthSeconds = (performance.now() - t0) / 1000;
const { screen } = await loadScreen({ metadata: s.imageTable, images: s.imagesRoot, moa: s.moaTable });
screen.fields = screen.fields.slice(0, nFields);
const images = screen.fields.length * screen.channels.length;
console.log(`bench screen: ${screen.fields.length} fields x ${screen.channels.length} stains of 1280x1024 16-bit (${images} images); synth ${synthSeconds.toFixed(1)} s`);

// 1. raw inference: onnxruntime on ready tensors, same batch composition as the pipeline
const model = await openModel('resnet50');
const perBatch = batch * screen.channels.length;
const input = new Float32Array(perBatch * 3 * model.inputSize * model.inputSize).map((_, i) => ((i * 2654435761) % 255) - 120);
await model.embed(input, perBatch); // warm-up
const rounds = Math.ceil(images / perBatch);
const t1 = performance.now();
for (let r = 0; r < rounds; r++) await model.embed(input, perBatch);
const rawSeconds = (performance.now() - t1) / 1000;
const rawRate = (rounds * perBatch) / rawSeconds;
await model.dispose();

// 2. end to end: read 16-bit TIFFs, downsample, scale, preprocess, infer, commit Parquet shards
const out = path.join(root, 'run');
rmSync(out, { recursive: true, force: true });
const t2 = performance.now();
const r = await embedScreen({ screen, out, batchSize: batch, progress: false });
const e2eSeconds = (performance.now() - t2) / 1000;
const fieldRate = r.fieldsEmbedded / e2eSeconds;
const imageRate = fieldRate * screen.channels.length;

const rss = process.resourceUsage().maxRSS / 1024;
console.log(`raw inference (resnet50 fp32, batch ${perBatch} images): ${rawRate.toFixed(1)} images/s`);
console.log(`end to end: ${fieldRate.toFixed(2)} fields/s = ${imageRate.toFixed(1)} images/s (${r.fieldsEmbedded} fields in ${e2eSeconds.toFixed(1)} s, model load included)`);
console.log(`end-to-end / raw: ${(imageRate / rawRate).toFixed(2)} (target >= 0.9)`);
console.log(`peak RSS: ${rss.toFixed(0)} MB`);
if (!values.keep) rmSync(root, { recursive: true, force: true });
